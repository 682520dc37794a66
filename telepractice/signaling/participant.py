"""A participant of one session: who they are (from their token) and where they are (the room's record).

The room keeps one ``Participant`` per identity. Its ``state`` only changes
through ``move()``, which follows the transition table below and refuses any
other step with an error that names the state and the input.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any, Protocol

from telepractice.signaling.errors import WrongState


class Peer(Protocol):
    """One live connection, as the room sees it. Neither method may block or raise."""

    def send(self, message: dict[str, Any]) -> None: ...

    def close(self, code: int, reason: str) -> None: ...


class Role(enum.StrEnum):
    HOST = "host"  # the worker running the session
    STAFF = "staff"  # other staff of the case: enter directly
    FAMILY = "family"  # family members: wait until the host admits them


class State(enum.StrEnum):
    WAITING = "waiting"
    ADMITTED = "admitted"
    DROPPED = "dropped"  # the socket went away; back as before within the grace period
    LEFT = "left"


class Input(enum.StrEnum):
    ARRIVE = "arrive"
    ADMIT = "admit"
    TURN_AWAY = "turn away"
    SEND_BACK = "send back to the waiting room"
    DROP = "drop"
    RECONNECT = "reconnect"
    EXPIRE = "expire"
    LEAVE = "leave"
    REMOVE = "remove"


_TRANSITIONS: dict[tuple[State, Input], State | None] = {
    (State.LEFT, Input.ARRIVE): State.WAITING,
    (State.WAITING, Input.ADMIT): State.ADMITTED,
    (State.WAITING, Input.TURN_AWAY): State.LEFT,
    (State.ADMITTED, Input.SEND_BACK): State.WAITING,
    (State.WAITING, Input.DROP): State.DROPPED,
    (State.ADMITTED, Input.DROP): State.DROPPED,
    (State.DROPPED, Input.RECONNECT): None,  # None: back to the state they dropped from
    (State.DROPPED, Input.EXPIRE): State.LEFT,
    (State.WAITING, Input.LEAVE): State.LEFT,
    (State.ADMITTED, Input.LEAVE): State.LEFT,
    (State.WAITING, Input.REMOVE): State.LEFT,
    (State.ADMITTED, Input.REMOVE): State.LEFT,
    (State.DROPPED, Input.REMOVE): State.LEFT,
}


@dataclasses.dataclass(frozen=True, slots=True)
class Identity:
    """Who a connection is, as the verified token and the sessions layer say."""

    participant_id: str
    room_id: str
    role: Role
    display_name: str
    is_minor: bool = False
    consent_ok: bool = False  # family only: the sessions layer has their consent on record


@dataclasses.dataclass(slots=True)
class Participant:
    """The room's own record of one participant; the only source of authority for their messages."""

    identity: Identity
    state: State = State.LEFT
    peer: Peer | None = None
    dropped_from: State | None = None
    dropped_at: float | None = None
    waiting_since: float = 0.0
    side_room: str | None = None
    audio: bool = False
    video: bool = False
    screen: bool = False
    bitrate_peers: int | None = None  # the peer count of the last bitrate message sent

    @property
    def id(self) -> str:
        return self.identity.participant_id

    @property
    def role(self) -> Role:
        return self.identity.role

    @property
    def connected(self) -> bool:
        return self.peer is not None

    @property
    def in_call(self) -> bool:
        """Admitted and connected: may send and receive media signalling."""
        return self.state is State.ADMITTED and self.peer is not None

    @property
    def consent_allows_admission(self) -> bool:
        """Staff need no consent; a family member needs theirs on record."""
        return self.role is not Role.FAMILY or self.identity.consent_ok

    @property
    def holds_a_seat(self) -> bool:
        """Counts against the call's size: admitted, or dropped from admitted and due back."""
        return self.state is State.ADMITTED or (self.state is State.DROPPED and self.dropped_from is State.ADMITTED)

    def check(self, event: Input) -> None:
        """Raise WrongState unless ``event`` is allowed from the current state."""
        if (self.state, event) not in _TRANSITIONS:
            raise WrongState(
                f"Cannot {event} participant '{self.id}': they are {self.state}.",
                participant=self.id,
                state=str(self.state),
            )

    def move(self, event: Input, now: float) -> State:
        """Apply ``event``; returns the state left behind."""
        self.check(event)
        before = self.state
        target = _TRANSITIONS[(before, event)]
        if target is None:
            target = self.dropped_from or State.WAITING
        if target is State.DROPPED:
            self.dropped_from, self.dropped_at, self.peer = before, now, None
        else:
            self.dropped_from = self.dropped_at = None
        if target is State.WAITING and before is not State.DROPPED:
            self.waiting_since = now
        if target in (State.WAITING, State.LEFT):
            self.side_room = None
            self.bitrate_peers = None
        if target is State.LEFT:
            self.peer = None
        self.state = target
        return before

    def view(self) -> dict[str, Any]:
        """How other participants see this one."""
        return {
            "id": self.id,
            "name": self.identity.display_name,
            "role": str(self.role),
            "is_minor": self.identity.is_minor,
            "audio": self.audio,
            "video": self.video,
            "screen": self.screen,
            "side_room": self.side_room,
            "connected": self.connected,
        }

    def waiting_view(self) -> dict[str, Any]:
        """How the host sees someone in the waiting room: whether they can be admitted."""
        return {**self.view(), "consent_ok": self.consent_allows_admission}
