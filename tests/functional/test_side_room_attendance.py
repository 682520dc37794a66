"""Side-room moves over the real /ws go into attendance as events (who, when), and nobody's presence is broken."""

from __future__ import annotations

import asyncio

from aiohttp import web
from sqlalchemy import select

from telepractice.appkeys import DB
from telepractice.storage.models import AttendanceEventRow, PresenceInterval
from tests.functional.test_signaling_ws import (
    Connect,
    Family,
    admitted_guardian,
    host_in_call,
    receive_until,
)
from tests.staff_fixtures import LoggedInStaff




async def events_of(app: web.Application, session_id: str, wanted: int) -> list[tuple[str, str | None]]:
    """The session's attendance events, once ``wanted`` of them are written (the hook runs after each message)."""
    for _ in range(100):
        async with app[DB]() as session:
            rows = (await session.execute(
                select(AttendanceEventRow).where(AttendanceEventRow.session_id == session_id)
                .order_by(AttendanceEventRow.at, AttendanceEventRow.recorded_at))).scalars().all()
        if len(rows) >= wanted:
            return [(row.event, row.participant_id or row.staff_id) for row in rows]
        await asyncio.sleep(0.1)
    raise AssertionError(f"fewer than {wanted} attendance events were written")


async def test_taking_someone_aside_and_back_is_recorded_with_who_and_when(
    connect: Connect, app: web.Application, worker: LoggedInStaff, family: Family
) -> None:
    host = await host_in_call(connect, worker, family)
    guardian = await admitted_guardian(connect, host, family)
    await host.send_json({"v": 1, "type": "side-room-create", "participants": [family.guardian_id]})
    changed, _ = await receive_until(guardian, "side-room-changed")
    assert changed["side_room"] == "side-1"
    await host.send_json({"v": 1, "type": "side-room-return", "participants": [family.guardian_id]})
    back, _ = await receive_until(guardian, "side-room-changed")
    assert back["side_room"] is None

    recorded = await events_of(app, family.session_id, 4)
    assert recorded == [("admitted", worker.member.id), ("admitted", family.guardian_id),
                        ("moved_aside", family.guardian_id), ("brought_back", family.guardian_id)]
    async with app[DB]() as session:
        rows = (await session.execute(select(PresenceInterval).where(
            PresenceInterval.session_id == family.session_id,
            PresenceInterval.participant_id == family.guardian_id))).scalars().all()
    assert [(row.ended_at, row.interruptions) for row in rows] == [(None, 0)]  # still one unbroken presence
