"""Attendance written as it happens: events appended, presences kept up to date, heartbeats, crash recovery.

The signalling service hands each room's events to ``on_room_events`` as they
happen; a timer calls ``heartbeat`` every ~15 seconds; ``recover_after_crash``
runs once at start-up, before any room opens. A server killed mid-session
therefore loses at most the time since its last heartbeat, and invents none.
Rows hold ids and times only, never names.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from telepractice.sessions.attendance import (
    AttendanceEvent,
    AttendanceKind,
    EndReason,
    Presence,
    WhoKind,
    close,
    recover,
    step,
)
from telepractice.signaling.outbound import Departure
from telepractice.signaling.room import EventKind, RoomEvent
from telepractice.storage.engine import SessionFactory
from telepractice.storage.models import (
    AttendanceEventRow,
    CaseSession,
    FamilyParticipant,
    PresenceInterval,
    SessionStatus,
    StaffMember,
    new_id,
    utcnow,
)

log = logging.getLogger("telepractice.attendance")

HEARTBEAT_SECONDS = 15.0

# How each way of leaving the room reads in the attendance record.
_DEPARTURES: dict[str, tuple[AttendanceKind, EndReason]] = {
    Departure.LEFT: (AttendanceKind.LEFT, EndReason.LEFT),
    Departure.TIMED_OUT: (AttendanceKind.LEFT, EndReason.CONNECTION_LOST),
    Departure.DROPPED: (AttendanceKind.LEFT, EndReason.CONNECTION_LOST),
    Departure.CONSENT_WITHDRAWN: (AttendanceKind.REMOVED, EndReason.CONSENT_WITHDRAWN),
    Departure.LINK_REVOKED: (AttendanceKind.REMOVED, EndReason.LINK_REVOKED),
    Departure.SENT_TO_WAITING_ROOM: (AttendanceKind.REMOVED, EndReason.SENT_TO_WAITING_ROOM),
    Departure.TURNED_AWAY: (AttendanceKind.REMOVED, EndReason.SENT_TO_WAITING_ROOM),
    Departure.ENDED: (AttendanceKind.SESSION_ENDED, EndReason.SESSION_ENDED),
    Departure.ENDED_BY_HOST: (AttendanceKind.SESSION_ENDED, EndReason.SESSION_ENDED),
}


# --- rows and presences --------------------------------------------------------


def presence_of(row: PresenceInterval) -> Presence:
    return Presence(
        who=row.participant_id or row.staff_id or "",
        who_kind=WhoKind(row.who_kind),
        started_at=row.started_at,
        last_heartbeat_at=row.last_heartbeat_at,
        ended_at=row.ended_at,
        end_reason=None if row.end_reason is None else EndReason(row.end_reason),
        dropped_at=row.dropped_at,
        interruptions=row.interruptions,
        interrupted=dt.timedelta(milliseconds=row.interrupted_ms),
    )


def _write(row: PresenceInterval, presence: Presence) -> None:
    row.last_heartbeat_at = presence.last_heartbeat_at
    row.ended_at = presence.ended_at
    row.end_reason = None if presence.end_reason is None else str(presence.end_reason)
    row.dropped_at = presence.dropped_at
    row.interruptions = presence.interruptions
    row.interrupted_ms = round(presence.interrupted.total_seconds() * 1000)


def _who_columns(who: str | None, kind: WhoKind | None) -> dict[str, str | None]:
    return {
        "participant_id": who if kind is WhoKind.FAMILY else None,
        "staff_id": who if kind is WhoKind.STAFF else None,
    }


def _new_row(session_id: str, presence: Presence) -> PresenceInterval:
    row = PresenceInterval(
        id=new_id(), session_id=session_id, who_kind=str(presence.who_kind), started_at=presence.started_at,
        **_who_columns(presence.who, presence.who_kind),
    )
    _write(row, presence)
    return row


async def _open_rows(session: AsyncSession, session_ids: Iterable[str]) -> dict[str, dict[str, PresenceInterval]]:
    """The open presences of these sessions, locked, by session and then by person: one statement for all."""
    rows = (
        await session.execute(
            select(PresenceInterval)
            .where(PresenceInterval.session_id.in_(sorted(set(session_ids))), PresenceInterval.ended_at.is_(None))
            .with_for_update()
        )
    ).scalars()
    by_session: dict[str, dict[str, PresenceInterval]] = {}
    for row in rows:
        by_session.setdefault(row.session_id, {})[row.participant_id or row.staff_id or ""] = row
    return by_session


# --- writing events ------------------------------------------------------------


async def record(db: SessionFactory, session_id: str, events: Sequence[AttendanceEvent]) -> None:
    """Append the events of one session and bring its presences up to date, in one transaction."""
    if not events:
        return
    async with db() as session, session.begin():
        await _record_in(session, [(session_id, events)])


async def _record_in(session: AsyncSession, sessions: Sequence[tuple[str, Sequence[AttendanceEvent]]]) -> None:
    """``record`` for several sessions inside a transaction the caller holds, oldest events first.

    A few statements however many sessions: one locking read of their open
    presences, the new rows inserted together at the flush, one update of the
    sessions someone was admitted to.
    """
    sessions = [(session_id, events) for session_id, events in sessions if events]
    if not sessions:
        return
    open_rows = await _open_rows(session, (session_id for session_id, _ in sessions))
    for session_id, events in sessions:
        rows = open_rows.setdefault(session_id, {})
        for event in events:
            session.add(AttendanceEventRow(
                id=new_id(), session_id=session_id, who_kind=None if event.who_kind is None else str(event.who_kind),
                event=str(event.event), reason=None if event.reason is None else str(event.reason), at=event.at,
                **_who_columns(event.who, event.who_kind),
            ))
            _apply(session, session_id, rows, event)
    live = {session_id for session_id, events in sessions if any(e.event is AttendanceKind.ADMITTED for e in events)}
    if live:
        await session.execute(
            update(CaseSession)
            .where(CaseSession.id.in_(sorted(live)), CaseSession.status == SessionStatus.SCHEDULED)
            .values(status=SessionStatus.LIVE)
        )


def _apply(session: AsyncSession, session_id: str, open_rows: dict[str, PresenceInterval], event: AttendanceEvent) -> None:
    if event.who is None:
        if event.event is AttendanceKind.SESSION_ENDED:
            for row in open_rows.values():
                _write(row, close(presence_of(row), event.at, EndReason.SESSION_ENDED))
            open_rows.clear()
        return
    row = open_rows.get(event.who)
    current = None if row is None else presence_of(row)
    after = step(current, event)
    if after is None or after is current:
        return
    if row is None:
        row = _new_row(session_id, after)
        session.add(row)
    else:
        _write(row, after)
    if after.is_open:
        open_rows[event.who] = row
    else:
        open_rows.pop(event.who, None)


def attendance_events(
    room_events: Iterable[RoomEvent], kinds: dict[str, WhoKind], to_wall: Callable[[float], dt.datetime]
) -> list[AttendanceEvent]:
    """The room's events in the attendance record's words; people of unknown kind are left out."""
    mapped: list[AttendanceEvent] = []
    for event in room_events:
        at = to_wall(event.at)
        if event.kind is EventKind.ENDED:
            mapped.append(AttendanceEvent(AttendanceKind.SESSION_ENDED, at))
            continue
        kind = kinds.get(event.participant_id or "")
        if kind is None:
            continue
        if event.kind is EventKind.LEFT:
            what, reason = _DEPARTURES.get(event.reason or "", (AttendanceKind.LEFT, EndReason.LEFT))
            mapped.append(AttendanceEvent(what, at, event.participant_id, kind, reason))
        else:
            what = {
                EventKind.ADMITTED: AttendanceKind.ADMITTED,
                EventKind.DROPPED: AttendanceKind.DROPPED,
                EventKind.RECONNECTED: AttendanceKind.RECONNECTED,
                EventKind.MOVED_ASIDE: AttendanceKind.MOVED_ASIDE,
                EventKind.BROUGHT_BACK: AttendanceKind.BROUGHT_BACK,
            }[event.kind]
            mapped.append(AttendanceEvent(what, at, event.participant_id, kind))
    return mapped


async def _kinds(db: SessionFactory, ids: set[str]) -> dict[str, WhoKind]:
    if not ids:
        return {}
    async with db() as session:
        return await _kinds_in(session, ids)


async def _kinds_in(session: AsyncSession, ids: set[str]) -> dict[str, WhoKind]:
    if not ids:
        return {}
    family = set((await session.execute(select(FamilyParticipant.id).where(FamilyParticipant.id.in_(ids)))).scalars())
    staff = set((await session.execute(select(StaffMember.id).where(StaffMember.id.in_(ids)))).scalars())
    return {**{i: WhoKind.STAFF for i in staff}, **{i: WhoKind.FAMILY for i in family}}


def monotonic_to_wall(now: dt.datetime | None = None, monotonic_now: float | None = None) -> Callable[[float], dt.datetime]:
    """The rooms keep monotonic seconds; the record keeps UTC. Anchored once, at the time of the call."""
    wall = now or utcnow()
    mono = time.monotonic() if monotonic_now is None else monotonic_now
    return lambda at: wall - dt.timedelta(seconds=mono - at)


async def on_room_events(
    db: SessionFactory,
    room_id: str,
    events: Sequence[RoomEvent],
    *,
    now: dt.datetime | None = None,
    monotonic_now: float | None = None,
) -> list[AttendanceEvent]:
    """Record what a room reported (its id is the session's id); returns the events as recorded."""
    ids = {event.participant_id for event in events if event.participant_id}
    mapped = attendance_events(events, await _kinds(db, ids), monotonic_to_wall(now, monotonic_now))
    _warn_unknown(room_id, events, mapped)
    await record(db, room_id, mapped)
    return mapped


EndedHook = Callable[[str, dt.datetime], Awaitable[None]]


@dataclasses.dataclass
class _Waiting:
    room_id: str
    events: Sequence[RoomEvent]
    to_wall: Callable[[float], dt.datetime]  # anchored when the events were handed in, not when written
    done: asyncio.Future[list[AttendanceEvent]]


class GroupCommit:
    """Records the events of every room that reported while the previous commit was running, in one commit.

    ``record`` returns only once its events are committed, exactly as a
    transaction of its own would: nothing is acknowledged that a crash could
    still lose. While one commit runs (an fsync on SQLite) the next rooms
    wait and then share one, so a join storm of 500 is a handful of commits,
    not 500. If a shared commit fails, each room is tried again alone, so one
    room's bad events never cost another room its record.
    """

    def __init__(self, db: SessionFactory) -> None:
        self.db = db
        self._waiting: list[_Waiting] = []
        self._writer: asyncio.Task[None] | None = None
        self.commits = 0  # transactions that recorded something: fewer than the rooms when they shared

    async def record(self, room_id: str, events: Sequence[RoomEvent]) -> list[AttendanceEvent]:
        """Record what a room reported (its id is the session's id); returns the events as recorded."""
        done: asyncio.Future[list[AttendanceEvent]] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(room_id, events, monotonic_to_wall(), done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_while_waiting())
        return await done

    async def _write_while_waiting(self) -> None:
        batch: list[_Waiting] = []
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                await self._write_batch(batch)
        finally:
            # Cancelled mid-commit (the loop shutting down): nobody may wait for ever on a commit that never ends.
            for waiting in batch:
                waiting.done.cancel()

    async def _write_batch(self, batch: list[_Waiting]) -> None:
        try:
            recorded = await self._write(batch)
        except Exception as error:
            if len(batch) == 1:
                _settle(batch[0].done, error=error)
                return
            log.warning("a shared attendance commit of %d rooms failed; writing each alone", len(batch),
                        exc_info=True)
            for waiting in batch:
                await self._write_alone(waiting)
            return
        for waiting, mapped in zip(batch, recorded):
            _settle(waiting.done, result=mapped)

    async def _write_alone(self, waiting: _Waiting) -> None:
        try:
            [mapped] = await self._write([waiting])
        except Exception as error:
            _settle(waiting.done, error=error)
        else:
            _settle(waiting.done, result=mapped)

    async def _write(self, batch: list[_Waiting]) -> list[list[AttendanceEvent]]:
        ids = {event.participant_id for waiting in batch for event in waiting.events if event.participant_id}
        recorded: list[list[AttendanceEvent]] = []
        async with self.db() as session, session.begin():
            kinds = await _kinds_in(session, ids)
            for waiting in batch:
                mapped = attendance_events(waiting.events, kinds, waiting.to_wall)
                _warn_unknown(waiting.room_id, waiting.events, mapped)
                recorded.append(mapped)
            await _record_in(session, [(waiting.room_id, mapped) for waiting, mapped in zip(batch, recorded)])
        self.commits += 1
        return recorded


def _settle(
    done: asyncio.Future[list[AttendanceEvent]],
    *,
    result: list[AttendanceEvent] | None = None,
    error: BaseException | None = None,
) -> None:
    if done.done():
        return  # the caller stopped waiting; its events are written all the same
    if error is not None:
        done.set_exception(error)
    else:
        done.set_result(result or [])


def _warn_unknown(room_id: str, events: Sequence[RoomEvent], mapped: list[AttendanceEvent]) -> None:
    unknown = {event.participant_id for event in events if event.participant_id} - {e.who for e in mapped if e.who}
    if unknown:
        log.warning("room %s: %d attendance event(s) about unknown ids were not recorded", room_id, len(unknown))


def attendance_hook(db: SessionFactory, on_ended: EndedHook | None = None) -> Callable[[str, list[RoomEvent]], Awaitable[None]]:
    """The signalling service's ``on_events``: record (rooms reporting at once share a commit), then hand an
    ended session to ``on_ended``."""
    writer = GroupCommit(db)

    async def hook(room_id: str, events: list[RoomEvent]) -> None:
        recorded = await writer.record(room_id, events)
        ends = [e.at for e in recorded if e.who is None and e.event is AttendanceKind.SESSION_ENDED]
        if ends and on_ended is not None:
            await on_ended(room_id, ends[-1])

    return hook


# --- heartbeats and recovery -----------------------------------------------------


async def heartbeat(db: SessionFactory, now: dt.datetime | None = None, session_ids: Iterable[str] | None = None) -> int:
    """Everyone still present is known to be there at ``now``; returns how many presences that is."""
    moment = now or utcnow()
    query = update(PresenceInterval).where(
        PresenceInterval.ended_at.is_(None), PresenceInterval.last_heartbeat_at < moment
    )
    if session_ids is not None:
        query = query.where(PresenceInterval.session_id.in_(list(session_ids)))
    async with db() as session, session.begin():
        result = await session.execute(query.values(last_heartbeat_at=moment))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def heartbeat_forever(db: SessionFactory, interval: float = HEARTBEAT_SECONDS) -> None:
    """Run until cancelled; a failed heartbeat is logged and the next one tried."""
    while True:
        await asyncio.sleep(interval)
        try:
            await heartbeat(db)
        except Exception:
            log.exception("the attendance heartbeat failed")


async def recover_after_crash(db: SessionFactory) -> int:
    """Close every presence left open by a server that stopped without closing it; returns how many.

    Each ends at its last stored heartbeat ("server_restart"), or at its drop
    ("connection_lost") when the person had already gone. Run it before any
    room opens: a presence open at start-up belongs to no live room.
    """
    async with db() as session, session.begin():
        rows = (
            await session.execute(select(PresenceInterval).where(PresenceInterval.ended_at.is_(None)).with_for_update())
        ).scalars().all()
        for row in rows:
            _write(row, recover(presence_of(row)))
    if rows:
        log.warning("closed %d presence(s) left open by a server that stopped without closing them", len(rows))
    return len(rows)
