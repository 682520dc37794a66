"""The room registry looks at a room only when something in it falls due."""

from __future__ import annotations

from typing import Any

from telepractice.signaling.errors import SessionEnded
from telepractice.signaling.participant import Identity, Role
from telepractice.signaling.registry import RoomRegistry


class Peer:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    def close(self, code: int, reason: str) -> None:
        pass


def host_in(registry: RoomRegistry, room_id: str, now: float) -> Peer:
    peer = Peer()
    registry.room(room_id, now).connect(Identity(f"host-{room_id}", room_id, Role.HOST, "Worker"), peer, now)
    return peer


def test_rooms_with_everyone_connected_are_not_looked_at_again_after_their_first_check() -> None:
    registry = RoomRegistry(grace=10.0)
    for k in range(100):
        host_in(registry, f"room-{k}", 0.0)
    assert len(registry.expire(10.0)) == 100  # each made room is looked at once, its grace after it was made
    assert registry.expire(20.0) == [] and registry.expire(1000.0) == []
    assert len(registry) == 100


def test_a_drop_makes_only_that_room_due_at_the_end_of_its_grace() -> None:
    registry = RoomRegistry(grace=10.0)
    peers = {k: host_in(registry, f"room-{k}", 0.0) for k in range(5)}
    registry.expire(10.0)
    room = registry.get("room-3")
    assert room is not None
    room.disconnect(peers[3], 50.0)  # type: ignore[arg-type]
    registry.check_after(room, 50.0)
    assert registry.expire(59.9) == []
    assert registry.expire(60.0) == [room]
    assert registry.get("room-3") is None and len(registry) == 4
    events = [(event.kind.value, event.participant_id) for event in room.take_events()]
    assert events[-1] == ("left", "host-room-3")


def test_someone_back_within_the_grace_keeps_the_room() -> None:
    registry = RoomRegistry(grace=10.0)
    peer = host_in(registry, "room-1", 0.0)
    room = registry.get("room-1")
    assert room is not None
    room.disconnect(peer, 1.0)  # type: ignore[arg-type]
    registry.check_after(room, 1.0)
    host_in(registry, "room-1", 5.0)
    assert registry.expire(11.0) == [room]
    assert registry.get("room-1") is room


def reopens(registry: RoomRegistry, room_id: str, now: float) -> bool:
    try:
        registry.room(room_id, now)
    except SessionEnded:
        return False
    return True


def test_an_ended_session_is_remembered_for_a_while_then_forgotten() -> None:
    registry = RoomRegistry(remember_ended=100.0)
    host_in(registry, "room-1", 0.0)
    registry.end("room-1", 1.0)
    host_in(registry, "room-2", 50.0)
    registry.end("room-2", 50.0)
    registry.expire(100.0)
    assert not reopens(registry, "room-1", 100.0) and not reopens(registry, "room-2", 100.0)
    registry.expire(101.0)
    assert reopens(registry, "room-1", 101.0) and not reopens(registry, "room-2", 101.0)
    registry.expire(150.0)
    assert reopens(registry, "room-2", 150.0)
