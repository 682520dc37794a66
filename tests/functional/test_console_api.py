"""The console's server side: the case overview read model, the supervisor's audit trail and the page itself."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager

from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import event, select

from telepractice.appkeys import AUDIT, DB, ENGINE, KEYRING
from telepractice.storage.models import AuditEntry, utcnow
from tests.functional.test_contacts_report import held, last_week, opened_long_ago
from tests.session_data import seed_case
from tests.staff_fixtures import LoggedInStaff, MakeStaff, login_through_api


@contextmanager
def counted_selects(app: web.Application) -> Iterator[list[str]]:
    """Every SELECT the app's engine runs inside the block."""
    seen: list[str] = []

    def before(_conn, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    engine = app[ENGINE].sync_engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)


async def test_the_overview_shows_last_and_next_contact_and_who_is_behind(
    client: TestClient, app: web.Application, worker: LoggedInStaff, supervisor: LoggedInStaff
) -> None:
    db, keyring, audit = app[DB], app[KEYRING], app[AUDIT]
    upcoming = utcnow().replace(microsecond=0) + dt.timedelta(days=1)
    high = await seed_case(db, keyring, reference="OVR-HIGH", risk_level="high", worker=worker.member,
                           supervisor=supervisor.member, planned_start=upcoming)
    low = await seed_case(db, keyring, reference="OVR-LOW", risk_level="low", worker=worker.member,
                          supervisor=supervisor.member, planned_start=upcoming + dt.timedelta(days=1))
    await seed_case(db, keyring, reference="OVR-OTHER", risk_level="medium")
    await opened_long_ago(db, high, low)
    await held(db, keyring, audit, high, last_week(0))
    await held(db, keyring, audit, high, last_week(3), family_came=False)
    await held(db, keyring, audit, low, last_week(1))

    for reader in (worker, supervisor):
        response = await client.get("/api/cases/overview", headers=reader.headers)
        assert response.status == 200, await response.text()
        cases = {row["reference"]: row for row in (await response.json())["cases"]}
        assert set(cases) == {"OVR-HIGH", "OVR-LOW"}
        first = cases["OVR-HIGH"]
        assert first["last_contact"] == last_week(0).isoformat()
        assert first["next_session"] == {"id": high.scheduled.id, "planned_start": upcoming.isoformat()}
        assert (first["held_last_week"], first["required_per_week"], first["behind"]) == (1, 5, True)
        assert first["behind_so_far"] is True and first["held_this_week"] == 0
        second = cases["OVR-LOW"]
        assert (second["held_last_week"], second["required_per_week"], second["behind"]) == (1, 1, False)
        assert second["last_contact"] == last_week(1).isoformat()


async def test_a_case_opened_this_week_is_not_behind_for_last_week(
    client: TestClient, app: web.Application, worker: LoggedInStaff
) -> None:
    await seed_case(app[DB], app[KEYRING], reference="OVR-NEW", risk_level="high", worker=worker.member)
    body = await (await client.get("/api/cases/overview", headers=worker.headers)).json()
    [row] = body["cases"]
    assert (row["behind"], row["behind_so_far"], row["last_contact"]) == (False, True, None)


async def test_the_overview_is_one_query_however_many_cases(
    client: TestClient, app: web.Application, worker: LoggedInStaff
) -> None:
    await seed_case(app[DB], app[KEYRING], reference="ONE-0001", worker=worker.member)
    with counted_selects(app) as one:
        assert (await client.get("/api/cases/overview", headers=worker.headers)).status == 200
    for n in range(2, 7):
        await seed_case(app[DB], app[KEYRING], reference=f"ONE-000{n}", worker=worker.member)
    with counted_selects(app) as six:
        response = await client.get("/api/cases/overview", headers=worker.headers)
    assert len((await response.json())["cases"]) == 6
    assert len(six) == len(one)


async def test_the_overview_is_for_case_staff_and_listed_in_openapi(
    client: TestClient, admin: LoggedInStaff
) -> None:
    assert (await client.get("/api/cases/overview")).status == 401
    assert (await client.get("/api/cases/overview", headers=admin.headers)).status == 403
    document = await (await client.get("/api/openapi.json")).json()
    assert "get" in document["paths"]["/api/cases/overview"]
    assert "get" in document["paths"]["/api/audit"]


