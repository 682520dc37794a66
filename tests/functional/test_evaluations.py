"""POST /api/join/evaluation: once per family member, after the session, within a day, the comment sealed."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import select, update

from telepractice.appkeys import DB
from telepractice.storage.models import EvaluationAnswer, SessionRecord
from tests.functional.test_safety_alerts import everyone_in_the_call, until
from tests.functional.test_signaling_ws import (
    Connect,
    Family,
    admitted_guardian,
    closed_with,
    host_in_call,
    receive_until,
    schedule_family_session,
)
from tests.staff_fixtures import LoggedInStaff

COMMENT = "A Rita gostou de falar com a técnica."


def answers(**extra: Any) -> dict[str, Any]:
    return {"usefulness": 4, "comfort": 5, "comment": COMMENT, "language": "pt", **extra}


async def ended(client: TestClient, connect: Connect, worker: LoggedInStaff, family: Family) -> None:
    """The guardian took part, then the host ended the session and its record was written."""
    host = await host_in_call(connect, worker, family)
    await admitted_guardian(connect, host, family)
    await host.send_json({"v": 1, "type": "end-session"})
    await receive_until(host, "session-ended")

    async def record() -> dict[str, Any] | None:
        response = await client.get(f"/api/sessions/{family.session_id}/record", headers=worker.headers)
        return await response.json() if response.status == 200 else None

    await until(record)


async def post(client: TestClient, body: dict[str, Any], **headers: str) -> tuple[int, dict[str, Any]]:
    response = await client.post("/api/join/evaluation", json=body, headers=headers)
    return response.status, await response.json()


async def test_a_family_member_answers_once_after_the_session_and_the_record_has_the_answers(
    app: web.Application, client: TestClient, connect: Connect, worker: LoggedInStaff, family: Family
) -> None:
    await ended(client, connect, worker, family)
    status, body = await post(client, answers(token=family.guardian_token, session=family.session_id))
    assert status == 201, body
    assert body["participant_id"] == family.guardian_id

    record = await (await client.get(f"/api/sessions/{family.session_id}/record", headers=worker.headers)).json()
    [answer] = record["evaluation_answers"]
    assert (answer["participant_id"], answer["usefulness"], answer["comfort"], answer["comment"], answer["language"]) == (
        family.guardian_id, 4, 5, COMMENT, "pt")
    async with app[DB]() as session:
        row = (await session.execute(select(EvaluationAnswer))).scalar_one()
    assert row.comment_enc is not None and COMMENT.encode() not in row.comment_enc

    status, body = await post(client, answers(token=family.guardian_token))
    assert (status, body["code"]) == (409, "evaluation-already-answered")


async def test_the_token_may_ride_in_the_authorization_header_but_never_in_the_url(
    client: TestClient, connect: Connect, worker: LoggedInStaff, family: Family
) -> None:
    await ended(client, connect, worker, family)
    response = await client.post(f"/api/join/evaluation?token={family.guardian_token}", json=answers())
    assert response.status == 401
    status, body = await post(client, answers(), Authorization=f"Bearer {family.guardian_token}")
    assert status == 201, body


async def test_someone_who_left_answers_while_the_session_goes_on_but_not_while_still_in_it(
    client: TestClient, connect: Connect, worker: LoggedInStaff, family: Family
) -> None:
    host = await host_in_call(connect, worker, family)
    guardian = await admitted_guardian(connect, host, family)

    async def refused_while_in_it() -> dict[str, Any] | None:
        status, body = await post(client, answers(token=family.guardian_token))
        return body if status != 403 else None  # until attendance has their admission

    body = await until(refused_while_in_it)
    assert (body["status"], body["code"]) == (409, "evaluation-not-open")
    await guardian.send_json({"v": 1, "type": "leave"})
    assert await closed_with(guardian) == 1000
    await receive_until(host, "presence")

    async def accepted() -> bool:
        status, _ = await post(client, answers(token=family.guardian_token, comment=None))
        return status == 201

    assert await until(accepted)


async def test_non_participants_another_session_staff_and_bad_answers_are_refused(
    app: web.Application, client: TestClient, connect: Connect, worker: LoggedInStaff, supervisor: LoggedInStaff,
    family: Family,
) -> None:
    await ended(client, connect, worker, family)
    status, body = await post(client, answers(token=family.child_token))  # invited, never joined
    assert (status, body["code"]) == (403, "not-a-participant")
    other = await schedule_family_session(app, worker.member, supervisor.member, reference="WS-0002")
    status, body = await post(client, answers(token=family.guardian_token, session=other.session_id))
    assert (status, body["code"]) == (403, "wrong-session")
    status, body = await post(client, answers(token=other.guardian_token))  # a session that has not even started
    assert (status, body["code"]) == (403, "not-a-participant")
    status, body = await post(client, answers(token=worker.access_token))
    assert status == 401
    status, body = await post(client, answers())
    assert status == 401
    status, body = await post(client, answers(token=family.guardian_token, usefulness=6))
    assert (status, body["field"]) == (422, "usefulness")
    status, body = await post(client, answers(token=family.guardian_token, comment="x" * 1001))
    assert (status, body["field"]) == (422, "comment")
    async with app[DB]() as session:
        assert (await session.execute(select(EvaluationAnswer))).first() is None


async def test_the_evaluation_closes_a_day_after_the_session(
    app: web.Application, client: TestClient, connect: Connect, worker: LoggedInStaff, family: Family
) -> None:
    await ended(client, connect, worker, family)
    async with app[DB]() as session, session.begin():
        await session.execute(update(SessionRecord).where(SessionRecord.session_id == family.session_id)
                              .values(actual_end=dt.datetime.now(dt.UTC) - dt.timedelta(hours=25)))
    status, body = await post(client, answers(token=family.guardian_token))
    assert (status, body["code"]) == (410, "evaluation-closed")


async def test_the_questions_come_in_portuguese_and_english(client: TestClient) -> None:
    pt = await (await client.get("/api/join/evaluation/questions?language=pt")).json()
    en = await (await client.get("/api/join/evaluation/questions?language=en")).json()
    assert set(pt["questions"]) == set(en["questions"]) == {"usefulness", "comfort", "comment"}
    assert pt["questions"]["usefulness"] != en["questions"]["usefulness"] and pt["max_comment_chars"] == 1000
    assert (await client.get("/api/join/evaluation/questions?language=fr")).status == 422


async def test_answers_given_before_the_session_ends_are_in_its_record(
    app: web.Application, client: TestClient, connect: Connect, worker: LoggedInStaff, family: Family
) -> None:
    host, _guardian, child = await everyone_in_the_call(app, connect, worker, family)
    await child.send_json({"v": 1, "type": "leave"})
    await receive_until(host, "presence")

    async def accepted() -> bool:
        status, _ = await post(client, answers(token=family.child_token, usefulness=2, comment="ok"))
        return status == 201

    assert await until(accepted)
    await host.send_json({"v": 1, "type": "end-session"})

    async def record() -> dict[str, Any] | None:
        response = await client.get(f"/api/sessions/{family.session_id}/record", headers=worker.headers)
        return await response.json() if response.status == 200 else None

    answers_in_record = (await until(record))["evaluation_answers"]
    assert [(a["participant_id"], a["usefulness"], a["comment"]) for a in answers_in_record] == [
        (family.child_id, 2, "ok")]
