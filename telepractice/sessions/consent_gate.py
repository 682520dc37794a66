"""Consent events as they happen: given, refused or withdrawn, audited, and passed on to the live rooms.

Each function runs inside the caller's audited transaction and writes ids
only to the audit log. ``tell_rooms`` runs after the commit, so the
signalling layer reads the consent rule against what is really on record:
consent completed while someone waits tells the host; a withdrawal takes the
person out of the call at once. A withdrawal also revokes the person's links
to sessions not yet over, so the same link cannot bring them back.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from telepractice.audit import AuditLog
from telepractice.crypto.case_keys import CaseCipher
from telepractice.errors import Conflict
from telepractice.sessions.consent import (
    ConsentGiven,
    consent_on_record,
    record_consent,
    standing_kinds,
    withdraw_consent,
)
from telepractice.sessions.consent_texts import ConsentText
from telepractice.signaling.service import SignalingService
from telepractice.storage.engine import SessionFactory
from telepractice.storage.models import (
    CaseSession,
    ConsentKind,
    ConsentMethod,
    ConsentRefusal,
    FamilyParticipant,
    SessionInvite,
    SessionStatus,
    utcnow,
)

OPEN_STATUSES = (SessionStatus.SCHEDULED.value, SessionStatus.LIVE.value)


async def give_consent(
    session: AsyncSession,
    audit: AuditLog,
    cipher: CaseCipher,
    subject: FamilyParticipant,
    kind: ConsentKind,
    text: ConsentText,
    *,
    actor: str,
    given_by: FamilyParticipant | None = None,
    staff_id: str | None = None,
    note: str | None = None,
) -> bool:
    """Record consent or assent; False (nothing written) when that kind already stands."""
    if kind.value in await standing_kinds(session, subject.id):
        return False
    method = ConsentMethod.BROWSER if staff_id is None else ConsentMethod.RECORDED_BY_WORKER
    record = await record_consent(session, cipher, subject, ConsentGiven(
        kind=kind, method=method, text_version=text.version, text_hash=text.sha256, language=text.language,
        given_by_participant_id=None if given_by is None else given_by.id, recorded_by_staff_id=staff_id, note=note,
    ))
    await audit.append(session, actor=actor, action=f"{kind}.given", target=f"participant:{subject.id}",
                       detail={"case": subject.case_id, "consent": record.id, "method": str(method),
                               "version": text.version})
    return True


async def refuse_consent(
    session: AsyncSession, audit: AuditLog, subject: FamilyParticipant, kind: ConsentKind, text: ConsentText,
    refused_by: FamilyParticipant,
) -> None:
    """Keep a refusal; one that stands already must be withdrawn instead, so the record says which."""
    if kind.value in await standing_kinds(session, subject.id):
        raise Conflict(f"The {kind} is on record; withdraw it instead of refusing.")
    refusal = ConsentRefusal(
        case_id=subject.case_id, participant_id=subject.id, kind=kind, refused_by_participant_id=refused_by.id,
        text_version=text.version, text_hash=text.sha256, language=text.language,
    )
    session.add(refusal)
    await session.flush()
    await audit.append(session, actor=f"participant:{refused_by.id}", action=f"{kind}.refused",
                       target=f"participant:{subject.id}", detail={"case": subject.case_id, "refusal": refusal.id,
                                                                  "version": text.version})


async def withdraw(session: AsyncSession, audit: AuditLog, subject: FamilyParticipant, *, actor: str) -> int:
    """Withdraw every standing consent and assent, and revoke the person's links to open sessions."""
    withdrawn = await withdraw_consent(session, subject, withdrawn_by=actor)
    open_sessions = select(CaseSession.id).where(
        CaseSession.case_id == subject.case_id, CaseSession.status.in_(OPEN_STATUSES)
    )
    revoked = await session.execute(
        update(SessionInvite)
        .where(SessionInvite.participant_id == subject.id, SessionInvite.revoked_at.is_(None),
               SessionInvite.session_id.in_(open_sessions))
        .values(revoked_at=utcnow())
    )
    await audit.append(session, actor=actor, action="consent.withdrawn", target=f"participant:{subject.id}",
                       detail={"case": subject.case_id, "withdrawn": withdrawn, "links_revoked": revoked.rowcount})
    return withdrawn


async def tell_rooms(db: SessionFactory, service: SignalingService, subject_id: str, *, withdrawn: bool = False) -> bool:
    """After a commit: whether the person may now be admitted, told to every open session of their case.

    A grant that leaves the consent incomplete (a guardian's, before the child's assent) tells no room:
    the room takes "not ok" as a withdrawal and would send a waiting child away.
    """
    async with db() as session:
        subject = await session.get(FamilyParticipant, subject_id)
        if subject is None:
            return False
        rows = await session.execute(
            select(CaseSession.id).where(CaseSession.case_id == subject.case_id, CaseSession.status.in_(OPEN_STATUSES))
        )
        session_ids = list(rows.scalars())
    ok = False
    for session_id in session_ids:
        ok = await consent_on_record(db, session_id, subject_id)
        if ok or withdrawn:
            await service.consent_changed(session_id, subject_id, ok)
    return ok


async def audit_refused(db: SessionFactory, audit: AuditLog, *, actor: str, action: str, target: str) -> None:
    """Keep a refused attempt at someone else's consent, in its own transaction: the attempt itself wrote nothing."""
    async with audit.recording(db) as session:
        await audit.append(session, actor=actor, action=action, target=target[:120], detail={"refused": "not-found"})
