"""The attendance service of a server: recovery when it starts, heartbeats while it runs, records when sessions end."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from sqlalchemy import select

from telepractice.audit import AuditLog
from telepractice.crypto.keyring import Keyring
from telepractice.sessions.attendance import (
    AttendanceEvent,
    AttendanceKind,
    EndReason,
    WhoKind,
)
from telepractice.sessions.attendance_service import AttendanceService
from telepractice.sessions.attendance_store import record
from telepractice.signaling.participant import Identity, Role
from telepractice.signaling.room import Room
from telepractice.storage.engine import SessionFactory
from telepractice.storage.models import PresenceInterval, SessionRecord, utcnow
from tests.session_data import seed_case
from tests.unit.test_room import FakePeer


async def _intervals(db: SessionFactory) -> list[PresenceInterval]:
    async with db() as session:
        return list((await session.execute(select(PresenceInterval))).scalars())


async def test_start_recovers_what_a_crashed_server_left_open_then_heartbeats(db: SessionFactory, tmp_path: Path) -> None:
    keyring, audit = Keyring(tmp_path / "keys"), AuditLog()
    crashed = await seed_case(db, keyring)
    left_open_at = utcnow() - dt.timedelta(minutes=3)
    await record(db, crashed.scheduled.id, [
        AttendanceEvent(AttendanceKind.ADMITTED, left_open_at, crashed.worker.id, WhoKind.STAFF)])

    live = await seed_case(db, keyring)
    service = AttendanceService(db, keyring, audit, heartbeat_interval=0.05, sweep_interval=3600,
                                live_sessions=lambda: [live.scheduled.id])
    try:
        assert await service.start() == 1
        (closed,) = await _intervals(db)
        assert (closed.ended_at, closed.end_reason) == (left_open_at, EndReason.SERVER_RESTART)

        room = Room(live.scheduled.id)
        room.connect(Identity(live.worker.id, live.scheduled.id, Role.HOST, "W"), FakePeer("host"), 100.0)
        await service.hook(live.scheduled.id, room.take_events())
        first = next(row for row in await _intervals(db) if row.ended_at is None)
        await asyncio.sleep(0.3)
        later = next(row for row in await _intervals(db) if row.ended_at is None)
        assert later.last_heartbeat_at > first.last_heartbeat_at
    finally:
        await service.stop()


async def test_the_hook_writes_the_record_when_the_host_ends_and_the_sweep_when_all_left(
    db: SessionFactory, tmp_path: Path
) -> None:
    keyring, audit = Keyring(tmp_path / "keys"), AuditLog()
    ended_by_host, abandoned = await seed_case(db, keyring), await seed_case(db, keyring)
    service = AttendanceService(db, keyring, audit, heartbeat_interval=3600, sweep_interval=3600)
    sid = ended_by_host.scheduled.id
    room = Room(sid)
    room.connect(Identity(ended_by_host.worker.id, sid, Role.HOST, "W"), FakePeer("host"), 10.0)
    room.end(20.0)
    await service.hook(sid, room.take_events())

    long_ago = utcnow() - dt.timedelta(hours=1)
    await record(db, abandoned.scheduled.id, [
        AttendanceEvent(AttendanceKind.ADMITTED, long_ago, abandoned.worker.id, WhoKind.STAFF),
        AttendanceEvent(AttendanceKind.LEFT, long_ago + dt.timedelta(minutes=30), abandoned.worker.id, WhoKind.STAFF,
                        EndReason.LEFT),
    ])
    assert await service.sweep() == [abandoned.scheduled.id]
    async with db() as session:
        records = set((await session.execute(select(SessionRecord.session_id))).scalars())
    assert records == {sid, abandoned.scheduled.id}
