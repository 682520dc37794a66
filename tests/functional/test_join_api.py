"""The family side against the real app and database: /api/join/*, the consent gate over /ws, join codes, links."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from telepractice.appkeys import DB, SETTINGS, SIGNING_KEYS
from telepractice.auth.signing_keys import ALGORITHM
from telepractice.sessions.consent_texts import CURRENT_VERSION, ROOT
from telepractice.sessions.invites import JOIN_AUDIENCE
from telepractice.sessions import join as join_rules
from telepractice.sessions.join import ADDRESS_MAX_FAILURES, MAX_CODE_FAILURES
from telepractice.storage.models import (
    AuditEntry,
    ConsentRecord,
    ConsentRefusal,
    SessionInvite,
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
from tests.staff_fixtures import LoggedInStaff




async def post(client: TestClient, path: str, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
    response = await client.post(path, json=body)
    assert response.status == status, await response.text()
    return dict(await response.json())


async def agree(client: TestClient, token: str, participant: str | None = None, language: str = "pt") -> dict[str, Any]:
    body = {"token": token, "version": CURRENT_VERSION, "language": language, "decision": "agree"}
    if participant is not None:
        body["participant"] = participant
    return await post(client, "/api/join/consent", body)


async def audit_actions(app: web.Application) -> list[str]:
    async with app[DB]() as session:
        return list((await session.execute(select(AuditEntry.action).order_by(AuditEntry.seq))).scalars())


async def new_links(client: TestClient, worker: LoggedInStaff, session_id: str, **body: Any) -> list[dict[str, Any]]:
    response = await client.post(f"/api/sessions/{session_id}/invites", json=body, headers=worker.headers)
    assert response.status == 201, await response.text()
    return list((await response.json())["invites"])


def token_of(link: dict[str, Any]) -> str:
    return str(link["link"].split("#invite=", 1)[1])


# --- what the join page is told -----------------------------------------------


async def test_the_join_page_learns_the_session_the_first_name_and_what_consent_is_missing(
    client: TestClient, family: Family
) -> None:
    summary = await post(client, "/api/join/check", {"token": family.guardian_token})
    assert summary["participant"] == {"id": family.guardian_id, "first_name": "Rita", "language": "pt",
                                      "is_minor": False}
    assert summary["session"]["planned_minutes"] == 60 and summary["session"]["kind"] == "family"
    assert summary["consent"]["on_record"] is True
    steps = {(step["participant"], step["kind"]): step for step in summary["consent"]["steps"]}
    assert steps[(family.guardian_id, "consent")]["on_record"] is True
    assert steps[(family.child_id, "consent")] == {**steps[(family.child_id, "consent")], "audience": "guardian",
                                                  "first_name": "Tiago", "on_record": False}
    assert summary["join_code_required"] is False

    child = await post(client, "/api/join/check", {"token": family.child_token})
    assert child["consent"]["on_record"] is False
    assert [(s["kind"], s["audience"]) for s in child["consent"]["steps"]] == [("assent", "child")]


async def test_a_check_without_its_token_names_the_missing_field(client: TestClient, family: Family) -> None:
    """The token only travels in a body or a header: a body without it is a clear 422."""
    response = await client.post("/api/join/check", json={})
    assert response.status == 422
    assert (await response.json())["field"] == "token"


# --- the consent gate, enforced by the server ---------------------------------


async def test_a_client_that_skips_the_consent_screen_still_cannot_be_admitted(
    connect: Connect, client: TestClient, worker: LoggedInStaff, family: Family
) -> None:
    host = await host_in_call(connect, worker, family)
    child = await connect(family.child_token)  # straight to the socket, no consent asked for or given
    await receive_until(child, "waiting")
    waiting, _ = await receive_until(host, "participant-waiting")
    assert waiting["participant"]["consent_ok"] is False
    await host.send_json({"v": 1, "type": "admit", "participant": family.child_id})
    await refused_with(host, "consent-missing")

    # The guardian's consent alone is not enough for a minor; their own assent completes it.
    answer = await agree(client, family.guardian_token, participant=family.child_id)
    assert answer == {**answer, "kind": "consent", "may_be_admitted": False}
    await host.send_json({"v": 1, "type": "admit", "participant": family.child_id})
    await refused_with(host, "consent-missing")
    answer = await agree(client, family.child_token)
    assert answer == {**answer, "kind": "assent", "may_be_admitted": True}
    told, _ = await receive_until(host, "participant-waiting")  # the host hears at once that consent is complete
    assert told["participant"]["id"] == family.child_id and told["participant"]["consent_ok"] is True
    await host.send_json({"v": 1, "type": "admit", "participant": family.child_id})
    await receive_until(child, "admitted")
    assert {"consent.given", "assent.given"} <= set(await audit_actions(client.app))


async def test_the_server_records_its_own_hash_of_the_version_shown(client: TestClient, family: Family) -> None:
    await agree(client, family.child_token, language="en")
    async with client.app[DB]() as session:
        record = (await session.execute(
            select(ConsentRecord).where(ConsentRecord.participant_id == family.child_id))).scalar_one()
    expected = hashlib.sha256((ROOT / CURRENT_VERSION / "en" / "child.md").read_bytes()).hexdigest()
    assert (record.text_version, record.text_hash, record.language, record.method) == (
        CURRENT_VERSION, expected, "en", "browser")
    assert record.given_by_participant_id == family.child_id


async def test_a_consent_to_a_version_that_does_not_exist_is_refused_and_nothing_written(
    client: TestClient, family: Family
) -> None:
    body = {"token": family.child_token, "version": "1999-01", "language": "pt", "decision": "agree"}
    response = await client.post("/api/join/consent", json=body)
    assert response.status == 422 and (await response.json())["field"] == "version"
    body = {**body, "version": CURRENT_VERSION, "sha256": "0" * 64}
    response = await client.post("/api/join/consent", json=body)
    assert response.status == 422 and (await response.json())["field"] == "sha256"  # a client hash is not taken
    async with client.app[DB]() as session:
        count = await session.scalar(select(func.count()).select_from(ConsentRecord)
                                     .where(ConsentRecord.participant_id == family.child_id))
    assert count == 0


async def test_a_refusal_is_recorded_and_admits_nobody(
    connect: Connect, client: TestClient, worker: LoggedInStaff, family: Family
) -> None:
    host = await host_in_call(connect, worker, family)
    child = await connect(family.child_token)
    await receive_until(child, "waiting")
    await receive_until(host, "participant-waiting")
    answer = await post(client, "/api/join/consent", {"token": family.child_token, "version": CURRENT_VERSION,
                                                       "language": "pt", "decision": "refuse"})
    assert answer["may_be_admitted"] is False
    await host.send_json({"v": 1, "type": "admit", "participant": family.child_id})
    await refused_with(host, "consent-missing")
    async with client.app[DB]() as session:
        refusal = (await session.execute(select(ConsentRefusal))).scalar_one()
    assert (refusal.participant_id, refusal.kind, refusal.refused_by_participant_id) == (
        family.child_id, "assent", family.child_id)
    assert "assent.refused" in await audit_actions(client.app)
    case = await (await client.get("/api/cases/WS-0001", headers=worker.headers)).json()
    [shown] = case["consent_refusals"]  # the worker sees the refusal in the case record
    assert (shown["participant_id"], shown["kind"], shown["text_version"]) == (family.child_id, "assent", CURRENT_VERSION)


async def test_consent_text_comes_in_the_persons_language_and_role_with_its_hash(
    client: TestClient, family: Family
) -> None:
    headers = {"Authorization": f"Bearer {family.guardian_token}"}
    own = await (await client.get("/api/join/consent-text", headers=headers)).json()
    assert (own["audience"], own["kind"], own["language"], own["version"]) == ("adult", "consent", "pt",
                                                                              CURRENT_VERSION)
    assert own["sha256"] == hashlib.sha256(own["text"].encode()).hexdigest()
    response = await client.get(f"/api/join/consent-text?participant={family.child_id}&language=en", headers=headers)
    for_child = await response.json()
    assert (for_child["audience"], for_child["language"]) == ("guardian", "en")
    assert "not recorded" in for_child["text"].lower() or "nothing is recorded" in for_child["text"].lower()

    child_headers = {"Authorization": f"Bearer {family.child_token}"}
    response = await client.get(f"/api/join/consent-text?participant={family.guardian_id}", headers=child_headers)
    assert response.status == 404  # a child cannot consent for their guardian
    assert (await client.get("/api/join/consent-text")).status == 401


# --- withdrawal -----------------------------------------------------------------


async def test_withdrawal_mid_call_removes_the_person_and_blocks_reconnection(
    connect: Connect, client: TestClient, worker: LoggedInStaff, family: Family
) -> None:
    host = await host_in_call(connect, worker, family)
    guardian = await connect(family.guardian_token)
    welcome = await receive(guardian)
    resume = welcome["resume"]
    await receive_until(host, "participant-waiting")
    await host.send_json({"v": 1, "type": "admit", "participant": family.guardian_id})
    await receive_until(guardian, "admitted")

    answer = await post(client, "/api/join/consent/withdraw", {"token": family.guardian_token})
    assert answer == {"participant": family.guardian_id, "withdrawn": 1}
    removed, _ = await receive_until(guardian, "removed")
    assert removed["reason"] == "consent-withdrawn"
    assert await closed_with(guardian) == 4011
    left, _ = await receive_until(host, "presence")
    while left["event"] != "left":
        left, _ = await receive_until(host, "presence")
    assert (left["event"], left["participant"]["id"], left["reason"]) == ("left", family.guardian_id,
                                                                         "consent-withdrawn")

    for token in (family.guardian_token, resume):  # neither the link nor the resume token brings them back
        again = await connect(token)
        await refused_with(again, "not-authenticated")
        assert await closed_with(again) == 4001
    response = await client.post("/api/join/check", json={"token": family.guardian_token})
    assert response.status == 410 and (await response.json())["code"] == "link-revoked"
    async with client.app[DB]() as session:
        record = (await session.execute(
            select(ConsentRecord).where(ConsentRecord.participant_id == family.guardian_id))).scalar_one()
    assert record.withdrawn_at is not None and record.withdrawn_by == f"participant:{family.guardian_id}"
    assert "consent.withdrawn" in await audit_actions(client.app)


# --- links: expired, revoked, reused, another case's -----------------------------


async def test_an_expired_link_is_refused(connect: Connect, client: TestClient, app: web.Application,
                                          family: Family) -> None:
    key, past = app[SIGNING_KEYS].current, int(time.time()) - 3600
    claims = {"iss": app[SETTINGS].issuer, "aud": JOIN_AUDIENCE, "sub": family.guardian_id, "iat": past,
              "nbf": past, "exp": past + 600, "session": family.session_id, "jti": family.guardian_invite}
    expired = jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})
    response = await client.post("/api/join/check", json={"token": expired})
    assert response.status == 401
    ws = await connect(expired)
    await refused_with(ws, "not-authenticated")
    assert await closed_with(ws) == 4001


async def test_a_revoked_link_is_refused_everywhere(
    connect: Connect, client: TestClient, worker: LoggedInStaff, family: Family
) -> None:
    path = f"/api/sessions/{family.session_id}/invites/{family.guardian_invite}/revoke"
    response = await client.post(path, json={}, headers=worker.headers)
    assert response.status == 200 and (await response.json())["revoked"] is True
    response = await client.post("/api/join/check", json={"token": family.guardian_token})
    assert response.status == 410
    ws = await connect(family.guardian_token)
    await refused_with(ws, "not-authenticated")
    assert "invite.revoke" in await audit_actions(client.app)


async def test_a_reused_link_stops_working_once_a_new_one_is_issued(
    connect: Connect, client: TestClient, worker: LoggedInStaff, family: Family
) -> None:
    links = await new_links(client, worker, family.session_id, participants=[family.guardian_id])
    assert links[0]["link"].startswith(f"{client.app[SETTINGS].public_origin}/join#invite=")
    old = await connect(family.guardian_token)
    await refused_with(old, "not-authenticated")
    new = await connect(token_of(links[0]))
    assert (await receive(new))["type"] == "welcome"


async def test_a_participant_of_one_case_cannot_reach_another_cases_session(
    connect: Connect, client: TestClient, app: web.Application, worker: LoggedInStaff, supervisor: LoggedInStaff,
    family: Family,
) -> None:
    other = await schedule_family_session(app, worker.member, supervisor.member, reference="WS-0002")
    ws = await connect(family.guardian_token, other.session_id)
    await refused_with(ws, "wrong-room")
    assert await closed_with(ws) == 4003
    # Nor consent for a member of the other case through one's own link.
    body = {"token": family.guardian_token, "participant": other.child_id, "version": CURRENT_VERSION,
            "language": "pt", "decision": "agree"}
    assert (await client.post("/api/join/consent", json=body)).status == 404
    assert (await client.post("/api/join/consent/withdraw",
                              json={"token": family.guardian_token, "participant": other.guardian_id})).status == 404
    refused = [action for action in await audit_actions(client.app) if action.endswith(".refused-access")]
    assert refused == ["consent.give.refused-access", "consent.withdraw.refused-access"]


# --- join codes -----------------------------------------------------------------


async def test_a_link_with_a_join_code_opens_the_socket_only_after_the_code(
    connect: Connect, client: TestClient, worker: LoggedInStaff, family: Family
) -> None:
    link = (await new_links(client, worker, family.session_id, participants=[family.guardian_id], join_code=True))[0]
    code, token = link["code"], token_of(link)
    assert len(code) == 6 and code.isdigit() and link["join_code"] is True
    async with client.app[DB]() as session:
        stored = await session.get(SessionInvite, link["id"])
    assert stored is not None and stored.join_code_hash is not None and code not in stored.join_code_hash

    before = await post(client, "/api/join/check", {"token": token})
    assert before["join_code_required"] is True and "first_name" not in before["participant"]
    ws = await connect(token)
    await refused_with(ws, "join-code-required")
    assert await closed_with(ws) == 4001
    response = await client.post("/api/join/consent/withdraw", json={"token": token})
    assert response.status == 401 and (await response.json())["code"] == "join-code-required"

    verified = (await post(client, "/api/join/code", {"token": token, "code": code}))["token"]
    after = await post(client, "/api/join/check", {"token": verified})
    assert after["participant"]["first_name"] == "Rita" and after["join_code_verified"] is True
    ws = await connect(verified)
    assert (await receive(ws))["type"] == "welcome"


async def test_a_join_code_brute_force_locks_the_link(
    connect: Connect, client: TestClient, worker: LoggedInStaff, family: Family
) -> None:
    link = (await new_links(client, worker, family.session_id, participants=[family.guardian_id], join_code=True))[0]
    token, right = token_of(link), link["code"]
    wrong = [f"{(int(right) + n) % 1_000_000:06d}" for n in range(1, MAX_CODE_FAILURES + 2)]
    for n, code in enumerate(wrong[: MAX_CODE_FAILURES - 1], start=1):
        problem = await post(client, "/api/join/code", {"token": token, "code": code}, status=422)
        assert problem["code"] == "wrong-join-code" and problem["tries_left"] == MAX_CODE_FAILURES - n
    problem = await post(client, "/api/join/code", {"token": token, "code": wrong[-1]}, status=423)
    assert problem["code"] == "link-locked"
    # Locked for good: the right code no longer helps, nor does the socket.
    problem = await post(client, "/api/join/code", {"token": token, "code": right}, status=423)
    assert "new one" in problem["title"]
    ws = await connect(token)
    await refused_with(ws, "not-authenticated")
    actions = await audit_actions(client.app)
    assert actions.count("join.code.wrong") == MAX_CODE_FAILURES


async def test_wrong_codes_from_one_address_across_links_must_wait(
    client: TestClient, app: web.Application, worker: LoggedInStaff, supervisor: LoggedInStaff, family: Family,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The throttle's clock stands still: the first wait after the limit is 2 s, which a loaded machine could
    # spend between two requests, letting one more wrong code through and making the count below flaky.
    frozen = utcnow()
    monkeypatch.setattr(join_rules, "utcnow", lambda: frozen)
    sessions = [family.session_id]
    for number in range(2, 4):
        other = await schedule_family_session(app, worker.member, supervisor.member, reference=f"WS-000{number}")
        sessions.append(other.session_id)
    tokens = []
    for session_id in sessions:
        for link in await new_links(client, worker, session_id, join_code=True):
            tokens.append((token_of(link), link["code"]))
    tries = 0
    status = 0
    for token, right in tokens:
        for _ in range(MAX_CODE_FAILURES - 1):  # stay under each link's lock
            wrong = f"{(int(right) + 1) % 1_000_000:06d}"
            response = await client.post("/api/join/code", json={"token": token, "code": wrong})
            status, tries = response.status, tries + 1
            if status == 429:
                assert int(response.headers["Retry-After"]) > 0
                assert (await response.json())["code"] == "too-many-attempts"
                break
        if status == 429:
            break
    assert status == 429 and tries == ADDRESS_MAX_FAILURES + 1

