"""The tamper-evident audit log: each entry carries the hash of the one before it.

Entries hold ids and actions, never personal data, so the log outlives a
case's erasure and can be shown to an inspector as it is.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from telepractice.storage.engine import SessionFactory
from telepractice.storage.models import AuditEntry, utcnow

GENESIS = "0" * 64
# Any constant will do: it names the one PostgreSQL advisory lock that orders appends.
_PG_AUDIT_LOCK = 0x7E1E_A0D1


def entry_hash(seq: int, at: str, actor: str, action: str, target: str, detail: str, prev_hash: str) -> str:
    canonical = json.dumps([seq, at, actor, action, target, detail, prev_hash], separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _hash_of(entry: AuditEntry) -> str:
    return entry_hash(
        entry.seq, entry.at.isoformat(), entry.actor, entry.action, entry.target, entry.detail, entry.prev_hash
    )


@dataclasses.dataclass(frozen=True)
class ChainReport:
    entries: int
    head_hash: str
    first_broken_seq: int | None = None
    problem: str | None = None

    @property
    def intact(self) -> bool:
        return self.first_broken_seq is None


class AuditLog:
    """Appends to and verifies the chain; one writer at a time per process."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def recording(self, db: SessionFactory) -> AsyncIterator[AsyncSession]:
        """A transaction in which audit entries may be appended, committed on success."""
        async with self._lock, db() as session, session.begin():
            yield session

    async def append(
        self,
        session: AsyncSession,
        *,
        actor: str,
        action: str,
        target: str,
        detail: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        if session.bind.dialect.name == "postgresql":
            # Orders appends across server instances until this transaction ends.
            await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_AUDIT_LOCK})
        last = (
            await session.execute(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1))
        ).scalar_one_or_none()
        entry = AuditEntry(
            seq=1 if last is None else last.seq + 1,
            at=utcnow(),
            actor=actor,
            action=action,
            target=target,
            detail=json.dumps(dict(detail or {}), sort_keys=True, separators=(",", ":")),
            prev_hash=GENESIS if last is None else last.hash,
        )
        entry.hash = _hash_of(entry)
        session.add(entry)
        await session.flush()
        return entry

    async def verify(self, session: AsyncSession, batch: int = 5000) -> ChainReport:
        """Walk the chain from the first entry and report the first link that does not hold."""
        expected_prev, expected_seq, count = GENESIS, 1, 0
        result = await session.stream(select(AuditEntry).order_by(AuditEntry.seq).execution_options(yield_per=batch))
        async for entry in result.scalars():
            if entry.seq != expected_seq:
                return ChainReport(count, expected_prev, expected_seq, f"entry {expected_seq} is missing")
            if entry.prev_hash != expected_prev:
                return ChainReport(count, expected_prev, entry.seq, "does not follow the entry before it")
            if _hash_of(entry) != entry.hash:
                return ChainReport(count, expected_prev, entry.seq, "was changed after it was written")
            expected_prev, expected_seq, count = entry.hash, entry.seq + 1, count + 1
        return ChainReport(count, expected_prev)

    async def count(self, session: AsyncSession) -> int:
        return (await session.execute(select(func.count()).select_from(AuditEntry))).scalar_one()
