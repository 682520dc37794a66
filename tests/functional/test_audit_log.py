"""The audit chain in a real database: appends, verification, and tampering found."""

from __future__ import annotations

import asyncio

from sqlalchemy import delete, update

from telepractice.audit import AuditLog
from telepractice.storage.engine import SessionFactory
from telepractice.storage.models import AuditEntry


async def _append(db: SessionFactory, audit: AuditLog, count: int) -> None:
    for n in range(count):
        async with audit.recording(db) as session:
            await audit.append(session, actor="staff:1", action="case.read", target=f"case:{n}", detail={"n": n})


async def _verify(db: SessionFactory, audit: AuditLog):  # type: ignore[no-untyped-def]
    async with db() as session:
        return await audit.verify(session)


async def test_untouched_chain_verifies(db: SessionFactory) -> None:
    audit = AuditLog()
    await _append(db, audit, 5)
    report = await _verify(db, audit)
    assert report.intact and report.entries == 5 and len(report.head_hash) == 64


async def test_concurrent_appends_make_one_unbroken_chain(db: SessionFactory) -> None:
    audit = AuditLog()
    await asyncio.gather(*(_append(db, audit, 4) for _ in range(5)))
    report = await _verify(db, audit)
    assert report.intact and report.entries == 20


async def test_a_changed_entry_is_reported_by_its_number(db: SessionFactory) -> None:
    audit = AuditLog()
    await _append(db, audit, 5)
    async with db() as session, session.begin():
        await session.execute(update(AuditEntry).where(AuditEntry.seq == 3).values(actor="staff:2"))
    report = await _verify(db, audit)
    assert (report.first_broken_seq, report.problem) == (3, "was changed after it was written")
    assert report.entries == 2


async def test_a_removed_entry_is_reported(db: SessionFactory) -> None:
    audit = AuditLog()
    await _append(db, audit, 5)
    async with db() as session, session.begin():
        await session.execute(delete(AuditEntry).where(AuditEntry.seq == 2))
    report = await _verify(db, audit)
    assert (report.first_broken_seq, report.problem) == (2, "entry 2 is missing")


async def test_an_entry_rehashed_after_a_change_breaks_the_next_link(db: SessionFactory) -> None:
    audit = AuditLog()
    await _append(db, audit, 4)
    async with db() as session, session.begin():
        entry = await session.get(AuditEntry, 2)
        assert entry is not None
        entry.actor = "staff:forger"
        from telepractice.audit import _hash_of

        entry.hash = _hash_of(entry)
    report = await _verify(db, audit)
    assert (report.first_broken_seq, report.problem) == (3, "does not follow the entry before it")
