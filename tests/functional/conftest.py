"""Fixtures shared by the functional tests of sessions and signalling over the real API and /ws."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from telepractice.config import Settings
from tests.functional.test_signaling_ws import Connect, Family, connector, schedule_family_session
from tests.staff_fixtures import LoggedInStaff


@pytest.fixture
def connect(client: TestClient, settings: Settings) -> Connect:
    """Opens /ws on the test server and sends a hello with the given token."""
    return connector(client, settings)


@pytest.fixture
async def family(app: web.Application, worker: LoggedInStaff, supervisor: LoggedInStaff) -> Family:
    """Case WS-0001: a guardian (consent on record) and a child, and a session the worker hosts."""
    return await schedule_family_session(app, worker.member, supervisor.member)
