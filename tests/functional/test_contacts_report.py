"""The contact report from real session records: the API by role, the CLI with CSV, and 100,000 sessions."""

from __future__ import annotations

import csv
import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import insert, update

from telepractice.appkeys import AUDIT, DB, KEYRING
from telepractice.audit import AuditLog
from telepractice.config import load_settings
from telepractice.crypto.keyring import Keyring
from telepractice.sessions.attendance import AttendanceEvent, AttendanceKind, WhoKind
from telepractice.sessions.attendance_store import record
from telepractice.sessions.contacts import contacts_report, week_start
from telepractice.sessions.records import finish_session
from telepractice.sessions.scheduling import schedule_session
from telepractice.storage.engine import (
    SessionFactory,
    make_engine,
    make_session_factory,
)
from telepractice.storage.migrations import upgrade
from telepractice.storage.models import (
    Case,
    CaseSession,
    SessionRecord,
    StaffMember,
    new_id,
    utcnow,
)
from tests.session_data import CaseData, seed_case
from tests.staff_fixtures import LoggedInStaff

THIS_WEEK = week_start(utcnow())
LAST_WEEK = THIS_WEEK - dt.timedelta(days=7)
REPO = Path(__file__).resolve().parents[2]


def last_week(day: int, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(LAST_WEEK + dt.timedelta(days=day), dt.time(hour), dt.UTC)


async def held(db: SessionFactory, keyring: Keyring, audit: AuditLog, data: CaseData, start: dt.datetime, *,
               kind: str = "family", family_came: bool = True) -> None:
    """A session of the case at ``start``: the worker came, the mother too when ``family_came``; then ended."""
    async with db() as session, session.begin():
        case = await session.get(Case, data.case.id)
        assert case is not None
        scheduled = await schedule_session(session, case, kind=kind, planned_start=start, host_id=data.worker.id)
    events = [AttendanceEvent(AttendanceKind.ADMITTED, start, data.worker.id, WhoKind.STAFF)]
    if family_came:
        events.append(AttendanceEvent(AttendanceKind.ADMITTED, start, data.mother.id, WhoKind.FAMILY))
    await record(db, scheduled.id, events)
    await finish_session(db, keyring, audit, scheduled.id, start + dt.timedelta(minutes=50))


async def opened_long_ago(db: SessionFactory, *cases: CaseData) -> None:
    async with db() as session, session.begin():
        await session.execute(update(Case).where(Case.id.in_([c.case.id for c in cases]))
                              .values(created_at=utcnow() - dt.timedelta(days=365)))


async def two_cases(db: SessionFactory, keyring: Keyring, audit: AuditLog, worker: StaffMember | None = None,
                    supervisor: StaffMember | None = None) -> tuple[CaseData, CaseData]:
    """A high-risk case with 2 contacts last week (plus two that do not count) and a low-risk case with 1."""
    high = await seed_case(db, keyring, risk_level="high", worker=worker, supervisor=supervisor)
    low = await seed_case(db, keyring, risk_level="low", worker=worker, supervisor=supervisor)
    await opened_long_ago(db, high, low)
    await held(db, keyring, audit, high, last_week(0))
    await held(db, keyring, audit, high, last_week(2), kind="individual")
    await held(db, keyring, audit, high, last_week(3), family_came=False)
    await held(db, keyring, audit, high, last_week(4), kind="case_discussion")
    await held(db, keyring, audit, low, last_week(1))
    return high, low


async def test_only_ended_sessions_the_family_attended_count_as_contacts(
    db: SessionFactory, database_url: str, tmp_path: Path
) -> None:
    keyring, audit = Keyring(tmp_path / "keys"), AuditLog()
    high, low = await two_cases(db, keyring, audit)
    settings = load_settings({}, {"data_dir": str(tmp_path), "database_url": database_url})
    rows = await contacts_report(db, settings, weeks=2)
    last = {r.reference: r for r in rows if r.week_start == LAST_WEEK}
    assert (last[high.case.reference].held, last[high.case.reference].required) == (2, 5)
    assert last[high.case.reference].behind and last[high.case.reference].week_complete
    assert (last[low.case.reference].held, last[low.case.reference].behind) == (1, False)
    strict = load_settings({"TELEPRACTICE_CONTACTS_LOW": "2"}, {"data_dir": str(tmp_path), "database_url": database_url})
    assert {r.reference: r.behind for r in await contacts_report(db, strict, weeks=2)
            if r.week_start == LAST_WEEK}[low.case.reference]


async def test_the_api_shows_each_worker_and_supervisor_their_own_cases(
    client: TestClient, app: web.Application, worker: LoggedInStaff, supervisor: LoggedInStaff
) -> None:
    mine_high, mine_low = await two_cases(app[DB], app[KEYRING], app[AUDIT], worker.member, supervisor.member)
    other = await seed_case(app[DB], app[KEYRING], risk_level="medium")
    for reader in (worker, supervisor):
        response = await client.get("/api/reports/contacts?weeks=2", headers=reader.headers)
        assert response.status == 200, await response.text()
        body = await response.json()
        assert {row["case_reference"] for row in body["weeks"]} == {mine_high.case.reference, mine_low.case.reference}
        assert body["behind"] == [mine_high.case.reference]
    assert other.case.reference not in str(body)
    bad = await client.get("/api/reports/contacts?weeks=0", headers=worker.headers)
    assert bad.status == 422 and (await bad.json())["code"] == "invalid-field"
    assert (await client.get("/api/reports/contacts")).status == 401


def test_the_cli_prints_the_report_and_writes_csv(tmp_path: Path) -> None:
    import asyncio

    url = f"sqlite+aiosqlite:///{tmp_path / 'telepractice.db'}"

    async def prepare() -> tuple[CaseData, CaseData]:
        await upgrade(url)
        engine = make_engine(url)
        try:
            return await two_cases(make_session_factory(engine), Keyring(tmp_path / "keys"), AuditLog())
        finally:
            await engine.dispose()

    high, low = asyncio.run(prepare())
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TELEPRACTICE_")}
    out = tmp_path / "contacts.csv"
    result = subprocess.run(
        [sys.executable, "-m", "telepractice", "--data-dir", str(tmp_path), "report", "contacts", "--weeks", "2",
         "--csv", str(out)],
        check=False, capture_output=True, text=True, env=environment, timeout=120, cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    lines = {tuple(line.split()) for line in result.stdout.splitlines()}
    assert (high.case.reference, "high", LAST_WEEK.isoformat(), "2/5", "BEHIND") in lines
    assert (low.case.reference, "low", LAST_WEEK.isoformat(), "1/1") in lines
    assert f"1 case(s) behind in a completed week: {high.case.reference}" in result.stdout
    rows = list(csv.DictReader(out.read_text(encoding="utf-8").splitlines()))
    assert {(r["case_reference"], r["week_start"], r["held"], r["behind"]) for r in rows} >= {
        (high.case.reference, LAST_WEEK.isoformat(), "2", "yes"),
        (low.case.reference, LAST_WEEK.isoformat(), "1", "no"),
    }
    refused = subprocess.run(
        [sys.executable, "-m", "telepractice", "--data-dir", str(tmp_path), "report", "contacts", "--weeks", "99"],
        check=False, capture_output=True, text=True, env=environment, timeout=120, cwd=REPO,
    )
    assert refused.returncode == 2 and "--weeks" in refused.stderr


async def test_a_report_over_100000_sessions_completes(tmp_path: Path) -> None:
    """Generated straight into SQLite (no crypto per row: the report reads none); the time is printed, not judged."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'big.db'}"
    await upgrade(url)
    engine = make_engine(url)
    db = make_session_factory(engine)
    try:
        cases, sessions = 1000, 100_000
        now = utcnow()
        async with db() as session, session.begin():
            staff = StaffMember(username="w", display_name="W", role="worker", password_hash="x")
            session.add(staff)
            await session.flush()
            case_rows = [{"id": new_id(), "reference": f"FAM-{n:05d}", "risk_level": ("high", "medium", "low")[n % 3],
                          "created_at": now - dt.timedelta(days=400)} for n in range(cases)]
            await session.execute(insert(Case), case_rows)
            session_rows, record_rows = [], []
            for n in range(sessions):
                start = now - dt.timedelta(minutes=5 * n)  # about 350 days back
                sid, case_id = new_id(), case_rows[n % cases]["id"]
                session_rows.append({"id": sid, "case_id": case_id, "kind": ("family", "individual")[n % 2],
                                     "status": "ended", "planned_start": start, "planned_minutes": 60,
                                     "host_id": staff.id, "created_at": start})
                record_rows.append({"session_id": sid, "case_id": case_id, "actual_start": start,
                                    "actual_end": start + dt.timedelta(minutes=50), "family_attended": n % 7 != 0,
                                    "built_at": start, "record_enc": b"sealed"})
            await session.execute(insert(CaseSession), session_rows)
            await session.execute(insert(SessionRecord), record_rows)
        settings = load_settings({}, {"data_dir": str(tmp_path), "database_url": url})
        started = time.perf_counter()
        rows = await contacts_report(db, settings, weeks=52)
        elapsed = time.perf_counter() - started
        print(f"\ncontact report: {sessions} sessions, {cases} cases, 52 weeks -> {len(rows)} rows in {elapsed:.2f} s")
        assert len(rows) == cases * 52
        assert sum(row.held for row in rows) > 0
    finally:
        await engine.dispose()
