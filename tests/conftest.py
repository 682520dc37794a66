"""Fixtures shared by every tier: a fresh database per test (SQLite, and PostgreSQL when set), the app."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from telepractice.app import create_app
from telepractice.config import Settings, load_settings
from telepractice.storage.engine import SessionFactory, make_engine, make_session_factory
from telepractice.storage.migrations import upgrade

pytest_plugins = ["tests.staff_fixtures"]

POSTGRES_ENV = "TELEPRACTICE_TEST_DATABASE_URL"
REDIS_ENV = "TELEPRACTICE_TEST_REDIS_URL"

DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgresql: also runs on PostgreSQL when TELEPRACTICE_TEST_DATABASE_URL is set")


async def reset_postgres(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        await connection.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


@pytest.fixture(params=DATABASES)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A migrated, empty database: SQLite in tmp_path, or the test PostgreSQL wiped clean."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'telepractice.db'}"
    else:
        url = os.environ.get(POSTGRES_ENV, "")
        if not url:
            pytest.skip(f"{POSTGRES_ENV} is not set")
        await reset_postgres(url)
    await upgrade(url)
    yield url


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[SessionFactory]:
    """A session factory on the test database, for tests that need no app."""
    engine = make_engine(database_url)
    yield make_session_factory(engine)
    await engine.dispose()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(
        {},
        {"data_dir": str(tmp_path), "database_url": database_url},
    )


@pytest.fixture
def app(settings: Settings) -> web.Application:
    return create_app(settings)


@pytest.fixture
async def client(aiohttp_client, app: web.Application) -> TestClient:  # type: ignore[no-untyped-def]
    return await aiohttp_client(app)
