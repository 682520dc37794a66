"""The room's side of three gaps: removing someone whose link was revoked, side-room moves as events, fresh ICE servers."""

from __future__ import annotations

import pytest

from telepractice.signaling.errors import CloseCode
from telepractice.signaling.ice_refresh import ICE_SERVERS_BURST, ICE_SERVERS_EVERY_SECONDS
from telepractice.signaling.outbound import Departure
from telepractice.signaling.participant import State
from tests.unit.test_room import HOST, Scene


@pytest.fixture
def scene() -> Scene:
    return Scene()


def events(scene: Scene) -> list[tuple[str, str | None, str | None]]:
    return [(str(e.kind), e.participant_id, e.reason) for e in scene.room.take_events()]


# --- a revoked link -------------------------------------------------------------


def test_removing_someone_in_the_call_closes_them_and_tells_the_others(scene: Scene) -> None:
    peers = scene.call("mum", "dad")
    scene.room.take_events()
    assert scene.room.remove("mum", Departure.LINK_REVOKED, scene.now) is True
    assert peers["mum"].last("removed")["reason"] == "link-revoked"
    assert peers["mum"].closed == (CloseCode.REMOVED, "link-revoked")
    left = peers["dad"].last("presence")
    assert (left["event"], left["participant"]["id"], left["reason"]) == ("left", "mum", "link-revoked")
    assert scene.state("mum") is State.LEFT
    assert events(scene) == [("left", "mum", "link-revoked")]


def test_removing_someone_waiting_tells_the_host_and_records_no_presence(scene: Scene) -> None:
    host = scene.join("host", HOST)
    mum = scene.join("mum")
    host.clear()
    scene.room.take_events()
    assert scene.room.remove("mum", Departure.LINK_REVOKED, scene.now) is True
    assert mum.closed == (CloseCode.REMOVED, "link-revoked")
    assert host.last("participant-left-waiting") == {
        "v": 1, "type": "participant-left-waiting", "participant": "mum", "reason": "link-revoked"}
    assert events(scene) == []


def test_removing_someone_dropped_ends_their_place_so_they_cannot_come_back_into_the_call(scene: Scene) -> None:
    peers = scene.call("mum")
    scene.room.disconnect(peers["mum"], scene.now)
    scene.room.take_events()
    scene.now += 5
    assert scene.room.remove("mum", Departure.LINK_REVOKED, scene.now) is True
    assert events(scene) == [("left", "mum", "link-revoked")]
    again = scene.join("mum")
    assert again.types() == ["welcome", "waiting"]  # waits again, like anyone arriving afresh


def test_removing_someone_not_there_changes_nothing(scene: Scene) -> None:
    peers = scene.call("mum")
    assert scene.room.remove("nobody", Departure.LINK_REVOKED, scene.now) is False
    scene.say(peers["mum"], "leave")
    assert scene.room.remove("mum", Departure.LINK_REVOKED, scene.now) is False
    assert peers["host"].of("presence")[-1]["reason"] == "left"


# --- side rooms in the attendance record -------------------------------------------


def test_taking_aside_and_bringing_back_are_events_naming_who_and_the_side_room(scene: Scene) -> None:
    peers = scene.call("mum", "child", "dad")
    scene.room.take_events()
    scene.say(peers["host"], "side-room-create", participants=["host", "child"])
    scene.now += 60
    scene.say(peers["host"], "side-room-move", participant="mum", side_room="side-1")
    scene.now += 60
    scene.say(peers["host"], "side-room-return", participants=["child", "mum", "host"])
    recorded = scene.room.take_events()
    assert [(str(e.kind), e.participant_id, e.reason, e.at) for e in recorded] == [
        ("moved-aside", "host", "side-1", 1000.0),
        ("moved-aside", "child", "side-1", 1000.0),
        ("moved-aside", "mum", "side-1", 1060.0),
        ("brought-back", "child", None, 1120.0),
        ("brought-back", "mum", None, 1120.0),
        ("brought-back", "host", None, 1120.0),
    ]


def test_a_refused_move_records_nothing(scene: Scene) -> None:
    peers = scene.call("mum")
    scene.room.take_events()
    assert scene.refused(peers["host"], "side-room-return", participants=["mum"]).code == "wrong-state"
    assert scene.refused(peers["host"], "side-room-move", participant="mum", side_room="side-9").code == (
        "unknown-side-room")
    assert scene.room.take_events() == []


# --- fresh ICE servers -----------------------------------------------------------------


def test_someone_in_the_call_gets_an_ice_servers_answer_for_the_transport_to_fill(scene: Scene) -> None:
    peers = scene.call("mum")
    scene.say(peers["mum"], "ice-servers")
    assert peers["mum"].sent == [{"v": 1, "type": "ice-servers", "ice_servers": [], "expires_at": None}]
    assert peers["host"].sent == []


def test_someone_waiting_gets_ice_servers_for_the_connection_test_from_the_same_allowance(scene: Scene) -> None:
    host = scene.join("host", HOST)
    mum = scene.join("mum")
    mum.clear()
    host.clear()
    for _ in range(ICE_SERVERS_BURST):
        scene.say(mum, "ice-servers")
    assert mum.sent == [{"v": 1, "type": "ice-servers", "ice_servers": [], "expires_at": None}] * ICE_SERVERS_BURST
    assert host.sent == []
    assert scene.state("mum") is State.WAITING  # asking lets nobody in
    scene.say(host, "admit", participant="mum")
    assert scene.refused(mum, "ice-servers").code == "rate-limited"  # admission does not refill it


def test_ice_servers_are_limited_to_a_burst_then_one_every_ten_seconds(scene: Scene) -> None:
    peers = scene.call("mum")
    for _ in range(ICE_SERVERS_BURST):
        scene.say(peers["mum"], "ice-servers")
    refused = scene.refused(peers["mum"], "ice-servers")
    assert refused.code == "rate-limited" and 0 < refused.extra["retry_after"] <= ICE_SERVERS_EVERY_SECONDS
    scene.now += ICE_SERVERS_EVERY_SECONDS
    scene.say(peers["mum"], "ice-servers")
    assert len(peers["mum"].of("ice-servers")) == ICE_SERVERS_BURST + 1
    scene.say(peers["host"], "ice-servers")  # each person has their own allowance
    assert len(peers["host"].of("ice-servers")) == 1
