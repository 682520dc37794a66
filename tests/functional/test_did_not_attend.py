"""Did not attend: absent family members reach the case's worker and supervisor, and nobody else."""

from __future__ import annotations

import datetime as dt

from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from telepractice.appkeys import AUDIT, DB, KEYRING
from telepractice.sessions.attendance import AttendanceEvent, AttendanceKind, WhoKind
from telepractice.sessions.attendance_store import record
from telepractice.sessions.records import finish_session
from telepractice.storage.models import AuditEntry, utcnow
from tests.session_data import seed_case
from tests.staff_fixtures import LoggedInStaff, MakeStaff


async def test_the_case_staff_see_who_did_not_attend_and_the_read_is_audited(
    client: TestClient, app: web.Application, worker: LoggedInStaff, supervisor: LoggedInStaff,
    make_staff: MakeStaff, staff_token,  # type: ignore[no-untyped-def]
) -> None:
    start = utcnow() - dt.timedelta(days=2)
    data = await seed_case(app[DB], app[KEYRING], planned_start=start, worker=worker.member,
                           supervisor=supervisor.member)
    await record(app[DB], data.scheduled.id, [
        AttendanceEvent(AttendanceKind.ADMITTED, start, data.worker.id, WhoKind.STAFF),
        AttendanceEvent(AttendanceKind.ADMITTED, start, data.mother.id, WhoKind.FAMILY),
    ])
    await finish_session(app[DB], app[KEYRING], app[AUDIT], data.scheduled.id, start + dt.timedelta(minutes=60))
    everyone = await seed_case(app[DB], app[KEYRING], planned_start=start, worker=worker.member,
                               supervisor=supervisor.member)
    await record(app[DB], everyone.scheduled.id, [
        AttendanceEvent(AttendanceKind.ADMITTED, start, everyone.mother.id, WhoKind.FAMILY),
        AttendanceEvent(AttendanceKind.ADMITTED, start, everyone.child.id, WhoKind.FAMILY),
    ])
    await finish_session(app[DB], app[KEYRING], app[AUDIT], everyone.scheduled.id, start + dt.timedelta(minutes=60))

    for reader in (worker, supervisor):
        response = await client.get("/api/reports/did-not-attend", headers=reader.headers)
        assert response.status == 200, await response.text()
        (only,) = (await response.json())["sessions"]
        assert (only["case_reference"], only["session_id"]) == (data.case.reference, data.scheduled.id)
        assert only["absent"] == [{"id": data.child.id, "display_name": "Rui Filho", "role": "child"}]

    _other, password = await make_staff("worker", "other")
    other = {"Authorization": f"Bearer {await staff_token(client, 'other', password)}"}
    assert (await (await client.get("/api/reports/did-not-attend", headers=other)).json())["sessions"] == []
    assert (await client.get("/api/reports/did-not-attend?weeks=53", headers=worker.headers)).status == 422
    async with app[DB]() as session:
        reads = (await session.execute(
            select(AuditEntry.actor).where(AuditEntry.action == "report.did-not-attend.read"))).scalars().all()
    assert len(reads) == 3 and "Rui" not in str(reads)
