"""The session record in the case file: built from attendance when a session ends, sealed with the case key.

Nobody types it: ``finish_session`` runs when the host ends the session (the
attendance hook calls it) or when everyone has left and stayed away
(``finish_abandoned_sessions``). The personal part (names, minutes, notes) is
one JSON document encrypted with the case's key; the plain columns hold only
times and whether the family came, which the contact report needs.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from telepractice.audit import AuditLog
from telepractice.crypto.case_keys import CaseCipher, open_case
from telepractice.crypto.keyring import Keyring
from telepractice.errors import Conflict, NotFound
from telepractice.sessions.attendance import (
    AttendanceEvent,
    AttendanceKind,
    Presence,
    WhoKind,
    joined_time,
    minutes,
)
from telepractice.sessions.attendance_store import EndedHook, presence_of, record
from telepractice.sessions.record_parts import record_parts
from telepractice.sessions.scheduling import planned_end
from telepractice.storage.engine import SessionFactory
from telepractice.storage.models import (
    AttendanceEventRow,
    Case,
    CaseSession,
    FamilyParticipant,
    PresenceInterval,
    SessionInvite,
    SessionKind,
    SessionRecord,
    SessionStatus,
    StaffMember,
    utcnow,
)

# Practice rule: more than five minutes after the planned start is late.
LATE_AFTER = dt.timedelta(minutes=5)
# A session nobody has been in for this long, after everyone left, is over.
ABANDONED_AFTER = dt.timedelta(minutes=15)
ATTENDED, DID_NOT_ATTEND = "attended", "did_not_attend"


@dataclasses.dataclass(frozen=True)
class Person:
    """Someone expected at, or present in, a session."""

    id: str
    kind: WhoKind
    display_name: str
    role: str


def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _interval_view(presence: Presence) -> dict[str, Any]:
    return {
        "started_at": _iso(presence.started_at),
        "ended_at": _iso(presence.ended_at),
        "end_reason": None if presence.end_reason is None else str(presence.end_reason),
        "interruptions": presence.interruptions,
        "interrupted_seconds": round(presence.interrupted.total_seconds()),
        "joined_minutes": minutes(presence.joined()),
    }


def build_record(
    scheduled: CaseSession,
    reference: str,
    people: Sequence[Person],
    expected: set[str],
    presences: Sequence[Presence],
    ended_at: dt.datetime,
    notes: str | None = None,
) -> dict[str, Any]:
    """The record of one session from its plan, its people and their presences. No I/O."""
    joined = joined_time(presences, until=ended_at)
    starts = [p.started_at for p in presences]
    actual_start = min(starts) if starts else None
    late_from = scheduled.planned_start + LATE_AFTER
    shown = [p for p in people if p.id in expected or p.id in joined]
    participants = []
    for person in shown:
        mine = [p for p in presences if p.who == person.id]
        first = min((p.started_at for p in mine), default=None)
        participants.append({
            "id": person.id,
            "kind": str(person.kind),
            "display_name": person.display_name,
            "role": person.role,
            "attendance": ATTENDED if mine else DID_NOT_ATTEND,
            "first_joined_at": _iso(first),
            "late": first is not None and first > late_from,
            "minutes_late": minutes(first - scheduled.planned_start) if first is not None and first > late_from else 0,
            "joined_minutes": minutes(joined.get(person.id, dt.timedelta(0))),
            "intervals": [_interval_view(p) for p in mine],
        })
    return {
        "session_id": scheduled.id,
        "case_reference": reference,
        "kind": scheduled.kind,
        "host_id": scheduled.host_id,
        "planned_start": _iso(scheduled.planned_start),
        "planned_end": _iso(planned_end(scheduled)),
        "planned_minutes": scheduled.planned_minutes,
        "actual_start": _iso(actual_start),
        "actual_end": _iso(ended_at),
        "duration_minutes": minutes(ended_at - actual_start) if actual_start else 0,
        "participants": participants,
        "late": [p["id"] for p in participants if p["late"]],
        "absent": [p["id"] for p in participants if p["attendance"] == DID_NOT_ATTEND],
        # Filled from their own tables by finish_session and refresh_record_parts (record_parts.py).
        "safety_alerts": [],
        "evaluation_answers": [],
        "connection_tests": [],
        "side_room_moves": [],
        "consent_withdrawals": [],
        "notes": notes,
    }


async def _people(session: AsyncSession, cipher: CaseCipher, scheduled: CaseSession, ids: set[str]) -> list[Person]:
    family = (
        await session.execute(
            select(FamilyParticipant).where(FamilyParticipant.case_id == scheduled.case_id)
            .order_by(FamilyParticipant.created_at, FamilyParticipant.id)
        )
    ).scalars().all()
    staff_ids = (ids | {scheduled.host_id}) - {row.id for row in family}
    staff = (await session.execute(select(StaffMember).where(StaffMember.id.in_(staff_ids)))).scalars().all()
    people = [
        Person(row.id, WhoKind.FAMILY,
               cipher.decrypt("family_participants", "display_name", row.id, row.display_name_enc), row.role)
        for row in family
    ]
    host_first = sorted(staff, key=lambda row: (row.id != scheduled.host_id, row.display_name))
    return [*(Person(row.id, WhoKind.STAFF, row.display_name, row.role) for row in host_first), *people]


async def _expected(session: AsyncSession, scheduled: CaseSession) -> set[str]:
    """The host, every family member with a link to the session, or the whole family when none was sent."""
    invited = set(
        (await session.execute(select(SessionInvite.participant_id).where(SessionInvite.session_id == scheduled.id)))
        .scalars()
    )
    if not invited and scheduled.kind == SessionKind.FAMILY:
        invited = set(
            (await session.execute(
                select(FamilyParticipant.id).where(FamilyParticipant.case_id == scheduled.case_id)
            )).scalars()
        )
    return invited | {scheduled.host_id}


async def _close_attendance(db: SessionFactory, session_id: str, ended_at: dt.datetime) -> None:
    """Write the session's end into attendance unless the room already did."""
    async with db() as session:
        ended = await session.scalar(
            select(func.count()).select_from(AttendanceEventRow).where(
                AttendanceEventRow.session_id == session_id,
                AttendanceEventRow.event == AttendanceKind.SESSION_ENDED,
                AttendanceEventRow.who_kind.is_(None),
            )
        )
    if not ended:
        await record(db, session_id, [AttendanceEvent(AttendanceKind.SESSION_ENDED, ended_at)])


