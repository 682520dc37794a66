"""Per-case data keys in the database: create, open, rotate their wrapping, and shred."""

from __future__ import annotations

import asyncio
import dataclasses

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from telepractice.audit import AuditLog
from telepractice.crypto.envelope import DecryptionFailed, field_context, new_key, seal, unseal
from telepractice.crypto.keyring import Keyring
from telepractice.errors import RecordErased
from telepractice.storage.engine import SessionFactory
from telepractice.storage.models import Case, CaseKey, utcnow


@dataclasses.dataclass(frozen=True, repr=False)
class CaseCipher:
    """Seals and opens the personal fields of one case; repr never shows the key."""

    case_id: str
    _data_key: bytes

    def __repr__(self) -> str:
        return f"CaseCipher(case_id={self.case_id!r})"

    def encrypt(self, table: str, column: str, row_id: str, text: str) -> bytes:
        return seal(self._data_key, text.encode(), field_context(table, column, row_id, self.case_id))

    def decrypt(self, table: str, column: str, row_id: str, blob: bytes) -> str:
        return unseal(self._data_key, blob, field_context(table, column, row_id, self.case_id)).decode()

    def encrypt_optional(self, table: str, column: str, row_id: str, text: str | None) -> bytes | None:
        return None if text is None else self.encrypt(table, column, row_id, text)

    def decrypt_optional(self, table: str, column: str, row_id: str, blob: bytes | None) -> str | None:
        return None if blob is None else self.decrypt(table, column, row_id, blob)


async def create_case_key(session: AsyncSession, keyring: Keyring, case_id: str) -> CaseCipher:
    data_key = new_key()
    kek_id, wrapped = keyring.wrap(case_id, data_key)
    session.add(CaseKey(case_id=case_id, kek_id=kek_id, wrapped_key=wrapped))
    return CaseCipher(case_id, data_key)


async def open_case(session: AsyncSession, keyring: Keyring, case_id: str) -> CaseCipher:
    """The cipher of a case, or RecordErased when its key was destroyed."""
    row = await session.get(CaseKey, case_id)
    if row is None or row.wrapped_key is None or row.kek_id is None or keyring.is_erased(case_id):
        raise RecordErased()
    try:
        return CaseCipher(case_id, keyring.unwrap(case_id, row.kek_id, row.wrapped_key))
    except DecryptionFailed:
        raise RecordErased() from None


@dataclasses.dataclass(frozen=True)
class RotationReport:
    new_kek_id: str
    rewrapped: int
    retired: frozenset[str]


async def _rewrap_stale(db: SessionFactory, keyring: Keyring, current: str, batch: int) -> int:
    """Re-wrap every live data key not yet under the current KEK, one short transaction per batch."""
    done = 0
    while True:
        async with db() as session, session.begin():
            rows = (
                await session.execute(
                    select(CaseKey)
                    .where(CaseKey.wrapped_key.is_not(None), CaseKey.kek_id != current)
                    .limit(batch)
                    .with_for_update()
                )
            ).scalars().all()
            for row in rows:
                data_key = keyring.unwrap(row.case_id, row.kek_id or "", row.wrapped_key or b"")
                row.kek_id, row.wrapped_key = keyring.wrap(row.case_id, data_key)
        done += len(rows)
        if len(rows) < batch:
            return done


async def rotate_key_encryption_key(
    db: SessionFactory, keyring: Keyring, audit: AuditLog, actor: str, settle_seconds: float = 2.0, batch: int = 200
) -> RotationReport:
    """New KEK, every data key re-wrapped under it, old KEKs forgotten; reads never stop.

    Old keys stay in the key file until the last data key leaves them, so a
    server reading at any moment finds the key its row names. The second sweep
    after a pause catches a case created by a server that had not yet seen the
    new key file.
    """
    old_ids = set(keyring.key_ids)
    new_id = keyring.add_current()
    rewrapped = await _rewrap_stale(db, keyring, new_id, batch)
    await asyncio.sleep(settle_seconds)
    rewrapped += await _rewrap_stale(db, keyring, new_id, batch)
    keyring.retire(old_ids)
    async with audit.recording(db) as session:
        await audit.append(
            session, actor=actor, action="keys.rotate", target=f"kek:{new_id}",
            detail={"rewrapped": rewrapped, "retired": sorted(old_ids)},
        )
    return RotationReport(new_id, rewrapped, frozenset(old_ids))


async def _destroy_key(session: AsyncSession, case_id: str) -> bool:
    row = await session.get(CaseKey, case_id, with_for_update=True)
    if row is None or row.wrapped_key is None:
        return False
    row.wrapped_key, row.kek_id, row.destroyed_at = None, None, utcnow()
    case = await session.get(Case, case_id)
    if case is not None and case.erased_at is None:
        case.erased_at = row.destroyed_at
    return True


async def erase_case(db: SessionFactory, keyring: Keyring, audit: AuditLog, case_id: str, actor: str) -> None:
    """Crypto-shred a case: ledger first, so a crash between the two steps still erases."""
    keyring.record_erasure(case_id)
    async with audit.recording(db) as session:
        await _destroy_key(session, case_id)
        await audit.append(session, actor=actor, action="case.erase", target=f"case:{case_id}")


async def reapply_erasures(db: SessionFactory, keyring: Keyring, audit: AuditLog) -> list[str]:
    """Destroy again the keys of erased cases that a restored backup brought back."""
    ledger = keyring.erased_cases()
    if not ledger:
        return []
    async with db() as session:
        live = (await session.execute(select(CaseKey.case_id).where(CaseKey.wrapped_key.is_not(None)))).scalars()
        restored = sorted(set(live) & ledger)
    for case_id in restored:
        async with audit.recording(db) as session:
            if await _destroy_key(session, case_id):
                await audit.append(session, actor="system", action="case.erase.reapplied", target=f"case:{case_id}")
    return restored
