"""The console's list of cases: per case its last and next contact and whether it is behind, in one query.

The contact rule is the one of ``sessions/contacts.py`` (an ended family or
individual session a family member attended; weeks Monday to Sunday, UTC):
``behind`` is the last complete week below the minimum, ``behind_so_far`` the
current week not yet at it. Nothing personal is read, so nothing is audited.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from aiohttp import web
from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from telepractice.appkeys import DB, SETTINGS
from telepractice.auth.guards import require_staff
from telepractice.cases.access import visible_cases
from telepractice.openapi import ApiRoutes
from telepractice.sessions.contacts import CONTACT_KINDS, minimums, week_start
from telepractice.storage.models import CaseSession, SessionRecord, SessionStatus, StaffRole, utcnow

overview_routes = ApiRoutes("cases")
CASE_STAFF = (StaffRole.WORKER.value, StaffRole.SUPERVISOR.value)
OPEN_STATUSES = (SessionStatus.SCHEDULED.value, SessionStatus.LIVE.value)
LONGEST_SESSION = dt.timedelta(minutes=180)


@dataclasses.dataclass(frozen=True)
class CaseOverview:
    """One row of the console's case list."""

    reference: str
    risk_level: str
    created_at: dt.datetime
    last_contact: dt.datetime | None
    next_session_id: str | None
    next_session_start: dt.datetime | None
    held_last_week: int
    held_this_week: int
    required: int
    this_week: dt.date

    @property
    def behind(self) -> bool:
        """Below the minimum in the last complete week (only if the case was open that whole week)."""
        last_week = self.this_week - dt.timedelta(days=7)
        return week_start(self.created_at) <= last_week and self.held_last_week < self.required

    @property
    def behind_so_far(self) -> bool:
        return self.held_this_week < self.required

    def as_dict(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "risk_level": self.risk_level,
            "last_contact": None if self.last_contact is None else self.last_contact.isoformat(),
            "next_session": None if self.next_session_id is None else {
                "id": self.next_session_id, "planned_start": self.next_session_start.isoformat()
                if self.next_session_start else None},
            "required_per_week": self.required,
            "held_last_week": self.held_last_week,
            "held_this_week": self.held_this_week,
            "behind": self.behind,
            "behind_so_far": self.behind_so_far,
        }


def _contacts_between(case_id: Any, start: dt.datetime | None = None, end: dt.datetime | None = None) -> Any:
    """Correlated condition: contacts of the case (optionally started in [start, end))."""
    condition = and_(
        SessionRecord.case_id == case_id,
        SessionRecord.family_attended.is_(True),
        SessionRecord.actual_start.is_not(None),
        CaseSession.id == SessionRecord.session_id,
        CaseSession.kind.in_(CONTACT_KINDS),
    )
    if start is not None:
        condition = and_(condition, SessionRecord.actual_start >= start)
    if end is not None:
        condition = and_(condition, SessionRecord.actual_start < end)
    return condition


async def case_overview(session: AsyncSession, staff_id: str, role: str, required: dict[str, int],
                        now: dt.datetime) -> list[CaseOverview]:
    """Every case the staff member sees, by reference; one SELECT with correlated subqueries."""
    this_week = week_start(now)
    this_monday = dt.datetime.combine(this_week, dt.time(), dt.UTC)
    last_monday = this_monday - dt.timedelta(days=7)
    cases = visible_cases(staff_id, role).subquery()
    last_contact = (select(func.max(SessionRecord.actual_start)).select_from(SessionRecord, CaseSession)
                    .where(_contacts_between(cases.c.id)).scalar_subquery())
    held = [
        select(func.count()).select_from(SessionRecord, CaseSession)
        .where(_contacts_between(cases.c.id, start, end)).scalar_subquery()
        for start, end in ((last_monday, this_monday), (this_monday, None))
    ]
    def upcoming(column: Any) -> Any:
        return (select(column).where(
            CaseSession.case_id == cases.c.id, CaseSession.status.in_(OPEN_STATUSES),
            CaseSession.kind.in_(CONTACT_KINDS),
            # A session under way stays "next" while it may still run: none is planned longer than this.
            CaseSession.planned_start >= now - LONGEST_SESSION,
        ).order_by(CaseSession.planned_start, CaseSession.id).limit(1).scalar_subquery())

    query = (
        select(cases.c.reference, cases.c.risk_level, cases.c.created_at, last_contact.label("last_contact"),
               upcoming(CaseSession.id).label("next_id"), upcoming(CaseSession.planned_start).label("next_start"),
               held[0].label("held_last"), held[1].label("held_this"))
        .order_by(cases.c.reference)
    )
    return [
        CaseOverview(row.reference, row.risk_level, _aware(row.created_at), _aware(row.last_contact), row.next_id,
                     _aware(row.next_start), row.held_last, row.held_this, required.get(row.risk_level, 0), this_week)
        for row in (await session.execute(query)).all()
    ]


def _aware(moment: Any) -> Any:
    """Columns read through a subquery lose their UTC type on SQLite: make them aware again."""
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    if isinstance(moment, dt.datetime) and moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment


@overview_routes.route("GET", "/api/cases/overview",
                       summary="My cases with last and next contact and whether each is behind on contacts",
                       roles=CASE_STAFF,
                       responses={200: "{cases: [{reference, risk_level, last_contact, next_session, "
                                       "required_per_week, held_last_week, held_this_week, behind, behind_so_far}]}"})
async def get_overview(request: web.Request) -> web.Response:
    staff = await require_staff(request, *CASE_STAFF)
    async with request.app[DB]() as session:
        rows = await case_overview(session, staff.staff_id, staff.role, minimums(request.app[SETTINGS]), utcnow())
    return web.json_response({"cases": [row.as_dict() for row in rows]})
