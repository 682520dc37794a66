"""Side rooms: the host takes participants aside and brings them back. No I/O.

A participant's side room is a field of their record (``None`` is the main
room), so the list of side rooms is always derived, never stored twice. Each
rearrangement tells everyone in the call where everyone is now, whom to hang
up on (no longer together) and whom to call (newly together).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from telepractice.signaling import outbound
from telepractice.signaling.errors import PeerUnavailable, UnknownSideRoom, WrongState
from telepractice.signaling.participant import Participant, State


class SideRooms:
    """The side rooms of one room, over that room's participant records."""

    def __init__(self, participants: Mapping[str, Participant]) -> None:
        self._participants = participants
        self._serial = 0

    def snapshot(self) -> dict[str, list[str]]:
        """Each side room with the ids of those in it (including anyone dropped and due back)."""
        rooms: dict[str, list[str]] = {}
        for record in self._participants.values():
            if record.holds_a_seat and record.side_room is not None:
                rooms.setdefault(record.side_room, []).append(record.id)
        return rooms

    def create(self, targets: Iterable[Participant]) -> str:
        """Take ``targets`` into a new side room; returns its id."""
        targets = list(targets)
        for target in targets:
            _require_in_call(target, "take aside")
        self._serial += 1
        name = f"side-{self._serial}"
        self._rearrange({target.id: name for target in targets})
        return name

    def move(self, target: Participant, side_room: str) -> None:
        """Move one participant into a side room that already exists."""
        _require_in_call(target, "move")
        if side_room not in self.snapshot():
            raise UnknownSideRoom(side_room=side_room)
        if target.side_room == side_room:
            raise WrongState(f"Cannot move participant '{target.id}': they are already in {side_room}.")
        self._rearrange({target.id: side_room})

    def bring_back(self, targets: Iterable[Participant]) -> None:
        """Bring ``targets`` back to the main room."""
        targets = list(targets)
        for target in targets:
            _require_in_call(target, "bring back")
            if target.side_room is None:
                raise WrongState(f"Cannot bring back participant '{target.id}': they are in the main room.")
        self._rearrange({target.id: None for target in targets})

    def _rearrange(self, moves: dict[str, str | None]) -> None:
        in_call = [record for record in self._participants.values() if record.in_call]
        before = {record.id: record.side_room for record in in_call}
        for participant_id, side_room in moves.items():
            self._participants[participant_id].side_room = side_room
        rooms = self.snapshot()
        for record in in_call:
            hang_up = [
                other.id
                for other in in_call
                if other is not record and before[other.id] == before[record.id] and other.side_room != record.side_room
            ]
            call = [
                other.id
                for other in in_call
                if other is not record
                and other.side_room == record.side_room
                and before[other.id] != before[record.id]
                and _calls(record.id, other.id, moves)
            ]
            if record.peer is not None:
                record.peer.send(outbound.side_room_changed(rooms, record.side_room, hang_up, call))


def _calls(caller: str, callee: str, moved: Mapping[str, object]) -> bool:
    """Of two participants newly together, the one who moved calls; if both moved, the lower id."""
    if caller in moved and callee in moved:
        return caller < callee
    return caller in moved


def _require_in_call(target: Participant, action: str) -> None:
    if target.in_call:
        return
    if target.state is State.DROPPED:
        raise PeerUnavailable(participant=target.id)
    raise WrongState(f"Cannot {action} participant '{target.id}': they are {target.state}.", participant=target.id)
