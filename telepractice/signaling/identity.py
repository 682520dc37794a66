"""Who a signalling connection is: the token of its hello, checked against the database, as an Identity.

Three tokens open a session. A staff access token (its login still open, as the
HTTP guard checks) joins the session the client names, as host when the
session is theirs and as staff when they work on or supervise its case. A
family join token names its session and person, and its invite must still
stand. A resume token, handed out in ``welcome``, lets anyone who has joined
once come back after their first token expired; it lives until the session's
planned end plus the same grace a family link has, and is checked against the
database again (invite still standing, staff still of the case) each time.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

import jwt
from sqlalchemy import and_, select

from telepractice import errors as domain_errors
from telepractice.auth.guards import staff_token_login
from telepractice.auth.logins import STAFF_AUDIENCE
from telepractice.auth.signing_keys import SigningKeyring
from telepractice.auth.tokens import issue_token, verify_token
from telepractice.config import Settings
from telepractice.crypto.case_keys import open_case
from telepractice.crypto.keyring import Keyring
from telepractice.sessions.consent import consent_suffices, standing_kinds
from telepractice.sessions.invites import GRACE_AFTER_END, JOIN_AUDIENCE
from telepractice.sessions.join import CODE_CLAIM, CODE_VERIFIED
from telepractice.sessions.scheduling import planned_end
from telepractice.signaling import errors
from telepractice.signaling.participant import Identity, Role
from telepractice.storage.engine import SessionFactory
from telepractice.storage.models import (
    Case,
    CaseKey,
    CaseSession,
    CaseWorker,
    FamilyParticipant,
    SessionInvite,
    SessionStatus,
    StaffLogin,
    StaffMember,
    utcnow,
)

RESUME_AUDIENCE = "telepractice:resume"
# A resume token shorter-lived than this is not worth handing out.
MIN_RESUME_TTL = dt.timedelta(seconds=10)

# Checks a staff access token and its login as the HTTP guard does; returns the staff member's id.
StaffLoginCheck = Callable[[str], Awaitable[str]]
# The same check on a login (and its staff member) the hello's own query read; None where the token's
# login is unknown. Returns the staff member's id (auth/guards.py ``open_login``).
LoadedLoginCheck = Callable[[str, StaffLogin | None, StaffMember | None], Awaitable[str]]


@dataclasses.dataclass(frozen=True)
class Admission:
    """What a hello's token opened: who, in which session, and until when their credentials may last."""

    identity: Identity
    ends_at: dt.datetime  # the session's planned end plus grace: resume tokens and TURN credentials die then
    invite_id: str | None = None  # family only: the invite their link came from
    planned_start: dt.datetime | None = None  # the session's plan, told in welcome: the waiting room and the
    planned_end: dt.datetime | None = None  # host's timer show it


