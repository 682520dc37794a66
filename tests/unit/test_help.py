"""The safety signal in the room: help reaches staff only, never another family member's connection."""

from __future__ import annotations

import pytest

from telepractice.signaling.help_desk import HELP_BURST, HELP_REFILL_SECONDS, SafetyKind
from tests.unit.test_protocol_doc import section
from tests.unit.test_room import HOST, STAFF, FakePeer, Scene


@pytest.fixture
def scene() -> Scene:
    return Scene()


def nothing_about_help(peer: FakePeer) -> None:
    assert not [kind for kind in peer.types() if kind.startswith("help")], f"{peer.name} got {peer.types()}"


def test_help_from_a_child_in_the_call_reaches_the_host_and_staff_and_not_the_parent(scene: Scene) -> None:
    peers = scene.call("mum", "child")
    colleague = scene.join("colleague", STAFF)
    for peer in peers.values():
        peer.clear()
    scene.say(peers["child"], "help")
    requested = peers["host"].last("help-requested")
    assert requested["participant"]["id"] == "child" and requested["pending"] == 1
    assert colleague.last("help-requested")["alert"] == requested["alert"]
    assert peers["mum"].sent == []
    assert peers["child"].sent == []


def test_help_from_the_waiting_room_reaches_the_host_and_no_one_else_waiting(scene: Scene) -> None:
    host = scene.join("host", HOST)
    mum, child = scene.join("mum"), scene.join("child")
    mum.clear()
    child.clear()
    scene.say(child, "help")
    assert host.last("help-requested")["participant"]["id"] == "child"
    assert mum.sent == [] and child.sent == []


def test_help_reaches_a_host_who_has_taken_someone_else_aside(scene: Scene) -> None:
    peers = scene.call("mum", "child")
    scene.say(peers["host"], "side-room-create", participants=["host", "mum"])
    for peer in peers.values():
        peer.clear()
    scene.say(peers["child"], "help")
    assert peers["host"].last("help-requested")["participant"]["id"] == "child"
    nothing_about_help(peers["mum"])


def test_staff_cannot_send_help_and_family_cannot_acknowledge(scene: Scene) -> None:
    peers = scene.call("mum", "child")
    assert scene.refused(peers["host"], "help").code == "family-only"
    scene.say(peers["child"], "help")
    alert = peers["host"].last("help-requested")["alert"]
    assert scene.refused(peers["mum"], "help-acknowledge", alert=alert).code == "staff-only"
    assert scene.refused(peers["host"], "help-acknowledge", alert="no-such-alert").code == "unknown-alert"


def test_host_acknowledges_staff_are_told_and_the_family_sees_nothing(scene: Scene) -> None:
    peers = scene.call("mum", "child")
    colleague = scene.join("colleague", STAFF)
    scene.say(peers["child"], "help")
    alert = peers["host"].last("help-requested")["alert"]
    scene.now += 5
    scene.say(peers["host"], "help-acknowledge", alert=alert)
    acknowledged = colleague.last("help-acknowledged")
    assert (acknowledged["alert"], acknowledged["participant"], acknowledged["by"]) == (alert, "child", "host")
    assert acknowledged["pending"] == 0
    assert peers["host"].last("help-acknowledged")["alert"] == alert
    nothing_about_help(peers["mum"])
    nothing_about_help(peers["child"])


def test_a_second_acknowledgement_changes_nothing(scene: Scene) -> None:
    peers = scene.call("child")
    colleague = scene.join("colleague", STAFF)
    scene.say(peers["child"], "help")
    alert = peers["host"].last("help-requested")["alert"]
    scene.say(peers["host"], "help-acknowledge", alert=alert)
    colleague.clear()
    scene.say(colleague, "help-acknowledge", alert=alert)
    assert colleague.of("help-acknowledged") == []
    events = scene.room.take_safety_events()
    assert [(event.kind, event.staff_id) for event in events] == [
        (SafetyKind.REQUESTED, None), (SafetyKind.ACKNOWLEDGED, "host")]


def test_help_is_limited_but_the_first_ones_always_get_through(scene: Scene) -> None:
    peers = scene.call("child")
    for _ in range(HELP_BURST):
        scene.say(peers["child"], "help")
    assert len(peers["host"].of("help-requested")) == HELP_BURST
    assert scene.refused(peers["child"], "help").code == "help-limited"
    scene.now += HELP_REFILL_SECONDS
    scene.say(peers["child"], "help")
    assert len(peers["host"].of("help-requested")) == HELP_BURST + 1
    assert peers["child"].sent == []


def test_staff_arriving_later_are_told_of_every_alert_still_open(scene: Scene) -> None:
    child = scene.join("child")
    mum = scene.join("mum")
    scene.say(child, "help")  # before the host has arrived
    scene.now += 1
    scene.say(mum, "help")
    host = scene.join("host", HOST)
    assert [m["participant"]["id"] for m in host.of("help-requested")] == ["child", "mum"]
    first = host.of("help-requested")[0]["alert"]
    scene.say(host, "help-acknowledge", alert=first)
    colleague = scene.join("colleague", STAFF)
    assert [m["participant"]["id"] for m in colleague.of("help-requested")] == ["mum"]
    nothing_about_help(child)
    nothing_about_help(mum)


def test_a_host_who_dropped_is_told_again_on_reconnecting(scene: Scene) -> None:
    peers = scene.call("child")
    scene.room.disconnect(peers["host"], scene.now)
    scene.say(peers["child"], "help")
    again = FakePeer("host-again")
    scene.room.connect(scene.identity("host", HOST), again, scene.now + 2)
    assert again.last("help-requested")["participant"]["id"] == "child"


def test_safety_events_carry_ids_and_times_for_the_record(scene: Scene) -> None:
    peers = scene.call("child")
    scene.say(peers["child"], "help")
    alert = peers["host"].last("help-requested")["alert"]
    scene.now += 3
    scene.room.acknowledge_help(alert, "supervisor-1", scene.now)
    requested, acknowledged = scene.room.take_safety_events()
    assert (requested.kind, requested.alert_id, requested.participant_id, requested.at) == (
        SafetyKind.REQUESTED, alert, "child", 1000.0)
    assert (acknowledged.kind, acknowledged.staff_id, acknowledged.at) == (SafetyKind.ACKNOWLEDGED, "supervisor-1", 1003.0)
    assert peers["host"].last("help-acknowledged")["by"] == "supervisor-1"
    assert scene.room.take_safety_events() == []


def test_the_help_limit_is_documented_with_the_value_in_the_code() -> None:
    assert f"| `help` in a row | {HELP_BURST}, then one a minute |" in section("Limits")
    assert HELP_REFILL_SECONDS == 60.0
