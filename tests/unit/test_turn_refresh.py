"""turn.fresh: the fields of an ice-servers answer, new credentials each time, never past the session's end."""

from __future__ import annotations

from telepractice.signaling import turn
from telepractice.signaling.turn import TurnConfig

CONFIG = TurnConfig("k" * 32, ("turn:turn.example.test:3478", "stun:turn.example.test:3478"), 3600)
NOW = 1_800_000_000.0


def test_an_answer_carries_new_credentials_and_their_expiry() -> None:
    first = turn.fresh(CONFIG, "p-1", NOW, NOW + 7200)
    later = turn.fresh(CONFIG, "p-1", NOW + 600, NOW + 7200)
    assert first["expires_at"] == NOW + 3600 and later["expires_at"] == NOW + 4200
    assert first["ice_servers"][0]["username"] == f"{int(NOW + 3600)}:p-1"
    assert first["ice_servers"][0]["credential"] == turn.credential(CONFIG.secret, first["ice_servers"][0]["username"])
    assert later["ice_servers"][0]["credential"] != first["ice_servers"][0]["credential"]
    assert first["ice_servers"][1] == {"urls": ["stun:turn.example.test:3478"]}


def test_the_expiry_is_cut_at_the_sessions_end_and_matches_the_username() -> None:
    answer = turn.fresh(CONFIG, "p-1", NOW, NOW + 90.9)
    assert answer["expires_at"] == int(NOW + 90)
    assert answer["ice_servers"][0]["username"].startswith(f"{answer['expires_at']}:")


def test_nothing_is_handed_out_once_the_session_is_over() -> None:
    assert turn.fresh(CONFIG, "p-1", NOW, NOW) == {}
    assert turn.fresh(CONFIG, "p-1", NOW, NOW - 1) == {}
