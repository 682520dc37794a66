"""A withdrawal recorded by staff, with a note: validated, sealed with the case key, audited, shown in the records."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from telepractice.appkeys import DB, KEYRING
from telepractice.audit import AuditLog
from telepractice.cases.export import build_export, render_html
from telepractice.crypto.case_keys import open_case
from telepractice.storage.models import AuditEntry, ConsentRecord
from tests.functional.test_signaling_ws import (
    Connect,
    Family,
    admitted_guardian,
    closed_with,
    host_in_call,
    receive_until,
)
from tests.staff_fixtures import LoggedInStaff, login_through_api

NOTE = "A mãe telefonou às 10h: já não quer sessões por vídeo. Explicado como voltar a consentir."




def withdraw_path(family: Family, reference: str = "WS-0001") -> str:
    return f"/api/cases/{reference}/participants/{family.guardian_id}/consent/withdraw"


async def consent_rows(app: web.Application, family: Family) -> list[ConsentRecord]:
    async with app[DB]() as session:
        rows = await session.execute(select(ConsentRecord).where(ConsentRecord.participant_id == family.guardian_id))
        return list(rows.scalars())


async def audit_entries(app: web.Application, action: str) -> list[AuditEntry]:
    async with app[DB]() as session:
        return list((await session.execute(select(AuditEntry).where(AuditEntry.action == action))).scalars())


async def record_once_written(client: TestClient, reader: LoggedInStaff, session_id: str) -> dict[str, Any]:
    """The session record, once the attendance hook has written it (just after the room closed the sockets)."""
    for _ in range(100):
        response = await client.get(f"/api/sessions/{session_id}/record", headers=reader.headers)
        if response.status != 404:
            assert response.status == 200, await response.text()
            return dict(await response.json())
        await asyncio.sleep(0.1)
    raise AssertionError("the session record was not written within 10 s of the end")


async def test_a_note_is_kept_sealed_audited_and_shown_in_the_session_record_and_the_export(
    connect: Connect, client: TestClient, app: web.Application, worker: LoggedInStaff, supervisor: LoggedInStaff,
    family: Family,
) -> None:
    host = await host_in_call(connect, worker, family)
    guardian = await admitted_guardian(connect, host, family)
    response = await client.post(withdraw_path(family), json={"note": f"  {NOTE}\n"}, headers=supervisor.headers)
    assert response.status == 200, await response.text()
    assert await response.json() == {"participant": family.guardian_id, "withdrawn": 1, "note": True}
    assert (await receive_until(guardian, "removed"))[0]["reason"] == "consent-withdrawn"
    assert await closed_with(guardian) == 4011

    [row] = await consent_rows(app, family)
    assert row.withdrawn_at is not None and row.withdrawal_note_enc is not None
    assert NOTE.encode() not in row.withdrawal_note_enc and "telefonou".encode() not in row.withdrawal_note_enc
    async with app[DB]() as session:
        cipher = await open_case(session, app[KEYRING], row.case_id)
    assert cipher.decrypt("consent_records", "withdrawal_note", row.id, row.withdrawal_note_enc) == NOTE
    [entry] = await audit_entries(app, "consent.withdrawal-note")
    assert entry.actor == f"staff:{supervisor.member.id}" and "telefonou" not in (entry.detail or "")
    assert row.id in (entry.detail or "")

    await host.send_json({"v": 1, "type": "end-session"})
    assert await closed_with(host) == 4000
    record = await record_once_written(client, worker, family.session_id)
    [withdrawal] = record["consent_withdrawals"]
    assert (withdrawal["participant_id"], withdrawal["kind"], withdrawal["note"]) == (family.guardian_id, "consent", NOTE)
    assert withdrawal["withdrawn_by"] == f"staff:{supervisor.member.id}"

    # The case record itself (what the console shows) carries both events of the consent, and the note.
    response = await client.get("/api/cases/WS-0001", headers=worker.headers)
    assert response.status == 200, await response.text()
    [history] = (await response.json())["consent_history"]
    assert (history["participant_id"], history["withdrawal_note"]) == (family.guardian_id, NOTE)
    assert history["given_at"] < history["withdrawn_at"] and history["text_version"]

    document = await build_export(app[DB], app[KEYRING], AuditLog(), "WS-0001", "test")
    assert [c["withdrawal_note"] for c in document["consent_history"]] == [NOTE]
    assert "telefonou às 10h" in render_html(document)


async def test_a_withdrawal_without_a_note_still_works_as_before(
    client: TestClient, app: web.Application, worker: LoggedInStaff, family: Family
) -> None:
    response = await client.post(withdraw_path(family), json={}, headers=worker.headers)
    assert await response.json() == {"participant": family.guardian_id, "withdrawn": 1, "note": False}
    [row] = await consent_rows(app, family)
    assert row.withdrawn_at is not None and row.withdrawal_note_enc is None
    assert await audit_entries(app, "consent.withdrawal-note") == []


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"note": "x" * 2001}, 422, "invalid-field"),
    ({"note": " \n\t "}, 422, "invalid-field"),
    ({"note": 42}, 422, "invalid-field"),
    ({"note": "ok", "reason": "extra"}, 422, "invalid-field"),
])
async def test_a_bad_note_is_refused_and_changes_nothing(
    client: TestClient, app: web.Application, worker: LoggedInStaff, family: Family,
    body: dict[str, Any], status: int, code: str | None,
) -> None:
    response = await client.post(withdraw_path(family), json=body, headers=worker.headers)
    problem = await response.json()
    assert (response.status, response.content_type, problem["code"]) == (status, "application/problem+json", code)
    assert problem["field"] in ("note", "reason"), problem
    [row] = await consent_rows(app, family)
    assert row.withdrawn_at is None and row.withdrawal_note_enc is None
    assert await audit_entries(app, "consent.withdrawn") == []


async def test_a_note_with_no_consent_standing_is_refused_rather_than_lost(
    client: TestClient, app: web.Application, worker: LoggedInStaff, family: Family
) -> None:
    assert (await client.post(withdraw_path(family), json={}, headers=worker.headers)).status == 200
    response = await client.post(withdraw_path(family), json={"note": "Outra vez."}, headers=worker.headers)
    assert response.status == 409 and (await response.json())["code"] == "conflict"
    [row] = await consent_rows(app, family)
    assert row.withdrawal_note_enc is None
    assert len(await audit_entries(app, "consent.withdrawn")) == 1


async def test_another_teams_worker_cannot_withdraw_or_leave_a_note(
    client: TestClient, app: web.Application, make_staff: Any, family: Family
) -> None:
    member, password = await make_staff("worker", "stranger.worker")
    pair = await login_through_api(client, "stranger.worker", password)
    stranger = LoggedInStaff(member, password, pair["access_token"], pair["refresh_token"])
    response = await client.post(withdraw_path(family), json={"note": NOTE}, headers=stranger.headers)
    assert response.status == 404
    [row] = await consent_rows(app, family)
    assert row.withdrawn_at is None and row.withdrawal_note_enc is None
    assert [e.action for e in await audit_entries(app, "consent.withdraw.refused-access")] == [
        "consent.withdraw.refused-access"]
