"""Safety alerts in the case record: written as the room reports them, read and acknowledged by the case's staff.

The room (``signaling/help_desk.py``) decides who hears of a request for
help; this module keeps it. ``safety_hook`` is the signalling service's
``on_safety``: each alert becomes a ``safety_alerts`` row with its time, and
an acknowledgement in the call fills in who and when. Supervisors and
workers of the case see open alerts through ``GET /api/alerts`` even when
nobody was in the call to hear them, and can acknowledge them there.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from telepractice.audit import AuditLog
from telepractice.cases.access import visible_cases
from telepractice.crypto.case_keys import open_case
from telepractice.crypto.keyring import Keyring
from telepractice.errors import Conflict, NotFound, RecordErased
from telepractice.sessions.attendance_store import monotonic_to_wall
from telepractice.sessions.record_parts import alert_view
from telepractice.sessions.records import refresh_record_parts
from telepractice.signaling.help_desk import SafetyEvent, SafetyKind
from telepractice.storage.engine import SessionFactory
from telepractice.storage.models import Case, CaseSession, FamilyParticipant, SafetyAlert, utcnow

log = logging.getLogger("telepractice.safety")

SafetyHook = Callable[[str, list[SafetyEvent]], Awaitable[None]]


def safety_hook(db: SessionFactory, keyring: Keyring, audit: AuditLog) -> SafetyHook:
    """The signalling service's ``on_safety``: every alert and acknowledgement into the case record."""

    async def hook(room_id: str, events: list[SafetyEvent]) -> None:
        await record_safety_events(db, keyring, audit, room_id, events)

    return hook


async def record_safety_events(
    db: SessionFactory, keyring: Keyring, audit: AuditLog, session_id: str, events: Sequence[SafetyEvent]
) -> None:
    """Write what a room reported, in one audited transaction; a built session record is brought up to date."""
    to_wall = monotonic_to_wall()
    async with audit.recording(db) as session:
        scheduled = await session.get(CaseSession, session_id)
        if scheduled is None:
            log.error("room %s: %d safety event(s) for a session that does not exist", session_id, len(events))
            return
        for event in events:
            if event.kind is SafetyKind.REQUESTED:
                session.add(SafetyAlert(id=event.alert_id, session_id=session_id, case_id=scheduled.case_id,
                                        participant_id=event.participant_id, at=to_wall(event.at)))
                await session.flush()
                await audit.append(session, actor=f"family:{event.participant_id}", action="safety.alert",
                                   target=f"session:{session_id}", detail={"case": scheduled.case_id,
                                                                           "alert": event.alert_id})
            else:
                row = await session.get(SafetyAlert, event.alert_id)
                if row is None or row.acknowledged_at is not None:
                    continue  # acknowledged through the API first: the room only heard of it
                row.acknowledged_by, row.acknowledged_at = event.staff_id, to_wall(event.at)
                await audit.append(session, actor=f"staff:{event.staff_id}", action="safety.alert.acknowledge",
                                   target=f"session:{session_id}", detail={"case": scheduled.case_id,
                                                                           "alert": event.alert_id})
        await session.flush()
        await refresh_record_parts(session, keyring, session_id)


async def alerts_for_staff(
    session: AsyncSession, keyring: Keyring, staff_id: str, role: str, *, include_acknowledged: bool = False
) -> list[dict[str, Any]]:
    """The safety alerts of the cases this member of staff works on or supervises, newest first, names decrypted."""
    cases = {case.id: case for case in (await session.execute(visible_cases(staff_id, role))).scalars()}
    if not cases:
        return []
    query = select(SafetyAlert).where(SafetyAlert.case_id.in_(cases)).order_by(SafetyAlert.at.desc())
    if not include_acknowledged:
        query = query.where(SafetyAlert.acknowledged_at.is_(None))
    rows = (await session.execute(query)).scalars().all()
    return [await _shown(session, keyring, cases[row.case_id], row) for row in rows]


async def _shown(session: AsyncSession, keyring: Keyring, case: Case, row: SafetyAlert) -> dict[str, Any]:
    person = await session.get(FamilyParticipant, row.participant_id)
    name = None
    if person is not None:
        try:
            cipher = await open_case(session, keyring, case.id)
            name = cipher.decrypt("family_participants", "display_name", person.id, person.display_name_enc)
        except RecordErased:
            name = None
    scheduled = await session.get(CaseSession, row.session_id)
    return {
        **alert_view(row),
        "case_reference": case.reference,
        "participant_name": name,
        "is_minor": bool(person and person.is_minor),
        "session_status": None if scheduled is None else scheduled.status,
    }


async def acknowledge_alert(
    session: AsyncSession, keyring: Keyring, alert_id: str, staff_id: str, role: str
) -> dict[str, Any]:
    """Mark an alert of one's own cases acknowledged; NotFound alike for a missing alert and another team's."""
    row = await session.get(SafetyAlert, alert_id, with_for_update=True)
    case = None
    if row is not None:
        case = (await session.execute(visible_cases(staff_id, role).where(Case.id == row.case_id))).scalar_one_or_none()
    if row is None or case is None:
        raise NotFound("There is no such safety alert among your cases.")
    if row.acknowledged_at is not None:
        raise Conflict("This safety alert was already acknowledged.", acknowledged_by=row.acknowledged_by,
                       acknowledged_at=row.acknowledged_at.isoformat())
    row.acknowledged_by, row.acknowledged_at = staff_id, utcnow()
    await session.flush()
    await refresh_record_parts(session, keyring, row.session_id)
    return await _shown(session, keyring, case, row)
