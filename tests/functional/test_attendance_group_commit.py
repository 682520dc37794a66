"""Rooms reporting at once share one attendance commit, and each still returns only once it is written."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from sqlalchemy import func, select

from telepractice.crypto.keyring import Keyring
from telepractice.sessions.attendance_store import GroupCommit, attendance_hook
from telepractice.signaling.participant import Identity, Role
from telepractice.signaling.room import Room
from telepractice.storage.engine import SessionFactory
from telepractice.storage.models import AttendanceEventRow, CaseSession, PresenceInterval, SessionStatus
from tests.session_data import CaseData, seed_case
from tests.unit.test_room import FakePeer

T0 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)
ROOMS = 12


def host_joined(data: CaseData) -> tuple[str, list]:
    sid = data.scheduled.id
    room = Room(sid)
    room.connect(Identity(data.worker.id, sid, Role.HOST, "W"), FakePeer("host"), 10.0)
    return sid, room.take_events()


async def presences(db: SessionFactory, session_id: str) -> list[PresenceInterval]:
    async with db() as session:
        rows = await session.execute(select(PresenceInterval).where(PresenceInterval.session_id == session_id))
        return list(rows.scalars())


async def test_rooms_reporting_at_once_share_commits_and_each_is_written_when_its_call_returns(
    db: SessionFactory, tmp_path: Path
) -> None:
    keyring = Keyring(tmp_path / "keys")
    cases = [await seed_case(db, keyring, planned_start=T0) for _ in range(ROOMS)]
    writer = GroupCommit(db)

    async def report(data: CaseData) -> None:
        sid, events = host_joined(data)
        recorded = await writer.record(sid, events)
        assert [(e.event.value, e.who) for e in recorded] == [("admitted", data.worker.id)]
        # Returned means committed: another connection sees it at once.
        [presence] = await presences(db, sid)
        assert presence.staff_id == data.worker.id and presence.ended_at is None

    await asyncio.gather(*(report(data) for data in cases))
    assert 1 <= writer.commits < ROOMS
    async with db() as session:
        statuses = (await session.execute(
            select(CaseSession.status).where(CaseSession.id.in_([c.scheduled.id for c in cases])))).scalars().all()
    assert set(statuses) == {SessionStatus.LIVE}


async def test_one_room_that_cannot_be_written_costs_the_others_nothing(db: SessionFactory, tmp_path: Path) -> None:
    keyring = Keyring(tmp_path / "keys")
    good = [await seed_case(db, keyring, planned_start=T0) for _ in range(3)]
    writer = GroupCommit(db)
    _, events = host_joined(good[0])
    # Events of a real person, filed under a session that does not exist: its rows break a foreign key.
    results = await asyncio.gather(
        *(writer.record(*host_joined(data)) for data in good),
        writer.record("no-such-session", events),
        return_exceptions=True,
    )
    assert [isinstance(result, Exception) for result in results] == [False, False, False, True]
    for data in good:
        assert len(await presences(db, data.scheduled.id)) == 1
    async with db() as session:
        stray = await session.scalar(
            select(func.count()).select_from(AttendanceEventRow).where(AttendanceEventRow.session_id == "no-such-session"))
    assert stray == 0


async def test_the_hook_records_through_one_shared_writer(db: SessionFactory, tmp_path: Path) -> None:
    keyring = Keyring(tmp_path / "keys")
    cases = [await seed_case(db, keyring, planned_start=T0) for _ in range(4)]
    hook = attendance_hook(db)
    await asyncio.gather(*(hook(*host_joined(data)) for data in cases))
    for data in cases:
        assert len(await presences(db, data.scheduled.id)) == 1