@dataclasses.dataclass(frozen=True)
class Doorkeeper:
    """Turns the token of a hello into an Admission, or refuses it with a signalling error."""

    db: SessionFactory
    keyring: Keyring
    signing_keys: SigningKeyring
    settings: Settings

    async def admit(self, token: str, requested_session: str | None, staff_login: StaffLoginCheck | None = None, *,
                    loaded_login: LoadedLoginCheck | None = None) -> Admission:
        """The Admission this token gives for ``requested_session`` (required for staff, checked for others).

        A staff token's login is checked by ``staff_login``, or, given ``loaded_login``, read in the
        same query as the session it opens and checked by ``loaded_login``: one round trip fewer on
        the busiest path of a join storm.
        """
        audience = _audience(token)
        if audience == STAFF_AUDIENCE:
            if loaded_login is not None:
                staff_id, login_id = _checked_now(staff_token_login, self.signing_keys, self.settings.issuer, token)
                if requested_session is None:
                    raise errors.WrongRoom("Staff name the session they join: /ws?session=<session id>.")
                return await self._staff(staff_id, requested_session, expected_role=None,
                                         login=(login_id, loaded_login))
            if staff_login is None:
                raise TypeError("admit needs staff_login or loaded_login to check a staff token")
            staff_id = await _checked(staff_login(token))
            if requested_session is None:
                raise errors.WrongRoom("Staff name the session they join: /ws?session=<session id>.")
            return await self._staff(staff_id, requested_session, expected_role=None)
        claims = self._verify(token, audience)
        session_id = claims.get("session")
        if not isinstance(session_id, str):
            raise errors.NotAuthenticated("The token does not name a session.")
        if requested_session is not None and requested_session != session_id:
            raise errors.WrongRoom()
        if audience == JOIN_AUDIENCE:
            code_given = claims.get(CODE_CLAIM) == CODE_VERIFIED
            return await self._family(claims["sub"], session_id, invite_id=claims["jti"], code_given=code_given)
        role = claims.get("role")
        if role == Role.FAMILY:
            invite_id = claims.get("invite")
            if not isinstance(invite_id, str):
                raise errors.NotAuthenticated("The resume token does not name an invite.")
            # A resume token is only handed out after a hello that passed the join-code check.
            return await self._family(claims["sub"], session_id, invite_id=invite_id, code_given=True)
        if role in (Role.HOST, Role.STAFF):
            return await self._staff(claims["sub"], session_id, expected_role=Role(role))
        raise errors.NotAuthenticated("The resume token does not name a role.")

    def resume_token(self, admission: Admission) -> str | None:
        """A token that lets this participant back into this session until it ends; None when it nearly has."""
        ttl = admission.ends_at - utcnow()
        if ttl < MIN_RESUME_TTL:
            return None
        identity = admission.identity
        claims: dict[str, Any] = {"session": identity.room_id, "role": str(identity.role)}
        if admission.invite_id is not None:
            claims["invite"] = admission.invite_id
        return issue_token(
            self.signing_keys,
            issuer=self.settings.issuer,
            audience=RESUME_AUDIENCE,
            subject=identity.participant_id,
            ttl=ttl,
            claims=claims,
        )

    def _verify(self, token: str, audience: str) -> dict[str, Any]:
        if audience not in (JOIN_AUDIENCE, RESUME_AUDIENCE):
            raise errors.NotAuthenticated("The token does not open signalling.")
        return _verified(self.signing_keys, token, self.settings.issuer, audience)

    async def _staff(self, staff_id: str, session_id: str, expected_role: Role | None,
                     login: tuple[str, LoadedLoginCheck] | None = None) -> Admission:
        async with self.db() as session:
            # One round trip for every check: a hello is the busiest path of a join storm.
            if login is None:
                row = (
                    await session.execute(
                        select(CaseSession, StaffMember, Case, CaseWorker.staff_id)
                        .select_from(CaseSession)
                        .outerjoin(Case, Case.id == CaseSession.case_id)
                        .outerjoin(StaffMember, StaffMember.id == staff_id)
                        .outerjoin(CaseWorker, and_(CaseWorker.case_id == CaseSession.case_id,
                                                    CaseWorker.staff_id == staff_id))
                        .where(CaseSession.id == session_id)
                    )
                ).one_or_none()
                found, member, case, case_worker = (None, None, None, None) if row is None else row
            else:
                # From the login, so an unknown or ended login is refused first, as the HTTP guard does.
                login_id, check = login
                row = (
                    await session.execute(
                        select(StaffLogin, StaffMember, CaseSession, Case, CaseWorker.staff_id)
                        .select_from(StaffLogin)
                        .outerjoin(StaffMember, StaffMember.id == StaffLogin.staff_id)
                        .outerjoin(CaseSession, CaseSession.id == session_id)
                        .outerjoin(Case, Case.id == CaseSession.case_id)
                        .outerjoin(CaseWorker, and_(CaseWorker.case_id == CaseSession.case_id,
                                                    CaseWorker.staff_id == staff_id))
                        .where(StaffLogin.id == login_id)
                    )
                ).one_or_none()
                staff_login, member, found, case, case_worker = (None,) * 5 if row is None else row
        if login is not None:
            await _checked(check(staff_id, staff_login, member))
        scheduled = _still_open(found)
        if member is None or member.disabled_at is not None:
            raise errors.NotAuthenticated("The account is disabled.")
        role = _staff_role(scheduled, case, case_worker is not None, staff_id)
        if expected_role is not None and role is not expected_role:
            raise errors.WrongRoom(f"You are {role} of this session now, not {expected_role}.")
        identity = Identity(staff_id, session_id, role, member.display_name)
        return Admission(identity, _ends_at(scheduled), None, *_plan(scheduled))

    async def _family(self, participant_id: str, session_id: str, invite_id: str, code_given: bool) -> Admission:
        async with self.db() as session:
            # One round trip for the link, its session, the person and the case key (open_case finds it loaded).
            row = (
                await session.execute(
                    select(SessionInvite, CaseSession, FamilyParticipant, CaseKey)
                    .select_from(SessionInvite)
                    .outerjoin(CaseSession, CaseSession.id == SessionInvite.session_id)
                    .outerjoin(FamilyParticipant, FamilyParticipant.id == SessionInvite.participant_id)
                    .outerjoin(CaseKey, CaseKey.case_id == CaseSession.case_id)
                    .where(SessionInvite.id == invite_id)
                )
            ).one_or_none()
            invite, found, person, _ = (None, None, None, None) if row is None else row
            if invite is None or invite.session_id != session_id or invite.participant_id != participant_id:
                raise errors.NotAuthenticated("The link is not one this server issued.")
            if invite.revoked_at is not None:
                raise errors.NotAuthenticated("The link was replaced by a newer one or withdrawn.")
            if invite.locked_at is not None:
                raise errors.NotAuthenticated("The link is locked after too many wrong join codes.")
            if invite.join_code_hash is not None and not code_given:
                raise errors.JoinCodeRequired()
            scheduled = _still_open(found)
            if person is None or person.case_id != scheduled.case_id:
                raise errors.NotAuthenticated("The link is not one this server issued.")
            try:
                cipher = await open_case(session, self.keyring, scheduled.case_id)
            except domain_errors.RecordErased:
                raise errors.SessionEnded("The case of this session was erased.") from None
            name = cipher.decrypt("family_participants", "display_name", person.id, person.display_name_enc)
            # In the same database session: the person and the session are already known to be of one case.
            consent_ok = consent_suffices(person.is_minor, await standing_kinds(session, participant_id))
        identity = Identity(participant_id, session_id, Role.FAMILY, name, person.is_minor, consent_ok)
        return Admission(identity, _ends_at(scheduled), invite_id, *_plan(scheduled))


