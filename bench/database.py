"""Database figures of telepractice alone: attendance writes under a join storm, the contact-frequency report.

Attendance: the signalling service hands each room's events to its attendance
hook after every message, so a join storm of 500 participants in 125 sessions
is 500 concurrent hook calls of one ``admitted`` event each. This drives the
real hook (``attendance_hook``: who-is-who lookup, event row, presence row,
session status, one transaction each) with exactly that, in one process, against a
seeded database, and counts the events recorded per second.

Contacts: 100,000 ended sessions with their records (2,000 cases over the last
four weeks, most with a family member attending) inserted in bulk, then
``contacts_report`` over them, timed.

SQLite always; PostgreSQL too when TELEPRACTICE_BENCH_DATABASE_URL is set
(postgresql+asyncpg://postgres@127.0.0.1:5432/test_bench; the database is
dropped and made again first).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import statistics
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

STORM_ROOMS, STORM_FAMILY = 125, 3
REPORT_SESSIONS, REPORT_CASES = 100_000, 2_000
ENV_URL = "TELEPRACTICE_BENCH_DATABASE_URL"


def _settings(data_dir: Path, database_url: str | None):
    from telepractice.config import load_settings

    environ = {"TELEPRACTICE_DATA_DIR": str(data_dir), "TELEPRACTICE_ACCESS_TOKEN_MINUTES": "60"}
    if database_url:
        environ["TELEPRACTICE_DATABASE_URL"] = database_url
    return load_settings(environ)


def _recreate_postgres(url: str) -> None:
    parts = urlsplit(url.replace("postgresql+asyncpg", "postgresql"))
    name = parts.path.lstrip("/")
    base = ["psql", "-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432), "-U", parts.username or "postgres",
            "-v", "ON_ERROR_STOP=1", "-q", "test"]
    subprocess.run([*base, "-c", f'drop database if exists "{name}" with (force)'], check=True)
    subprocess.run([*base, "-c", f'create database "{name}"'], check=True)


async def _attendance(settings, rounds: int) -> list[dict[str, float]]:
    from seed import Plan, seed
    from telepractice.sessions.attendance_store import attendance_hook
    from telepractice.signaling.room import EventKind, RoomEvent
    from telepractice.storage.engine import make_engine, make_session_factory

    plan = Plan(pairs=0, storm_rounds=rounds, storm_rooms=STORM_ROOMS, storm_family=STORM_FAMILY, idle=0)
    seeded = await seed(settings, plan, settings.data_dir / "attendance-tokens.json")
    engine = make_engine(settings.database_url)
    figures = []
    try:
        hook = attendance_hook(make_session_factory(engine))
        for storm in seeded["storms"]:
            calls = [(room["session"], who) for room in storm
                     for who in [seeded["worker_id"], *(f["id"] for f in room["family"])]]
            random.shuffle(calls)
            failures = 0

            async def one(session_id: str, who: str) -> None:
                nonlocal failures
                try:
                    await hook(session_id, [RoomEvent(EventKind.ADMITTED, time.monotonic(), who)])
                except Exception:
                    failures += 1

            began = time.monotonic()
            await asyncio.gather(*(one(s, w) for s, w in calls))
            seconds = time.monotonic() - began
            figures.append({"attendance writes/s": (len(calls) - failures) / seconds,
                            "attendance storm s": seconds, "attendance failed writes": failures})
    finally:
        await engine.dispose()
    return figures


async def _contacts(settings, rounds: int) -> list[dict[str, float]]:
    from sqlalchemy import insert

    from telepractice.auth.staff import add_staff
    from telepractice.audit import AuditLog
    from telepractice.server import migrate
    from telepractice.sessions.contacts import contacts_report
    from telepractice.storage.engine import make_engine, make_session_factory
    from telepractice.storage.models import Case, CaseSession, SessionRecord, StaffRole, new_id, utcnow

    await migrate(settings)
    engine = make_engine(settings.database_url)
    figures = []
    try:
        db = make_session_factory(engine)
        worker = await add_staff(db, AuditLog(), username="report.worker", display_name="Report Worker",
                                 role=StaffRole.WORKER, password="report-bench-password", actor="bench")
        now = utcnow()
        rng = random.Random(7)
        cases = [{"id": new_id(), "reference": f"REPORT-{i:05d}", "risk_level": rng.choice(["high", "medium", "low"]),
                  "created_at": now - dt.timedelta(days=60)} for i in range(REPORT_CASES)]
        began = time.monotonic()
        async with db() as session, session.begin():
            await session.execute(insert(Case), cases)
            for start in range(0, REPORT_SESSIONS, 5000):
                sessions, records = [], []
                for _ in range(min(5000, REPORT_SESSIONS - start)):
                    case = rng.choice(cases)
                    at = now - dt.timedelta(minutes=rng.randrange(28 * 24 * 60))
                    sid = new_id()
                    sessions.append({"id": sid, "case_id": case["id"], "kind": rng.choice(["family", "family", "individual", "case_discussion"]),
                                     "status": "ended", "planned_start": at, "planned_minutes": 60, "host_id": worker.id})
                    records.append({"session_id": sid, "case_id": case["id"], "actual_start": at,
                                    "actual_end": at + dt.timedelta(minutes=55), "family_attended": rng.random() < 0.85,
                                    "record_enc": b"bench"})
                await session.execute(insert(CaseSession), sessions)
                await session.execute(insert(SessionRecord), records)
        print(f"  inserted {REPORT_SESSIONS:,} sessions in {time.monotonic() - began:.1f} s", flush=True)
        for _ in range(rounds):
            began = time.monotonic()
            rows = await contacts_report(db, settings, weeks=4)
            figures.append({"contacts report s": time.monotonic() - began, "contacts report sessions": REPORT_SESSIONS,
                            "contacts report rows": len(rows)})
    finally:
        await engine.dispose()
    return figures


def measure_database(rounds: int, work: Path, quick: bool = False) -> dict[str, dict[str, dict[str, float]]]:
    global REPORT_SESSIONS
    if quick:
        REPORT_SESSIONS = 10_000
    targets = {"SQLite": None}
    if os.environ.get(ENV_URL):
        targets["PostgreSQL"] = os.environ[ENV_URL]
    summary: dict[str, dict[str, dict[str, float]]] = {}
    for label, url in targets.items():
        per_round: list[dict[str, float]] = []
        for part, runner in (("attendance", _attendance), ("contacts", _contacts)):
            if url:
                _recreate_postgres(url)
            settings = _settings(work / f"db-{label}-{part}", url)
            results = asyncio.run(runner(settings, rounds))
            for i, figures in enumerate(results):
                if len(per_round) <= i:
                    per_round.append({})
                per_round[i].update(figures)
        for name in per_round[0]:
            values = [r[name] for r in per_round if name in r]
            summary.setdefault(name, {})[label] = {"median": statistics.median(values), "min": min(values),
                                                   "max": max(values)}
        print(f"  {label} done", flush=True)
    return summary
