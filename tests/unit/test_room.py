"""The room state machine, driven through fake peers that record what they were sent."""

from __future__ import annotations

import json
from typing import Any

import pytest

from telepractice.signaling.errors import CloseCode
from telepractice.signaling.messages import parse
from telepractice.signaling.outbound import OUTBOUND_TYPES, dump
from telepractice.signaling.participant import Identity, Input, Participant, Role, State
from telepractice.signaling.registry import RoomRegistry
from telepractice.signaling.room import BITRATE_KBPS, EventKind, Room, RoomState, bitrate_for

HOST, STAFF, FAMILY = Role.HOST, Role.STAFF, Role.FAMILY


class FakePeer:
    """A connection that records what the room sent it, and checks each message is valid wire JSON."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sent: list[dict[str, Any]] = []
        self.closed: tuple[int, str] | None = None

    def send(self, message: dict[str, Any]) -> None:
        assert self.closed is None, f"{self.name} was sent {message['type']} after it was closed"
        assert message["v"] == 1 and message["type"] in OUTBOUND_TYPES
        self.sent.append(json.loads(dump(message)))

    def close(self, code: int, reason: str) -> None:
        assert self.closed is None, f"{self.name} was closed twice"
        self.closed = (code, reason)

    def types(self) -> list[str]:
        return [message["type"] for message in self.sent]

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [message for message in self.sent if message["type"] == kind]

    def last(self, kind: str) -> dict[str, Any]:
        found = self.of(kind)
        assert found, f"{self.name} was sent no {kind}; it got {self.types()}"
        return found[-1]

    def clear(self) -> None:
        self.sent.clear()


class Scene:
    """One room, a hand-moved clock, and helpers to join and speak."""

    def __init__(self, *, grace: float = 30.0, room_id: str = "room-1") -> None:
        self.room = Room(room_id, grace=grace)
        self.now = 1000.0

    def identity(
        self, pid: str, role: Role = FAMILY, *, consent: bool = True, minor: bool = False, room: str = ""
    ) -> Identity:
        return Identity(pid, room or self.room.room_id, role, pid.title(), is_minor=minor, consent_ok=consent)

    def join(self, pid: str, role: Role = FAMILY, **options: Any) -> FakePeer:
        peer = FakePeer(pid)
        self.room.connect(self.identity(pid, role, **options), peer, self.now)
        return peer

    def say(self, peer: FakePeer, kind: str, **fields: Any) -> bool:
        return self.room.receive(peer, parse(json.dumps({"v": 1, "type": kind, **fields})), self.now)

    def refused(self, peer: FakePeer, kind: str, **fields: Any) -> Any:
        with pytest.raises(Exception) as caught:
            self.say(peer, kind, **fields)
        assert hasattr(caught.value, "code"), caught.value
        return caught.value

    def state(self, pid: str) -> State:
        record = self.room.participant(pid)
        assert record is not None
        return record.state

    def call(self, *family: str) -> dict[str, FakePeer]:
        """A host in the call, and each named family member admitted."""
        peers = {"host": self.join("host", HOST)}
        for pid in family:
            peers[pid] = self.join(pid)
            self.say(peers["host"], "admit", participant=pid)
        for peer in peers.values():
            peer.clear()
        return peers


@pytest.fixture
def scene() -> Scene:
    return Scene()


# --- the waiting room -------------------------------------------------------


def test_family_member_waits_until_admitted(scene: Scene) -> None:
    host = scene.join("host", HOST)
    mum = scene.join("mum")
    assert mum.types() == ["welcome", "waiting"]
    assert mum.last("waiting")["reason"] == "awaiting-admission"
    assert scene.state("mum") is State.WAITING
    scene.say(host, "admit", participant="mum")
    assert scene.state("mum") is State.ADMITTED
    assert mum.types()[2:4] == ["admitted", "bitrate"]


def test_host_is_told_at_once_when_a_family_member_arrives(scene: Scene) -> None:
    host = scene.join("host", HOST)
    host.clear()
    scene.join("child", minor=True)
    waiting = host.last("participant-waiting")["participant"]
    assert (waiting["id"], waiting["role"]) == ("child", "family")
    assert (waiting["is_minor"], waiting["consent_ok"]) == (True, True)


def test_family_waiting_before_the_host_is_told_the_host_is_absent_then_that_they_arrived(scene: Scene) -> None:
    mum = scene.join("mum")
    assert mum.last("waiting")["reason"] == "host-absent"
    scene.join("host", HOST)
    assert mum.last("waiting")["reason"] == "awaiting-admission"
    assert scene.state("mum") is State.WAITING


def test_host_arriving_learns_of_everyone_already_waiting_longest_first(scene: Scene) -> None:
    scene.join("dad")
    scene.now += 1
    scene.join("mum")
    host = scene.join("host", HOST)
    assert [message["participant"]["id"] for message in host.of("participant-waiting")] == ["dad", "mum"]


def test_no_one_gets_past_the_waiting_room_before_the_host_arrives(scene: Scene) -> None:
    mum = scene.join("mum")
    staff = scene.join("colleague", STAFF)
    assert scene.refused(staff, "admit", participant="mum").code == "not-host"
    assert scene.refused(mum, "admit", participant="mum").code == "not-host"
    assert scene.state("mum") is State.WAITING


def test_staff_of_the_case_enter_directly_even_before_the_host(scene: Scene) -> None:
    staff = scene.join("colleague", STAFF)
    assert staff.types()[:2] == ["welcome", "admitted"]
    assert scene.state("colleague") is State.ADMITTED


def test_host_enters_directly_and_others_call_nobody_until_someone_is_there(scene: Scene) -> None:
    host = scene.join("host", HOST)
    assert host.last("admitted") == {
        "v": 1,
        "type": "admitted",
        "participants": [],
        "call": [],
        "side_room": None,
        "side_rooms": {},
    }


def test_admitted_family_member_is_told_who_is_there_and_calls_them(scene: Scene) -> None:
    peers = scene.call("mum")
    dad = scene.join("dad")
    scene.say(peers["host"], "admit", participant="dad")
    admitted = dad.last("admitted")
    assert sorted(view["id"] for view in admitted["participants"]) == ["host", "mum"]
    assert sorted(admitted["call"]) == ["host", "mum"]


def test_everyone_admitted_learns_who_joins_but_the_waiting_room_does_not(scene: Scene) -> None:
    peers = scene.call("mum")
    gran = scene.join("gran")
    dad = scene.join("dad")
    scene.say(peers["host"], "admit", participant="dad")
    for peer in (peers["host"], peers["mum"]):
        presence = peer.last("presence")
        assert (presence["event"], presence["participant"]["id"]) == ("joined", "dad")
    assert "presence" not in gran.types()
    assert "presence" not in dad.types()


def test_host_admits_one_at_a_time(scene: Scene) -> None:
    host = scene.join("host", HOST)
    scene.join("mum")
    scene.join("dad")
    scene.say(host, "admit", participant="mum")
    assert (scene.state("mum"), scene.state("dad")) == (State.ADMITTED, State.WAITING)
    assert host.last("participant-left-waiting") == {
        "v": 1,
        "type": "participant-left-waiting",
        "participant": "mum",
        "reason": "admitted",
    }


def test_host_turns_a_waiting_family_member_away(scene: Scene) -> None:
    host = scene.join("host", HOST)
    uncle = scene.join("uncle")
    scene.say(host, "turn-away", participant="uncle")
    assert uncle.types()[-1] == "turned-away"
    assert uncle.closed == (CloseCode.TURNED_AWAY, "turned-away")
    assert scene.state("uncle") is State.LEFT
    assert host.last("participant-left-waiting")["reason"] == "turned-away"


def test_someone_turned_away_who_opens_the_link_again_waits_again(scene: Scene) -> None:
    host = scene.join("host", HOST)
    scene.say(host, "turn-away", participant=scene.join("uncle").name)
    host.clear()
    again = scene.join("uncle")
    assert again.last("waiting")["reason"] == "awaiting-admission"
    assert host.last("participant-waiting")["participant"]["id"] == "uncle"


def test_turning_away_someone_admitted_is_refused_naming_the_state(scene: Scene) -> None:
    peers = scene.call("mum")
    error = scene.refused(peers["host"], "turn-away", participant="mum")
    assert error.code == "wrong-state"
    assert error.detail == "Cannot turn away participant 'mum': they are admitted."
    assert scene.state("mum") is State.ADMITTED


def test_admitting_someone_already_admitted_is_refused(scene: Scene) -> None:
    peers = scene.call("mum")
    assert scene.refused(peers["host"], "admit", participant="mum").code == "wrong-state"
    assert peers["mum"].sent == []


@pytest.mark.parametrize(
    ("kind", "fields"),
    [
        ("admit", {"participant": "dad"}),
        ("turn-away", {"participant": "dad"}),
        ("send-to-waiting-room", {"participant": "mum"}),
        ("side-room-create", {"participants": ["mum"]}),
        ("side-room-move", {"participant": "mum", "side_room": "side-1"}),
        ("side-room-return", {"participants": ["mum"]}),
        ("end-session", {}),
    ],
)
def test_only_the_host_may_run_the_session(scene: Scene, kind: str, fields: dict[str, Any]) -> None:
    peers = scene.call("mum")
    staff = scene.join("colleague", STAFF)
    scene.join("dad")
    for peer in (peers["mum"], staff):
        assert scene.refused(peer, kind, **fields).code == "not-host"
    assert (scene.state("mum"), scene.state("dad"), scene.room.state) == (State.ADMITTED, State.WAITING, RoomState.OPEN)


def test_admitting_an_id_this_room_does_not_know_is_refused(scene: Scene) -> None:
    other = Scene(room_id="room-2")
    other.join("stranger")
    peers = scene.call()
    error = scene.refused(peers["host"], "admit", participant="stranger")
    assert (error.code, error.close_code) == ("unknown-participant", None)
    assert other.state("stranger") is State.WAITING


def test_family_member_without_consent_on_record_cannot_be_admitted(scene: Scene) -> None:
    host = scene.join("host", HOST)
    scene.join("dad", consent=False)
    assert host.last("participant-waiting")["participant"]["consent_ok"] is False
    error = scene.refused(host, "admit", participant="dad")
    assert (error.code, error.close_code) == ("consent-missing", None)
    assert scene.state("dad") is State.WAITING


def test_consent_recorded_while_waiting_tells_the_host_and_allows_admission(scene: Scene) -> None:
    host = scene.join("host", HOST)
    scene.join("dad", consent=False)
    scene.room.set_consent("dad", True, scene.now)
    assert host.last("participant-waiting")["participant"]["consent_ok"] is True
    scene.say(host, "admit", participant="dad")
    assert scene.state("dad") is State.ADMITTED


def test_staff_need_no_family_consent(scene: Scene) -> None:
    scene.join("colleague", STAFF, consent=False)
    assert scene.state("colleague") is State.ADMITTED


def test_room_refuses_a_seventh_admission(scene: Scene) -> None:
    peers = scene.call("p1", "p2", "p3", "p4", "p5")
    scene.join("p6")
    error = scene.refused(peers["host"], "admit", participant="p6")
    assert (error.code, error.close_code) == ("room-full", None)
    assert scene.state("p6") is State.WAITING


def test_the_hosts_seat_is_kept_free_before_the_host_arrives(scene: Scene) -> None:
    for index in range(5):
        scene.join(f"staff{index}", STAFF)
    late = scene.join("staff5", STAFF)
    assert late.last("waiting")["reason"] == "host-absent"
    host = scene.join("host", HOST)
    assert scene.state("host") is State.ADMITTED
    assert host.last("participant-waiting")["participant"]["id"] == "staff5"


def test_a_dropped_participant_keeps_their_seat(scene: Scene) -> None:
    peers = scene.call("p1", "p2", "p3", "p4", "p5")
    scene.room.disconnect(peers["p5"], scene.now)
    scene.join("p6")
    assert scene.refused(peers["host"], "admit", participant="p6").code == "room-full"


def test_host_sends_someone_back_to_the_waiting_room(scene: Scene) -> None:
    peers = scene.call("mum", "dad")
    scene.say(peers["host"], "send-to-waiting-room", participant="dad")
    assert scene.state("dad") is State.WAITING
    assert peers["dad"].last("waiting")["reason"] == "sent-back"
    presence = peers["mum"].last("presence")
    assert (presence["event"], presence["participant"]["id"], presence["reason"]) == (
        "left",
        "dad",
        "sent-to-waiting-room",
    )
    assert peers["host"].last("participant-waiting")["participant"]["id"] == "dad"
    assert scene.refused(peers["dad"], "offer", to="mum", sdp="v=0").code == "not-admitted"
    scene.say(peers["host"], "admit", participant="dad")
    assert scene.state("dad") is State.ADMITTED


def test_host_cannot_send_themselves_to_the_waiting_room(scene: Scene) -> None:
    peers = scene.call()
    assert scene.refused(peers["host"], "send-to-waiting-room", participant="host").code == "invalid-target"


def test_sending_back_someone_already_waiting_is_refused(scene: Scene) -> None:
    peers = scene.call()
    scene.join("mum")
    assert scene.refused(peers["host"], "send-to-waiting-room", participant="mum").code == "wrong-state"


# --- relaying offers, answers and candidates --------------------------------


def test_offers_answers_and_candidates_reach_only_the_named_peer_from_the_real_sender(scene: Scene) -> None:
    peers = scene.call("mum", "dad")
    scene.say(peers["mum"], "offer", to="dad", sdp="v=0 offer")
    scene.say(peers["dad"], "answer", to="mum", sdp="v=0 answer")
    scene.say(peers["mum"], "candidate", to="dad", candidate="candidate:1", sdp_mid="0", sdp_mline_index=0)
    assert peers["dad"].sent == [
        {"v": 1, "type": "offer", "from": "mum", "sdp": "v=0 offer"},
        {
            "v": 1,
            "type": "candidate",
            "from": "mum",
            "candidate": "candidate:1",
            "sdp_mid": "0",
            "sdp_mline_index": 0,
            "username_fragment": None,
        },
    ]
    assert peers["mum"].sent == [{"v": 1, "type": "answer", "from": "dad", "sdp": "v=0 answer"}]
    assert peers["host"].sent == []


def test_receive_says_whether_events_wait_and_a_relayed_message_never_records_one(scene: Scene) -> None:
    peers = scene.call("mum")
    scene.room.take_events()
    for kind, fields in [("offer", {"sdp": "v=0"}), ("answer", {"sdp": "v=0"}), ("candidate", {"candidate": "c"})]:
        assert scene.say(peers["mum"], kind, to="host", **fields) is False
        assert not scene.room.has_news
    assert scene.say(peers["mum"], "ping", nonce=1) is False
    scene.join("dad")
    scene.room.take_events()
    assert scene.say(peers["host"], "admit", participant="dad") is True
    assert [event.kind for event in scene.room.take_events()] == [EventKind.ADMITTED]
    assert scene.say(peers["mum"], "help") is True
    assert scene.room.take_safety_events()
    assert scene.say(peers["mum"], "media-state", audio=False, video=True) is False  # shown to others, not recorded


def test_signalling_to_a_participant_of_another_room_is_refused(scene: Scene) -> None:
    other = Scene(room_id="room-2")
    stranger = other.join("stranger", HOST)
    peers = scene.call("mum")
    assert scene.refused(peers["mum"], "offer", to="stranger", sdp="v=0").code == "unknown-participant"
    assert stranger.of("offer") == []


def test_signalling_to_someone_waiting_or_dropped_is_refused(scene: Scene) -> None:
    peers = scene.call("mum", "dad")
    gran = scene.join("gran")
    assert scene.refused(peers["mum"], "offer", to="gran", sdp="v=0").code == "peer-unavailable"
    scene.room.disconnect(peers["dad"], scene.now)
    assert scene.refused(peers["mum"], "candidate", to="dad", candidate="c").code == "peer-unavailable"
    assert gran.of("offer") == []


def test_a_waiting_participant_cannot_signal_anyone(scene: Scene) -> None:
    peers = scene.call()
    mum = scene.join("mum")
    for kind, fields in [("offer", {"sdp": "v=0"}), ("answer", {"sdp": "v=0"}), ("candidate", {"candidate": "c"})]:
        assert scene.refused(mum, kind, to="host", **fields).code == "not-admitted"
    assert peers["host"].of("offer") == []


def test_signalling_to_yourself_is_refused(scene: Scene) -> None:
    peers = scene.call("mum")
    assert scene.refused(peers["mum"], "offer", to="mum", sdp="v=0").code == "invalid-target"


# --- presence ---------------------------------------------------------------


def test_everyone_admitted_learns_when_someone_mutes(scene: Scene) -> None:
    peers = scene.call("mum", "dad")
    gran = scene.join("gran")
    scene.say(peers["mum"], "media-state", audio=False, video=True)
    presence = peers["dad"].last("presence")
    assert presence["event"] == "media"
    assert (presence["participant"]["audio"], presence["participant"]["video"]) == (False, True)
    assert peers["host"].last("presence") == presence
    assert peers["mum"].of("presence") == [] and gran.of("presence") == []


def test_media_state_chosen_while_waiting_is_shown_on_joining(scene: Scene) -> None:
    peers = scene.call()
    mum = scene.join("mum")
    scene.say(mum, "media-state", audio=True, video=False)
    assert peers["host"].of("presence") == []
    scene.say(peers["host"], "admit", participant="mum")
    assert peers["host"].last("presence")["participant"]["audio"] is True


def test_participant_who_leaves_is_gone_at_once_without_grace(scene: Scene) -> None:
    peers = scene.call("mum", "dad")
    scene.say(peers["dad"], "leave")
    assert peers["dad"].closed == (CloseCode.NORMAL, "left")
    assert scene.state("dad") is State.LEFT
    presence = peers["mum"].last("presence")
    assert (presence["event"], presence["reason"]) == ("left", "left")


def test_leaving_the_waiting_room_tells_the_host(scene: Scene) -> None:
    host = scene.join("host", HOST)
    mum = scene.join("mum")
    scene.say(mum, "leave")
    assert host.last("participant-left-waiting") == {
        "v": 1,
        "type": "participant-left-waiting",
        "participant": "mum",
        "reason": "left",
    }


def test_host_leaving_tells_the_waiting_room_the_host_is_absent(scene: Scene) -> None:
    peers = scene.call()
    mum = scene.join("mum")
    scene.say(peers["host"], "leave")
    assert mum.last("waiting")["reason"] == "host-absent"


# --- side rooms -------------------------------------------------------------


def test_host_takes_a_child_aside_and_everyone_is_told_whom_to_hang_up_on(scene: Scene) -> None:
    peers = scene.call("mum", "child")
    scene.say(peers["host"], "side-room-create", participants=["host", "child"])
    assert scene.room.side_rooms() == {"side-1": ["host", "child"]}
    mum = peers["mum"].last("side-room-changed")
    assert (mum["side_room"], sorted(mum["hang_up"]), mum["call"]) == (None, ["child", "host"], [])
    child = peers["child"].last("side-room-changed")
    assert (child["side_room"], child["hang_up"], child["call"]) == ("side-1", ["mum"], [])
    assert child["side_rooms"] == {"side-1": ["host", "child"]}


def test_signalling_between_the_main_room_and_a_side_room_is_refused(scene: Scene) -> None:
    peers = scene.call("mum", "child")
    scene.say(peers["host"], "side-room-create", participants=["host", "child"])
    for sender, target in [("mum", "child"), ("child", "mum"), ("mum", "host")]:
        assert scene.refused(peers[sender], "offer", to=target, sdp="v=0").code == "peer-apart"
    assert peers["child"].of("offer") == [] and peers["mum"].of("offer") == []


def test_signalling_inside_a_side_room_is_relayed(scene: Scene) -> None:
    peers = scene.call("mum", "child")
    scene.say(peers["host"], "side-room-create", participants=["host", "child"])
    scene.say(peers["child"], "offer", to="host", sdp="v=0")
    assert peers["host"].last("offer")["from"] == "child"


def test_bringing_participants_back_tells_the_ones_who_moved_to_call(scene: Scene) -> None:
    peers = scene.call("mum", "child")
    scene.say(peers["host"], "side-room-create", participants=["child"])
    scene.say(peers["host"], "side-room-return", participants=["child"])
    assert scene.room.side_rooms() == {}
    child = peers["child"].last("side-room-changed")
    assert (child["side_room"], sorted(child["call"]), child["hang_up"]) == (None, ["host", "mum"], [])
    assert peers["mum"].last("side-room-changed")["call"] == []
    scene.say(peers["child"], "offer", to="mum", sdp="v=0")


def test_when_both_of_a_newly_together_pair_moved_the_lower_id_calls(scene: Scene) -> None:
    peers = scene.call("anna", "bruno", "carla")
    scene.say(peers["host"], "side-room-create", participants=["anna"])
    scene.say(peers["host"], "side-room-create", participants=["bruno"])
    scene.say(peers["host"], "side-room-return", participants=["bruno", "anna"])
    assert peers["anna"].last("side-room-changed")["call"] == ["host", "bruno", "carla"]
    assert peers["bruno"].last("side-room-changed")["call"] == ["host", "carla"]
    assert peers["carla"].last("side-room-changed")["call"] == []


def test_participants_taken_aside_together_stay_connected_to_each_other(scene: Scene) -> None:
    peers = scene.call("anna", "bruno", "carla")
    scene.say(peers["host"], "side-room-create", participants=["anna", "bruno"])
    anna = peers["anna"].last("side-room-changed")
    assert (anna["call"], sorted(anna["hang_up"])) == ([], ["carla", "host"])


def test_host_moves_someone_into_an_existing_side_room(scene: Scene) -> None:
    peers = scene.call("mum", "child", "dad")
    scene.say(peers["host"], "side-room-create", participants=["child"])
    scene.say(peers["host"], "side-room-move", participant="host", side_room="side-1")
    assert scene.room.side_rooms() == {"side-1": ["host", "child"]}
    assert peers["host"].last("side-room-changed")["call"] == ["child"]
    assert sorted(peers["host"].last("side-room-changed")["hang_up"]) == ["dad", "mum"]
    error = scene.refused(peers["host"], "side-room-move", participant="host", side_room="side-1")
    assert error.code == "wrong-state"


def test_moving_into_a_side_room_that_does_not_exist_is_refused(scene: Scene) -> None:
    peers = scene.call("mum")
    error = scene.refused(peers["host"], "side-room-move", participant="mum", side_room="side-9")
    assert error.code == "unknown-side-room"
    assert scene.room.side_rooms() == {}


def test_bringing_back_someone_already_in_the_main_room_is_refused_and_changes_nothing(scene: Scene) -> None:
    peers = scene.call("mum", "child")
    scene.say(peers["host"], "side-room-create", participants=["child"])
    peers["mum"].clear()
    error = scene.refused(peers["host"], "side-room-return", participants=["child", "mum"])
    assert error.code == "wrong-state"
    assert error.detail == "Cannot bring back participant 'mum': they are in the main room."
    assert scene.room.side_rooms() == {"side-1": ["child"]}
    assert peers["mum"].sent == []


def test_taking_aside_someone_waiting_or_unknown_is_refused(scene: Scene) -> None:
    peers = scene.call("mum")
    scene.join("dad")
    assert scene.refused(peers["host"], "side-room-create", participants=["mum", "dad"]).code == "wrong-state"
    assert scene.refused(peers["host"], "side-room-create", participants=["ghost"]).code == "unknown-participant"
    assert scene.room.side_rooms() == {}


def test_signalling_between_two_side_rooms_is_refused(scene: Scene) -> None:
    peers = scene.call("mum", "child")
    scene.say(peers["host"], "side-room-create", participants=["mum"])
    scene.say(peers["host"], "side-room-create", participants=["child"])
    assert scene.room.side_rooms() == {"side-1": ["mum"], "side-2": ["child"]}
    assert scene.refused(peers["mum"], "candidate", to="child", candidate="c").code == "peer-apart"


def test_side_room_place_survives_a_dropped_connection(scene: Scene) -> None:
    peers = scene.call("mum", "child")
    scene.say(peers["host"], "side-room-create", participants=["host", "child"])
    scene.room.disconnect(peers["child"], scene.now)
    assert scene.room.side_rooms() == {"side-1": ["host", "child"]}
    child = scene.join("child")
    admitted = child.last("admitted")
    assert (admitted["side_room"], admitted["call"]) == ("side-1", ["host"])


# --- dropping, reconnecting, replacing --------------------------------------


def test_a_dropped_participant_is_shown_as_dropped_to_everyone(scene: Scene) -> None:
    peers = scene.call("mum", "dad")
    scene.room.disconnect(peers["dad"], scene.now)
    presence = peers["mum"].last("presence")
    assert (presence["event"], presence["participant"]["id"], presence["participant"]["connected"]) == (
        "dropped",
        "dad",
        False,
    )
    assert scene.state("dad") is State.DROPPED


def test_a_participant_who_drops_comes_back_without_waiting_within_the_grace_period(scene: Scene) -> None:
    peers = scene.call("mum", "dad")
    scene.room.disconnect(peers["dad"], scene.now)
    scene.now += 29
    scene.room.expire(scene.now)
    dad = scene.join("dad")
    assert dad.types() == ["welcome", "admitted", "bitrate"]
    assert sorted(dad.last("admitted")["call"]) == ["host", "mum"]
    assert peers["mum"].last("presence")["event"] == "reconnected"
    assert "participant-waiting" not in peers["host"].types()


def test_a_participant_who_stays_away_past_the_grace_period_has_left(scene: Scene) -> None:
    peers = scene.call("mum", "dad")
    scene.room.disconnect(peers["dad"], scene.now)
    scene.now += 30
    scene.room.expire(scene.now)
    assert scene.state("dad") is State.LEFT
    presence = peers["mum"].last("presence")
    assert (presence["event"], presence["reason"]) == ("left", "timed-out")
    dad = scene.join("dad")
    assert dad.last("waiting")["reason"] == "awaiting-admission"


def test_a_waiting_participant_who_stays_away_leaves_quietly(scene: Scene) -> None:
    peers = scene.call("mum")
    dad = scene.join("dad")
    scene.room.disconnect(dad, scene.now)
    peers["host"].clear()
    peers["mum"].clear()
    scene.room.expire(scene.now + 30)
    assert scene.state("dad") is State.LEFT
    assert peers["host"].sent == [] and peers["mum"].sent == []


def test_time_passing_never_removes_a_connected_participant(scene: Scene) -> None:
    scene.call("mum")
    scene.now += 10 * 24 * 3600
    scene.room.expire(scene.now)
    assert scene.state("mum") is State.ADMITTED


def test_a_waiting_participant_who_drops_and_returns_is_waiting_again(scene: Scene) -> None:
    host = scene.join("host", HOST)
    mum = scene.join("mum")
    scene.room.disconnect(mum, scene.now)
    assert host.last("participant-left-waiting")["reason"] == "dropped"
    again = scene.join("mum")
    assert scene.state("mum") is State.WAITING
    assert again.last("waiting")["reason"] == "awaiting-admission"
    assert host.last("participant-waiting")["participant"]["id"] == "mum"


def test_a_second_connection_with_the_same_identity_replaces_the_first(scene: Scene) -> None:
    peers = scene.call("mum", "dad")
    phone = scene.join("dad")
    assert peers["dad"].types() == ["replaced"]
    assert peers["dad"].closed == (CloseCode.REPLACED, "replaced")
    assert phone.types() == ["welcome", "admitted", "bitrate"]
    assert peers["mum"].last("presence")["event"] == "reconnected"
    scene.say(phone, "offer", to="mum", sdp="v=0")
    assert peers["mum"].last("offer")["from"] == "dad"


def test_messages_from_a_replaced_connection_are_refused_and_close_it(scene: Scene) -> None:
    peers = scene.call("mum")
    scene.join("mum")
    error = scene.refused(peers["mum"], "offer", to="host", sdp="v=0")
    assert (error.code, error.close_code) == ("stale-connection", CloseCode.REPLACED)
    assert peers["host"].of("offer") == []


def test_the_replaced_connection_closing_does_not_drop_the_participant(scene: Scene) -> None:
    peers = scene.call("mum")
    scene.join("mum")
    scene.room.disconnect(peers["mum"], scene.now)
    assert scene.state("mum") is State.ADMITTED


def test_a_replaced_waiting_participant_is_still_waiting(scene: Scene) -> None:
    scene.join("host", HOST)
    first = scene.join("mum")
    second = scene.join("mum")
    assert first.closed == (CloseCode.REPLACED, "replaced")
    assert second.types() == ["welcome", "waiting"]


def test_a_dropped_host_comes_back_as_host_and_the_waiting_room_is_told(scene: Scene) -> None:
    peers = scene.call("mum")
    dad = scene.join("dad")
    scene.room.disconnect(peers["host"], scene.now)
    assert dad.last("waiting")["reason"] == "host-absent"
    host = scene.join("host", HOST)
    assert dad.last("waiting")["reason"] == "awaiting-admission"
    assert host.last("participant-waiting")["participant"]["id"] == "dad"
    scene.say(host, "admit", participant="dad")


# --- consent, ending --------------------------------------------------------


def test_withdrawing_consent_removes_the_participant_at_once(scene: Scene) -> None:
    peers = scene.call("mum", "dad")
    scene.room.set_consent("dad", False, scene.now)
    assert peers["dad"].last("removed")["reason"] == "consent-withdrawn"
    assert peers["dad"].closed == (CloseCode.REMOVED, "consent-withdrawn")
    presence = peers["mum"].last("presence")
    assert (presence["event"], presence["reason"]) == ("left", "consent-withdrawn")


def test_someone_whose_consent_was_withdrawn_cannot_be_admitted_again(scene: Scene) -> None:
    peers = scene.call("dad")
    scene.room.set_consent("dad", False, scene.now)
    scene.join("dad", consent=False)
    assert scene.refused(peers["host"], "admit", participant="dad").code == "consent-missing"


def test_a_dropped_participant_whose_consent_is_withdrawn_does_not_come_back_into_the_call(scene: Scene) -> None:
    peers = scene.call("dad")
    scene.room.disconnect(peers["dad"], scene.now)
    dad = scene.join("dad", consent=False)
    assert scene.state("dad") is State.WAITING
    assert dad.types() == ["welcome", "waiting"]


def test_host_ends_the_session_for_everyone_including_the_waiting_room(scene: Scene) -> None:
    peers = scene.call("mum")
    gran = scene.join("gran")
    scene.say(peers["host"], "end-session")
    for peer in (peers["host"], peers["mum"], gran):
        assert peer.last("session-ended")["reason"] == "ended-by-host"
        assert peer.closed == (CloseCode.SESSION_ENDED, "session-ended")
    assert scene.room.state is RoomState.ENDED
    assert all(scene.state(pid) is State.LEFT for pid in ("host", "mum", "gran"))


def test_no_one_can_join_or_speak_in_an_ended_session(scene: Scene) -> None:
    peers = scene.call("mum")
    scene.room.end(scene.now)
    error = scene.refused(peers["mum"], "ping", nonce=1)
    assert (error.code, error.close_code) == ("session-ended", CloseCode.SESSION_ENDED)
    with pytest.raises(Exception) as caught:
        scene.join("host", HOST)
    assert caught.value.code == "session-ended"  # type: ignore[attr-defined]


def test_an_ended_room_ignores_late_disconnects_and_consent_changes(scene: Scene) -> None:
    peers = scene.call("mum")
    scene.room.end(scene.now)
    scene.room.disconnect(peers["mum"], scene.now)
    scene.room.set_consent("mum", False, scene.now)
    scene.room.expire(scene.now + 3600)
    assert peers["mum"].types() == ["session-ended"]


# --- bitrate ----------------------------------------------------------------


def test_each_senders_bitrate_cap_falls_as_the_call_grows() -> None:
    scene = Scene()
    host = scene.join("host", HOST)
    assert host.last("bitrate") == {"v": 1, "type": "bitrate", "max_kbps": bitrate_for(0), "peers": 0}
    for count, pid in enumerate(["p1", "p2", "p3", "p4", "p5"], start=1):
        scene.join(pid)
        scene.say(host, "admit", participant=pid)
        assert host.last("bitrate") == {"v": 1, "type": "bitrate", "max_kbps": BITRATE_KBPS[count], "peers": count}
    assert [bitrate_for(n) for n in range(6)] == sorted((bitrate_for(n) for n in range(6)), reverse=True)


def test_bitrate_is_sent_only_when_the_number_of_peers_changes(scene: Scene) -> None:
    peers = scene.call("mum")
    scene.say(peers["mum"], "media-state", audio=True, video=True)
    scene.join("dad")
    assert peers["mum"].of("bitrate") == []


def test_a_side_room_changes_the_bitrate_cap(scene: Scene) -> None:
    peers = scene.call("mum", "dad", "child")
    scene.say(peers["host"], "side-room-create", participants=["host", "child"])
    assert peers["child"].last("bitrate")["peers"] == 1
    assert peers["mum"].last("bitrate")["peers"] == 1


# --- the connection ---------------------------------------------------------


def test_ping_is_answered_with_pong_by_anyone_even_waiting(scene: Scene) -> None:
    mum = scene.join("mum")
    scene.say(mum, "ping", nonce=42)
    assert mum.last("pong") == {"v": 1, "type": "pong", "nonce": 42}
    scene.say(mum, "pong", nonce=1)


def test_hello_after_joining_is_refused(scene: Scene) -> None:
    mum = scene.join("mum")
    assert scene.refused(mum, "hello", token="x").code == "already-joined"


def test_a_token_for_another_session_is_refused(scene: Scene) -> None:
    peer = FakePeer("mum")
    with pytest.raises(Exception) as caught:
        scene.room.connect(scene.identity("mum", room="room-2"), peer, scene.now)
    assert (caught.value.code, caught.value.close_code) == ("wrong-room", CloseCode.FORBIDDEN)  # type: ignore[attr-defined]
    assert scene.room.participant("mum") is None and peer.sent == []


def test_a_second_host_identity_is_refused(scene: Scene) -> None:
    scene.join("host", HOST)
    with pytest.raises(Exception) as caught:
        scene.join("other-worker", HOST)
    assert caught.value.code == "host-taken"  # type: ignore[attr-defined]
    assert scene.room.participant("other-worker") is None


def test_a_participant_cannot_come_back_under_another_role(scene: Scene) -> None:
    scene.call("mum")
    with pytest.raises(Exception) as caught:
        scene.join("mum", STAFF)
    assert caught.value.code == "wrong-room"  # type: ignore[attr-defined]
    assert scene.state("mum") is State.ADMITTED


def test_a_connection_the_room_never_saw_cannot_speak(scene: Scene) -> None:
    scene.call("mum")
    assert scene.refused(FakePeer("intruder"), "admit", participant="mum").code == "stale-connection"


def test_an_illegal_transition_names_the_state_and_the_input() -> None:
    record = Participant(Identity("mum", "room-1", FAMILY, "Mum"), state=State.LEFT)
    with pytest.raises(Exception) as caught:
        record.move(Input.ADMIT, 0.0)
    assert caught.value.code == "wrong-state"  # type: ignore[attr-defined]
    assert str(caught.value) == "Cannot admit participant 'mum': they are left."
    assert record.state is State.LEFT


def test_attendance_events_are_recorded_as_they_happen(scene: Scene) -> None:
    peers = scene.call("mum")
    scene.room.take_events()
    scene.now = 2000.0
    scene.room.disconnect(peers["mum"], scene.now)
    scene.now = 2010.0
    scene.join("mum")
    scene.now = 2100.0
    scene.room.end(scene.now)
    events = [(event.kind, event.participant_id, event.at) for event in scene.room.take_events()]
    assert events == [
        (EventKind.DROPPED, "mum", 2000.0),
        (EventKind.RECONNECTED, "mum", 2010.0),
        (EventKind.LEFT, "host", 2100.0),
        (EventKind.LEFT, "mum", 2100.0),
        (EventKind.ENDED, None, 2100.0),
    ]
    assert scene.room.take_events() == []


# --- the registry -----------------------------------------------------------


def test_the_registry_keeps_one_room_per_session() -> None:
    registry = RoomRegistry()
    assert registry.room("room-1", 0.0) is registry.room("room-1", 1.0)
    assert registry.room("room-2", 0.0) is not registry.room("room-1", 0.0)
    assert len(registry) == 2


def test_the_registry_refuses_to_reopen_an_ended_session() -> None:
    registry = RoomRegistry(remember_ended=3600.0)
    room = registry.room("room-1", 0.0)
    room.end(0.0)
    with pytest.raises(Exception) as caught:
        registry.room("room-1", 1.0)
    assert caught.value.code == "session-ended"  # type: ignore[attr-defined]
    registry.expire(3601.0)
    assert registry.room("room-1", 3601.0).state is RoomState.OPEN


def test_the_registry_ends_a_session_from_outside() -> None:
    registry = RoomRegistry()
    host = FakePeer("host")
    registry.room("room-1", 0.0).connect(Identity("host", "room-1", HOST, "Worker"), host, 0.0)
    registry.end("room-1", 1.0)
    assert host.last("session-ended")["reason"] == "ended"
    assert registry.get("room-1") is None


def test_the_registry_expires_dropped_participants_and_forgets_idle_rooms() -> None:
    registry = RoomRegistry(grace=10.0)
    room = registry.room("room-1", 0.0)
    host = FakePeer("host")
    room.connect(Identity("host", "room-1", HOST, "Worker"), host, 0.0)
    room.disconnect(host, 0.0)
    registry.expire(5.0)
    assert registry.get("room-1") is room
    registry.expire(10.0)
    assert registry.get("room-1") is None and len(registry) == 0