async def finish_session(
    db: SessionFactory,
    keyring: Keyring,
    audit: AuditLog,
    session_id: str,
    ended_at: dt.datetime,
    *,
    notes: str | None = None,
    actor: str = "system",
) -> dict[str, Any]:
    """End a session for the record: close attendance, store the sealed record, mark it ended. Idempotent."""
    async with db() as session:
        scheduled = await session.get(CaseSession, session_id)
        if scheduled is None:
            raise NotFound()
        if scheduled.status == SessionStatus.CANCELLED:
            raise Conflict("A cancelled session has no record.")
        if await session.get(SessionRecord, session_id) is not None:
            return await read_record(session, keyring, session_id)
    await _close_attendance(db, session_id, ended_at)
    async with audit.recording(db) as session:
        scheduled = await session.get(CaseSession, session_id, with_for_update=True)
        assert scheduled is not None
        if await session.get(SessionRecord, session_id) is not None:
            return await read_record(session, keyring, session_id)  # another server finished it meanwhile
        case = await session.get(Case, scheduled.case_id)
        assert case is not None
        cipher = await open_case(session, keyring, case.id)
        rows = (
            await session.execute(select(PresenceInterval).where(PresenceInterval.session_id == session_id))
        ).scalars().all()
        presences = [presence_of(row) for row in rows]
        who = {p.who for p in presences}
        people = await _people(session, cipher, scheduled, who)
        built = build_record(scheduled, case.reference, people, await _expected(session, scheduled),
                             presences, ended_at, notes)
        built.update(await record_parts(session, cipher, session_id))
        session.add(SessionRecord(
            session_id=session_id,
            case_id=case.id,
            actual_start=min((p.started_at for p in presences), default=None),
            actual_end=ended_at,
            family_attended=any(p.who_kind is WhoKind.FAMILY for p in presences),
            record_enc=seal_record(cipher, session_id, built),
        ))
        scheduled.status = SessionStatus.ENDED
        await audit.append(session, actor=actor, action="session.finish", target=f"session:{session_id}",
                           detail={"case": case.id, "absent": len(built["absent"]), "late": len(built["late"])})
    return built


