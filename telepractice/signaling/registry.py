"""The rooms of one server: made on first connection, forgotten when idle or long ended. No I/O.

Rooms are looked at when something in them falls due, never swept: each
room is checked once its grace period after it was made and after each
connection left it (``check_after``), from a heap of deadlines, so a timer
tick costs O(log n) per due room however many rooms are open.
"""

from __future__ import annotations

import collections
import heapq
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
        # Ended sessions in the order they ended: remember_ended is one length for all, so the oldest is first.
        self._ended_order: collections.deque[tuple[float, str]] = collections.deque()
        self._due: list[tuple[float, str]] = []  # (when to look at the room, room id), a heap

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
            # A room whose first connection is refused has nobody to leave it: look at it once anyway.
            self.check_after(room, now)
        return room

    def get(self, room_id: str) -> Room | None:
        return self._rooms.get(room_id)

    def check_after(self, room: Room, now: float) -> None:
        """Someone dropped from (or left) ``room`` at ``now``: look at it once their grace has passed."""
        heapq.heappush(self._due, (now + room.grace, room.room_id))

    def end(self, room_id: str, now: float, reason: Departure = Departure.ENDED) -> None:
        """End a session from outside (for example, the sessions layer cancelled it)."""
        room = self._rooms.get(room_id)
        if room is not None:
            room.end(now, reason)
        self._forget_ended(room_id, now)

    def expire(self, now: float) -> list[Room]:
        """Expire dropped participants of the rooms now due; forget idle rooms and long-ended ones.

        Returns the rooms looked at, so their events can be reported.
        """
        due: dict[str, Room] = {}
        while self._due and self._due[0][0] <= now:
            _, room_id = heapq.heappop(self._due)
            room = self._rooms.get(room_id)
            if room is None or room_id in due:
                continue
            due[room_id] = room
            room.expire(now)
            if room.state is RoomState.ENDED:
                self._forget_ended(room_id, now)
            elif room.is_idle:
                del self._rooms[room_id]
        while self._ended_order and now - self._ended_order[0][0] >= self.remember_ended:
            ended_at, room_id = self._ended_order.popleft()
            if self._ended.get(room_id) == ended_at:
                del self._ended[room_id]
        return list(due.values())

    def _forget_ended(self, room_id: str, now: float) -> None:
        self._rooms.pop(room_id, None)
        if room_id not in self._ended:
            self._ended[room_id] = now
            self._ended_order.append((now, room_id))

    def __len__(self) -> int:
        return len(self._rooms)

    def __iter__(self) -> Iterator[Room]:
        return iter(list(self._rooms.values()))
