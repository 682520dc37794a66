"""Case-record encryption against a real database: rotation, erasure, restored backups."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select, update

from telepractice.audit import AuditLog
from telepractice.cases.records import NewParticipant, add_participant, create_case, read_case
from telepractice.crypto.case_keys import erase_case, open_case, reapply_erasures, rotate_key_encryption_key
from telepractice.crypto.envelope import DecryptionFailed
from telepractice.crypto.keyring import Keyring
from telepractice.errors import RecordErased
from telepractice.storage.engine import SessionFactory, make_engine, make_session_factory
from telepractice.storage.models import AuditEntry, Case, CaseKey, FamilyParticipant, StaffMember, StaffRole


@pytest.fixture
def keyring(tmp_path: Path) -> Keyring:
    return Keyring(tmp_path / "keys")


async def _supervisor(db: SessionFactory) -> str:
    async with db() as session, session.begin():
        member = StaffMember(username="sup", display_name="Sup", role=StaffRole.SUPERVISOR, password_hash="x")
        session.add(member)
    return member.id


async def _case_with_member(db: SessionFactory, keyring: Keyring, reference: str, name: str, supervisor: str) -> Case:
    async with db() as session, session.begin():
        case, cipher = await create_case(
            session, keyring, reference=reference, risk_level="high", supervisor_id=supervisor, worker_ids=[]
        )
        await add_participant(session, cipher, NewParticipant(display_name=name, role="guardian"))
    return case


async def _names(db: SessionFactory, keyring: Keyring, case: Case) -> list[str]:
    async with db() as session:
        record = await read_case(session, keyring, case)
    return [person["display_name"] for person in record["participants"]]


async def test_ciphertext_copied_to_another_row_does_not_open(db: SessionFactory, keyring: Keyring) -> None:
    supervisor = await _supervisor(db)
    case = await _case_with_member(db, keyring, "CASE-1", "Ana", supervisor)
    async with db() as session, session.begin():
        cipher = await open_case(session, keyring, case.id)
        second = await add_participant(session, cipher, NewParticipant(display_name="Rui", role="other"))
        first = (await session.execute(select(FamilyParticipant).where(FamilyParticipant.id != second.id))).scalar_one()
        second.display_name_enc = first.display_name_enc
    with pytest.raises(DecryptionFailed):
        await _names(db, keyring, case)


async def test_rotation_rewraps_every_case_key_while_reads_go_on(db: SessionFactory, tmp_path: Path) -> None:
    operator = Keyring(tmp_path / "keys")
    server = Keyring(tmp_path / "keys")
    supervisor = await _supervisor(db)
    cases = [await _case_with_member(db, server, f"CASE-{n}", f"Person {n}", supervisor) for n in range(5)]
    old_kek = server.current_id
    reads, stop = 0, asyncio.Event()

    async def keep_reading() -> None:
        nonlocal reads
        while not stop.is_set():
            for n, case in enumerate(cases):
                assert await _names(db, server, case) == [f"Person {n}"]
                reads += 1
            await asyncio.sleep(0)

    reader = asyncio.create_task(keep_reading())
    report = await rotate_key_encryption_key(db, operator, AuditLog(), "cli", settle_seconds=0.05, batch=2)
    stop.set()
    await reader
    assert reads > 0
    assert report.rewrapped == 5 and old_kek in report.retired
    assert old_kek not in Keyring(tmp_path / "keys").key_ids
    async with db() as session:
        kek_ids = set((await session.execute(select(CaseKey.kek_id))).scalars())
        actions = list((await session.execute(select(AuditEntry.action))).scalars())
    assert kek_ids == {report.new_kek_id}
    assert actions == ["keys.rotate"]
    for n, case in enumerate(cases):
        assert await _names(db, server, case) == [f"Person {n}"]


async def test_erased_case_cannot_be_read_and_the_log_keeps_the_erasure(db: SessionFactory, keyring: Keyring) -> None:
    supervisor = await _supervisor(db)
    erased = await _case_with_member(db, keyring, "CASE-1", "Ana", supervisor)
    kept = await _case_with_member(db, keyring, "CASE-2", "Rui", supervisor)
    await erase_case(db, keyring, AuditLog(), erased.id, "cli")
    with pytest.raises(RecordErased):
        await _names(db, keyring, erased)
    assert await _names(db, keyring, kept) == ["Rui"]
    async with db() as session:
        key = await session.get(CaseKey, erased.id)
        entry = (await session.execute(select(AuditEntry))).scalar_one()
    assert key is not None and key.wrapped_key is None and key.destroyed_at is not None
    assert (entry.action, entry.target) == ("case.erase", f"case:{erased.id}")


async def test_restoring_a_key_from_an_older_backup_does_not_bring_an_erased_case_back(
    db: SessionFactory, keyring: Keyring
) -> None:
    supervisor = await _supervisor(db)
    case = await _case_with_member(db, keyring, "CASE-1", "Ana", supervisor)
    async with db() as session:
        backup = await session.get(CaseKey, case.id)
    assert backup is not None
    await erase_case(db, keyring, AuditLog(), case.id, "cli")
    # The restore: the wrapped key is back in the database exactly as the backup had it.
    async with db() as session, session.begin():
        await session.execute(
            update(CaseKey).where(CaseKey.case_id == case.id)
            .values(wrapped_key=backup.wrapped_key, kek_id=backup.kek_id, destroyed_at=None)
        )
    with pytest.raises(RecordErased):
        await _names(db, keyring, case)
    assert await reapply_erasures(db, keyring, AuditLog()) == [case.id]
    async with db() as session:
        key = await session.get(CaseKey, case.id)
    assert key is not None and key.wrapped_key is None
    assert await reapply_erasures(db, keyring, AuditLog()) == []


async def test_sqlite_file_restored_from_before_an_erasure_stays_erased(tmp_path: Path, keyring: Keyring) -> None:
    database = tmp_path / "restore.db"
    url = f"sqlite+aiosqlite:///{database}"
    from telepractice.storage.migrations import upgrade

    await upgrade(url)
    engine = make_engine(url)
    db = make_session_factory(engine)
    supervisor = await _supervisor(db)
    case = await _case_with_member(db, keyring, "CASE-1", "Ana", supervisor)
    await engine.dispose()
    shutil.copy(database, tmp_path / "backup.db")

    engine = make_engine(url)
    await erase_case(make_session_factory(engine), keyring, AuditLog(), case.id, "cli")
    await engine.dispose()
    shutil.copy(tmp_path / "backup.db", database)
    for leftover in tmp_path.glob("restore.db-*"):
        leftover.unlink()

    engine = make_engine(url)
    db = make_session_factory(engine)
    await reapply_erasures(db, keyring, AuditLog())
    with pytest.raises(RecordErased):
        await _names(db, keyring, case)
    async with db() as session:
        key = await session.get(CaseKey, case.id)
    await engine.dispose()
    assert key is not None and key.wrapped_key is None