def seal_record(cipher: CaseCipher, session_id: str, document: dict[str, Any]) -> bytes:
    return cipher.encrypt("session_records", "record", session_id, json.dumps(document, sort_keys=True))


async def read_record(session: AsyncSession, keyring: Keyring, session_id: str) -> dict[str, Any]:
    """The decrypted record; NotFound before the session has ended, RecordErased after erasure."""
    row = await session.get(SessionRecord, session_id)
    if row is None:
        raise NotFound("This session has no record yet: it has not ended.")
    cipher = await open_case(session, keyring, row.case_id)
    document: dict[str, Any] = json.loads(cipher.decrypt("session_records", "record", session_id, row.record_enc))
    return document


async def set_notes(session: AsyncSession, keyring: Keyring, session_id: str, notes: str) -> dict[str, Any]:
    """Replace the worker's notes in a session record (the rest of the record stays as built)."""
    row = await session.get(SessionRecord, session_id, with_for_update=True)
    if row is None:
        raise NotFound("This session has no record yet: it has not ended.")
    cipher = await open_case(session, keyring, row.case_id)
    document = json.loads(cipher.decrypt("session_records", "record", session_id, row.record_enc))
    document["notes"] = notes
    row.record_enc = seal_record(cipher, session_id, document)
    return dict(document)


async def refresh_record_parts(session: AsyncSession, keyring: Keyring, session_id: str) -> None:
    """Bring a built record's safety alerts and evaluation answers up to date; nothing before it is built."""
    row = await session.get(SessionRecord, session_id, with_for_update=True)
    if row is None:
        return
    cipher = await open_case(session, keyring, row.case_id)
    document = json.loads(cipher.decrypt("session_records", "record", session_id, row.record_enc))
    document.update(await record_parts(session, cipher, session_id))
    row.record_enc = seal_record(cipher, session_id, document)


async def finish_abandoned_sessions(
    db: SessionFactory, keyring: Keyring, audit: AuditLog, now: dt.datetime | None = None,
    quiet: dt.timedelta = ABANDONED_AFTER,
) -> list[str]:
    """Finish live sessions everyone left at least ``quiet`` ago; returns their ids."""
    moment = now or utcnow()
    async with db() as session:
        live = (await session.execute(select(CaseSession.id).where(CaseSession.status == SessionStatus.LIVE))).scalars()
        finished: list[tuple[str, dt.datetime]] = []
        for session_id in list(live):
            open_count, last_end = (await session.execute(
                select(
                    func.count().filter(PresenceInterval.ended_at.is_(None)),
                    func.max(PresenceInterval.ended_at),
                ).where(PresenceInterval.session_id == session_id)
            )).one()
            if not open_count and last_end is not None and _aware(last_end) <= moment - quiet:
                finished.append((session_id, _aware(last_end)))
    for session_id, last_end in finished:
        await finish_session(db, keyring, audit, session_id, last_end)
    return [session_id for session_id, _ in finished]


def _aware(moment: dt.datetime) -> dt.datetime:
    """MAX() keeps the column's UTC type on both backends; this only guards a naive value."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def ended_hook(db: SessionFactory, keyring: Keyring, audit: AuditLog) -> EndedHook:
    """For ``attendance_hook(db, on_ended=...)``: the host ended the session, so write its record."""

    async def on_ended(session_id: str, ended_at: dt.datetime) -> None:
        await finish_session(db, keyring, audit, session_id, ended_at)

    return on_ended
