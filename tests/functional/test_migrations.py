"""Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from telepractice.storage.migrations import alembic_config, current_revision, head_revision, upgrade
from telepractice.storage.models import Base

PG_URL_ENV = "TELEPRACTICE_TEST_DATABASE_URL"


async def _reset_postgresql(url: str) -> None:
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database: a fresh SQLite file, or the test PostgreSQL schema wiped clean."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'telepractice.db'}"
        return
    url = os.environ.get(PG_URL_ENV)
    if not url:
        pytest.skip(f"{PG_URL_ENV} is not set, so there is no PostgreSQL to test against")
    await _reset_postgresql(url)
    yield url
    await _reset_postgresql(url)


async def _inspect(url: str, look: Any) -> Any:
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(look)
    finally:
        await engine.dispose()


def _differences_from_models(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, Base.metadata)


def _schema(connection: Connection) -> dict[str, Any]:
    inspector = inspect(connection)
    return {
        table: (
            [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)],
            sorted(str(i) for i in inspector.get_indexes(table)),
            sorted(str(u) for u in inspector.get_unique_constraints(table)),
            sorted(str(f) for f in inspector.get_foreign_keys(table)),
        )
        for table in inspector.get_table_names()
    }


async def test_new_database_has_no_revision(database_url: str) -> None:
    assert await current_revision(database_url) is None


async def test_upgrade_builds_the_schema_the_models_describe(database_url: str) -> None:
    await upgrade(database_url)
    assert await _inspect(database_url, _differences_from_models) == []
    tables = set(await _inspect(database_url, lambda c: inspect(c).get_table_names()))
    assert set(Base.metadata.tables) <= tables


async def test_upgrade_records_the_head_revision(database_url: str) -> None:
    await upgrade(database_url)
    assert await current_revision(database_url) == head_revision()


async def test_second_upgrade_changes_nothing(database_url: str) -> None:
    await upgrade(database_url)
    before = await _inspect(database_url, _schema)
    await upgrade(database_url)
    assert await _inspect(database_url, _schema) == before
    assert await current_revision(database_url) == head_revision()


async def test_upgrade_to_a_named_revision(database_url: str) -> None:
    await upgrade(database_url, head_revision())
    assert await current_revision(database_url) == head_revision()


async def test_upgrade_leaves_the_root_logger_alone(tmp_path: Path) -> None:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    disabled = {
        name: logger.disabled
        for name, logger in logging.Logger.manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }
    await upgrade(f"sqlite+aiosqlite:///{tmp_path / 'logging.db'}")
    assert root.handlers == handlers
    assert root.level == level
    for name, was_disabled in disabled.items():
        assert logging.getLogger(name).disabled == was_disabled, name


async def test_downgrade_to_base_removes_every_table(database_url: str) -> None:
    await upgrade(database_url)
    engine = create_async_engine(database_url, poolclass=pool.NullPool)

    def downgrade(connection: Connection) -> None:
        config = alembic_config(database_url)
        config.attributes["connection"] = connection
        command.downgrade(config, "base")

    try:
        async with engine.begin() as connection:
            await connection.run_sync(downgrade)
    finally:
        await engine.dispose()
    tables = set(await _inspect(database_url, lambda c: inspect(c).get_table_names()))
    assert tables <= {"alembic_version"}
    assert await current_revision(database_url) is None
