"""The safety signal over /ws and the alerts API: staff only, in the case record, seen by the supervisor."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from telepractice.appkeys import DB, KEYRING
from telepractice.crypto.case_keys import open_case
from telepractice.sessions.consent import ConsentGiven, record_consent
from telepractice.storage.models import (
    AuditEntry,
    ConsentKind,
    ConsentMethod,
    FamilyParticipant,
    SafetyAlert,
    StaffRole,
    utcnow,
)
from tests.functional.test_signaling_ws import (
    Connect,
    Family,
    admitted_guardian,
    everything_pending,
    host_in_call,
    receive_until,
    refused_with,
)
from tests.staff_fixtures import LoggedInStaff, MakeStaff, login_through_api

WAIT = 10.0


async def child_may_join(app: web.Application, family: Family) -> None:
    """The guardian's consent for the child and the child's own assent, on record."""
    async with app[DB]() as session, session.begin():
        child = await session.get(FamilyParticipant, family.child_id)
        assert child is not None
        cipher = await open_case(session, app[KEYRING], child.case_id)
        for kind, giver in ((ConsentKind.CONSENT, family.guardian_id), (ConsentKind.ASSENT, family.child_id)):
            await record_consent(session, cipher, child, ConsentGiven(
                kind=kind, method=ConsentMethod.BROWSER, text_version="test-1", text_hash="0" * 64, language="pt",
                given_by_participant_id=giver))


async def everyone_in_the_call(
    app: web.Application, connect: Connect, worker: LoggedInStaff, family: Family
) -> tuple[aiohttp.ClientWebSocketResponse, aiohttp.ClientWebSocketResponse, aiohttp.ClientWebSocketResponse]:
    """The host, the guardian and the child, all admitted."""
    await child_may_join(app, family)
    host = await host_in_call(connect, worker, family)
    guardian = await admitted_guardian(connect, host, family)
    child = await connect(family.child_token)
    await receive_until(child, "waiting")
    await receive_until(host, "participant-waiting")
    await host.send_json({"v": 1, "type": "admit", "participant": family.child_id})
    await receive_until(child, "admitted")
    await receive_until(guardian, "presence")
    await everything_pending(host)
    await everything_pending(guardian)
    await everything_pending(child)
    return host, guardian, child


async def alert_rows(app: web.Application) -> list[SafetyAlert]:
    async with app[DB]() as session:
        return list((await session.execute(select(SafetyAlert).order_by(SafetyAlert.at))).scalars())


async def until(check: Any) -> Any:
    """Poll an async check until it returns something truthy (bounded)."""
    deadline = asyncio.get_running_loop().time() + WAIT
    while True:
        found = await check()
        if found:
            return found
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


def no_help_in(messages: list[dict[str, Any]]) -> None:
    assert [m["type"] for m in messages if m["type"].startswith("help")] == []


async def test_help_from_the_child_reaches_the_worker_not_the_guardian_and_is_written_with_its_time(
    app: web.Application, connect: Connect, worker: LoggedInStaff, family: Family
) -> None:
    host, guardian, child = await everyone_in_the_call(app, connect, worker, family)
    before = utcnow()
    await child.send_json({"v": 1, "type": "help"})
    requested, _ = await receive_until(host, "help-requested")
    assert requested["participant"]["id"] == family.child_id and requested["pending"] == 1
    no_help_in(await everything_pending(guardian))
    no_help_in(await everything_pending(child))
    rows = await until(lambda: alert_rows(app))
    assert [(row.id, row.participant_id, row.session_id) for row in rows] == [
        (requested["alert"], family.child_id, family.session_id)]
    assert before - dt.timedelta(seconds=1) <= rows[0].at <= utcnow()
    assert rows[0].acknowledged_at is None
    async with app[DB]() as session:
        actions = list((await session.execute(select(AuditEntry.action))).scalars())
    assert "safety.alert" in actions


async def test_the_host_acknowledges_in_the_call_and_the_record_says_who_and_when(
    app: web.Application, connect: Connect, worker: LoggedInStaff, family: Family
) -> None:
    host, guardian, child = await everyone_in_the_call(app, connect, worker, family)
    await child.send_json({"v": 1, "type": "help"})
    requested, _ = await receive_until(host, "help-requested")
    await host.send_json({"v": 1, "type": "help-acknowledge", "alert": requested["alert"]})
    acknowledged, _ = await receive_until(host, "help-acknowledged")
    assert (acknowledged["by"], acknowledged["pending"]) == (worker.member.id, 0)
    no_help_in(await everything_pending(guardian))
    no_help_in(await everything_pending(child))

    async def acknowledged_row() -> SafetyAlert | None:
        rows = await alert_rows(app)
        return rows[0] if rows and rows[0].acknowledged_at else None

    row = await until(acknowledged_row)
    assert row.acknowledged_by == worker.member.id


async def test_the_supervisor_sees_open_alerts_and_acknowledging_tells_the_host_in_the_call(
    app: web.Application, client: TestClient, connect: Connect, worker: LoggedInStaff, supervisor: LoggedInStaff,
    family: Family, make_staff: MakeStaff,
) -> None:
    host, guardian, child = await everyone_in_the_call(app, connect, worker, family)
    await child.send_json({"v": 1, "type": "help"})
    requested, _ = await receive_until(host, "help-requested")
    await until(lambda: alert_rows(app))

    listed = await (await client.get("/api/alerts", headers=supervisor.headers)).json()
    assert listed["open"] == 1
    alert = listed["alerts"][0]
    assert (alert["id"], alert["participant_name"], alert["is_minor"]) == (requested["alert"], "Tiago Example", True)
    assert alert["case_reference"] == "WS-0001" and alert["acknowledged"] is False

    member, password = await make_staff(StaffRole.SUPERVISOR.value, "other.team")
    stranger = LoggedInStaff(member, password, (await login_through_api(client, "other.team", password))["access_token"], "")
    assert (await (await client.get("/api/alerts", headers=stranger.headers)).json())["alerts"] == []
    response = await client.post(f"/api/alerts/{alert['id']}/acknowledge", headers=stranger.headers)
    assert response.status == 404

    response = await client.post(f"/api/alerts/{alert['id']}/acknowledge", headers=supervisor.headers)
    assert response.status == 200, await response.text()
    assert (await response.json())["acknowledged_by"] == supervisor.member.id
    told, _ = await receive_until(host, "help-acknowledged")
    assert told["by"] == supervisor.member.id
    no_help_in(await everything_pending(guardian))

    again = await client.post(f"/api/alerts/{alert['id']}/acknowledge", headers=supervisor.headers)
    assert again.status == 409 and (await again.json())["code"] == "conflict"
    assert (await (await client.get("/api/alerts", headers=worker.headers)).json())["alerts"] == []
    everything = await (await client.get("/api/alerts?state=all", headers=worker.headers)).json()
    assert [a["acknowledged_by"] for a in everything["alerts"]] == [supervisor.member.id]
    bad = await client.get("/api/alerts?state=maybe", headers=worker.headers)
    assert bad.status == 422
    assert (await client.get("/api/alerts")).status == 401


async def test_help_asked_before_anyone_was_there_reaches_the_host_on_arrival(
    app: web.Application, connect: Connect, worker: LoggedInStaff, family: Family
) -> None:
    guardian = await connect(family.guardian_token)
    await receive_until(guardian, "waiting")
    await guardian.send_json({"v": 1, "type": "help"})
    await until(lambda: alert_rows(app))
    host = await connect(worker.access_token, family.session_id)
    requested, _ = await receive_until(host, "help-requested")
    assert requested["participant"]["id"] == family.guardian_id


async def test_staff_cannot_ask_for_help_and_a_child_pressing_again_and_again_is_limited(
    app: web.Application, connect: Connect, worker: LoggedInStaff, family: Family
) -> None:
    host, _guardian, child = await everyone_in_the_call(app, connect, worker, family)
    await host.send_json({"v": 1, "type": "help"})
    await refused_with(host, "family-only")
    for _ in range(4):
        await child.send_json({"v": 1, "type": "help"})
    limited = await refused_with(child, "help-limited")
    assert limited["closing"] is False
    async def three() -> list[SafetyAlert] | None:
        rows = await alert_rows(app)
        return rows if len(rows) == 3 else None

    assert len(await until(three)) == 3


async def test_the_session_record_lists_the_alerts_with_their_times_and_acknowledgement(
    app: web.Application, client: TestClient, connect: Connect, worker: LoggedInStaff, family: Family
) -> None:
    host, _guardian, child = await everyone_in_the_call(app, connect, worker, family)
    await child.send_json({"v": 1, "type": "help"})
    requested, _ = await receive_until(host, "help-requested")
    await host.send_json({"v": 1, "type": "help-acknowledge", "alert": requested["alert"]})
    await receive_until(host, "help-acknowledged")
    await host.send_json({"v": 1, "type": "end-session"})
    await receive_until(host, "session-ended")

    async def record() -> dict[str, Any] | None:
        response = await client.get(f"/api/sessions/{family.session_id}/record", headers=worker.headers)
        return await response.json() if response.status == 200 else None

    alerts = (await until(record))["safety_alerts"]
    assert len(alerts) == 1
    assert (alerts[0]["id"], alerts[0]["participant_id"], alerts[0]["acknowledged"]) == (
        requested["alert"], family.child_id, True)
    assert alerts[0]["acknowledged_by"] == worker.member.id and alerts[0]["at"]