def _verified(keyring: SigningKeyring, token: str, issuer: str, audience: str) -> dict[str, Any]:
    """verify_token, its refusal as the signalling not-authenticated."""
    try:
        return verify_token(keyring, token, issuer=issuer, audience=audience)
    except domain_errors.NotAuthenticated as error:
        raise errors.NotAuthenticated(error.detail) from None


def _checked_now(check: Callable[..., tuple[str, str]], *args: Any) -> tuple[str, str]:
    """A synchronous check's refusal, as the signalling not-authenticated."""
    try:
        return check(*args)
    except domain_errors.NotAuthenticated as error:
        raise errors.NotAuthenticated(error.detail) from None


async def _checked(staff_login: Awaitable[str]) -> str:
    """The HTTP guard's refusal, as the signalling not-authenticated."""
    try:
        return await staff_login
    except domain_errors.NotAuthenticated as error:
        raise errors.NotAuthenticated(error.detail) from None


def _audience(token: str) -> str:
    """Which door the token claims to open; only read to choose the check, which verifies it."""
    try:
        audience = jwt.decode(token, options={"verify_signature": False}).get("aud")
    except jwt.PyJWTError:
        raise errors.NotAuthenticated("The token is not a well-formed JWT.") from None
    if not isinstance(audience, str):
        raise errors.NotAuthenticated("The token does not name one audience.")
    return audience


def _still_open(scheduled: CaseSession | None) -> CaseSession:
    """The session, refused when it does not exist or is over."""
    if scheduled is None:
        raise errors.WrongRoom("There is no such session, or the token does not open it.")
    if scheduled.status in (SessionStatus.ENDED, SessionStatus.CANCELLED):
        raise errors.SessionEnded(f"The session is {scheduled.status}.")
    return scheduled


def _staff_role(scheduled: CaseSession, case: Case | None, works_on_case: bool, staff_id: str) -> Role:
    """Host when the session is theirs; staff when they work on or supervise its case; refused otherwise."""
    if scheduled.host_id == staff_id:
        return Role.HOST
    if case is not None and case.erased_at is None and (case.supervisor_id == staff_id or works_on_case):
        return Role.STAFF
    raise errors.WrongRoom("You are not staff of this session's case.")


def _plan(scheduled: CaseSession) -> tuple[dt.datetime, dt.datetime]:
    return scheduled.planned_start, planned_end(scheduled)


def _ends_at(scheduled: CaseSession) -> dt.datetime:
    return planned_end(scheduled) + GRACE_AFTER_END
