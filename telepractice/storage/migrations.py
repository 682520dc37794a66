"""Alembic driven from Python: upgrade a database and ask which revision it is at."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

import telepractice

MIGRATIONS_DIR = Path(telepractice.__file__).resolve().parent.parent / "migrations"
# Any fixed number: PostgreSQL serialises server instances that start and upgrade at once.
_PG_LOCK_ID = 0x7E1E_0001


def alembic_config(database_url: str | None = None) -> Config:
    """An alembic Config for our migrations directory, built in code (no alembic.ini)."""
    if not MIGRATIONS_DIR.is_dir():
        # migrations/ sits beside the package in the source tree and is not in a wheel.
        raise RuntimeError(f"no migrations directory at {MIGRATIONS_DIR}; install with pip install -e .")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Date first so that revision files list in the order they were written.
    config.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    if database_url:
        # An attribute, not a main option, because ConfigParser would read '%' in a password.
        config.attributes["database_url"] = database_url
    return config


def head_revision() -> str:
    """The newest revision in migrations/versions."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


async def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database up to revision (by default the newest), doing nothing if it is there."""
    engine = _migration_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade, alembic_config(database_url), revision)
    finally:
        await engine.dispose()


async def current_revision(database_url: str) -> str | None:
    """The revision the database is at, or None when it has never been migrated."""
    engine = _migration_engine(database_url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_current_revision)
    finally:
        await engine.dispose()


def _migration_engine(database_url: str) -> AsyncEngine:
    # Not storage.engine.make_engine: that turns SQLite's foreign keys on, and batch
    # migrations copy and drop tables, which SQLite refuses while other tables refer to them.
    return create_async_engine(database_url, poolclass=pool.NullPool)


def _upgrade(connection: Connection, config: Config, revision: str) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _PG_LOCK_ID})
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()
