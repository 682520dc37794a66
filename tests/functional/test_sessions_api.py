"""Planning sessions against the real app and database: schedule, list, reschedule, cancel, links, phone consent,
and the host's five-minute warning."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from telepractice.appkeys import DB, SESSION_CLOCK
from telepractice.storage.models import (
    AuditEntry,
    ConsentRecord,
    SessionInvite,
    StaffRole,
    utcnow,
)
from tests.functional.test_signaling_ws import (
    Connect,
    Family,
    closed_with,
    host_in_call,
    receive,
    receive_until,
    refused_with,
    schedule_family_session,
)
from tests.staff_fixtures import LoggedInStaff, login_through_api




def later(hours: float = 24) -> str:
    return (utcnow() + dt.timedelta(hours=hours)).replace(microsecond=0).isoformat()


async def call(client: TestClient, staff: LoggedInStaff, method: str, path: str, body: Any = None,
               status: int = 200) -> dict[str, Any]:
    response = await client.request(method, path, json=body, headers=staff.headers)
    assert response.status == status, await response.text()
    return dict(await response.json())


async def actions(app: web.Application) -> list[str]:
    async with app[DB]() as session:
        return list((await session.execute(select(AuditEntry.action).order_by(AuditEntry.seq))).scalars())


# --- scheduling -----------------------------------------------------------------


async def test_a_worker_schedules_a_family_session_of_sixty_minutes_by_default(
    client: TestClient, worker: LoggedInStaff, family: Family
) -> None:
    created = await call(client, worker, "POST", "/api/cases/WS-0001/sessions",
                         {"kind": "family", "planned_start": later()}, status=201)
    assert (created["kind"], created["planned_minutes"], created["status"], created["host_id"]) == (
        "family", 60, "scheduled", worker.member.id)
    listed = await call(client, worker, "GET", "/api/cases/WS-0001/sessions")
    assert created["id"] in [item["id"] for item in listed["sessions"]]
    assert "session.schedule" in await actions(client.app)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "family", "planned_minutes": 30}, "planned_minutes"),
        ({"kind": "family", "planned_minutes": 120}, "planned_minutes"),
        ({"kind": "individual"}, "participant"),
        ({"kind": "family", "linked_cases": ["WS-0001"]}, "linked_cases"),
        ({"kind": "family", "planned_start": "2026-12-01T10:00:00"}, "planned_start"),
        ({"kind": "family", "planned_start": "2020-01-01T10:00:00+00:00"}, "planned_start"),
    ],
    ids=["family-too-short", "family-too-long", "individual-without-person", "family-with-links", "no-offset", "past"],
)
async def test_a_session_against_the_rules_is_refused_naming_the_field(
    client: TestClient, worker: LoggedInStaff, family: Family, body: dict[str, Any], field: str
) -> None:
    problem = await call(client, worker, "POST", "/api/cases/WS-0001/sessions",
                         {"planned_start": later(), **body}, status=422)
    assert problem["field"] == field


async def test_an_individual_session_invites_only_its_one_family_member(
    client: TestClient, worker: LoggedInStaff, family: Family
) -> None:
    created = await call(client, worker, "POST", "/api/cases/WS-0001/sessions",
                         {"kind": "individual", "planned_start": later(), "participant": family.child_id,
                          "planned_minutes": 30}, status=201)
    links = await call(client, worker, "POST", f"/api/sessions/{created['id']}/invites", {}, status=201)
    assert [link["participant"] for link in links["invites"]] == [family.child_id]
    problem = await call(client, worker, "POST", f"/api/sessions/{created['id']}/invites",
                         {"participants": [family.guardian_id]}, status=422)
    assert problem["field"] == "participants"


async def test_a_case_discussion_links_further_cases_and_takes_no_family_links(
    client: TestClient, app: web.Application, worker: LoggedInStaff, supervisor: LoggedInStaff, family: Family
) -> None:
    await schedule_family_session(app, worker.member, supervisor.member, reference="WS-0002")
    created = await call(client, worker, "POST", "/api/cases/WS-0001/sessions",
                         {"kind": "case_discussion", "planned_start": later(), "planned_minutes": 30,
                          "linked_cases": ["WS-0002"]}, status=201)
    assert created["linked_cases"] == ["WS-0002"]
    other = await call(client, supervisor, "GET", "/api/cases/WS-0002/sessions")
    assert created["id"] in [item["id"] for item in other["sessions"]]
    await call(client, worker, "POST", f"/api/sessions/{created['id']}/invites", {}, status=422)


async def test_scheduling_is_for_the_cases_own_workers(
    client: TestClient, make_staff: Any, supervisor: LoggedInStaff, family: Family
) -> None:
    await call(client, supervisor, "POST", "/api/cases/WS-0001/sessions",
               {"kind": "family", "planned_start": later()}, status=403)
    stranger, password = await make_staff(StaffRole.WORKER.value)
    pair = await login_through_api(client, stranger.username, password)
    headers = {"Authorization": f"Bearer {pair['access_token']}"}
    response = await client.post("/api/cases/WS-0001/sessions", json={"kind": "family", "planned_start": later()},
                                 headers=headers)
    assert response.status == 404
    response = await client.post(f"/api/sessions/{family.session_id}/cancel", json={}, headers=headers)
    assert response.status == 404


async def test_rescheduling_revokes_links_that_no_longer_cover_the_session(
    client: TestClient, worker: LoggedInStaff, family: Family
) -> None:
    created = await call(client, worker, "POST", "/api/cases/WS-0001/sessions",
                         {"kind": "family", "planned_start": later()}, status=201)
    await call(client, worker, "POST", f"/api/sessions/{created['id']}/invites", {}, status=201)
    new_start = later(48)
    moved = await call(client, worker, "POST", f"/api/sessions/{created['id']}/reschedule",
                       {"planned_start": new_start, "planned_minutes": 90})
    assert moved["planned_minutes"] == 90 and moved["planned_start"] == new_start
    assert sorted(moved["links_to_reissue"]) == sorted([family.guardian_id, family.child_id])
    assert all(invite["revoked"] for invite in moved["invites"])
    shorter = await call(client, worker, "POST", f"/api/sessions/{created['id']}/reschedule", {"planned_minutes": 45})
    assert shorter["links_to_reissue"] == []


async def test_cancelling_a_live_session_ends_its_room_for_everyone(
    connect: Connect, client: TestClient, worker: LoggedInStaff, family: Family
) -> None:
    host = await host_in_call(connect, worker, family)
    guardian = await connect(family.guardian_token)
    await receive_until(guardian, "waiting")
    cancelled = await call(client, worker, "POST", f"/api/sessions/{family.session_id}/cancel", {})
    assert cancelled["status"] == "cancelled" and cancelled["cancelled_at"] is not None
    for ws in (host, guardian):
        ended, _ = await receive_until(ws, "session-ended")
        assert ended["reason"] == "ended"
        assert await closed_with(ws) == 4000
    again = await connect(family.guardian_token)
    await refused_with(again, "not-authenticated")  # the cancel revoked every link
    await call(client, worker, "POST", f"/api/sessions/{family.session_id}/cancel", {}, status=409)
    assert "session.cancel" in await actions(client.app)


# --- personal links ---------------------------------------------------------------


async def test_reissuing_a_link_revokes_the_old_one(client: TestClient, worker: LoggedInStaff, family: Family) -> None:
    first = await call(client, worker, "POST", f"/api/sessions/{family.session_id}/invites",
                       {"participants": [family.child_id]}, status=201)
    second = await call(client, worker, "POST", f"/api/sessions/{family.session_id}/invites",
                        {"participants": [family.child_id]}, status=201)
    async with client.app[DB]() as session:
        old = await session.get(SessionInvite, first["invites"][0]["id"])
        new = await session.get(SessionInvite, second["invites"][0]["id"])
    assert old is not None and old.revoked_at is not None
    assert new is not None and new.revoked_at is None
    assert first["invites"][0]["code"] is None


# --- consent taken by the worker ----------------------------------------------------


async def test_consent_given_by_phone_while_the_person_waits_tells_the_host(
    connect: Connect, client: TestClient, worker: LoggedInStaff, family: Family
) -> None:
    host = await host_in_call(connect, worker, family)
    child = await connect(family.child_token)
    await receive_until(child, "waiting")
    await receive_until(host, "participant-waiting")
    path = f"/api/cases/WS-0001/participants/{family.child_id}/consent"
    problem = await call(client, worker, "POST", path, {"kind": "consent"}, status=422)
    assert problem["field"] == "note"
    answer = await call(client, worker, "POST", path, {"kind": "consent", "note": "Mother agreed by phone at 9:10"})
    assert answer["recorded"] is True and answer["may_be_admitted"] is False
    answer = await call(client, worker, "POST", path, {"kind": "assent", "note": "Tiago said yes on the phone"})
    assert answer["may_be_admitted"] is True
    told, _ = await receive_until(host, "participant-waiting")
    assert told["participant"]["consent_ok"] is True
    await host.send_json({"v": 1, "type": "admit", "participant": family.child_id})
    await receive_until(child, "admitted")
    async with client.app[DB]() as session:
        records = list((await session.execute(
            select(ConsentRecord).where(ConsentRecord.participant_id == family.child_id))).scalars())
    assert {(r.method, r.recorded_by_staff_id) for r in records} == {("recorded_by_worker", worker.member.id)}
    assert all(r.note_enc is not None and b"phone" not in r.note_enc for r in records)


async def test_withdrawal_recorded_by_the_worker_takes_the_person_out_at_once(
    connect: Connect, client: TestClient, worker: LoggedInStaff, family: Family
) -> None:
    host = await host_in_call(connect, worker, family)
    guardian = await connect(family.guardian_token)
    await receive_until(host, "participant-waiting")
    await host.send_json({"v": 1, "type": "admit", "participant": family.guardian_id})
    await receive_until(guardian, "admitted")
    answer = await call(client, worker, "POST",
                        f"/api/cases/WS-0001/participants/{family.guardian_id}/consent/withdraw", {})
    assert answer["withdrawn"] == 1
    removed, _ = await receive_until(guardian, "removed")
    assert removed["reason"] == "consent-withdrawn"
    assert await closed_with(guardian) == 4011


async def test_consent_for_someone_else_s_case_is_refused_and_nothing_written(
    client: TestClient, app: web.Application, worker: LoggedInStaff, supervisor: LoggedInStaff, make_staff: Any,
    family: Family,
) -> None:
    other_worker, _password = await make_staff(StaffRole.WORKER.value)
    other = await schedule_family_session(app, other_worker, supervisor.member, reference="WS-0009")
    body = {"kind": "consent", "note": "by phone"}
    # A member of another case under my case's reference, and a case that is not mine at all.
    await call(client, worker, "POST", f"/api/cases/WS-0001/participants/{other.child_id}/consent", body, status=404)
    await call(client, worker, "POST", f"/api/cases/WS-0009/participants/{other.child_id}/consent", body, status=404)
    await call(client, worker, "POST", f"/api/cases/WS-0009/participants/{other.guardian_id}/consent/withdraw", {},
               status=404)
    async with client.app[DB]() as session:
        records = list((await session.execute(
            select(ConsentRecord).where(ConsentRecord.participant_id == other.child_id))).scalars())
    assert records == []
    assert (await actions(client.app)).count("consent.record.refused-access") == 2


# --- the five-minute warning ----------------------------------------------------------


async def test_the_host_is_warned_once_five_minutes_before_the_planned_end(
    connect: Connect, client: TestClient, app: web.Application, worker: LoggedInStaff, supervisor: LoggedInStaff,
    family: Family,
) -> None:
    host = await host_in_call(connect, worker, family)  # planned 60 minutes from 5 minutes ago
    guardian = await connect(family.guardian_token)
    await receive(guardian)
    clock = app[SESSION_CLOCK]
    assert await clock.tick() == []  # 55 minutes to go
    near_end = utcnow() + dt.timedelta(minutes=52)
    assert await clock.tick(near_end) == [family.session_id]
    warning, _ = await receive_until(host, "time-warning")
    assert warning["minutes_left"] == 3
    assert dt.datetime.fromisoformat(warning["planned_end"]) > near_end
    assert await clock.tick(near_end + dt.timedelta(seconds=30)) == []  # once only
    # Made longer, the session is warned again when its new end nears.
    await call(client, worker, "POST", f"/api/sessions/{family.session_id}/reschedule", {"planned_minutes": 75})
    assert await clock.tick(near_end + dt.timedelta(minutes=15)) == [family.session_id]
    await receive_until(host, "time-warning")
