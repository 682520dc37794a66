"""Creating and reading case records; every personal field is sealed before it is added."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from telepractice.audit import AuditLog
from telepractice.crypto.case_keys import CaseCipher, create_case_key, open_case
from telepractice.crypto.keyring import Keyring
from telepractice.errors import Conflict, InvalidField
from telepractice.storage.models import (
    Case,
    CaseNote,
    CaseWorker,
    ConsentRecord,
    ConsentRefusal,
    FamilyParticipant,
    FamilyRole,
    StaffMember,
    StaffRole,
    new_id,
)

REFERENCE = re.compile(r"^[A-Z0-9][A-Z0-9-]{2,31}$")
LANGUAGES = ("pt", "en")


@dataclasses.dataclass(frozen=True)
class NewParticipant:
    display_name: str
    role: str
    is_minor: bool = False
    guardian_id: str | None = None
    preferred_language: str = "pt"
    contact: str | None = None


async def _staff_with_role(session: AsyncSession, staff_id: str, role: StaffRole, field: str) -> StaffMember:
    member = await session.get(StaffMember, staff_id)
    if member is None or member.role != role or member.disabled_at is not None:
        raise InvalidField(f"'{field}' must name an active {role}.", field=field)
    return member


async def create_case(
    session: AsyncSession,
    keyring: Keyring,
    *,
    reference: str,
    risk_level: str,
    supervisor_id: str,
    worker_ids: list[str],
) -> tuple[Case, CaseCipher]:
    if not REFERENCE.match(reference):
        raise InvalidField("'reference' must be 3 to 32 capital letters, digits or hyphens.", field="reference")
    if await session.scalar(select(Case.id).where(Case.reference == reference)) is not None:
        raise Conflict(f"A case with reference {reference} already exists.")
    await _staff_with_role(session, supervisor_id, StaffRole.SUPERVISOR, "supervisor_id")
    for worker_id in worker_ids:
        await _staff_with_role(session, worker_id, StaffRole.WORKER, "worker_ids")
    case = Case(id=new_id(), reference=reference, risk_level=risk_level, supervisor_id=supervisor_id)
    session.add(case)
    await session.flush()
    session.add_all(CaseWorker(case_id=case.id, staff_id=worker_id) for worker_id in sorted(set(worker_ids)))
    cipher = await create_case_key(session, keyring, case.id)
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict(f"A case with reference {reference} already exists.") from None
    return case, cipher


async def add_participant(session: AsyncSession, cipher: CaseCipher, new: NewParticipant) -> FamilyParticipant:
    if new.preferred_language not in LANGUAGES:
        raise InvalidField("'preferred_language' must be one of: pt, en.", field="preferred_language")
    if new.is_minor:
        guardian = new.guardian_id and await session.get(FamilyParticipant, new.guardian_id)
        if not guardian or guardian.case_id != cipher.case_id or guardian.is_minor:
            raise InvalidField("A minor needs 'guardian_id': an adult member of the same case.", field="guardian_id")
    elif new.guardian_id is not None:
        raise InvalidField("Only a minor has a 'guardian_id'.", field="guardian_id")
    if new.role == FamilyRole.GUARDIAN and new.is_minor:
        raise InvalidField("A guardian cannot be a minor.", field="is_minor")
    row_id = new_id()
    participant = FamilyParticipant(
        id=row_id,
        case_id=cipher.case_id,
        display_name_enc=cipher.encrypt("family_participants", "display_name", row_id, new.display_name),
        contact_enc=cipher.encrypt_optional("family_participants", "contact", row_id, new.contact),
        role=new.role,
        is_minor=new.is_minor,
        guardian_id=new.guardian_id,
        preferred_language=new.preferred_language,
    )
    session.add(participant)
    await session.flush()
    return participant


async def add_note(session: AsyncSession, cipher: CaseCipher, author_id: str, body: str) -> CaseNote:
    row_id = new_id()
    note = CaseNote(
        id=row_id,
        case_id=cipher.case_id,
        author_id=author_id,
        body_enc=cipher.encrypt("case_notes", "body", row_id, body),
    )
    session.add(note)
    await session.flush()
    return note


def participant_view(cipher: CaseCipher, row: FamilyParticipant) -> dict[str, Any]:
    return {
        "id": row.id,
        "display_name": cipher.decrypt("family_participants", "display_name", row.id, row.display_name_enc),
        "contact": cipher.decrypt_optional("family_participants", "contact", row.id, row.contact_enc),
        "role": row.role,
        "is_minor": row.is_minor,
        "guardian_id": row.guardian_id,
        "preferred_language": row.preferred_language,
    }


async def read_case(session: AsyncSession, keyring: Keyring, case: Case) -> dict[str, Any]:
    """The whole case record, decrypted; callers audit the read in the same transaction."""
    cipher = await open_case(session, keyring, case.id)
    participants = (
        await session.execute(
            select(FamilyParticipant).where(FamilyParticipant.case_id == case.id).order_by(FamilyParticipant.created_at)
        )
    ).scalars().all()
    notes = (
        await session.execute(select(CaseNote).where(CaseNote.case_id == case.id).order_by(CaseNote.created_at))
    ).scalars().all()
    workers = (await session.execute(select(CaseWorker.staff_id).where(CaseWorker.case_id == case.id))).scalars().all()
    consents = (
        await session.execute(
            select(ConsentRecord).where(ConsentRecord.case_id == case.id).order_by(ConsentRecord.given_at)
        )
    ).scalars().all()
    refusals = (
        await session.execute(
            select(ConsentRefusal).where(ConsentRefusal.case_id == case.id).order_by(ConsentRefusal.refused_at)
        )
    ).scalars().all()
    return {
        **case_summary(case),
        "worker_ids": sorted(workers),
        "participants": [participant_view(cipher, row) for row in participants],
        # Both events of a consent stay (given, then maybe withdrawn), and so does every refusal.
        "consent_history": [consent_view(cipher, row) for row in consents],
        "consent_refusals": [refusal_view(row) for row in refusals],
        "notes": [
            {
                "id": note.id,
                "author_id": note.author_id,
                "created_at": note.created_at.isoformat(),
                "body": cipher.decrypt("case_notes", "body", note.id, note.body_enc),
            }
            for note in notes
        ],
    }


def consent_view(cipher: CaseCipher, row: ConsentRecord) -> dict[str, Any]:
    """One consent (or assent) on the record, and its withdrawal if there was one."""
    return {
        "id": row.id,
        "participant_id": row.participant_id,
        "kind": row.kind,
        "method": row.method,
        "given_by_participant_id": row.given_by_participant_id,
        "recorded_by_staff_id": row.recorded_by_staff_id,
        "text_version": row.text_version,
        "text_hash": row.text_hash,
        "language": row.language,
        "note": cipher.decrypt_optional("consent_records", "note", row.id, row.note_enc),
        "given_at": row.given_at.isoformat(),
        "withdrawn_at": None if row.withdrawn_at is None else row.withdrawn_at.isoformat(),
        "withdrawn_by": row.withdrawn_by,
        "withdrawal_note": cipher.decrypt_optional("consent_records", "withdrawal_note", row.id, row.withdrawal_note_enc),
    }


def refusal_view(row: ConsentRefusal) -> dict[str, Any]:
    """A consent text someone read and said no to."""
    return {
        "id": row.id,
        "participant_id": row.participant_id,
        "kind": row.kind,
        "refused_by_participant_id": row.refused_by_participant_id,
        "text_version": row.text_version,
        "text_hash": row.text_hash,
        "language": row.language,
        "refused_at": row.refused_at.isoformat(),
    }


def case_summary(case: Case) -> dict[str, Any]:
    return {
        "id": case.id,
        "reference": case.reference,
        "risk_level": case.risk_level,
        "supervisor_id": case.supervisor_id,
        "created_at": case.created_at.isoformat(),
    }


async def audit_case(session: AsyncSession, audit: AuditLog, actor: str, action: str, case: Case, **detail: Any) -> None:
    await audit.append(session, actor=actor, action=action, target=f"case:{case.id}", detail=detail)
