"""The text chat against the real app and database: relayed over /ws and kept nowhere, unless the worker saves it."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from telepractice.appkeys import DB
from telepractice.storage.models import AuditEntry, CaseSession, SessionChat, StaffRole
from tests.functional.test_signaling_ws import (
    Connect,
    Family,
    admitted_guardian,
    everything_pending,
    host_in_call,
    receive,
    receive_until,
    refused_with,
)

from tests.staff_fixtures import LoggedInStaff, MakeStaff, login_through_api

SECRET_LINE = "O pai grita comigo quando ninguém vê."


def line(text: str, sender: str, name: str = "Rita Example", **extra: Any) -> dict[str, Any]:
    return {"from": sender, "name": name, "text": text, "at": "2026-11-23T22:30:00+00:00", **extra}


def url(family: Family) -> str:
    return f"/api/sessions/{family.session_id}/record/chat"


# --- over the WebSocket -----------------------------------------------------


async def test_welcome_tells_everyone_the_sessions_planned_start_and_end(
    app: web.Application, connect: Connect, worker: LoggedInStaff, family: Family
) -> None:
    guardian = await connect(family.guardian_token)
    welcome = await receive(guardian)
    async with app[DB]() as session:
        scheduled = await session.get(CaseSession, family.session_id)
    assert scheduled is not None
    start = dt.datetime.fromisoformat(welcome["planned_start"])
    end = dt.datetime.fromisoformat(welcome["planned_end"])
    assert start == scheduled.planned_start
    assert end - start == dt.timedelta(minutes=scheduled.planned_minutes)


async def test_a_chat_line_reaches_the_worker_with_the_servers_time_and_a_malformed_one_changes_nothing(
    connect: Connect, worker: LoggedInStaff, family: Family
) -> None:
    host = await host_in_call(connect, worker, family)
    guardian = await admitted_guardian(connect, host, family)

    await guardian.send_json({"v": 1, "type": "chat", "text": f"  {SECRET_LINE}  "})
    relayed, _ = await receive_until(host, "chat")
    echoed, _ = await receive_until(guardian, "chat")
    assert relayed == echoed
    assert (relayed["from"], relayed["text"], relayed["side_room"]) == (family.guardian_id, SECRET_LINE, None)
    assert abs(dt.datetime.fromisoformat(relayed["at"]) - dt.datetime.now(dt.UTC)) < dt.timedelta(seconds=30)

    await guardian.send_json({"v": 1, "type": "chat", "text": "x" * 1001})
    error = await refused_with(guardian, "field-too-long")
    assert error["closing"] is False and "xxx" not in error["detail"]
    await guardian.send_json({"v": 1, "type": "chat", "text": "   "})
    await refused_with(guardian, "invalid-field")
    assert [m["type"] for m in await everything_pending(host)] == [], "nothing refused reaches anyone"


async def test_someone_waiting_may_not_chat_and_hears_nothing(
    connect: Connect, worker: LoggedInStaff, family: Family
) -> None:
    host = await host_in_call(connect, worker, family)
    guardian = await connect(family.guardian_token)
    await receive_until(guardian, "waiting")
    await host.send_json({"v": 1, "type": "chat", "text": "Only for those in the call"})
    await receive_until(host, "chat")
    await guardian.send_json({"v": 1, "type": "chat", "text": "let me in"})
    skipped = (await refused_with(guardian, "not-admitted"), await everything_pending(guardian))
    assert all(message["type"] != "chat" for message in skipped[1])


# --- saving it to the record ------------------------------------------------


async def record_of(client: TestClient, family: Family, staff: LoggedInStaff) -> dict[str, Any]:
    """The session record, once the server has built it (bounded wait)."""
    for _ in range(100):
        response = await client.get(f"/api/sessions/{family.session_id}/record", headers=staff.headers)
        if response.status == 200:
            return dict(await response.json())
        await asyncio.sleep(0.05)
    raise AssertionError(f"no record: {response.status} {await response.text()}")


async def test_the_worker_saves_the_chat_and_it_appears_sealed_in_the_record_after_the_session(
    app: web.Application, client: TestClient, connect: Connect, worker: LoggedInStaff, supervisor: LoggedInStaff,
    family: Family,
) -> None:
    host = await host_in_call(connect, worker, family)
    await admitted_guardian(connect, host, family)
    first = [line(SECRET_LINE, family.guardian_id), line("Obrigado por me dizer.", worker.member.id, "Worker")]
    response = await client.post(url(family), json={"lines": first}, headers=worker.headers)
    assert response.status == 200, await response.text()
    saved = await response.json()
    assert [entry["text"] for entry in saved["lines"]] == [SECRET_LINE, "Obrigado por me dizer."]
    assert saved["saved_by"] == worker.member.id

    # A page reloaded mid-call holds only the newer lines: saving them adds, and repeats count once.
    later = [first[1], line("Até à próxima.", family.guardian_id, at="2026-11-23T22:40:00+01:00", side_room="side-1")]
    response = await client.post(url(family), json={"lines": later}, headers=worker.headers)
    assert response.status == 200
    assert [entry["text"] for entry in (await response.json())["lines"]] == [
        "Até à próxima.", SECRET_LINE, "Obrigado por me dizer."]

    await host.send_json({"v": 1, "type": "end-session"})
    await receive_until(host, "session-ended")
    record = await record_of(client, family, supervisor)
    chat = record["chat"]
    assert [(entry["from"], entry["text"]) for entry in chat["lines"]][1:] == [
        (family.guardian_id, SECRET_LINE), (worker.member.id, "Obrigado por me dizer.")]
    assert chat["lines"][0]["at"] == "2026-11-23T21:40:00+00:00" and chat["lines"][0]["side_room"] == "side-1"

    async with app[DB]() as session:
        row = await session.get(SessionChat, family.session_id)
        assert row is not None and row.line_count == 3
        assert SECRET_LINE.encode() not in row.transcript_enc and b"grita" not in row.transcript_enc
        audited = (await session.execute(
            select(AuditEntry).where(AuditEntry.action == "session.chat.save"))).scalars().all()
    assert len(audited) == 2 and all(entry.target == f"session:{family.session_id}" for entry in audited)


async def test_a_chat_saved_after_the_session_ended_updates_the_record(
    client: TestClient, connect: Connect, worker: LoggedInStaff, family: Family
) -> None:
    host = await host_in_call(connect, worker, family)
    await host.send_json({"v": 1, "type": "end-session"})
    await receive_until(host, "session-ended")
    assert (await record_of(client, family, worker))["chat"] is None
    response = await client.post(url(family), json={"lines": [line("Adeus", worker.member.id)]}, headers=worker.headers)
    assert response.status == 200
    assert [entry["text"] for entry in (await record_of(client, family, worker))["chat"]["lines"]] == ["Adeus"]


async def test_bad_transcripts_are_refused_as_problems_and_store_nothing(
    app: web.Application, client: TestClient, worker: LoggedInStaff, family: Family
) -> None:
    good = line("olá", family.guardian_id)
    bad_bodies = {
        "no lines": ({}, "lines"),
        "empty list": ({"lines": []}, "lines"),
        "not a list": ({"lines": "olá"}, "lines"),
        "a line that is text": ({"lines": ["olá"]}, "lines[0]"),
        "too long": ({"lines": [good, {**good, "text": "x" * 1001}]}, "lines[1].text"),
        "empty text": ({"lines": [{**good, "text": ""}]}, "lines[0].text"),
        "a field of its own": ({"lines": [{**good, "html": "<b>"}]}, "lines[0].html"),
        "a time without offset": ({"lines": [{**good, "at": "2026-11-23T22:30:00"}]}, "lines[0].at"),
        "not a time": ({"lines": [{**good, "at": "yesterday"}]}, "lines[0].at"),
        "too many": ({"lines": [good] * 501}, "lines"),
        "unknown field": ({"lines": [good], "notes": "x"}, "notes"),
    }
    for label, (body, field) in bad_bodies.items():
        response = await client.post(url(family), json=body, headers=worker.headers)
        assert response.status == 422, label
        assert response.content_type == "application/problem+json"
        problem = await response.json()
        assert (problem["code"], problem["field"]) == ("invalid-field", field), label
    big = {"lines": [{**good, "text": "y" * 1000}] * 80}
    response = await client.post(url(family), json=big, headers=worker.headers)
    assert response.status == 413 and (await response.json())["code"] == "body-too-large"
    response = await client.post(url(family), data=b"{", headers={**worker.headers, "Content-Type": "application/json"})
    assert response.status == 400
    async with app[DB]() as session:
        assert (await session.execute(select(SessionChat))).scalars().all() == []


async def test_only_staff_of_the_case_may_save_a_chat(
    app: web.Application, client: TestClient, make_staff: MakeStaff, family: Family
) -> None:
    body = {"lines": [line("olá", family.guardian_id)]}
    assert (await client.post(url(family), json=body)).status == 401
    family_token = {"Authorization": f"Bearer {family.guardian_token}"}
    assert (await client.post(url(family), json=body, headers=family_token)).status == 401
    stranger, password = await make_staff(StaffRole.WORKER.value)
    token = (await login_through_api(client, stranger.username, password))["access_token"]
    response = await client.post(url(family), json=body, headers={"Authorization": f"Bearer {token}"})
    assert response.status == 404
    response = await client.post("/api/sessions/no-such-session/record/chat", json=body,
                                 headers={"Authorization": f"Bearer {token}"})
    assert response.status == 404
    async with app[DB]() as session:
        assert (await session.execute(select(SessionChat))).scalars().all() == []


async def test_the_host_saves_with_the_calls_resume_token_and_a_family_members_resume_token_is_refused(
    client: TestClient, connect: Connect, worker: LoggedInStaff, family: Family
) -> None:
    """The call page's access token lasts minutes; the resume token of its call lasts the session."""
    host_ws = await connect(worker.access_token, family.session_id)
    host_resume = (await receive(host_ws))["resume"]
    await receive_until(host_ws, "admitted")
    guardian_ws = await connect(family.guardian_token)
    guardian_resume = (await receive(guardian_ws))["resume"]
    body = {"lines": [line("olá", family.guardian_id)]}

    refused = await client.post(url(family), json=body, headers={"Authorization": f"Bearer {guardian_resume}"})
    assert refused.status == 403 and (await refused.json())["code"] == "forbidden"
    elsewhere = await client.post("/api/sessions/another-session/record/chat", json=body,
                                  headers={"Authorization": f"Bearer {host_resume}"})
    assert elsewhere.status == 404
    forged = await client.post(url(family), json=body, headers={"Authorization": f"Bearer {host_resume[:-4]}AAAA"})
    assert forged.status == 401
    saved = await client.post(url(family), json=body, headers={"Authorization": f"Bearer {host_resume}"})
    assert saved.status == 200 and (await saved.json())["saved_by"] == worker.member.id
