"""Exporting a case's whole record as JSON and self-contained HTML: decrypted, audited, refused once erased."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from telepractice.audit import AuditLog
from telepractice.cases.export import build_export, write_export
from telepractice.cases.records import NewParticipant, add_note, add_participant
from telepractice.crypto.case_keys import erase_case
from telepractice.crypto.keyring import Keyring
from telepractice.errors import NotFound, RecordErased
from telepractice.sessions.attendance import AttendanceEvent, AttendanceKind, WhoKind
from telepractice.sessions.attendance_store import record
from telepractice.sessions.consent import ConsentGiven, record_consent, withdraw_consent
from telepractice.sessions.records import finish_session
from telepractice.sessions.scheduling import schedule_session
from telepractice.storage.engine import (
    SessionFactory,
    make_engine,
    make_session_factory,
)
from telepractice.storage.migrations import upgrade
from telepractice.storage.models import (
    AuditEntry,
    Case,
    ConsentKind,
    ConsentMethod,
    FamilyParticipant,
)
from tests.session_data import CaseData, seed_case

T0 = dt.datetime(2026, 11, 2, 10, 0, tzinfo=dt.UTC)
REPO = Path(__file__).resolve().parents[2]
TEXT = {"text_version": "family-v1", "text_hash": "a" * 64, "language": "pt"}
SNEAKY = "<script>alert('x')</script> Tó"


def at(minute: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minute)


async def a_case_with_history(db: SessionFactory, keyring: Keyring, audit: AuditLog) -> CaseData:
    """Consent given and withdrawn, a held session with its record, a planned one, and a case note."""
    data = await seed_case(db, keyring, planned_start=T0)
    async with db() as session, session.begin():
        await record_consent(session, data.cipher, data.mother, ConsentGiven(
            kind=ConsentKind.CONSENT, method=ConsentMethod.BROWSER, given_by_participant_id=data.mother.id, **TEXT))
        await record_consent(session, data.cipher, data.child, ConsentGiven(
            kind=ConsentKind.CONSENT, method=ConsentMethod.RECORDED_BY_WORKER, recorded_by_staff_id=data.worker.id,
            note="Mãe autorizou por telefone.", **TEXT))
        child = await session.get(FamilyParticipant, data.child.id)
        assert child is not None
        await withdraw_consent(session, child, "participant")
        await add_participant(session, data.cipher, NewParticipant(display_name=SNEAKY, role="other"))
        await add_note(session, data.cipher, data.worker.id, "Família mudou de casa.")
        case = await session.get(Case, data.case.id)
        assert case is not None
        await schedule_session(session, case, kind="individual", planned_start=at(7 * 24 * 60), host_id=data.worker.id)
    await record(db, data.scheduled.id, [
        AttendanceEvent(AttendanceKind.ADMITTED, at(0), data.worker.id, WhoKind.STAFF),
        AttendanceEvent(AttendanceKind.ADMITTED, at(2), data.mother.id, WhoKind.FAMILY),
    ])
    await finish_session(db, keyring, audit, data.scheduled.id, at(55), notes="Correu bem.")
    return data


async def test_the_export_holds_the_whole_record_decrypted_and_is_audited(db: SessionFactory, tmp_path: Path) -> None:
    keyring, audit = Keyring(tmp_path / "keys"), AuditLog()
    data = await a_case_with_history(db, keyring, audit)
    document = await build_export(db, keyring, audit, data.case.reference, "cli")

    assert document["format"] == "telepractice.case-export/1"
    assert {p["display_name"] for p in document["participants"]} == {"Ana Mãe", "Rui Filho", SNEAKY}
    consents = document["consent_history"]
    assert [(c["participant_id"], c["withdrawn_at"] is not None) for c in consents] == [
        (data.mother.id, False), (data.child.id, True)]
    assert consents[1]["note"] == "Mãe autorizou por telefone."
    held, planned = document["sessions"]
    assert held["record"]["notes"] == "Correu bem." and data.child.id in held["record"]["absent"]
    assert [i["who"] for i in held["attendance"]["intervals"]] == [data.worker.id, data.mother.id]
    assert [e["event"] for e in held["attendance"]["events"]] == ["admitted", "admitted", "session_ended"]
    assert (planned["status"], planned["record"]) == ("scheduled", None)
    assert [n["body"] for n in document["notes"]] == ["Família mudou de casa."]
    assert data.worker.display_name in {s["display_name"] for s in document["staff"]}

    async with db() as session:
        entry = (await session.execute(select(AuditEntry).where(AuditEntry.action == "case.export"))).scalar_one()
    assert (entry.actor, entry.target, json.loads(entry.detail)) == ("cli", f"case:{data.case.id}", {"sessions": 2})


async def test_the_files_are_private_and_the_page_loads_nothing_and_escapes_everything(
    db: SessionFactory, tmp_path: Path
) -> None:
    keyring, audit = Keyring(tmp_path / "keys"), AuditLog()
    data = await a_case_with_history(db, keyring, audit)
    document = await build_export(db, keyring, audit, data.case.reference, "cli")
    json_path, html_path = write_export(document, tmp_path / "out")

    assert json.loads(json_path.read_text(encoding="utf-8")) == document
    assert oct(json_path.stat().st_mode & 0o777) == oct(html_path.stat().st_mode & 0o777) == "0o600"
    page = html_path.read_text(encoding="utf-8")
    assert "Ana Mãe" in page and "Correu bem." in page and "did not attend" in page
    assert "<script" not in page and "&lt;script&gt;" in page
    assert not re.search(r"""(src|href|url)\s*[=(]\s*["']?(https?:)?//""", page, re.IGNORECASE)
    assert "default-src 'none'" in page


async def test_an_erased_or_unknown_case_is_refused_with_a_clear_error(db: SessionFactory, tmp_path: Path) -> None:
    keyring, audit = Keyring(tmp_path / "keys"), AuditLog()
    data = await a_case_with_history(db, keyring, audit)
    await erase_case(db, keyring, audit, data.case.id, "test")
    with pytest.raises(RecordErased, match=f"Case {data.case.reference} was erased"):
        await build_export(db, keyring, audit, data.case.reference, "cli")
    with pytest.raises(NotFound, match="no case with reference FAM-NOPE"):
        await build_export(db, keyring, audit, "FAM-NOPE", "cli")
    async with db() as session:
        exports = (await session.execute(select(AuditEntry).where(AuditEntry.action == "case.export"))).all()
    assert exports == []


def _cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TELEPRACTICE_")}
    return subprocess.run([sys.executable, "-m", "telepractice", "--data-dir", str(data_dir), *args], check=False,
                          capture_output=True, text=True, env=environment, timeout=120, cwd=REPO)


def test_the_cli_exports_a_case_and_refuses_an_erased_one(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'telepractice.db'}"

    async def prepare() -> CaseData:
        await upgrade(url)
        engine = make_engine(url)
        try:
            return await a_case_with_history(make_session_factory(engine), Keyring(tmp_path / "keys"), AuditLog())
        finally:
            await engine.dispose()

    data = asyncio.run(prepare())
    reference = data.case.reference
    done = _cli(tmp_path, "case", "export", reference, "--out", str(tmp_path / "export"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "export" / f"{reference}.json").exists() and (tmp_path / "export" / f"{reference}.html").exists()
    assert "Ana" not in done.stdout + done.stderr

    assert _cli(tmp_path, "case", "erase", reference, "--yes").returncode == 0
    refused = _cli(tmp_path, "case", "export", reference, "--out", str(tmp_path / "again"))
    assert refused.returncode == 2
    assert refused.stderr.strip() == f"telepractice: Case {reference} was erased; there is nothing left to export."
    assert not (tmp_path / "again").exists()
