"""Staff accounts for tests: made through the real service, logged in through the real endpoint.

App resources (database, audit log) exist once the ``client`` fixture has
started the app, so every fixture here depends on ``client``.
"""

from __future__ import annotations

import dataclasses
import itertools
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from telepractice.appkeys import AUDIT, DB
from telepractice.auth.staff import add_staff
from telepractice.storage.models import StaffMember, StaffRole

MakeStaff = Callable[..., Awaitable[tuple[StaffMember, str]]]
StaffToken = Callable[[TestClient, str, str], Awaitable[str]]


@dataclasses.dataclass(frozen=True)
class LoggedInStaff:
    """A staff member after a real login: their account, password and tokens."""

    member: StaffMember
    password: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


async def login_through_api(client: TestClient, username: str, password: str) -> dict[str, Any]:
    """The token pair from POST /api/auth/login; fails the test unless the login succeeds."""
    response = await client.post("/api/auth/login", json={"username": username, "password": password})
    assert response.status == 200, await response.text()
    return await response.json()


@pytest.fixture
async def make_staff(client: TestClient, app: web.Application) -> MakeStaff:
    """Async factory: ``await make_staff("supervisor", "sofia")`` -> (StaffMember, password)."""
    numbers = itertools.count(1)

    async def make(
        role: str = StaffRole.WORKER.value, username: str | None = None, *, password: str | None = None,
        display_name: str | None = None,
    ) -> tuple[StaffMember, str]:
        name = username or f"{role}.{next(numbers)}"
        secret = password or secrets.token_urlsafe(18)
        member = await add_staff(
            app[DB], app[AUDIT], username=name, display_name=display_name or f"Test {name}", role=role,
            password=secret, actor="test",
        )
        return member, secret

    return make


@pytest.fixture
def staff_token() -> StaffToken:
    """Async: ``await staff_token(client, username, password)`` -> an access token from a real login."""

    async def token(client: TestClient, username: str, password: str) -> str:
        return str((await login_through_api(client, username, password))["access_token"])

    return token


async def logged_in_staff(client: TestClient, make_staff: MakeStaff, role: str) -> LoggedInStaff:
    """A new account of role, logged in through the real endpoint (for role-parametrised fixtures)."""
    member, password = await make_staff(role, f"test.{role}")
    pair = await login_through_api(client, member.username, password)
    return LoggedInStaff(member, password, pair["access_token"], pair["refresh_token"])


@pytest.fixture
async def worker(client: TestClient, make_staff: MakeStaff) -> LoggedInStaff:
    return await logged_in_staff(client, make_staff, StaffRole.WORKER.value)


@pytest.fixture
async def supervisor(client: TestClient, make_staff: MakeStaff) -> LoggedInStaff:
    return await logged_in_staff(client, make_staff, StaffRole.SUPERVISOR.value)


@pytest.fixture
async def admin(client: TestClient, make_staff: MakeStaff) -> LoggedInStaff:
    return await logged_in_staff(client, make_staff, StaffRole.ADMIN.value)
