"""Attendance through the real app: a call over /ws ends, and the session record is there by itself."""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from telepractice.appkeys import DB
from telepractice.storage.models import AttendanceEventRow, CaseSession, PresenceInterval
from telepractice.config import Settings
from tests.functional.test_signaling_ws import connector, receive_until, schedule_family_session
from tests.staff_fixtures import LoggedInStaff


async def test_host_ending_a_call_writes_attendance_and_the_record_without_anyone_typing(
    app: web.Application, client: TestClient, settings: Settings, worker: LoggedInStaff, supervisor: LoggedInStaff
) -> None:
    connect = connector(client, settings)
    family = await schedule_family_session(app, worker.member, supervisor.member)
    host = await connect(worker.access_token, session=family.session_id)
    await receive_until(host, "admitted")
    guardian = await connect(family.guardian_token)
    await receive_until(guardian, "waiting")
    waiting, _ = await receive_until(host, "participant-waiting")
    await host.send_json({"v": 1, "type": "admit", "participant": waiting["participant"]["id"]})
    await receive_until(guardian, "admitted")

    expected = {worker.member.id, family.guardian_id}
    present: set[str | None] = set()
    # The admission is written by the hook right after the room answers; poll, bounded, instead of sleeping.
    for _ in range(100):
        async with app[DB]() as session:
            open_presences = (await session.execute(
                select(PresenceInterval).where(PresenceInterval.ended_at.is_(None)))).scalars().all()
        present = {p.participant_id or p.staff_id for p in open_presences}
        if present == expected:
            break
        await asyncio.sleep(0.02)
    assert present == expected, "attendance is written while the call goes on"

    await host.send_json({"v": 1, "type": "end-session"})
    await receive_until(guardian, "session-ended")

    response = None
    for _ in range(100):
        response = await client.get(f"/api/sessions/{family.session_id}/record", headers=worker.headers)
        if response.status == 200:
            break
        await asyncio.sleep(0.02)
    assert response is not None and response.status == 200, await response.text()
    record = await response.json()
    people = {person["id"]: person for person in record["participants"]}
    assert people[family.guardian_id]["attendance"] != people[family.child_id]["attendance"]
    assert record["absent"] == [family.child_id]
    assert len(people[family.guardian_id]["intervals"]) == 1
    assert people[family.guardian_id]["intervals"][0]["end_reason"] == "session_ended"
    assert people[family.guardian_id]["display_name"] == "Rita Example"
    async with app[DB]() as session:
        scheduled = await session.get(CaseSession, family.session_id)
        kinds = [e.event for e in (await session.execute(select(AttendanceEventRow))).scalars()]
    assert scheduled is not None and scheduled.status == "ended"
    assert "admitted" in kinds and "session_ended" in kinds
