"""The family's evaluation of a session: three short questions, answered once, after it, within a day.

A family member proves who they are with the join token of their personal
link or the resume token their page was given in the call (never in a URL).
Either token expires soon after the planned end; here it is accepted for as
long as the evaluation stays open, and everything else about it (signature,
issuer, audience, the invite still standing) is checked as ever.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import jwt
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from telepractice.audit import AuditLog
from telepractice.auth.signing_keys import SigningKeyring
from telepractice.auth.tokens import verify_token
from telepractice.config import Settings
from telepractice.crypto.case_keys import open_case
from telepractice.crypto.keyring import Keyring
from telepractice.errors import NotAuthenticated, UserError
from telepractice.sessions.invites import JOIN_AUDIENCE
from telepractice.sessions.records import refresh_record_parts
from telepractice.storage.engine import SessionFactory
from telepractice.storage.models import (
    CaseSession,
    EvaluationAnswer,
    FamilyParticipant,
    PresenceInterval,
    SessionInvite,
    SessionKind,
    SessionRecord,
    SessionStatus,
    new_id,
    utcnow,
)

RESUME_AUDIENCE = "telepractice:resume"  # as signaling/identity.py issues it
EVALUATION_WINDOW = dt.timedelta(hours=24)
MAX_COMMENT_CHARS = 1000
LANGUAGES = ("pt", "en")

QUESTIONS: dict[str, dict[str, str]] = {
    "en": {
        "usefulness": "How useful was this session for you? (1 not at all – 5 very)",
        "comfort": "How comfortable did you feel? (1 not at all – 5 very)",
        "comment": "Anything you would like to tell us? (optional)",
    },
    "pt": {
        "usefulness": "Quão útil foi esta sessão para si? (1 nada – 5 muito)",
        "comfort": "Quão à vontade se sentiu? (1 nada – 5 muito)",
        "comment": "Quer dizer-nos mais alguma coisa? (opcional)",
    },
}


class NotAParticipant(UserError):
    status, code, title = 403, "not-a-participant", "Only family members who took part in the session answer its evaluation."


class WrongSession(UserError):
    status, code, title = 403, "wrong-session", "Your link is for another session."


class EvaluationNotOpen(UserError):
    status, code, title = 409, "evaluation-not-open", "The evaluation opens when the session ends or you leave it."


class EvaluationClosed(UserError):
    status, code, title = 410, "evaluation-closed", "The evaluation of this session has closed."


class AlreadyAnswered(UserError):
    status, code, title = 409, "evaluation-already-answered", "You have already answered the evaluation of this session."


@dataclasses.dataclass(frozen=True)
class Evaluator:
    """Who a token says is answering, and for which session (their invite checked)."""

    participant_id: str
    session_id: str


@dataclasses.dataclass(frozen=True)
class Answers:
    usefulness: int
    comfort: int
    comment: str | None
    language: str | None


def evaluator_of(signing_keys: SigningKeyring, settings: Settings, token: str) -> tuple[Evaluator, str]:
    """The participant and session a family join or resume token names, and its invite id; NotAuthenticated otherwise."""
    try:
        audience = jwt.decode(token, options={"verify_signature": False}).get("aud")
    except jwt.PyJWTError:
        raise NotAuthenticated("The token is not a well-formed JWT.") from None
    if audience not in (JOIN_AUDIENCE, RESUME_AUDIENCE):
        raise NotAuthenticated("Only a family member's join or resume token answers an evaluation.")
    # The link outlives the plan by 30 minutes; the evaluation by a day after the end, checked below.
    leeway = int((EVALUATION_WINDOW * 2).total_seconds())
    claims = verify_token(signing_keys, token, issuer=settings.issuer, audience=audience, leeway_seconds=leeway)
    if audience == RESUME_AUDIENCE and claims.get("role") != "family":
        raise NotAParticipant("Staff do not answer the family's evaluation.")
    invite_id = claims.get("jti") if audience == JOIN_AUDIENCE else claims.get("invite")
    session_id = claims.get("session")
    if not isinstance(invite_id, str) or not isinstance(session_id, str):
        raise NotAuthenticated("The token does not name a session and an invite.")
    return Evaluator(str(claims["sub"]), session_id), invite_id


async def _checked_invite(session: AsyncSession, evaluator: Evaluator, invite_id: str) -> None:
    invite = await session.get(SessionInvite, invite_id)
    if (invite is None or invite.session_id != evaluator.session_id
            or invite.participant_id != evaluator.participant_id):
        raise NotAuthenticated("The link is not one this server issued.")
    if invite.revoked_at is not None:
        raise NotAuthenticated("The link was replaced by a newer one or withdrawn.")


async def _ended_for(session: AsyncSession, scheduled: CaseSession, participant_id: str) -> dt.datetime:
    """When the session ended for this person: its end, or when they left; EvaluationNotOpen while they are in it."""
    count, still_open, last_left = (await session.execute(
        select(func.count(), func.count().filter(PresenceInterval.ended_at.is_(None)), func.max(PresenceInterval.ended_at))
        .where(PresenceInterval.session_id == scheduled.id, PresenceInterval.participant_id == participant_id)
    )).one()
    if not count:
        raise NotAParticipant("You did not take part in this session, so there is nothing to evaluate.")
    if scheduled.status == SessionStatus.ENDED:
        record = await session.get(SessionRecord, scheduled.id)
        if record is not None:
            return record.actual_end
    if still_open or last_left is None:
        raise EvaluationNotOpen()
    return last_left if last_left.tzinfo else last_left.replace(tzinfo=dt.UTC)


async def answer_evaluation(
    db: SessionFactory,
    keyring: Keyring,
    audit: AuditLog,
    evaluator: Evaluator,
    invite_id: str,
    answers: Answers,
    *,
    session_id: str | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Keep one family member's answers (the comment sealed with the case key); once, after the session, within a day."""
    moment = now or utcnow()
    if session_id is not None and session_id != evaluator.session_id:
        raise WrongSession()
    try:
        async with audit.recording(db) as session:
            await _checked_invite(session, evaluator, invite_id)
            scheduled = await session.get(CaseSession, evaluator.session_id)
            person = await session.get(FamilyParticipant, evaluator.participant_id)
            if scheduled is None or person is None or person.case_id != scheduled.case_id:
                raise NotAParticipant()
            if scheduled.kind == SessionKind.CASE_DISCUSSION or scheduled.status == SessionStatus.CANCELLED:
                raise NotAParticipant("This session has no evaluation.")
            ended_at = await _ended_for(session, scheduled, person.id)
            if moment - ended_at > EVALUATION_WINDOW:
                raise EvaluationClosed(f"The evaluation closed {EVALUATION_WINDOW.total_seconds() / 3600:g} hours "
                                       "after the session ended.")
            answered = await session.scalar(select(EvaluationAnswer.id).where(
                EvaluationAnswer.session_id == scheduled.id, EvaluationAnswer.participant_id == person.id))
            if answered is not None:
                raise AlreadyAnswered()
            cipher = await open_case(session, keyring, scheduled.case_id)
            row_id = new_id()
            session.add(EvaluationAnswer(
                id=row_id, session_id=scheduled.id, case_id=scheduled.case_id, participant_id=person.id,
                usefulness=answers.usefulness, comfort=answers.comfort,
                comment_enc=cipher.encrypt_optional("evaluation_answers", "comment", row_id, answers.comment or None),
                language=answers.language or person.preferred_language, answered_at=moment,
            ))
            await session.flush()
            await refresh_record_parts(session, keyring, scheduled.id)
            await audit.append(session, actor=f"family:{person.id}", action="evaluation.answer",
                               target=f"session:{scheduled.id}", detail={"case": scheduled.case_id})
    except IntegrityError:
        raise AlreadyAnswered() from None  # the same answers sent twice at once
    return {"session_id": evaluator.session_id, "participant_id": evaluator.participant_id, "answered_at": moment.isoformat()}
