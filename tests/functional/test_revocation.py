"""Revoking a personal link over the real API and /ws: whoever is in on it leaves at once, on any instance."""

from __future__ import annotations

import asyncio
import dataclasses
import os
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from telepractice.app import create_app
from telepractice.appkeys import DB, SIGNALING
from telepractice.config import Settings
from telepractice.storage.models import AttendanceEventRow, PresenceInterval
from tests.functional.test_signaling_ws import (
    Connect,
    Family,
    admitted_guardian,
    closed_with,
    connector,
    everything_pending,
    host_in_call,
    receive,
    receive_until,
    refused_with,
    schedule_family_session,
    staff_pair,
)
from tests.staff_fixtures import LoggedInStaff, login_through_api

REDIS_ENV = "TELEPRACTICE_TEST_REDIS_URL"




async def revoke(client: TestClient, worker: LoggedInStaff, session_id: str, invite_id: str) -> dict[str, Any]:
    response = await client.post(f"/api/sessions/{session_id}/invites/{invite_id}/revoke", json={},
                                 headers=worker.headers)
    assert response.status == 200, await response.text()
    return dict(await response.json())


async def left_presence(host: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    while True:
        presence, _ = await receive_until(host, "presence")
        if presence["event"] == "left":
            return presence


async def attendance_of(app: web.Application, session_id: str, participant_id: str) -> tuple[list[str], list[Any]]:
    async with app[DB]() as session:
        events = (await session.execute(
            select(AttendanceEventRow.event).where(AttendanceEventRow.session_id == session_id,
                                                   AttendanceEventRow.participant_id == participant_id)
            .order_by(AttendanceEventRow.at, AttendanceEventRow.recorded_at))).scalars().all()
        presences = (await session.execute(
            select(PresenceInterval).where(PresenceInterval.session_id == session_id,
                                           PresenceInterval.participant_id == participant_id))).scalars().all()
    return list(events), list(presences)


async def test_revoking_the_link_of_someone_in_the_call_removes_them_at_once_and_for_good(
    connect: Connect, client: TestClient, app: web.Application, worker: LoggedInStaff, family: Family
) -> None:
    host = await host_in_call(connect, worker, family)
    guardian = await connect(family.guardian_token)
    resume = (await receive(guardian))["resume"]
    await receive_until(host, "participant-waiting")
    await host.send_json({"v": 1, "type": "admit", "participant": family.guardian_id})
    await receive_until(guardian, "admitted")

    assert (await revoke(client, worker, family.session_id, family.guardian_invite))["revoked"] is True
    removed, _ = await receive_until(guardian, "removed")
    assert removed["reason"] == "link-revoked"
    assert await closed_with(guardian) == 4011
    left = await left_presence(host)
    assert (left["participant"]["id"], left["reason"]) == (family.guardian_id, "link-revoked")

    for token in (family.guardian_token, resume):  # neither the link nor the resume token brings them back
        again = await connect(token)
        await refused_with(again, "not-authenticated")
        assert await closed_with(again) == 4001
    events, [presence] = await attendance_of(app, family.session_id, family.guardian_id)
    assert events == ["admitted", "removed"]
    assert presence.ended_at is not None and presence.end_reason == "link_revoked"


async def test_revoking_the_link_of_someone_waiting_sends_them_away_and_tells_the_host(
    connect: Connect, client: TestClient, worker: LoggedInStaff, family: Family
) -> None:
    host = await host_in_call(connect, worker, family)
    guardian = await connect(family.guardian_token)
    await receive_until(guardian, "waiting")
    await receive_until(host, "participant-waiting")
    await revoke(client, worker, family.session_id, family.guardian_invite)
    assert (await receive_until(guardian, "removed"))[0]["reason"] == "link-revoked"
    assert await closed_with(guardian) == 4011
    gone, _ = await receive_until(host, "participant-left-waiting")
    assert (gone["participant"], gone["reason"]) == (family.guardian_id, "link-revoked")


async def test_a_drop_then_a_revoked_link_is_recorded_as_removed_not_as_connection_lost(
    connect: Connect, client: TestClient, app: web.Application, worker: LoggedInStaff, family: Family
) -> None:
    host = await host_in_call(connect, worker, family)
    guardian = await admitted_guardian(connect, host, family)
    await guardian.close()
    presence, _ = await receive_until(host, "presence")
    assert presence["event"] == "dropped"
    await revoke(client, worker, family.session_id, family.guardian_invite)
    left = await left_presence(host)
    assert left["reason"] == "link-revoked"
    events, [row] = await attendance_of(app, family.session_id, family.guardian_id)
    assert events == ["admitted", "dropped", "removed"]
    # Ended at the drop (nobody was there after it), but as a removal: they did not just lose the line.
    assert row.end_reason == "link_revoked" and row.ended_at is not None and row.dropped_at is None


async def test_revoking_an_older_link_leaves_someone_on_their_newer_link_in_the_call(
    connect: Connect, client: TestClient, worker: LoggedInStaff, family: Family
) -> None:
    response = await client.post(f"/api/sessions/{family.session_id}/invites",
                                 json={"participants": [family.guardian_id]}, headers=worker.headers)
    assert response.status == 201
    [link] = (await response.json())["invites"]
    newer = dataclasses.replace(family, guardian_token=link["link"].split("#invite=", 1)[1])
    host = await host_in_call(connect, worker, family)
    guardian = await admitted_guardian(connect, host, newer)
    await revoke(client, worker, family.session_id, family.guardian_invite)  # the old one, revoked again
    assert "removed" not in [m["type"] for m in await everything_pending(guardian)]
    assert "presence" not in [m["type"] for m in await everything_pending(host, nonce=8)]


async def test_revoking_from_another_instance_removes_the_person_from_the_room_here(
    aiohttp_client: Any, settings: Settings
) -> None:
    """Two server instances on one database and one Redis: the link is revoked through B, the call lives in A."""
    url = os.environ.get(REDIS_ENV)
    if not url:
        pytest.skip(f"{REDIS_ENV} is not set")
    shared = dataclasses.replace(settings, redis_url=url)
    first = create_app(shared)
    client_a = await aiohttp_client(first)
    second = create_app(shared)
    client_b = await aiohttp_client(second)
    host_staff, boss = await staff_pair(first, client_a)
    family = await schedule_family_session(first, host_staff.member, boss)
    connect_a = connector(client_a, shared)
    host = await host_in_call(connect_a, host_staff, family)
    guardian = await admitted_guardian(connect_a, host, family)

    pair = await login_through_api(client_b, "own.worker", "correct horse battery staple")
    worker_b = LoggedInStaff(host_staff.member, "", pair["access_token"], pair["refresh_token"])
    assert second[SIGNALING].registry.get(family.session_id) is None  # B holds no room of this session
    await revoke(client_b, worker_b, family.session_id, family.guardian_invite)
    removed, _ = await receive_until(guardian, "removed")
    assert removed["reason"] == "link-revoked"
    assert await closed_with(guardian) == 4011
    assert (await left_presence(host))["reason"] == "link-revoked"
    await asyncio.wait_for(first[SIGNALING].instances.settled(), 5)
    events, _ = await attendance_of(first, family.session_id, family.guardian_id)
    assert events == ["admitted", "removed"]


async def test_a_new_link_for_someone_in_the_call_removes_them_from_the_old_one(
    connect: Connect, client: TestClient, worker: LoggedInStaff, family: Family
) -> None:
    host = await host_in_call(connect, worker, family)
    guardian = await admitted_guardian(connect, host, family)
    response = await client.post(f"/api/sessions/{family.session_id}/invites",
                                 json={"participants": [family.guardian_id]}, headers=worker.headers)
    assert response.status == 201, await response.text()
    [issued] = (await response.json())["invites"]
    assert (await receive_until(guardian, "removed"))[0]["reason"] == "link-revoked"
    assert await closed_with(guardian) == 4011
    assert (await left_presence(host))["reason"] == "link-revoked"
    again = await connect(issued["link"].split("#invite=", 1)[1])  # the new link lets them back in
    await receive_until(again, "waiting")


async def test_lengthening_a_live_session_keeps_everyone_in_and_their_links_standing(
    connect: Connect, client: TestClient, worker: LoggedInStaff, family: Family
) -> None:
    host = await host_in_call(connect, worker, family)
    guardian = await admitted_guardian(connect, host, family)
    response = await client.post(f"/api/sessions/{family.session_id}/reschedule", json={"planned_minutes": 90},
                                 headers=worker.headers)
    assert response.status == 200, await response.text()
    lengthened = await response.json()
    assert lengthened["status"] == "live" and lengthened["planned_minutes"] == 90
    assert lengthened["links_to_reissue"] == []
    assert not any(invite["revoked"] for invite in lengthened["invites"])
    await guardian.send_json({"v": 1, "type": "ping", "nonce": 7})
    pong, skipped = await receive_until(guardian, "pong")
    assert pong["nonce"] == 7 and "removed" not in [message["type"] for message in skipped]
