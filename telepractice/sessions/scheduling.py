"""Scheduling a session of a case, with the practice rules on its length."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from telepractice.errors import Conflict, InvalidField
from telepractice.storage.models import (
    Case,
    CaseSession,
    SessionKind,
    SessionStatus,
    new_id,
)

# Family sessions run 45–90 minutes in practice; 60 unless the worker says otherwise.
FAMILY_MINUTES = (45, 90)
DEFAULT_MINUTES = 60
OTHER_MINUTES = (15, 180)


def check_length(kind: str, minutes: int) -> None:
    low, high = FAMILY_MINUTES if kind == SessionKind.FAMILY else OTHER_MINUTES
    if not low <= minutes <= high:
        raise InvalidField(f"A {kind.replace('_', ' ')} session lasts {low} to {high} minutes.", field="planned_minutes")


async def schedule_session(
    session: AsyncSession,
    case: Case,
    *,
    kind: str,
    planned_start: dt.datetime,
    host_id: str,
    planned_minutes: int = DEFAULT_MINUTES,
    participant_id: str | None = None,
) -> CaseSession:
    if kind not in {k.value for k in SessionKind}:
        raise InvalidField(f"'kind' must be one of: {', '.join(k.value for k in SessionKind)}.", field="kind")
    check_length(kind, planned_minutes)
    scheduled = CaseSession(
        id=new_id(),
        case_id=case.id,
        kind=kind,
        planned_start=planned_start,
        planned_minutes=planned_minutes,
        host_id=host_id,
        participant_id=participant_id,
    )
    session.add(scheduled)
    await session.flush()
    return scheduled


def planned_end(scheduled: CaseSession) -> dt.datetime:
    return scheduled.planned_start + dt.timedelta(minutes=scheduled.planned_minutes)


# --- changing a plan (issue 4: the scheduling API) ----------------------------

OPEN = (SessionStatus.SCHEDULED.value, SessionStatus.LIVE.value)


def parse_start(raw: str) -> dt.datetime:
    """An ISO 8601 time with its offset, as UTC; a time without an offset is ambiguous and refused."""
    try:
        parsed = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidField("'planned_start' must be an ISO 8601 date and time.", field="planned_start") from None
    if parsed.tzinfo is None:
        raise InvalidField("'planned_start' must carry its UTC offset, e.g. 2026-12-01T10:00:00+00:00.",
                           field="planned_start")
    return parsed.astimezone(dt.UTC)


def check_future(planned_start: dt.datetime, minutes: int, now: dt.datetime) -> None:
    if planned_start + dt.timedelta(minutes=minutes) <= now:
        raise InvalidField("The session would be over before now.", field="planned_start")


def reschedule(scheduled: CaseSession, planned_start: dt.datetime | None, planned_minutes: int | None) -> None:
    """Move or resize a planned session; a live one may only change its length."""
    if scheduled.status not in OPEN:
        raise Conflict(f"A {scheduled.status} session cannot be rescheduled.")
    if planned_start is not None and planned_start != scheduled.planned_start:
        if scheduled.status == SessionStatus.LIVE:
            raise Conflict("A live session keeps its start; only its length can change.")
        scheduled.planned_start = planned_start
    if planned_minutes is not None:
        check_length(scheduled.kind, planned_minutes)
        scheduled.planned_minutes = planned_minutes


def cancel(scheduled: CaseSession, now: dt.datetime) -> None:
    if scheduled.status not in OPEN:
        raise Conflict(f"A {scheduled.status} session cannot be cancelled.")
    scheduled.status = SessionStatus.CANCELLED
    scheduled.cancelled_at = now
