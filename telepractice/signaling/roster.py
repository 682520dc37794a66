"""Who is in one room and how to reach them: participant records, their peers, the host. No I/O.

The ``Room`` decides; the ``Roster`` keeps the records and delivers what the
room decided to the right peers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from telepractice.signaling.errors import UnknownParticipant
from telepractice.signaling.participant import Participant, Peer, Role, State


class Roster:
    """Every participant a room has seen, keyed by participant id."""

    def __init__(self) -> None:
        self.participants: dict[str, Participant] = {}
        self.host_id: str | None = None
        # Peers are looked up by identity; a record is the current one only while record.peer is peer.
        self._by_peer: dict[int, str] = {}

    def get(self, participant_id: str) -> Participant | None:
        return self.participants.get(participant_id)

    def target(self, participant_id: str) -> Participant:
        """The participant a message names; UnknownParticipant if this room has none by that id."""
        record = self.participants.get(participant_id)
        if record is None:
            raise UnknownParticipant(participant=participant_id)
        return record

    def current(self, peer: Peer) -> Participant | None:
        """The participant whose live connection ``peer`` is, if it still is."""
        participant_id = self._by_peer.get(id(peer))
        record = self.participants.get(participant_id) if participant_id is not None else None
        return record if record is not None and record.peer is peer else None

    def attach(self, record: Participant, peer: Peer) -> None:
        record.peer = peer
        record.bitrate_peers = None  # a new connection has been told nothing yet
        self._by_peer[id(peer)] = record.id

    def detach(self, record: Participant) -> Peer | None:
        """Forget ``record``'s connection; returns it."""
        peer = record.peer
        if peer is not None:
            self._by_peer.pop(id(peer), None)
            record.peer = None
        return peer

    @property
    def host(self) -> Participant | None:
        return self.participants.get(self.host_id) if self.host_id is not None else None

    @property
    def host_in_call(self) -> bool:
        host = self.host
        return host is not None and host.in_call

    def in_call(self) -> list[Participant]:
        return [record for record in self.participants.values() if record.in_call]

    def seat_holders(self) -> list[Participant]:
        return [record for record in self.participants.values() if record.holds_a_seat]

    def waiting(self) -> list[Participant]:
        """Everyone in the waiting room, longest waiting first."""
        waiting = [record for record in self.participants.values() if record.state is State.WAITING]
        return sorted(waiting, key=lambda record: record.waiting_since)

    def seats_taken_by_others_than_host(self) -> int:
        return sum(1 for record in self.seat_holders() if record.role is not Role.HOST)

    @property
    def is_idle(self) -> bool:
        """Nobody is connected or due back."""
        return all(record.state is State.LEFT for record in self.participants.values())

    def __iter__(self) -> Iterator[Participant]:
        return iter(list(self.participants.values()))

    # --- delivery -----------------------------------------------------------

    def send(self, record: Participant, message: dict[str, Any]) -> None:
        if record.peer is not None:
            record.peer.send(message)

    def tell_host(self, message: dict[str, Any]) -> None:
        host = self.host
        if host is not None and host.in_call:
            self.send(host, message)

    def broadcast(self, message: dict[str, Any], exclude: Participant | None = None) -> None:
        """To everyone in the call (admitted and connected), but ``exclude``."""
        for record in self.in_call():
            if record is not exclude:
                self.send(record, message)
