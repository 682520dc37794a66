"""The rooms of one server: made on first connection, forgotten when idle or long ended. No I/O."""

from __future__ import annotations

from collections.abc import Iterator

from telepractice.signaling.errors import SessionEnded
from telepractice.signaling.messages import MAX_ROOM_PARTICIPANTS
from telepractice.signaling.outbound import Departure
from telepractice.signaling.room import DEFAULT_GRACE_SECONDS, Room, RoomState


class RoomRegistry:
    """The rooms of one server, created on first connection, forgotten when idle or ended."""

    def __init__(
        self,
        *,
        grace: float = DEFAULT_GRACE_SECONDS,
        max_participants: int = MAX_ROOM_PARTICIPANTS,
        remember_ended: float = 24 * 3600.0,
    ) -> None:
        self.grace = grace
        self.max_participants = max_participants
        self.remember_ended = remember_ended
        self._rooms: dict[str, Room] = {}
        self._ended: dict[str, float] = {}

    def room(self, room_id: str, now: float) -> Room:
        """The open room of this session, made if need be; SessionEnded if it has ended."""
        room = self._rooms.get(room_id)
        if room is not None and room.state is RoomState.ENDED:
            self._forget_ended(room_id, now)
            room = None
        if room_id in self._ended:
            raise SessionEnded()
        if room is None:
            room = self._rooms[room_id] = Room(room_id, grace=self.grace, max_participants=self.max_participants)
        return room

    def get(self, room_id: str) -> Room | None:
        return self._rooms.get(room_id)

    def end(self, room_id: str, now: float, reason: Departure = Departure.ENDED) -> None:
        """End a session from outside (for example, the sessions layer cancelled it)."""
        room = self._rooms.get(room_id)
        if room is not None:
            room.end(now, reason)
        self._forget_ended(room_id, now)

    def expire(self, now: float) -> None:
        """Expire dropped participants everywhere; forget idle rooms and long-ended ones."""
        for room_id, room in list(self._rooms.items()):
            room.expire(now)
            if room.state is RoomState.ENDED:
                self._forget_ended(room_id, now)
            elif room.is_idle:
                del self._rooms[room_id]
        for room_id, ended_at in list(self._ended.items()):
            if now - ended_at >= self.remember_ended:
                del self._ended[room_id]

    def _forget_ended(self, room_id: str, now: float) -> None:
        self._rooms.pop(room_id, None)
        self._ended.setdefault(room_id, now)

    def __len__(self) -> int:
        return len(self._rooms)

    def __iter__(self) -> Iterator[Room]:
        return iter(list(self._rooms.values()))
