"""Contact frequency: per case and week, contacts held against the minimum its risk level requires.

A contact is an ended family or individual session of the case that at least
one family member attended (case discussions are staff-only and do not
count). Weeks run Monday to Sunday in UTC. ``weekly_contacts`` is the pure
rule; ``contacts_report`` reads the database for it.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy import select

from telepractice.cases.access import visible_cases
from telepractice.config import Settings
from telepractice.storage.engine import SessionFactory
from telepractice.storage.models import (
    Case,
    CaseSession,
    RiskLevel,
    SessionKind,
    SessionRecord,
    utcnow,
)

CONTACT_KINDS = (SessionKind.FAMILY.value, SessionKind.INDIVIDUAL.value)
CSV_COLUMNS = ("case_reference", "risk_level", "week_start", "held", "required", "behind", "week_complete")


@dataclasses.dataclass(frozen=True)
class CaseRef:
    id: str
    reference: str
    risk_level: str
    created_at: dt.datetime


@dataclasses.dataclass(frozen=True)
class WeekOfContacts:
    """One case in one week."""

    case_id: str
    reference: str
    risk_level: str
    week_start: dt.date
    held: int
    required: int
    week_complete: bool

    @property
    def behind(self) -> bool:
        return self.held < self.required

    def as_dict(self) -> dict[str, object]:
        return {
            "case_id": self.case_id,
            "case_reference": self.reference,
            "risk_level": self.risk_level,
            "week_start": self.week_start.isoformat(),
            "held": self.held,
            "required": self.required,
            "behind": self.behind,
            "week_complete": self.week_complete,
        }


def minimums(settings: Settings) -> dict[str, int]:
    return {
        RiskLevel.HIGH.value: settings.contacts_high,
        RiskLevel.MEDIUM.value: settings.contacts_medium,
        RiskLevel.LOW.value: settings.contacts_low,
    }


def week_start(moment: dt.datetime | dt.date) -> dt.date:
    """The Monday of the (UTC) week ``moment`` falls in."""
    day = moment.astimezone(dt.UTC).date() if isinstance(moment, dt.datetime) else moment
    return day - dt.timedelta(days=day.weekday())


def last_weeks(today: dt.date, count: int) -> list[dt.date]:
    """The Mondays of the ``count`` weeks up to and including this one, oldest first."""
    this_week = week_start(today)
    return [this_week - dt.timedelta(weeks=back) for back in range(count - 1, -1, -1)]


def weekly_contacts(
    cases: Iterable[CaseRef],
    contact_times: Iterable[tuple[str, dt.datetime]],
    weeks: Sequence[dt.date],
    required: Mapping[str, int],
    today: dt.date,
) -> list[WeekOfContacts]:
    """Held versus required for each case in each week it existed, by reference then week. No I/O."""
    wanted = set(weeks)
    held = Counter((case_id, week) for case_id, at in contact_times if (week := week_start(at)) in wanted)
    rows = []
    for case in sorted(cases, key=lambda c: c.reference):
        opened = week_start(case.created_at)
        for week in weeks:
            if week < opened:
                continue
            rows.append(WeekOfContacts(
                case.id, case.reference, case.risk_level, week, held[(case.id, week)],
                required.get(case.risk_level, 0), week + dt.timedelta(days=7) <= today,
            ))
    return rows


async def contacts_report(
    db: SessionFactory,
    settings: Settings,
    *,
    weeks: int = 4,
    today: dt.date | None = None,
    staff_id: str | None = None,
    role: str | None = None,
) -> list[WeekOfContacts]:
    """The report over the last ``weeks`` weeks; for one staff member's cases when named, else all live cases."""
    day = today or utcnow().date()
    span = last_weeks(day, weeks)
    since = dt.datetime.combine(span[0], dt.time(), dt.UTC)
    query = select(Case).where(Case.erased_at.is_(None)) if staff_id is None else visible_cases(staff_id, role or "")
    async with db() as session:
        cases = [CaseRef(c.id, c.reference, c.risk_level, c.created_at) for c in (await session.execute(query)).scalars()]
        case_ids = [case.id for case in cases]
        contact_query = (
            select(SessionRecord.case_id, SessionRecord.actual_start)
            .join(CaseSession, CaseSession.id == SessionRecord.session_id)
            .where(
                SessionRecord.family_attended.is_(True),
                SessionRecord.actual_start >= since,
                CaseSession.kind.in_(CONTACT_KINDS),
            )
        )
        if staff_id is not None:
            contact_query = contact_query.where(SessionRecord.case_id.in_(case_ids))
        contacts = [(case_id, at) for case_id, at in (await session.execute(contact_query)).all() if at is not None]
    return weekly_contacts(cases, contacts, span, minimums(settings), day)


def as_csv(rows: Iterable[WeekOfContacts]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow([row.reference, row.risk_level, row.week_start.isoformat(), row.held, row.required,
                         "yes" if row.behind else "no", "yes" if row.week_complete else "no"])
    return out.getvalue()


def as_text(rows: Sequence[WeekOfContacts]) -> str:
    """The report for a terminal: one line per case and week, cases behind marked."""
    lines = [f"{'case':<20} {'risk':<7} {'week of':<11} {'held/required':>13}"]
    for row in rows:
        mark = ("  BEHIND" if row.week_complete else "  behind so far") if row.behind else ""
        lines.append(f"{row.reference:<20} {row.risk_level:<7} {row.week_start.isoformat():<11} "
                     f"{f'{row.held}/{row.required}':>13}{mark}")
    behind = sorted({row.reference for row in rows if row.behind and row.week_complete})
    lines.append(f"{len(behind)} case(s) behind in a completed week" + (f": {', '.join(behind)}" if behind else ""))
    return "\n".join(lines)
