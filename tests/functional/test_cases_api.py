"""Case records through the API: who sees what, encryption on the way in, bad input refused."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from telepractice.appkeys import DB
from telepractice.storage.models import AuditEntry, Case, CaseNote, FamilyParticipant

PROBLEM_KEYS = {"type", "title", "status", "detail", "code"}


async def _count(client: TestClient, model: type) -> int:
    async with client.app[DB]() as session:
        return (await session.execute(select(func.count()).select_from(model))).scalar_one()


async def _open_case(client: TestClient, worker: Any, supervisor: Any, reference: str = "FAM-0001") -> dict:
    response = await client.post(
        "/api/cases", json={"reference": reference, "risk_level": "high", "supervisor_id": supervisor.member.id},
        headers=worker.headers,
    )
    assert response.status == 201, await response.text()
    return await response.json()


async def _add_member(client: TestClient, staff: Any, reference: str, **fields: Any):  # type: ignore[no-untyped-def]
    body = {"display_name": "Ana Family", "role": "guardian", **fields}
    return await client.post(f"/api/cases/{reference}/participants", json=body, headers=staff.headers)


async def test_worker_opens_a_case_and_reads_back_the_family_decrypted(client: TestClient, worker, supervisor) -> None:  # type: ignore[no-untyped-def]
    await _open_case(client, worker, supervisor)
    guardian = await (await _add_member(client, worker, "FAM-0001", contact="+351 911 111 111")).json()
    child = await _add_member(client, worker, "FAM-0001", display_name="Bia Family", role="child",
                              is_minor=True, guardian_id=guardian["id"], preferred_language="en")
    assert child.status == 201
    note = await client.post("/api/cases/FAM-0001/notes", json={"body": "Visited school."}, headers=worker.headers)
    assert note.status == 201

    record = await (await client.get("/api/cases/FAM-0001", headers=worker.headers)).json()
    assert [p["display_name"] for p in record["participants"]] == ["Ana Family", "Bia Family"]
    assert record["participants"][0]["contact"] == "+351 911 111 111"
    assert record["participants"][1]["guardian_id"] == guardian["id"]
    assert [n["body"] for n in record["notes"]] == ["Visited school."]
    assert worker.member.id in record["worker_ids"]

    async with client.app[DB]() as session:
        stored = (await session.execute(select(FamilyParticipant))).scalars().all()
        actions = list((await session.execute(select(AuditEntry.action).order_by(AuditEntry.seq))).scalars())
    assert all(b"Ana" not in row.display_name_enc and b"Bia" not in row.display_name_enc for row in stored)
    assert actions[-5:] == ["case.create", "case.participant.add", "case.participant.add", "case.note.add", "case.read"]


async def test_supervisor_sees_the_cases_they_supervise_only(client: TestClient, worker, supervisor, make_staff, staff_token) -> None:  # type: ignore[no-untyped-def]
    await _open_case(client, worker, supervisor)
    other, password = await make_staff("supervisor", "other.supervisor")
    other_headers = {"Authorization": f"Bearer {await staff_token(client, 'other.supervisor', password)}"}
    mine = await (await client.get("/api/cases", headers=supervisor.headers)).json()
    theirs = await (await client.get("/api/cases", headers=other_headers)).json()
    assert [case["reference"] for case in mine["cases"]] == ["FAM-0001"]
    assert theirs["cases"] == []
    assert (await client.get("/api/cases/FAM-0001", headers=supervisor.headers)).status == 200


async def test_another_workers_case_is_not_found_and_stays_unchanged(client: TestClient, worker, supervisor, make_staff, staff_token) -> None:  # type: ignore[no-untyped-def]
    await _open_case(client, worker, supervisor)
    _, password = await make_staff("worker", "other.worker")
    intruder = type("Staff", (), {"headers": {"Authorization": f"Bearer {await staff_token(client, 'other.worker', password)}"}})
    before = await _count(client, FamilyParticipant), await _count(client, CaseNote)
    for response in (
        await client.get("/api/cases/FAM-0001", headers=intruder.headers),
        await _add_member(client, intruder, "FAM-0001"),
        await client.post("/api/cases/FAM-0001/notes", json={"body": "x"}, headers=intruder.headers),
    ):
        assert response.status == 404
        assert set(await response.json()) == PROBLEM_KEYS
    assert (await _count(client, FamilyParticipant), await _count(client, CaseNote)) == before


async def test_admin_may_not_read_case_records(client: TestClient, worker, supervisor, admin) -> None:  # type: ignore[no-untyped-def]
    await _open_case(client, worker, supervisor)
    assert (await client.get("/api/cases/FAM-0001", headers=admin.headers)).status == 403
    assert (await client.get("/api/cases", headers=admin.headers)).status == 403


async def test_case_routes_need_a_token(client: TestClient) -> None:
    for response in (await client.get("/api/cases"), await client.get("/api/cases/FAM-0001")):
        assert response.status == 401
        assert response.content_type == "application/problem+json"


async def test_a_reference_cannot_be_taken_twice(client: TestClient, worker, supervisor) -> None:  # type: ignore[no-untyped-def]
    await _open_case(client, worker, supervisor)
    response = await client.post(
        "/api/cases", json={"reference": "FAM-0001", "risk_level": "low", "supervisor_id": supervisor.member.id},
        headers=worker.headers,
    )
    assert response.status == 409
    assert await _count(client, Case) == 1


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        (b"{not json", 400, "malformed-request"),
        (b'{"display_name": "A", "display_name": "B", "role": "guardian"}', 400, "malformed-request"),
        (b'["a list"]', 422, "invalid-field"),
        (b'{"display_name": "A", "role": "guardian", "favourite": 1}', 422, "invalid-field"),
        (b'{"display_name": 7, "role": "guardian"}', 422, "invalid-field"),
        (b'{"display_name": "A", "role": "guardian", "is_minor": "yes"}', 422, "invalid-field"),
        (b'{"display_name": "A", "role": "king"}', 422, "invalid-field"),
        (b'{"display_name": "", "role": "guardian"}', 422, "invalid-field"),
        (b'{"display_name": "A", "role": "child", "is_minor": true}', 422, "invalid-field"),
        (b'{"display_name": "A", "role": "child", "is_minor": true, "guardian_id": "nobody"}', 422, "invalid-field"),
        (json.dumps({"display_name": "A" * 100_000, "role": "guardian"}).encode(), 413, "body-too-large"),
        (b'{"display_name": NaN, "role": "guardian"}', 400, "malformed-request"),
        (b"\xff\xfe", 400, "malformed-request"),
    ],
)
async def test_bad_bodies_get_a_problem_and_change_nothing(client: TestClient, worker, supervisor, raw: bytes, status: int, code: str) -> None:  # type: ignore[no-untyped-def]
    await _open_case(client, worker, supervisor)
    before = await _count(client, FamilyParticipant)
    response = await client.post(
        "/api/cases/FAM-0001/participants", data=raw,
        headers={**worker.headers, "Content-Type": "application/json"},
    )
    assert response.status == status, await response.text()
    body = await response.json()
    assert set(body) >= PROBLEM_KEYS and body["code"] == code and body["status"] == status
    assert await _count(client, FamilyParticipant) == before


async def test_a_guardian_from_another_case_is_refused(client: TestClient, worker, supervisor) -> None:  # type: ignore[no-untyped-def]
    await _open_case(client, worker, supervisor, "FAM-0001")
    await _open_case(client, worker, supervisor, "FAM-0002")
    guardian = await (await _add_member(client, worker, "FAM-0001")).json()
    response = await _add_member(client, worker, "FAM-0002", role="child", is_minor=True, guardian_id=guardian["id"])
    assert response.status == 422
    assert (await response.json())["field"] == "guardian_id"


async def test_body_must_be_declared_json(client: TestClient, worker, supervisor) -> None:  # type: ignore[no-untyped-def]
    await _open_case(client, worker, supervisor)
    response = await client.post("/api/cases/FAM-0001/notes", data=b'{"body": "x"}',
                                 headers={**worker.headers, "Content-Type": "text/plain"})
    assert response.status == 415
