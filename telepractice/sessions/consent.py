"""Consent on record: who consented to video sessions of a case, and whether it still stands.

An adult needs their own consent; a minor needs a guardian's consent and their own assent.
"""

from __future__ import annotations

import dataclasses

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from telepractice.crypto.case_keys import CaseCipher
from telepractice.errors import InvalidField, NotFound
from telepractice.storage.engine import SessionFactory
from telepractice.storage.models import (
    CaseSession,
    ConsentKind,
    ConsentMethod,
    ConsentRecord,
    FamilyParticipant,
    new_id,
    utcnow,
)


@dataclasses.dataclass(frozen=True)
class ConsentGiven:
    kind: ConsentKind
    method: ConsentMethod
    text_version: str
    text_hash: str
    language: str
    given_by_participant_id: str | None = None
    recorded_by_staff_id: str | None = None
    note: str | None = None


def _check_giver(participant: FamilyParticipant, given: ConsentGiven) -> None:
    """Who may give which: the person themself, their guardian for a minor, or a worker recording it."""
    if given.method == ConsentMethod.RECORDED_BY_WORKER:
        if given.recorded_by_staff_id is None or not given.note:
            raise InvalidField("A worker recording consent must be named and add a note.", field="note")
        return
    if given.kind == ConsentKind.ASSENT:
        if not participant.is_minor or given.given_by_participant_id != participant.id:
            raise InvalidField("Assent is given by the minor themself.", field="kind")
        return
    expected = participant.guardian_id if participant.is_minor else participant.id
    if given.given_by_participant_id != expected:
        raise InvalidField("Consent for a minor comes from their guardian; an adult gives their own.", field="kind")


async def record_consent(
    session: AsyncSession, cipher: CaseCipher, participant: FamilyParticipant, given: ConsentGiven
) -> ConsentRecord:
    if participant.case_id != cipher.case_id:
        raise NotFound()
    _check_giver(participant, given)
    row_id = new_id()
    record = ConsentRecord(
        id=row_id,
        case_id=participant.case_id,
        participant_id=participant.id,
        kind=given.kind,
        given_by_participant_id=given.given_by_participant_id,
        recorded_by_staff_id=given.recorded_by_staff_id,
        method=given.method,
        text_version=given.text_version,
        text_hash=given.text_hash,
        language=given.language,
        note_enc=cipher.encrypt_optional("consent_records", "note", row_id, given.note),
    )
    session.add(record)
    await session.flush()
    return record


async def withdraw_consent(session: AsyncSession, participant: FamilyParticipant, withdrawn_by: str) -> int:
    """Withdraw every standing consent and assent of a participant; returns how many."""
    standing = (
        await session.execute(
            select(ConsentRecord).where(
                ConsentRecord.participant_id == participant.id, ConsentRecord.withdrawn_at.is_(None)
            )
        )
    ).scalars().all()
    now = utcnow()
    for record in standing:
        record.withdrawn_at, record.withdrawn_by = now, withdrawn_by
    await session.flush()
    return len(standing)


async def standing_records(session: AsyncSession, participant_id: str) -> list[ConsentRecord]:
    """The consents and assents of a participant that stand now (not withdrawn)."""
    rows = await session.execute(
        select(ConsentRecord).where(
            ConsentRecord.participant_id == participant_id, ConsentRecord.withdrawn_at.is_(None)
        )
    )
    return list(rows.scalars())


def note_withdrawal(cipher: CaseCipher, withdrawn: list[ConsentRecord], note: str) -> None:
    """Keep a worker's note on a withdrawal with each record it withdrew, sealed with the case key."""
    for record in withdrawn:
        if record.case_id != cipher.case_id or record.withdrawn_at is None:
            raise ValueError(f"consent record {record.id} is not a withdrawn record of this case")
        record.withdrawal_note_enc = cipher.encrypt("consent_records", "withdrawal_note", record.id, note)


async def standing_kinds(session: AsyncSession, participant_id: str) -> set[str]:
    rows = await session.execute(
        select(ConsentRecord.kind).where(
            ConsentRecord.participant_id == participant_id, ConsentRecord.withdrawn_at.is_(None)
        )
    )
    return set(rows.scalars())


async def consent_on_record(db: SessionFactory, case_session_id: str, participant_id: str) -> bool:
    """Whether this family member may be admitted to this session, by the consent rules."""
    async with db() as session:
        participant = await session.get(FamilyParticipant, participant_id)
        scheduled = await session.get(CaseSession, case_session_id)
        if participant is None or scheduled is None or participant.case_id != scheduled.case_id:
            return False
        kinds = await standing_kinds(session, participant_id)
    return consent_suffices(participant.is_minor, kinds)


def consent_suffices(is_minor: bool, standing: set[str]) -> bool:
    """The rule, given the kinds of consent standing for a person: an adult's consent; for a child, also their assent."""
    required = {ConsentKind.CONSENT.value, ConsentKind.ASSENT.value} if is_minor else {ConsentKind.CONSENT.value}
    return required <= standing
