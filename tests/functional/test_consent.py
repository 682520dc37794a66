"""The consent rules against a real database: adults, minors with guardian and assent, withdrawal."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from telepractice.cases.records import NewParticipant, add_participant, create_case
from telepractice.crypto.keyring import Keyring
from telepractice.errors import InvalidField
from telepractice.sessions.consent import ConsentGiven, consent_on_record, record_consent, withdraw_consent
from telepractice.sessions.scheduling import schedule_session
from telepractice.storage.engine import SessionFactory
from telepractice.storage.models import ConsentKind, ConsentMethod, ConsentRecord, StaffMember, utcnow

TEXT = {"text_version": "family-v1", "text_hash": "a" * 64, "language": "pt"}


@pytest.fixture
async def family(db: SessionFactory, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A case with a guardian and her child, one scheduled session, and a second case's session."""
    keyring = Keyring(tmp_path / "keys")
    async with db() as session, session.begin():
        supervisor = StaffMember(username="sup", display_name="S", role="supervisor", password_hash="x")
        worker = StaffMember(username="wrk", display_name="W", role="worker", password_hash="x")
        session.add_all([supervisor, worker])
        await session.flush()
        case, cipher = await create_case(session, keyring, reference="FAM-1", risk_level="high",
                                         supervisor_id=supervisor.id, worker_ids=[worker.id])
        other_case, _ = await create_case(session, keyring, reference="FAM-2", risk_level="low",
                                          supervisor_id=supervisor.id, worker_ids=[worker.id])
        mother = await add_participant(session, cipher, NewParticipant(display_name="Mum", role="guardian"))
        child = await add_participant(session, cipher, NewParticipant(
            display_name="Kid", role="child", is_minor=True, guardian_id=mother.id))
        start = utcnow() + dt.timedelta(hours=1)
        scheduled = await schedule_session(session, case, kind="family", planned_start=start, host_id=worker.id)
        elsewhere = await schedule_session(session, other_case, kind="family", planned_start=start, host_id=worker.id)
    return type("Family", (), dict(cipher=cipher, mother=mother, child=child, worker=worker,
                                   session=scheduled, elsewhere=elsewhere))


async def _give(db: SessionFactory, family, person, **fields) -> None:  # type: ignore[no-untyped-def]
    async with db() as session, session.begin():
        await record_consent(session, family.cipher, person, ConsentGiven(**{**TEXT, **fields}))


async def test_adult_is_not_admissible_until_her_consent_is_on_record(db: SessionFactory, family) -> None:  # type: ignore[no-untyped-def]
    assert not await consent_on_record(db, family.session.id, family.mother.id)
    await _give(db, family, family.mother, kind=ConsentKind.CONSENT, method=ConsentMethod.BROWSER,
                given_by_participant_id=family.mother.id)
    assert await consent_on_record(db, family.session.id, family.mother.id)


async def test_minor_needs_guardian_consent_and_own_assent(db: SessionFactory, family) -> None:  # type: ignore[no-untyped-def]
    await _give(db, family, family.child, kind=ConsentKind.CONSENT, method=ConsentMethod.BROWSER,
                given_by_participant_id=family.mother.id)
    assert not await consent_on_record(db, family.session.id, family.child.id)
    await _give(db, family, family.child, kind=ConsentKind.ASSENT, method=ConsentMethod.BROWSER,
                given_by_participant_id=family.child.id)
    assert await consent_on_record(db, family.session.id, family.child.id)


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": ConsentKind.CONSENT, "method": ConsentMethod.BROWSER, "given_by_participant_id": "child"},
        {"kind": ConsentKind.ASSENT, "method": ConsentMethod.BROWSER, "given_by_participant_id": "mother"},
        {"kind": ConsentKind.CONSENT, "method": ConsentMethod.RECORDED_BY_WORKER, "recorded_by_staff_id": "worker"},
    ],
    ids=["minor-consents-for-herself", "guardian-assents-for-the-minor", "worker-records-without-a-note"],
)
async def test_consent_from_the_wrong_person_is_refused_and_nothing_is_written(db: SessionFactory, family, fields) -> None:  # type: ignore[no-untyped-def]
    people = {"child": family.child.id, "mother": family.mother.id, "worker": family.worker.id}
    resolved = {key: people.get(value, value) if isinstance(value, str) else value for key, value in fields.items()}
    with pytest.raises(InvalidField):
        await _give(db, family, family.child, **resolved)
    async with db() as session:
        assert (await session.execute(select(ConsentRecord))).first() is None


async def test_worker_may_record_consent_given_by_phone_with_a_note(db: SessionFactory, family) -> None:  # type: ignore[no-untyped-def]
    await _give(db, family, family.mother, kind=ConsentKind.CONSENT, method=ConsentMethod.RECORDED_BY_WORKER,
                recorded_by_staff_id=family.worker.id, note="Read the text aloud by phone; she agreed.")
    assert await consent_on_record(db, family.session.id, family.mother.id)
    async with db() as session:
        record = (await session.execute(select(ConsentRecord))).scalar_one()
    assert b"agreed" not in (record.note_enc or b"")
    assert family.cipher.decrypt("consent_records", "note", record.id, record.note_enc).endswith("agreed.")


async def test_withdrawal_closes_the_gate_and_keeps_both_events(db: SessionFactory, family) -> None:  # type: ignore[no-untyped-def]
    await _give(db, family, family.mother, kind=ConsentKind.CONSENT, method=ConsentMethod.BROWSER,
                given_by_participant_id=family.mother.id)
    async with db() as session, session.begin():
        assert await withdraw_consent(session, family.mother, f"participant:{family.mother.id}") == 1
    assert not await consent_on_record(db, family.session.id, family.mother.id)
    async with db() as session:
        record = (await session.execute(select(ConsentRecord))).scalar_one()
    assert record.given_at < record.withdrawn_at  # type: ignore[operator]
    assert record.withdrawn_by == f"participant:{family.mother.id}"


async def test_consent_does_not_open_another_cases_session(db: SessionFactory, family) -> None:  # type: ignore[no-untyped-def]
    await _give(db, family, family.mother, kind=ConsentKind.CONSENT, method=ConsentMethod.BROWSER,
                given_by_participant_id=family.mother.id)
    assert not await consent_on_record(db, family.elsewhere.id, family.mother.id)
    assert not await consent_on_record(db, "no-such-session", family.mother.id)
