"""Attendance written as it happens, on SQLite and PostgreSQL: events, heartbeats, and a crash in the middle."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from telepractice.crypto.keyring import Keyring
from telepractice.sessions.attendance import (
    AttendanceEvent,
    AttendanceKind,
    EndReason,
    WhoKind,
)
from telepractice.sessions.attendance_store import (
    heartbeat,
    on_room_events,
    record,
    recover_after_crash,
)
from telepractice.signaling.messages import Admit
from telepractice.signaling.participant import Identity, Role
from telepractice.signaling.room import Room
from telepractice.storage.engine import (
    SessionFactory,
    make_engine,
    make_session_factory,
)
from telepractice.storage.models import (
    AttendanceEventRow,
    CaseSession,
    PresenceInterval,
    SessionStatus,
    utcnow,
)
from tests.session_data import CaseData, seed_case
from tests.unit.test_room import FakePeer

REPO = Path(__file__).resolve().parents[2]
T0 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)
K = AttendanceKind


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


@pytest.fixture
async def family(db: SessionFactory, tmp_path: Path) -> CaseData:
    return await seed_case(db, Keyring(tmp_path / "keys"), planned_start=T0)


async def intervals(db: SessionFactory, session_id: str) -> list[PresenceInterval]:
    async with db() as session:
        rows = await session.execute(
            select(PresenceInterval).where(PresenceInterval.session_id == session_id)
            .order_by(PresenceInterval.started_at, PresenceInterval.who_kind)
        )
        return list(rows.scalars())


async def test_each_event_is_in_the_database_as_soon_as_it_is_recorded(db: SessionFactory, family: CaseData) -> None:
    sid, mum = family.scheduled.id, family.mother.id
    await record(db, sid, [AttendanceEvent(K.ADMITTED, at(0), mum, WhoKind.FAMILY)])
    (open_row,) = await intervals(db, sid)
    assert (open_row.participant_id, open_row.ended_at) == (mum, None)
    await record(db, sid, [AttendanceEvent(K.DROPPED, at(600), mum, WhoKind.FAMILY)])
    await record(db, sid, [AttendanceEvent(K.RECONNECTED, at(620), mum, WhoKind.FAMILY)])
    await record(db, sid, [AttendanceEvent(K.LEFT, at(1800), mum, WhoKind.FAMILY, EndReason.LEFT)])
    (row,) = await intervals(db, sid)
    assert (row.started_at, row.ended_at, row.end_reason) == (at(0), at(1800), "left")
    assert (row.interruptions, row.interrupted_ms) == (1, 20_000)
    async with db() as session:
        logged = (await session.execute(select(AttendanceEventRow.event).where(
            AttendanceEventRow.session_id == sid).order_by(AttendanceEventRow.at))).scalars().all()
        status = (await session.get(CaseSession, sid)).status  # type: ignore[union-attr]
    assert logged == ["admitted", "dropped", "reconnected", "left"]
    assert status == SessionStatus.LIVE


async def test_a_simulated_kill_loses_no_minute_and_invents_none(database_url: str, family: CaseData) -> None:
    """Events and heartbeats, then the engine is dropped without closing anything, as kill -9 would."""
    sid, mum, kid, worker = family.scheduled.id, family.mother.id, family.child.id, family.worker.id
    engine = make_engine(database_url)
    db = make_session_factory(engine)
    await record(db, sid, [
        AttendanceEvent(K.ADMITTED, at(0), worker, WhoKind.STAFF),
        AttendanceEvent(K.ADMITTED, at(60), mum, WhoKind.FAMILY),
        AttendanceEvent(K.ADMITTED, at(90), kid, WhoKind.FAMILY),
    ])
    for beat in range(1, 11):
        await heartbeat(db, at(60 + 15 * beat))
        if beat == 4:
            await record(db, sid, [AttendanceEvent(K.DROPPED, at(125), kid, WhoKind.FAMILY)])
    await engine.dispose()

    fresh = make_engine(database_url)
    try:
        recovered = make_session_factory(fresh)
        assert await recover_after_crash(recovered) == 3
        rows = {row.participant_id or row.staff_id: row for row in await intervals(recovered, sid)}
        assert (rows[worker].ended_at, rows[worker].end_reason) == (at(210), "server_restart")
        assert (rows[mum].ended_at, rows[mum].end_reason) == (at(210), "server_restart")
        assert (rows[kid].ended_at, rows[kid].end_reason) == (at(125), "connection_lost")
        assert await recover_after_crash(recovered) == 0
    finally:
        await fresh.dispose()


async def _read_until(stream: asyncio.StreamReader, word: str, count: int) -> list[str]:
    lines: list[str] = []
    while sum(line.startswith(word) for line in lines) < count:
        line = await asyncio.wait_for(stream.readline(), timeout=20)
        assert line, f"the writer stopped early after {lines}"
        lines.append(line.decode().strip())
    return lines


async def test_a_real_kill_9_mid_session_is_recovered_at_the_last_stored_heartbeat(
    database_url: str, db: SessionFactory, family: CaseData
) -> None:
    sid, mum, worker = family.scheduled.id, family.mother.id, family.worker.id
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.functional.attendance_child", database_url, sid, mum, worker,
        cwd=REPO, stdout=asyncio.subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert child.stdout is not None
    try:
        lines = await _read_until(child.stdout, "heartbeat", 8)
    finally:
        child.send_signal(signal.SIGKILL)
        await asyncio.wait_for(child.wait(), timeout=20)
    killed_at = utcnow()
    lines += (await asyncio.wait_for(child.stdout.read(), timeout=20)).decode().split("\n")
    assert child.returncode == -signal.SIGKILL
    printed = [dt.datetime.fromisoformat(line.split()[1]) for line in lines if line.startswith("heartbeat")]
    dropped = next(dt.datetime.fromisoformat(line.split()[1]) for line in lines if line.startswith("dropped"))

    before = {row.staff_id or row.participant_id: row for row in await intervals(db, sid)}
    assert all(row.ended_at is None for row in before.values()), "nothing closed them before recovery"
    stored_heartbeat = before[worker].last_heartbeat_at
    assert printed[-1] <= stored_heartbeat <= killed_at

    assert await recover_after_crash(db) == 2
    after = {row.staff_id or row.participant_id: row for row in await intervals(db, sid)}
    assert (after[worker].ended_at, after[worker].end_reason) == (stored_heartbeat, "server_restart")
    assert (after[mum].ended_at, after[mum].end_reason) == (dropped, "connection_lost")


async def test_room_events_are_recorded_with_who_and_why(db: SessionFactory, family: CaseData) -> None:
    """A real Room, fake peers: the room's monotonic clock becomes UTC in the record."""
    sid = family.scheduled.id
    room = Room(sid, grace=30.0)
    host, mum = FakePeer("host"), FakePeer("mum")
    room.connect(Identity(family.worker.id, sid, Role.HOST, "W"), host, 1000.0)
    room.connect(Identity(family.mother.id, sid, Role.FAMILY, "M", consent_ok=True), mum, 1001.0)
    room.receive(host, Admit(participant=family.mother.id), 1002.0)
    room.disconnect(mum, 1300.0)
    room.connect(Identity(family.mother.id, sid, Role.FAMILY, "M", consent_ok=True), FakePeer("mum2"), 1310.0)
    room.end(2800.0)
    recorded = await on_room_events(db, sid, room.take_events(), now=at(3000), monotonic_now=3000.0)
    assert [e.event for e in recorded] == [K.ADMITTED, K.ADMITTED, K.DROPPED, K.RECONNECTED, K.SESSION_ENDED,
                                           K.SESSION_ENDED, K.SESSION_ENDED]
    rows = {row.participant_id or row.staff_id: row for row in await intervals(db, sid)}
    worker_row, mum_row = rows[family.worker.id], rows[family.mother.id]
    assert (worker_row.who_kind, worker_row.started_at, worker_row.ended_at) == ("staff", at(1000), at(2800))
    assert (mum_row.who_kind, mum_row.started_at, mum_row.ended_at) == ("family", at(1002), at(2800))
    assert (mum_row.interruptions, mum_row.interrupted_ms, mum_row.end_reason) == (1, 10_000, "session_ended")

