"""Who may see which case: the rule in one place, as a query filter and as a check."""

from __future__ import annotations

from sqlalchemy import Select, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from telepractice.errors import NotFound
from telepractice.storage.models import Case, CaseWorker, StaffRole


def visible_cases(staff_id: str, role: str) -> Select[tuple[Case]]:
    """Workers see the cases they are assigned to; supervisors the cases they supervise."""
    query = select(Case).where(Case.erased_at.is_(None))
    if role == StaffRole.SUPERVISOR:
        return query.where(Case.supervisor_id == staff_id)
    assigned = exists().where(CaseWorker.case_id == Case.id, CaseWorker.staff_id == staff_id)
    return query.where(assigned)


async def case_for_staff(session: AsyncSession, reference: str, staff_id: str, role: str) -> Case:
    """The case, or NotFound alike for a missing case and another team's case."""
    case = (
        await session.execute(visible_cases(staff_id, role).where(Case.reference == reference))
    ).scalar_one_or_none()
    if case is None:
        raise NotFound()
    return case
