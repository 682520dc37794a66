"""The connection-test peer's own TURN credential: its own identity, no longer than one test, none without TURN."""

from __future__ import annotations

import pytest
from aiortc.rtcconfiguration import RTCIceTransportPolicy

from telepractice.signaling import turn
from telepractice.signaling.probe import probe_configuration
from telepractice.signaling.turn import TurnConfig

CONFIG = TurnConfig("k" * 32, ("turn:turn.example.test:3478?transport=udp", "stun:turn.example.test:3478"), 3600)
NOW = 1_800_000_000.0


def test_the_probe_credential_names_the_probe_and_ends_with_the_longest_test() -> None:
    turn_server, stun_server = turn.for_probe(CONFIG, "0c5e-probe", NOW, 20.0)
    assert turn_server["username"] == f"{int(NOW + 20)}:probe-0c5e-probe"
    assert turn_server["credential"] == turn.credential(CONFIG.secret, turn_server["username"])
    assert turn_server["urls"] == ["turn:turn.example.test:3478?transport=udp"]
    assert stun_server == {"urls": ["stun:turn.example.test:3478"]}


def test_a_short_credential_lifetime_still_wins_over_the_test_length() -> None:
    short = TurnConfig("k" * 32, ("turn:turn.example.test:3478",), 10)
    [server] = turn.for_probe(short, "p1", NOW, 20.0)
    assert server["username"] == f"{int(NOW + 10)}:probe-p1"


def test_a_probe_id_that_coturn_would_misread_is_refused() -> None:
    with pytest.raises(ValueError, match="must not contain ':'"):
        turn.for_probe(CONFIG, "a:b", NOW, 20.0)


def test_the_probe_peer_gathers_host_candidates_only_without_turn() -> None:
    assert probe_configuration(None, "p1", NOW, 20.0).iceServers == []


def test_the_probe_peer_is_given_the_servers_turn_with_its_own_credential() -> None:
    configuration = probe_configuration(CONFIG, "p1", NOW, 20.0)
    relay, stun = configuration.iceServers
    assert (relay.urls, relay.username) == (["turn:turn.example.test:3478?transport=udp"], f"{int(NOW + 20)}:probe-p1")
    assert relay.credential == turn.credential(CONFIG.secret, relay.username)
    assert (stun.urls, stun.username, stun.credential) == (["stun:turn.example.test:3478"], None, None)
    assert configuration.iceTransportPolicy is RTCIceTransportPolicy.ALL  # host candidates too: the LAN goes direct