async def test_the_supervisor_sees_who_read_which_record_of_their_cases(
    client: TestClient, app: web.Application, worker: LoggedInStaff, supervisor: LoggedInStaff,
    make_staff: MakeStaff,
) -> None:
    db, keyring, audit = app[DB], app[KEYRING], app[AUDIT]
    mine = await seed_case(db, keyring, reference="AUD-MINE", worker=worker.member, supervisor=supervisor.member)
    other = await seed_case(db, keyring, reference="AUD-OTHER", worker=worker.member)
    await opened_long_ago(db, mine)
    await held(db, keyring, audit, mine, last_week(0))
    before = utcnow()
    assert (await client.get("/api/cases/AUD-MINE", headers=worker.headers)).status == 200
    assert (await client.get("/api/cases/AUD-OTHER", headers=worker.headers)).status == 200
    ended = await (await client.get("/api/reports/did-not-attend?weeks=4", headers=worker.headers)).json()
    session_id = next(s["session_id"] for s in ended["sessions"] if s["case_reference"] == "AUD-MINE")
    assert (await client.get(f"/api/sessions/{session_id}/record", headers=worker.headers)).status == 200

    response = await client.get("/api/audit", headers=supervisor.headers)
    assert response.status == 200, await response.text()
    entries = (await response.json())["entries"]
    reads = [(e["record"], e["case_reference"], e["staff_name"], e["session_id"]) for e in entries]
    assert reads == [("session-record", "AUD-MINE", worker.member.display_name, session_id),
                     ("case-record", "AUD-MINE", worker.member.display_name, None)]
    assert all(dt.datetime.fromisoformat(e["at"]) >= before for e in entries)
    assert other.case.reference not in {e["case_reference"] for e in entries}

    filtered = await client.get("/api/audit", params={"case": "AUD-MINE", "since": utcnow().isoformat()},
                                headers=supervisor.headers)
    assert (await filtered.json())["entries"] == []
    async with db() as session:
        last = (await session.execute(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1))).scalar_one()
    assert (last.action, last.actor) == ("audit.read", f"staff:{supervisor.member.id}")

    stranger, password = await make_staff("supervisor", "other.supervisor")
    token = (await login_through_api(client, stranger.username, password))["access_token"]
    theirs = await client.get("/api/audit", headers={"Authorization": f"Bearer {token}"})
    assert (await theirs.json())["entries"] == []
    refused = await client.get("/api/audit", params={"case": "AUD-MINE"},
                               headers={"Authorization": f"Bearer {token}"})
    assert refused.status == 422 and (await refused.json())["code"] == "invalid-field"


async def test_the_audit_trail_refuses_workers_and_bad_times(
    client: TestClient, worker: LoggedInStaff, supervisor: LoggedInStaff
) -> None:
    assert (await client.get("/api/audit", headers=worker.headers)).status == 403
    for bad in ("yesterday", "2026-11-23T09:00:00"):
        response = await client.get("/api/audit", params={"since": bad}, headers=supervisor.headers)
        assert response.status == 422
        problem = await response.json()
        assert problem["code"] == "invalid-field" and "since" in problem["detail"]


async def test_the_console_page_is_served_uncached_under_the_strict_policy(client: TestClient) -> None:
    response = await client.get("/console")
    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    page = await response.text()
    # Under the release path the pages name the web app's files by (telepractice/web_files.py).
    assert re.search(r'<script type="module" src="/static/v/[0-9a-f]{16}/js/console/main.js"></script>', page)
    assert "style=" not in page and "<script>" not in page


async def test_a_supervisor_schedules_a_case_discussion_and_only_that(
    client: TestClient, app: web.Application, worker: LoggedInStaff, supervisor: LoggedInStaff
) -> None:
    for reference in ("DIS-0001", "DIS-0002"):
        await seed_case(app[DB], app[KEYRING], reference=reference, worker=worker.member, supervisor=supervisor.member)
    start = (utcnow() + dt.timedelta(hours=2)).isoformat()
    response = await client.post("/api/cases/DIS-0001/sessions", headers=supervisor.headers, json={
        "kind": "case_discussion", "planned_start": start, "planned_minutes": 30, "linked_cases": ["DIS-0002"]})
    assert response.status == 201, await response.text()
    created = await response.json()
    assert (created["host_id"], created["linked_cases"]) == (supervisor.member.id, ["DIS-0002"])
    refused = await client.post("/api/cases/DIS-0001/sessions", headers=supervisor.headers,
                                json={"kind": "family", "planned_start": start})
    assert refused.status == 403 and "case discussions" in (await refused.json())["detail"]
