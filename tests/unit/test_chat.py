"""The text chat: the `chat` message's checks, and the room relaying each line only within the sender's part of the call."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from telepractice.signaling import errors
from telepractice.signaling.messages import MAX_CHAT_CHARS, Chat, parse
from telepractice.signaling.participant import Role
from telepractice.signaling.room import CHAT_BURST, Room
from tests.unit.test_room import FakePeer, Scene

AT = dt.datetime(2026, 11, 23, 22, 30, tzinfo=dt.UTC)


def chat(text: object) -> str:
    return json.dumps({"v": 1, "type": "chat", "text": text})


# --- the message ------------------------------------------------------------


def test_a_chat_line_is_trimmed_on_arrival() -> None:
    assert parse(chat("  Hello, can you hear me?\n")) == Chat(text="Hello, can you hear me?")


def test_a_chat_line_of_the_largest_size_is_accepted_even_with_white_space_around_it() -> None:
    text = "x" * MAX_CHAT_CHARS
    assert parse(chat(f"  {text}  ")).text == text


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", errors.InvalidField),
        ("   \n\t ", errors.InvalidField),
        ("x" * (MAX_CHAT_CHARS + 1), errors.FieldTooLong),
        (42, errors.InvalidField),
        (None, errors.InvalidField),
        (["hello"], errors.InvalidField),
        ("\ud800", errors.InvalidField),
    ],
    ids=["empty", "only-white-space", "too-long", "a-number", "null", "a-list", "lone-surrogate"],
)
def test_a_malformed_chat_line_is_refused_with_a_clear_error(text: object, error: type) -> None:
    with pytest.raises(error) as caught:
        parse(chat(text))
    assert caught.value.extra.get("field") == "text"


def test_a_chat_message_with_a_from_field_is_refused() -> None:
    with pytest.raises(errors.UnknownField):
        parse(json.dumps({"v": 1, "type": "chat", "text": "hi", "from": "host"}))


def test_a_refusal_never_repeats_the_text() -> None:
    secret = "my dad hits me " * 80
    with pytest.raises(errors.FieldTooLong) as caught:
        parse(chat(secret))
    assert "dad" not in caught.value.detail


# --- the room ---------------------------------------------------------------


@pytest.fixture
def scene() -> Scene:
    scene = Scene()
    scene.room = Room(scene.room.room_id, wall_clock=lambda: AT)
    return scene


def lines(peer: FakePeer) -> list[tuple[str, str]]:
    return [(message["from"], message["text"]) for message in peer.of("chat")]


def test_a_line_reaches_everyone_in_the_call_and_the_sender_with_the_servers_time(scene: Scene) -> None:
    peers = scene.call("mum", "child")
    scene.say(peers["mum"], "chat", text=" I can't hear you ")
    for peer in peers.values():
        assert peer.of("chat") == [{"v": 1, "type": "chat", "from": "mum", "text": "I can't hear you",
                                    "at": AT.isoformat(), "side_room": None}]


def test_nobody_waiting_receives_a_chat_line_and_nobody_waiting_may_send_one(scene: Scene) -> None:
    peers = scene.call("mum")
    waiting = scene.join("dad")
    waiting.clear()
    scene.say(peers["host"], "chat", text="Welcome")
    assert waiting.of("chat") == []
    with pytest.raises(errors.NotAdmitted):
        scene.say(waiting, "chat", text="let me in")
    assert lines(peers["host"]) == [("host", "Welcome")] and lines(peers["mum"]) == [("host", "Welcome")]


def test_a_child_taken_aside_chats_with_the_worker_and_the_others_receive_none_of_it(scene: Scene) -> None:
    peers = scene.call("mum", "child")
    scene.say(peers["host"], "side-room-create", participants=["host", "child"])
    for peer in peers.values():
        peer.clear()

    scene.say(peers["child"], "chat", text="I am scared at home")
    scene.say(peers["host"], "chat", text="Thank you for telling me")
    scene.say(peers["mum"], "chat", text="Is anyone there?")

    aside = [("child", "I am scared at home"), ("host", "Thank you for telling me")]
    assert lines(peers["child"]) == aside and lines(peers["host"]) == aside
    assert lines(peers["mum"]) == [("mum", "Is anyone there?")]
    assert {message["side_room"] for message in peers["child"].of("chat")} == {"side-1"}


def test_after_coming_back_together_lines_reach_everyone_again(scene: Scene) -> None:
    peers = scene.call("mum", "child")
    scene.say(peers["host"], "side-room-create", participants=["child"])
    scene.say(peers["host"], "side-room-return", participants=["child"])
    scene.say(peers["child"], "chat", text="back")
    assert all(lines(peer) == [("child", "back")] for peer in peers.values())


def test_someone_dropped_misses_lines_and_nothing_is_kept_for_them(scene: Scene) -> None:
    peers = scene.call("mum")
    scene.room.disconnect(peers["mum"], scene.now)
    scene.say(peers["host"], "chat", text="are you there?")
    mum = FakePeer("mum again")
    scene.room.connect(scene.identity("mum"), mum, scene.now + 1)
    assert mum.of("chat") == []


def test_a_flood_of_lines_is_refused_until_the_budget_refills_and_changes_nothing(scene: Scene) -> None:
    peers = scene.call("mum")
    for index in range(CHAT_BURST):
        scene.say(peers["mum"], "chat", text=f"line {index}")
    refused = scene.refused(peers["mum"], "chat", text="one too many")
    assert isinstance(refused, errors.ChatLimited) and refused.close_code is None
    assert refused.extra["retry_after"] > 0
    assert len(peers["host"].of("chat")) == CHAT_BURST
    scene.now += 1.0
    scene.say(peers["mum"], "chat", text="after a pause")
    assert lines(peers["host"])[-1] == ("mum", "after a pause")


def test_one_persons_flood_does_not_use_up_anothers_chat(scene: Scene) -> None:
    peers = scene.call("mum")
    for index in range(CHAT_BURST):
        scene.say(peers["mum"], "chat", text=f"line {index}")
    scene.say(peers["host"], "chat", text="still here")
    assert lines(peers["mum"])[-1] == ("host", "still here")


def test_the_room_keeps_no_chat_in_its_events(scene: Scene) -> None:
    peers = scene.call("mum")
    scene.room.take_events()
    scene.say(peers["mum"], "chat", text="private words")
    assert scene.room.take_events() == []
    assert "private words" not in repr(vars(scene.room))


def test_a_host_alone_in_the_call_gets_their_own_line_back(scene: Scene) -> None:
    host = scene.join("host", Role.HOST)
    host.clear()
    scene.say(host, "chat", text="testing")
    assert lines(host) == [("host", "testing")]
