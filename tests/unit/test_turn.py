"""TURN REST credentials (turn.py) and the production coturn configuration shipped in docs/."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from aiortc import RTCIceServer

from telepractice.signaling.turn import TurnConfig, credential, ice_servers

SECRET = "north-sea-turn-secret"
URL = "turn:turn.example.org:3478?transport=udp"
NOW = 1_700_000_000.0
DOCS_CONFIG = Path(__file__).resolve().parents[2] / "docs" / "turnserver.conf"


def config(**changes: object) -> TurnConfig:
    values: dict[str, object] = {"secret": SECRET, "urls": [URL], "lifetime_seconds": 600}
    values.update(changes)
    return TurnConfig(**values)  # type: ignore[arg-type]


# --- credentials ----------------------------------------------------------------------


def test_username_is_expiry_and_participant_and_credential_matches_an_openssl_vector() -> None:
    # printf '%s' "1700000600:worker-1" | openssl dgst -sha1 -hmac north-sea-turn-secret -binary | base64
    (server,) = ice_servers(config(), "worker-1", NOW, NOW + 3600)
    assert server == {
        "urls": [URL],
        "username": "1700000600:worker-1",
        "credential": "86rB3//PaX3AB+JwwHtcOC2bCbs=",
    }


def test_credential_is_base64_hmac_sha1_of_the_username() -> None:
    # printf '%s' "1700003600:family-7" | openssl dgst -sha1 -hmac north-sea-turn-secret -binary | base64
    assert credential(SECRET, "1700003600:family-7") == "gf3jUMq7WVkcWgVv5XQLocOQRwU="


def test_expiry_is_the_lifetime_when_the_session_runs_longer() -> None:
    (server,) = ice_servers(config(lifetime_seconds=900), "family-7", NOW, NOW + 3600)
    assert server["username"] == f"{int(NOW) + 900}:family-7"


def test_expiry_is_capped_at_the_end_of_the_session() -> None:
    (server,) = ice_servers(config(lifetime_seconds=3600), "family-7", NOW, NOW + 120)
    assert server["username"] == f"{int(NOW) + 120}:family-7"
    assert server["credential"] == credential(SECRET, server["username"])


def test_expiry_is_rounded_down_so_it_never_outlives_the_session() -> None:
    (server,) = ice_servers(config(lifetime_seconds=3600), "family-7", NOW, NOW + 120.9)
    assert server["username"] == f"{int(NOW) + 120}:family-7"


def test_an_ice_restart_later_gets_fresh_credentials() -> None:
    (first,) = ice_servers(config(), "family-7", NOW, NOW + 3600)
    (restart,) = ice_servers(config(), "family-7", NOW + 300, NOW + 3600)
    assert restart["username"] == f"{int(NOW) + 900}:family-7"
    assert restart["credential"] != first["credential"]


def test_stun_urls_come_as_a_separate_server_without_credentials() -> None:
    turns = "turns:turn.example.org:5349?transport=tcp"
    stun = "stun:turn.example.org:3478"
    servers = ice_servers(config(urls=[URL, stun, turns]), "family-7", NOW, NOW + 3600)
    assert [server["urls"] for server in servers] == [[URL, turns], [stun]]
    assert set(servers[1]) == {"urls"}


def test_servers_are_accepted_by_aiortc() -> None:
    servers = ice_servers(config(urls=[URL, "stun:turn.example.org"]), "family-7", NOW, NOW + 3600)
    turn, stun = (RTCIceServer(**server) for server in servers)
    assert (turn.urls, turn.username, turn.credentialType) == ([URL], f"{int(NOW) + 600}:family-7", "password")
    assert stun.username is None


# --- bad input ------------------------------------------------------------------------


def test_an_empty_secret_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="TURN secret must not be empty"):
        config(secret="")


@pytest.mark.parametrize("participant_id", ["family:7", ":", "1700000000:family-7"])
def test_a_participant_id_with_a_colon_is_refused(participant_id: str) -> None:
    with pytest.raises(ValueError, match="participant id must not contain ':'"):
        ice_servers(config(), participant_id, NOW, NOW + 3600)


def test_an_empty_participant_id_is_refused() -> None:
    with pytest.raises(ValueError, match="participant id must not be empty"):
        ice_servers(config(), "", NOW, NOW + 3600)


@pytest.mark.parametrize("ends_at", [NOW, NOW - 1])
def test_no_credentials_for_a_session_that_has_ended(ends_at: float) -> None:
    with pytest.raises(ValueError, match="session that has ended"):
        ice_servers(config(), "family-7", NOW, ends_at)


@pytest.mark.parametrize("lifetime", [0, -60, 1.5, True, "600"])
def test_the_lifetime_must_be_a_positive_whole_number(lifetime: object) -> None:
    with pytest.raises(ValueError, match="lifetime_seconds"):
        config(lifetime_seconds=lifetime)


@pytest.mark.parametrize(
    ("urls", "message"),
    [
        ([], "must include a turn: or turns: URL"),
        (["stun:turn.example.org"], "must include a turn: or turns: URL"),
        ([URL, "https://turn.example.org"], "is not a turn:, turns:, stun: or stuns: URL"),
    ],
)
def test_urls_must_be_turn_or_stun_and_include_turn(urls: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        config(urls=urls)


def test_the_secret_never_shows_in_repr_or_str() -> None:
    turn_config = config()
    assert SECRET not in repr(turn_config)
    assert SECRET not in str(turn_config)
    assert "lifetime_seconds=600" in repr(turn_config)


def test_the_config_is_frozen_and_its_urls_a_tuple() -> None:
    turn_config = config()
    assert turn_config.urls == (URL,)
    with pytest.raises(AttributeError):
        turn_config.secret = "other"  # type: ignore[misc]


# --- docs/turnserver.conf -------------------------------------------------------------

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# Every range the production coturn must refuse to relay to (issue 3).
MUST_DENY = [
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "169.254.169.254/32",
    "172.16.0.0/12", "192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15", "240.0.0.0/4", "255.255.255.255/32",
    "::1/128", "::ffff:0:0/96", "::ffff:127.0.0.1/128", "64:ff9b::/96", "fc00::/7", "fe80::/10", "ff00::/8",
    "2001:db8::/32",
]  # fmt: skip


def coturn_options() -> list[tuple[str, str | None]]:
    """(option, value) pairs of a turnserver.conf, in order; flags have no value."""
    options: list[tuple[str, str | None]] = []
    for line in DOCS_CONFIG.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, has_value, value = line.partition("=")
        options.append((name.strip(), value.strip() if has_value else None))
    return options


def denied_ranges() -> list[tuple[Address, Address]]:
    ranges = []
    for name, value in coturn_options():
        if name == "denied-peer-ip":
            assert value, "denied-peer-ip without an address"
            first, _, last = value.partition("-")
            ranges.append((ipaddress.ip_address(first), ipaddress.ip_address(last or first)))
    return ranges


@pytest.mark.parametrize("network", MUST_DENY)
def test_production_config_denies_relaying_to(network: str) -> None:
    block = ipaddress.ip_network(network)
    assert any(
        first.version == block.version and first <= block[0] and block[-1] <= last  # type: ignore[operator]
        for first, last in denied_ranges()
    ), f"docs/turnserver.conf lets coturn relay to {network}"


def test_production_config_has_no_range_starting_at_the_ipv6_unspecified_address() -> None:
    # coturn 4.6 reads a range starting at "::" as unbounded below and across families:
    # "::" alone denies every peer, "::-::ffff:ffff" every IPv4 peer. It refuses "::" itself.
    starts = [first for first, _ in denied_ranges()]
    assert ipaddress.ip_address("::") not in starts


def test_production_config_never_allows_loopback_peers() -> None:
    assert "allow-loopback-peers" not in [name for name, _ in coturn_options()]


def test_production_config_allows_no_peer_ranges() -> None:
    assert [value for name, value in coturn_options() if name == "allowed-peer-ip"] == []


def test_production_config_uses_rest_credentials_tls_and_limits() -> None:
    options = dict(coturn_options())
    for flag in ["use-auth-secret", "fingerprint", "no-multicast-peers", "no-cli", "no-tcp-relay"]:
        assert flag in options and options[flag] is None, flag
    for name in ["static-auth-secret", "realm", "cert", "pkey", "min-port", "max-port"]:
        assert options.get(name), name
    assert options["tls-listening-port"] == "5349"
    assert int(options["stale-nonce"] or 0) > 0
    assert int(options["user-quota"] or 0) > 0
    assert int(options["total-quota"] or 0) > 0
    assert "lt-cred-mech" not in options and "no-auth" not in options
