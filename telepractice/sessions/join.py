"""The family side of a personal link: opening it, what the join page needs, and the optional join code.

A join token reaches the server only in a request body or a WebSocket hello,
never in a URL. ``open_link`` is the one check every family endpoint runs;
``check_join_code`` counts wrong codes per link and per address and locks the
link after too many, and on success hands back a join token that says the
code was given, which the signalling doorkeeper requires for such links.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
from typing import Any

from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from telepractice.auth.passwords import HASHER
from telepractice.auth.signing_keys import SigningKeyring
from telepractice.auth.throttle import ThrottlePolicy, record_failure, seconds_to_wait
from telepractice.auth.tokens import issue_token, verify_token
from telepractice.config import Settings
from telepractice.crypto.case_keys import CaseCipher
from telepractice.errors import NotAuthenticated, NotFound, UserError
from telepractice.sessions.consent import standing_kinds
from telepractice.sessions.consent_texts import Audience, language_for
from telepractice.sessions.invites import JOIN_AUDIENCE
from telepractice.sessions.scheduling import planned_end
from telepractice.storage.models import (
    CaseSession,
    ConsentKind,
    FamilyParticipant,
    SessionInvite,
    SessionStatus,
    utcnow,
)

# The claim a join token carries once its link's join code was given.
CODE_CLAIM, CODE_VERIFIED = "code", "verified"
CODE_DIGITS = 6
# Wrong codes one link may take before it locks; the worker then issues a new link.
MAX_CODE_FAILURES = 5
# Wrong codes from one address, across links, before it must wait (doubling, up to 15 minutes).
ADDRESS_MAX_FAILURES = 10


def address_policy(settings: Settings) -> ThrottlePolicy:
    """The login throttle's window, since both keep their counts in one table and forget by that window."""
    return ThrottlePolicy(ADDRESS_MAX_FAILURES, dt.timedelta(minutes=settings.login_window_minutes))


class LinkRevoked(UserError):
    status, code, title = 410, "link-revoked", "This link was replaced by a newer one or withdrawn."


class LinkLocked(UserError):
    status, code = 423, "link-locked"
    title = "This link is locked after too many wrong join codes; ask your worker for a new one."


class SessionClosed(UserError):
    status, code, title = 410, "session-closed", "This session has ended or was cancelled."


class WrongJoinCode(UserError):
    status, code, title = 422, "wrong-join-code", "The join code is not the one your worker gave you."


class TooManyCodeAttempts(UserError):
    status, code, title = 429, "too-many-attempts", "Too many wrong join codes from here; wait before trying again."

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(f"Too many wrong join codes from this address; try again in {retry_after_seconds} seconds.")
        self.retry_after_seconds = retry_after_seconds


@dataclasses.dataclass(frozen=True)
class OpenLink:
    """A standing link, the session it opens and the person it is for."""

    invite: SessionInvite
    scheduled: CaseSession
    person: FamilyParticipant
    code_verified: bool


def new_join_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def hash_join_code(code: str) -> str:
    return HASHER.hash(code)


async def open_link(session: AsyncSession, signing_keys: SigningKeyring, settings: Settings, token: str) -> OpenLink:
    """The link behind a join token, refused when forged, expired, revoked, locked or its session closed."""
    claims = verify_token(signing_keys, token, issuer=settings.issuer, audience=JOIN_AUDIENCE)
    invite = await session.get(SessionInvite, str(claims.get("jti")))
    if invite is None or invite.session_id != claims.get("session") or invite.participant_id != claims.get("sub"):
        raise NotAuthenticated("The link is not one this server issued.")
    if invite.revoked_at is not None:
        raise LinkRevoked()
    if invite.locked_at is not None:
        raise LinkLocked()
    scheduled = await session.get(CaseSession, invite.session_id)
    person = await session.get(FamilyParticipant, invite.participant_id)
    if scheduled is None or person is None or person.case_id != scheduled.case_id:
        raise NotAuthenticated("The link is not one this server issued.")
    if scheduled.status in (SessionStatus.ENDED, SessionStatus.CANCELLED):
        raise SessionClosed(f"This session is {scheduled.status}.")
    return OpenLink(invite, scheduled, person, claims.get(CODE_CLAIM) == CODE_VERIFIED)


@dataclasses.dataclass(frozen=True)
class CodeOutcome:
    """What one join-code try came to: a verified token, or why not (written before the refusal is raised)."""

    token: str | None = None
    error: UserError | None = None


