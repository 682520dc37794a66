"""Attendance as a fold of events into presences: who was in a session, from when to when. No I/O.

A drop followed by a return within the grace is one presence with an
interruption, never two visits; the minutes of the interruption are not
counted as joined. A presence that ends while its person is dropped ends at
the drop, as "connection lost": nobody was there after it. ``step`` is the
one rule, used both by ``fold`` (a whole session at once) and by the
database writer (one event at a time, as they happen).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Iterable

ZERO = dt.timedelta(0)


class WhoKind(enum.StrEnum):
    FAMILY = "family"
    STAFF = "staff"


class AttendanceKind(enum.StrEnum):
    JOINED = "joined"  # arrived in the waiting room
    ADMITTED = "admitted"  # entered the call
    DROPPED = "dropped"  # the connection went away; their place is held for the grace
    RECONNECTED = "reconnected"
    MOVED_ASIDE = "moved_aside"  # into a side room: still present
    BROUGHT_BACK = "brought_back"
    LEFT = "left"
    REMOVED = "removed"  # by the host, by the withdrawal of consent, or by revoking their link
    SESSION_ENDED = "session_ended"


class EndReason(enum.StrEnum):
    LEFT = "left"
    CONNECTION_LOST = "connection_lost"
    SESSION_ENDED = "session_ended"
    SERVER_RESTART = "server_restart"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    SENT_TO_WAITING_ROOM = "sent_to_waiting_room"
    LINK_REVOKED = "link_revoked"  # the worker revoked the personal link they were in on


# Removals the record keeps as such even when the person was dropped at the time: they did not just lose the line.
_REMOVALS = (EndReason.CONSENT_WITHDRAWN, EndReason.LINK_REVOKED)


_CLOSING = (AttendanceKind.LEFT, AttendanceKind.REMOVED, AttendanceKind.SESSION_ENDED)
_DEFAULT_REASON = {
    AttendanceKind.LEFT: EndReason.LEFT,
    AttendanceKind.REMOVED: EndReason.SENT_TO_WAITING_ROOM,
    AttendanceKind.SESSION_ENDED: EndReason.SESSION_ENDED,
}


@dataclasses.dataclass(frozen=True, slots=True)
class AttendanceEvent:
    """One thing that happened to one person (or, with ``who`` None, to the whole session)."""

    event: AttendanceKind
    at: dt.datetime
    who: str | None = None
    who_kind: WhoKind | None = None
    reason: EndReason | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Presence:
    """One person's continuous presence in a session."""

    who: str
    who_kind: WhoKind
    started_at: dt.datetime
    last_heartbeat_at: dt.datetime
    ended_at: dt.datetime | None = None
    end_reason: EndReason | None = None
    dropped_at: dt.datetime | None = None
    interruptions: int = 0
    interrupted: dt.timedelta = ZERO

    @property
    def is_open(self) -> bool:
        return self.ended_at is None

    def joined(self, until: dt.datetime | None = None) -> dt.timedelta:
        """Time actually in the session: to its end (or ``until`` while open), less interruptions."""
        end = self.ended_at or until or self.last_heartbeat_at
        if self.is_open and self.dropped_at is not None:
            end = min(end, self.dropped_at)
        return max(ZERO, end - self.started_at - self.interrupted)


def begin(event: AttendanceEvent) -> Presence:
    if event.who is None or event.who_kind is None:
        raise ValueError(f"a {event.event} event must name who it is about")
    return Presence(event.who, event.who_kind, event.at, event.at)


def close(presence: Presence, at: dt.datetime, reason: EndReason) -> Presence:
    """End a presence; someone still dropped was last there when they dropped."""
    if not presence.is_open:
        return presence
    if presence.dropped_at is not None:
        kept = reason if reason in _REMOVALS else EndReason.CONNECTION_LOST
        return dataclasses.replace(presence, ended_at=presence.dropped_at, end_reason=kept, dropped_at=None)
    return dataclasses.replace(presence, ended_at=max(at, presence.started_at), end_reason=reason)


def recover(presence: Presence) -> Presence:
    """Close a presence the server lost track of: at the last moment it was known to be there."""
    if presence.dropped_at is not None:
        return close(presence, presence.dropped_at, EndReason.CONNECTION_LOST)
    return close(presence, presence.last_heartbeat_at, EndReason.SERVER_RESTART)


def step(current: Presence | None, event: AttendanceEvent) -> Presence | None:
    """A person's open presence (or None) after one of their events; the same object when nothing changes."""
    kind = event.event
    if current is None or not current.is_open:
        if kind in (AttendanceKind.ADMITTED, AttendanceKind.RECONNECTED):
            return begin(event)
        return current
    seen = dataclasses.replace(current, last_heartbeat_at=max(current.last_heartbeat_at, event.at))
    if kind is AttendanceKind.DROPPED:
        return current if current.dropped_at is not None else dataclasses.replace(seen, dropped_at=event.at)
    if kind is AttendanceKind.RECONNECTED:
        if current.dropped_at is None:
            return current  # a second connection replaced the first: no gap
        gap = max(ZERO, event.at - current.dropped_at)
        return dataclasses.replace(
            seen, dropped_at=None, interruptions=current.interruptions + 1, interrupted=current.interrupted + gap
        )
    if kind in _CLOSING:
        return close(seen, event.at, event.reason or _DEFAULT_REASON[kind])
    return current


def fold(events: Iterable[AttendanceEvent]) -> list[Presence]:
    """Every presence of a session from its events, oldest first; open ones stay open."""
    open_now: dict[str, Presence] = {}
    done: list[Presence] = []
    for event in sorted(events, key=lambda e: e.at):
        if event.who is None:
            if event.event is AttendanceKind.SESSION_ENDED:
                done.extend(close(p, event.at, EndReason.SESSION_ENDED) for p in open_now.values())
                open_now.clear()
            continue
        after = step(open_now.get(event.who), event)
        if after is None:
            continue
        if after.is_open:
            open_now[event.who] = after
        else:
            open_now.pop(event.who, None)
            done.append(after)
    return sorted([*done, *open_now.values()], key=lambda p: (p.started_at, p.who))


def joined_time(presences: Iterable[Presence], until: dt.datetime | None = None) -> dict[str, dt.timedelta]:
    """Each person's total time in the session over all their presences."""
    totals: dict[str, dt.timedelta] = {}
    for presence in presences:
        totals[presence.who] = totals.get(presence.who, ZERO) + presence.joined(until)
    return totals


def minutes(span: dt.timedelta) -> float:
    """Minutes to one decimal, as the record shows them."""
    return round(span.total_seconds() / 60, 1)
