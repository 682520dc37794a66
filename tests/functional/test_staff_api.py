"""Staff administration: only administrators list, add and disable accounts; disabling ends logins."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from telepractice.appkeys import AUDIT, DB
from telepractice.auth.staff import add_staff, disable_staff, list_staff
from telepractice.errors import Conflict, InvalidField, NotFound
from telepractice.storage.models import AuditEntry, StaffLogin, StaffMember
from tests.staff_fixtures import LoggedInStaff, MakeStaff, logged_in_staff

pytestmark = pytest.mark.postgresql

NEW = {"username": "joana.reis", "display_name": "Joana Reis", "role": "worker", "password": "a long enough secret"}
ADMIN_ROUTES = [("GET", "/api/staff", None), ("POST", "/api/staff", NEW),
                ("POST", "/api/staff/00000000-0000-0000-0000-000000000000/disable", None)]


@pytest.fixture(params=["worker", "supervisor"])
async def non_admin(request: pytest.FixtureRequest, client: TestClient, make_staff: MakeStaff) -> LoggedInStaff:
    return await logged_in_staff(client, make_staff, request.param)


@pytest.fixture(params=["worker", "supervisor", "admin"])
async def anyone(request: pytest.FixtureRequest, client: TestClient, make_staff: MakeStaff) -> LoggedInStaff:
    return await logged_in_staff(client, make_staff, request.param)


async def problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status == status, await response.text()
    body = await response.json()
    assert body["code"] == code
    return body


async def count(app: web.Application, model: type) -> int:
    async with app[DB]() as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
async def test_only_administrators_may_manage_staff(
    client: TestClient, app: web.Application, non_admin: LoggedInStaff, method: str, path: str, body: Any
) -> None:
    before = await count(app, StaffMember), await count(app, AuditEntry)
    response = await client.request(method, path, json=body, headers=non_admin.headers)
    detail = (await problem(response, 403, "forbidden"))["detail"]
    assert "admin" in detail and non_admin.member.role in detail
    assert (await count(app, StaffMember), await count(app, AuditEntry)) == before


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
async def test_managing_staff_needs_a_login(client: TestClient, method: str, path: str, body: Any) -> None:
    await problem(await client.request(method, path, json=body), 401, "not-authenticated")


async def test_every_role_may_see_itself_and_log_out(client: TestClient, anyone: LoggedInStaff) -> None:
    assert (await (await client.get("/api/me", headers=anyone.headers)).json())["role"] == anyone.member.role
    assert (await client.post("/api/auth/logout", headers=anyone.headers)).status == 204


async def test_an_administrator_lists_every_account_without_password_hashes(
    client: TestClient, admin: LoggedInStaff, worker: LoggedInStaff
) -> None:
    response = await client.get("/api/staff", headers=admin.headers)
    assert response.status == 200
    staff = (await response.json())["staff"]
    assert [member["username"] for member in staff] == ["test.admin", "test.worker"]
    assert set(staff[0]) == {"id", "username", "display_name", "role", "created_at", "disabled_at"}
    assert "argon2" not in json.dumps(staff)


async def test_an_administrator_adds_an_account_that_can_log_in(
    client: TestClient, app: web.Application, admin: LoggedInStaff
) -> None:
    response = await client.post("/api/staff", json=NEW, headers=admin.headers)
    assert response.status == 201
    created = await response.json()
    assert created["username"] == "joana.reis" and created["role"] == "worker" and created["disabled_at"] is None
    login = await client.post("/api/auth/login", json={"username": "joana.reis", "password": NEW["password"]})
    assert login.status == 200
    async with app[DB]() as session:
        [entry] = (await session.scalars(
            select(AuditEntry).where(AuditEntry.action == "staff.add", AuditEntry.actor != "test"))).all()
    assert entry.actor == f"staff:{admin.member.id}" and entry.target == f"staff:{created['id']}"
    assert NEW["password"] not in entry.detail and json.loads(entry.detail) == {"role": "worker"}


async def test_a_taken_user_name_is_a_conflict(client: TestClient, admin: LoggedInStaff) -> None:
    assert (await client.post("/api/staff", json=NEW, headers=admin.headers)).status == 201
    await problem(await client.post("/api/staff", json=NEW, headers=admin.headers), 409, "conflict")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"username": "Joana"}, "username"),
        ({"username": "jo"}, "username"),
        ({"username": "joana reis"}, "username"),
        ({"username": "joana/reis"}, "username"),
        ({"username": "a" * 65}, "username"),
        ({"role": "superuser"}, "role"),
        ({"password": "eleven char"}, "password"),
        ({"password": 123456789012}, "password"),
        ({"display_name": ""}, "display_name"),
        ({"display_name": "   "}, "display_name"),
        ({"is_admin": True}, "is_admin"),
    ],
)
async def test_invalid_new_accounts_are_refused_naming_the_field(
    client: TestClient, app: web.Application, admin: LoggedInStaff, changes: dict[str, Any], field: str
) -> None:
    before = await count(app, StaffMember), await count(app, AuditEntry)
    response = await client.post("/api/staff", json={**NEW, **changes}, headers=admin.headers)
    body = await problem(response, 422, "invalid-field")
    assert body["field"] == field
    assert (await count(app, StaffMember), await count(app, AuditEntry)) == before


async def test_disabling_an_account_ends_its_logins_at_once(
    client: TestClient, app: web.Application, admin: LoggedInStaff, worker: LoggedInStaff
) -> None:
    response = await client.post(f"/api/staff/{worker.member.id}/disable", headers=admin.headers)
    assert response.status == 200
    assert (await response.json())["disabled_at"] is not None
    await problem(await client.get("/api/me", headers=worker.headers), 401, "not-authenticated")
    await problem(await client.post("/api/auth/refresh", json={"refresh_token": worker.refresh_token}),
                  401, "not-authenticated")
    await problem(await client.post("/api/auth/login", json={"username": "test.worker", "password": worker.password}),
                  401, "login-failed")
    async with app[DB]() as session:
        logins = (await session.scalars(select(StaffLogin).where(StaffLogin.staff_id == worker.member.id))).all()
        [entry] = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "staff.disable"))).all()
    assert logins and all(login.end_reason == "disabled" for login in logins)
    assert entry.actor == f"staff:{admin.member.id}" and json.loads(entry.detail) == {"logins_ended": 1}
    assert (await client.get("/api/me", headers=admin.headers)).status == 200


async def test_disabling_an_unknown_account_is_not_found(client: TestClient, admin: LoggedInStaff) -> None:
    await problem(await client.post("/api/staff/no-such-id/disable", headers=admin.headers), 404, "not-found")


async def test_administrators_cannot_disable_themselves(client: TestClient, admin: LoggedInStaff) -> None:
    await problem(await client.post(f"/api/staff/{admin.member.id}/disable", headers=admin.headers), 409, "conflict")
    assert (await client.get("/api/me", headers=admin.headers)).status == 200


async def test_a_role_taken_away_applies_at_the_next_request(
    client: TestClient, app: web.Application, admin: LoggedInStaff
) -> None:
    async with app[DB]() as session, session.begin():
        member = await session.get(StaffMember, admin.member.id)
        assert member is not None
        member.role = "worker"
    await problem(await client.get("/api/staff", headers=admin.headers), 403, "forbidden")


async def test_the_services_used_by_the_command_line(client: TestClient, app: web.Application) -> None:
    db, audit = app[DB], app[AUDIT]
    member = await add_staff(db, audit, username="m.silva", display_name="Marta Silva", role="supervisor",
                             password="twelve chars", actor="cli")
    with pytest.raises(Conflict):
        await add_staff(db, audit, username="m.silva", display_name="Other", role="worker",
                        password="twelve chars", actor="cli")
    with pytest.raises(InvalidField):
        await add_staff(db, audit, username="x", display_name="X", role="worker", password="twelve chars", actor="cli")
    with pytest.raises(NotFound):
        await disable_staff(db, audit, "nobody", "cli")
    disabled = await disable_staff(db, audit, "m.silva", "cli")
    assert disabled.id == member.id and disabled.disabled_at is not None
    assert [(m.username, m.disabled_at is not None) for m in await list_staff(db)] == [("m.silva", True)]
