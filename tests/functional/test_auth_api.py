"""Staff logins over HTTP: tokens, refresh rotation and theft detection, logout, timeouts, throttling, bad input."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import logging
from typing import Any

import argon2
import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select, update

from telepractice.app import create_app
from telepractice.appkeys import DB, SETTINGS, SIGNING_KEYS
from telepractice.auth.logins import STAFF_AUDIENCE, refresh_token_hash
from telepractice.auth.passwords import HASHER
from telepractice.auth.tokens import issue_token, verify_token
from telepractice.config import Settings
from telepractice.storage.models import AuditEntry, LoginThrottle, RefreshToken, StaffLogin, StaffMember, utcnow
from tests.staff_fixtures import LoggedInStaff, MakeStaff
from tests.unit.test_tokens import forge

pytestmark = pytest.mark.postgresql
MAX_FAILURES = 3


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Fewer free attempts keep the throttling tests short; everything else is the default.
    return dataclasses.replace(settings, login_max_failures=MAX_FAILURES)


async def login(client: TestClient, username: str, password: str, **headers: str) -> Any:
    return await client.post("/api/auth/login", json={"username": username, "password": password}, headers=headers)


async def problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status == status, await response.text()
    assert response.content_type == "application/problem+json"
    body = await response.json()
    assert body["code"] == code
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def claims_of(app: web.Application, token: str) -> dict[str, Any]:
    return verify_token(app[SIGNING_KEYS], token, issuer=app[SETTINGS].issuer, audience=STAFF_AUDIENCE)


async def login_row(app: web.Application, login_id: str) -> StaffLogin:
    async with app[DB]() as session:
        row = await session.get(StaffLogin, login_id)
    assert row is not None
    return row


async def change_login(app: web.Application, login_id: str, **values: Any) -> None:
    async with app[DB]() as session, session.begin():
        await session.execute(update(StaffLogin).where(StaffLogin.id == login_id).values(**values))


async def audit_entries(app: web.Application, action: str | None = None) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.seq)
    if action:
        query = query.where(AuditEntry.action == action)
    async with app[DB]() as session:
        return list((await session.scalars(query)).all())


async def row_counts(app: web.Application) -> tuple[int, ...]:
    async with app[DB]() as session:
        return tuple(
            [await session.scalar(select(func.count()).select_from(model)) or 0
             for model in (AuditEntry, StaffLogin, RefreshToken, LoginThrottle, StaffMember)]
        )


async def test_login_gives_a_short_lived_access_token_and_a_refresh_token(
    client: TestClient, app: web.Application, make_staff: MakeStaff
) -> None:
    member, password = await make_staff("supervisor", "sofia.s")
    response = await login(client, "sofia.s", password)
    assert response.status == 200
    body = await response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 300
    assert len(body["refresh_token"]) >= 43
    claims = await claims_of(app, body["access_token"])
    assert claims["sub"] == member.id and claims["role"] == "supervisor" and claims["aud"] == STAFF_AUDIENCE
    assert claims["exp"] - claims["iat"] == 300 and claims["jti"]
    assert jwt.get_unverified_header(body["access_token"])["kid"] == app[SIGNING_KEYS].current.kid
    row = await login_row(app, claims["sid"])
    assert row.staff_id == member.id and row.ended_at is None
    async with app[DB]() as session:
        stored = await session.get(RefreshToken, refresh_token_hash(body["refresh_token"]))
    assert stored is not None and stored.login_id == row.id and stored.used_at is None


async def test_me_shows_the_logged_in_staff_member(client: TestClient, worker: LoggedInStaff) -> None:
    response = await client.get("/api/me", headers=worker.headers)
    assert response.status == 200
    assert await response.json() == {"id": worker.member.id, "username": "test.worker",
                                     "display_name": worker.member.display_name, "role": "worker"}


async def test_user_names_are_not_case_sensitive_at_login(client: TestClient, make_staff: MakeStaff) -> None:
    _member, password = await make_staff("worker", "marta.silva")
    assert (await login(client, " Marta.Silva", password)).status == 200


async def test_wrong_password_and_unknown_user_look_the_same(
    client: TestClient, app: web.Application, worker: LoggedInStaff
) -> None:
    wrong = await problem(await login(client, "test.worker", "not the password"), 401, "login-failed")
    unknown = await problem(await login(client, "nobody.here", "not the password"), 401, "login-failed")
    assert wrong == unknown
    failures = await audit_entries(app, "staff.login.failed")
    assert [(entry.target, json.loads(entry.detail)) for entry in failures] == [
        (f"staff:{worker.member.id}", {"reason": "wrong-password"}),
        ("staff:unknown", {"reason": "unknown-user"}),
    ]
    assert all("nobody.here" not in entry.actor + entry.target + entry.detail for entry in failures)


async def test_every_login_is_audited_without_the_password(app: web.Application, worker: LoggedInStaff) -> None:
    [entry] = await audit_entries(app, "staff.login")
    assert entry.actor == entry.target == f"staff:{worker.member.id}"
    assert worker.password not in entry.detail and "login" in json.loads(entry.detail)


async def test_an_old_hash_is_upgraded_at_the_next_login(
    client: TestClient, app: web.Application, make_staff: MakeStaff
) -> None:
    member, password = await make_staff()
    weak = argon2.PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(password)
    async with app[DB]() as session, session.begin():
        await session.execute(update(StaffMember).where(StaffMember.id == member.id).values(password_hash=weak))
    assert (await login(client, member.username, password)).status == 200
    async with app[DB]() as session:
        stored = await session.get(StaffMember, member.id)
    assert stored is not None and stored.password_hash != weak
    assert argon2.extract_parameters(stored.password_hash).memory_cost == HASHER.memory_cost
    assert json.loads((await audit_entries(app, "staff.login"))[-1].detail)["rehashed"] is True


async def test_refresh_rotates_the_refresh_token(client: TestClient, app: web.Application, worker: LoggedInStaff) -> None:
    response = await client.post("/api/auth/refresh", json={"refresh_token": worker.refresh_token})
    assert response.status == 200
    fresh = await response.json()
    assert fresh["refresh_token"] != worker.refresh_token and fresh["access_token"] != worker.access_token
    assert (await claims_of(app, fresh["access_token"]))["sid"] == (await claims_of(app, worker.access_token))["sid"]
    assert (await client.get("/api/me", headers=bearer(fresh["access_token"]))).status == 200
    async with app[DB]() as session:
        old = await session.get(RefreshToken, refresh_token_hash(worker.refresh_token))
    assert old is not None and old.used_at is not None


async def test_reusing_a_refresh_token_ends_the_whole_login(
    client: TestClient, app: web.Application, worker: LoggedInStaff
) -> None:
    fresh = await (await client.post("/api/auth/refresh", json={"refresh_token": worker.refresh_token})).json()
    reuse = await client.post("/api/auth/refresh", json={"refresh_token": worker.refresh_token})
    assert "used twice" in (await problem(reuse, 401, "not-authenticated"))["detail"]
    for token in (worker.access_token, fresh["access_token"]):
        await problem(await client.get("/api/me", headers=bearer(token)), 401, "not-authenticated")
    await problem(await client.post("/api/auth/refresh", json={"refresh_token": fresh["refresh_token"]}),
                  401, "not-authenticated")
    sid = (await claims_of(app, fresh["access_token"]))["sid"]
    assert (await login_row(app, sid)).end_reason == "refresh-reuse"
    [entry] = await audit_entries(app, "staff.refresh.reuse")
    assert entry.actor == f"staff:{worker.member.id}" and entry.target == f"login:{sid}"


async def test_an_unknown_refresh_token_is_refused(client: TestClient, worker: LoggedInStaff) -> None:
    response = await client.post("/api/auth/refresh", json={"refresh_token": worker.refresh_token[::-1]})
    await problem(response, 401, "not-authenticated")


async def test_logout_ends_the_login_and_its_tokens_at_once(
    client: TestClient, app: web.Application, worker: LoggedInStaff, staff_token: Any
) -> None:
    other_login = await staff_token(client, "test.worker", worker.password)
    assert (await client.post("/api/auth/logout", headers=worker.headers)).status == 204
    detail = (await problem(await client.get("/api/me", headers=worker.headers), 401, "not-authenticated"))["detail"]
    assert "ended" in detail
    await problem(await client.post("/api/auth/refresh", json={"refresh_token": worker.refresh_token}),
                  401, "not-authenticated")
    assert (await client.get("/api/me", headers=bearer(other_login))).status == 200
    assert len(await audit_entries(app, "staff.logout")) == 1


async def test_an_idle_login_ends(client: TestClient, app: web.Application, worker: LoggedInStaff) -> None:
    sid = (await claims_of(app, worker.access_token))["sid"]
    await change_login(app, sid, last_seen_at=utcnow() - dt.timedelta(minutes=15, seconds=1))
    detail = (await problem(await client.get("/api/me", headers=worker.headers), 401, "not-authenticated"))["detail"]
    assert "15 minutes without activity" in detail
    row = await login_row(app, sid)
    assert row.ended_at is not None and row.end_reason == "idle"
    await problem(await client.post("/api/auth/refresh", json={"refresh_token": worker.refresh_token}),
                  401, "not-authenticated")
    assert len(await audit_entries(app, "staff.login.timeout")) == 1


async def test_an_idle_login_cannot_be_revived_by_a_refresh(
    client: TestClient, app: web.Application, worker: LoggedInStaff
) -> None:
    sid = (await claims_of(app, worker.access_token))["sid"]
    await change_login(app, sid, last_seen_at=utcnow() - dt.timedelta(minutes=16))
    response = await client.post("/api/auth/refresh", json={"refresh_token": worker.refresh_token})
    assert "without activity" in (await problem(response, 401, "not-authenticated"))["detail"]
    assert (await login_row(app, sid)).end_reason == "idle"


async def test_a_login_ends_after_the_absolute_limit_even_when_active(
    client: TestClient, app: web.Application, worker: LoggedInStaff
) -> None:
    sid = (await claims_of(app, worker.access_token))["sid"]
    await change_login(app, sid, started_at=utcnow() - dt.timedelta(hours=12, seconds=1), last_seen_at=utcnow())
    detail = (await problem(await client.get("/api/me", headers=worker.headers), 401, "not-authenticated"))["detail"]
    assert "12 hours" in detail
    assert (await login_row(app, sid)).end_reason == "expired"


async def test_activity_is_recorded_at_most_every_thirty_seconds(
    client: TestClient, app: web.Application, worker: LoggedInStaff
) -> None:
    sid = (await claims_of(app, worker.access_token))["sid"]
    recent = utcnow() - dt.timedelta(seconds=20)
    await change_login(app, sid, last_seen_at=recent)
    assert (await client.get("/api/me", headers=worker.headers)).status == 200
    assert (await login_row(app, sid)).last_seen_at == recent
    stale = utcnow() - dt.timedelta(seconds=31)
    await change_login(app, sid, last_seen_at=stale)
    assert (await client.get("/api/me", headers=worker.headers)).status == 200
    assert utcnow() - (await login_row(app, sid)).last_seen_at < dt.timedelta(seconds=5)


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Basic dGVzdDp0ZXN0"}, {"Authorization": "Bearer"}, {"Authorization": "Bearer  "},
     {"Authorization": "Token abc"}],
)
async def test_requests_without_a_bearer_token_are_refused(client: TestClient, headers: dict[str, str]) -> None:
    await problem(await client.get("/api/me", headers=headers), 401, "not-authenticated")


async def test_a_token_in_the_query_string_is_never_accepted(client: TestClient, worker: LoggedInStaff) -> None:
    for name in ("access_token", "token", "bearer"):
        await problem(await client.get("/api/me", params={name: worker.access_token}), 401, "not-authenticated")


def _forged(app: web.Application, kind: str, sub: str, sid: str) -> str:
    keys, issuer = app[SIGNING_KEYS], app[SETTINGS].issuer
    now = int(utcnow().timestamp())
    payload = {"iss": issuer, "aud": STAFF_AUDIENCE, "sub": sub, "sid": sid, "role": "admin", "iat": now,
               "nbf": now, "exp": now + 300, "jti": "forged"}
    public = keys.current.public_key.public_bytes_raw()
    if kind == "alg-none":
        return forge({"alg": "none", "kid": keys.current.kid}, payload, lambda _: b"")
    if kind == "hs256-public-key":
        return forge({"alg": "HS256", "kid": keys.current.kid}, payload,
                     lambda data: hmac.new(public, data, hashlib.sha256).digest())
    if kind == "join-audience":
        return issue_token(keys, issuer=issuer, audience="telepractice:join", subject=sub,
                           ttl=dt.timedelta(minutes=5), claims={"sid": sid})
    if kind == "expired":
        expired = {**payload, "iat": now - 900, "nbf": now - 900, "exp": now - 60}
        return jwt.encode(expired, keys.current.private_key, algorithm="EdDSA", headers={"kid": keys.current.kid})
    if kind == "another-staff-members-login":
        return issue_token(keys, issuer=issuer, audience=STAFF_AUDIENCE, subject="someone-else",
                           ttl=dt.timedelta(minutes=5), claims={"sid": sid, "role": "admin"})
    raise AssertionError(kind)


@pytest.mark.parametrize(
    ("kind", "reason"),
    [("alg-none", "EdDSA"), ("hs256-public-key", "EdDSA"), ("join-audience", "another audience"),
     ("expired", "expired"), ("another-staff-members-login", "does not have")],
)
async def test_forged_tokens_naming_a_real_login_are_refused(
    client: TestClient, app: web.Application, worker: LoggedInStaff, kind: str, reason: str
) -> None:
    sid = (await claims_of(app, worker.access_token))["sid"]
    token = _forged(app, kind, worker.member.id, sid)
    body = await problem(await client.get("/api/me", headers=bearer(token)), 401, "not-authenticated")
    assert reason in body["detail"]
    assert all(part not in json.dumps(body) for part in token.split(".") if len(part) > 8)


async def test_failed_logins_are_slowed_down_per_account(
    client: TestClient, app: web.Application, make_staff: MakeStaff
) -> None:
    member, password = await make_staff()
    for _ in range(MAX_FAILURES):
        await problem(await login(client, member.username, "wrong password!"), 401, "login-failed")
    throttled = await login(client, member.username, password)
    body = await problem(throttled, 429, "too-many-attempts")
    retry_after = throttled.headers["Retry-After"]
    assert retry_after in {"1", "2"} and f"{retry_after} seconds" in body["detail"]
    # Checked without the password: a throttled wrong guess neither fails again nor counts.
    await problem(await login(client, member.username, "another guess!"), 429, "too-many-attempts")
    async with app[DB]() as session:
        row = await session.get(LoginThrottle, f"account:{member.username}")
    assert row is not None and row.failures == MAX_FAILURES
    assert [json.loads(e.detail)["reason"] for e in await audit_entries(app, "staff.login.failed")][-2:] == [
        "throttled", "throttled"]

    async with app[DB]() as session, session.begin():
        await session.execute(update(LoginThrottle).values(last_failure_at=utcnow() - dt.timedelta(seconds=3)))
    assert (await login(client, member.username, password)).status == 200
    async with app[DB]() as session:
        assert await session.get(LoginThrottle, f"account:{member.username}") is None


async def test_failed_logins_are_slowed_down_per_address_whatever_x_forwarded_for_says(
    client: TestClient, worker: LoggedInStaff
) -> None:
    allowance = MAX_FAILURES * 4
    for number in range(allowance):
        response = await login(client, f"guess.{number}", "wrong password!", **{"X-Forwarded-For": f"203.0.113.{number}"})
        await problem(response, 401, "login-failed")
    response = await login(client, "test.worker", worker.password, **{"X-Forwarded-For": "198.51.100.9"})
    await problem(response, 429, "too-many-attempts")


async def test_behind_a_proxy_the_forwarded_address_is_throttled(aiohttp_client: Any, settings: Settings) -> None:
    proxied = await aiohttp_client(create_app(dataclasses.replace(settings, behind_proxy=True)))
    for number in range(MAX_FAILURES * 4):
        response = await login(proxied, f"guess.{number}", "wrong password!", **{"X-Forwarded-For": "198.51.100.1"})
        await problem(response, 401, "login-failed")
    await problem(await login(proxied, "guess.x", "wrong password!", **{"X-Forwarded-For": "198.51.100.1"}),
                  429, "too-many-attempts")
    # The proxy appends the address it saw; anything a client put before it is not believed.
    await problem(await login(proxied, "guess.y", "wrong password!",
                              **{"X-Forwarded-For": "198.51.100.1, 198.51.100.2"}), 401, "login-failed")


async def test_a_disabled_account_cannot_log_in_even_with_the_right_password(
    client: TestClient, app: web.Application, worker: LoggedInStaff
) -> None:
    async with app[DB]() as session, session.begin():
        await session.execute(update(StaffMember).values(disabled_at=utcnow()))
    await problem(await client.get("/api/me", headers=worker.headers), 401, "not-authenticated")
    await problem(await login(client, "test.worker", worker.password), 401, "login-failed")
    assert json.loads((await audit_entries(app, "staff.login.failed"))[-1].detail) == {"reason": "disabled"}


OVERSIZED = b'{"username": "a", "password": "' + b"x" * 70_000 + b'"}'


@pytest.mark.parametrize("path", ["/api/auth/login", "/api/auth/refresh"])
@pytest.mark.parametrize(
    ("data", "content_type", "status", "code"),
    [
        (b'{"username": "a", "password":', "application/json", 400, "malformed-request"),
        (b'{"username": "a", "username": "b"}', "application/json", 400, "malformed-request"),
        (b"", "application/json", 400, "malformed-request"),
        (b"[]", "application/json", 422, "invalid-field"),
        (b'{"username": "a", "password": "b", "refresh_token": "c", "admin": true}', "application/json", 422,
         "invalid-field"),
        (b'{"username": 5, "password": ["x"], "refresh_token": 7}', "application/json", 422, "invalid-field"),
        (OVERSIZED, "application/json", 413, "body-too-large"),
        (b'{"username": "a", "password": "b"}', "text/plain", 415, "unsupported-media-type"),
    ],
)
async def test_bad_bodies_get_problem_details_and_change_nothing(
    client: TestClient, app: web.Application, worker: LoggedInStaff, path: str, data: bytes, content_type: str,
    status: int, code: str,
) -> None:
    before = await row_counts(app)
    response = await client.post(path, data=data, headers={"Content-Type": content_type})
    await problem(response, status, code)
    assert await row_counts(app) == before


async def test_secrets_never_reach_the_logs_or_the_audit_log(
    client: TestClient, app: web.Application, make_staff: MakeStaff, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    member, password = await make_staff()
    wrong = "hunter2-but-longer"
    await login(client, member.username, wrong)
    first = await (await login(client, member.username, password)).json()
    second = await (await client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})).json()
    await client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    await client.get("/api/me", headers=bearer(second["access_token"]))
    await client.post("/api/auth/logout", headers=bearer(second["access_token"]))
    secrets = [password, wrong, first["access_token"], first["refresh_token"], second["access_token"],
               second["refresh_token"]]
    audit_text = " ".join(entry.actor + entry.target + entry.detail for entry in await audit_entries(app))
    for secret in secrets:
        assert secret not in caplog.text
        assert secret not in audit_text
