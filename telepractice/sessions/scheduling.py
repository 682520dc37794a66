"""Scheduling a session of a case, with the practice rules on its length."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from telepractice.errors import InvalidField
from telepractice.storage.models import Case, CaseSession, SessionKind, new_id

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
    )
    session.add(scheduled)
    await session.flush()
    return scheduled


def planned_end(scheduled: CaseSession) -> dt.datetime:
    return scheduled.planned_start + dt.timedelta(minutes=scheduled.planned_minutes)