async def check_join_code(
    session: AsyncSession,
    signing_keys: SigningKeyring,
    settings: Settings,
    link: OpenLink,
    code: str,
    address_key: str,
) -> CodeOutcome:
    """Verify a join code; a wrong one counts against the link and the address and may lock the link."""
    now = utcnow()
    policy = address_policy(settings)
    wait = await seconds_to_wait(session, [(address_key, policy)], now)
    if wait:
        return CodeOutcome(error=TooManyCodeAttempts(wait))
    invite = link.invite
    if invite.join_code_hash is None or _matches(invite.join_code_hash, code):
        return CodeOutcome(token=verified_token(signing_keys, settings, link))
    await record_failure(session, [address_key], now, policy.window)
    invite.code_failures += 1
    if invite.code_failures >= MAX_CODE_FAILURES:
        invite.locked_at = now
        return CodeOutcome(error=LinkLocked())
    left = MAX_CODE_FAILURES - invite.code_failures
    return CodeOutcome(error=WrongJoinCode(f"The join code is wrong; {left} tries left before the link locks.",
                                           tries_left=left))


def _matches(stored_hash: str, code: str) -> bool:
    try:
        return HASHER.verify(stored_hash, code)
    except (VerificationError, InvalidHashError):
        return False


def verified_token(signing_keys: SigningKeyring, settings: Settings, link: OpenLink) -> str:
    """The same link's join token, now saying its join code was given; it expires with the link."""
    return issue_token(
        signing_keys,
        issuer=settings.issuer,
        audience=JOIN_AUDIENCE,
        subject=link.person.id,
        ttl=link.invite.expires_at - utcnow(),
        claims={"session": link.scheduled.id, "jti": link.invite.id, CODE_CLAIM: CODE_VERIFIED},
    )


# --- consent as the join page sees it -----------------------------------------


@dataclasses.dataclass(frozen=True)
class ConsentStep:
    """One consent or assent still missing that this link's holder may give: for whom, which kind, which text."""

    participant: FamilyParticipant
    kind: ConsentKind
    audience: Audience


async def consent_step(session: AsyncSession, holder: FamilyParticipant, subject_id: str) -> ConsentStep:
    """What the holder of a link may give for ``subject_id`` (themself or a minor in their care), or NotFound."""
    if subject_id == holder.id:
        if holder.is_minor:
            return ConsentStep(holder, ConsentKind.ASSENT, Audience.CHILD)
        return ConsentStep(holder, ConsentKind.CONSENT, Audience.ADULT)
    child = await session.get(FamilyParticipant, subject_id)
    if child is None or child.case_id != holder.case_id or not child.is_minor or child.guardian_id != holder.id:
        raise NotFound()
    return ConsentStep(child, ConsentKind.CONSENT, Audience.GUARDIAN)


async def consent_steps(session: AsyncSession, holder: FamilyParticipant) -> list[ConsentStep]:
    """Every consent step the holder could give: their own, and a guardian's for each minor in their care."""
    steps = [await consent_step(session, holder, holder.id)]
    children = await session.execute(
        select(FamilyParticipant).where(
            FamilyParticipant.case_id == holder.case_id,
            FamilyParticipant.guardian_id == holder.id,
            FamilyParticipant.is_minor.is_(True),
        ).order_by(FamilyParticipant.created_at)
    )
    steps.extend(ConsentStep(child, ConsentKind.CONSENT, Audience.GUARDIAN) for child in children.scalars())
    return steps


def first_name(cipher: CaseCipher, person: FamilyParticipant) -> str:
    name = cipher.decrypt("family_participants", "display_name", person.id, person.display_name_enc)
    return name.split()[0] if name.split() else name


async def join_summary(session: AsyncSession, cipher: CaseCipher, link: OpenLink) -> dict[str, Any]:
    """What the join page shows before the call: the session, the person, consent, and the join code."""
    scheduled, person = link.scheduled, link.person
    steps = []
    for step in await consent_steps(session, person):
        kinds = await standing_kinds(session, step.participant.id)
        steps.append({
            "participant": step.participant.id,
            "first_name": first_name(cipher, step.participant),
            "kind": str(step.kind),
            "audience": str(step.audience),
            "on_record": step.kind.value in kinds,
        })
    own = await standing_kinds(session, person.id)
    required = {ConsentKind.CONSENT.value, ConsentKind.ASSENT.value} if person.is_minor else {ConsentKind.CONSENT.value}
    return {
        "session": {
            "id": scheduled.id,
            "kind": scheduled.kind,
            "status": scheduled.status,
            "planned_start": scheduled.planned_start.isoformat(),
            "planned_end": planned_end(scheduled).isoformat(),
            "planned_minutes": scheduled.planned_minutes,
        },
        "participant": {
            "id": person.id,
            "first_name": first_name(cipher, person),
            "language": language_for(person.preferred_language),
            "is_minor": person.is_minor,
        },
        "consent": {"on_record": required <= own, "steps": steps},
        "join_code_required": link.invite.join_code_hash is not None,
        "join_code_verified": link.code_verified,
        "link_expires_at": link.invite.expires_at.isoformat(),
    }
