"""Who is calling: the staff member behind a request's bearer token, and whether their role may."""

from __future__ import annotations

import dataclasses
import datetime as dt

from aiohttp import web
from sqlalchemy import select, update

from telepractice.appkeys import AUDIT, DB, SETTINGS, SIGNING_KEYS
from telepractice.auth.logins import STAFF_AUDIENCE, end_login, ended_detail, login_expiry
from telepractice.auth.signing_keys import SigningKeyring
from telepractice.auth.tokens import verify_token
from telepractice.errors import Forbidden, NotAuthenticated
from telepractice.storage.models import StaffLogin, StaffMember, utcnow

# Writing last_seen_at on every request would make each read a write; 30 s is precise enough
# for an idle timeout counted in minutes.
LAST_SEEN_INTERVAL = dt.timedelta(seconds=30)


@dataclasses.dataclass(frozen=True)
class StaffPrincipal:
    """The staff member a request acts for, and the login it belongs to."""

    staff_id: str
    username: str
    role: str
    login_id: str

    @property
    def actor(self) -> str:
        """How the audit log names this staff member."""
        return f"staff:{self.staff_id}"


PRINCIPAL = web.RequestKey("staff_principal", StaffPrincipal)


def bearer_token(request: web.Request) -> str:
    """The token of the Authorization header; never from a query string, where logs and Referer keep it."""
    header = request.headers.get("Authorization")
    if header is None:
        raise NotAuthenticated("The request has no Authorization header with a bearer token.")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated("The Authorization header must be 'Bearer' followed by an access token.")
    return token.strip()


def staff_token_login(signing_keys: SigningKeyring, issuer: str, token: str) -> tuple[str, str]:
    """The staff id and login id an access token names, its signature and expiry checked; NotAuthenticated if not."""
    claims = verify_token(signing_keys, token, issuer=issuer, audience=STAFF_AUDIENCE)
    login_id = claims.get("sid")
    if not isinstance(login_id, str):
        raise NotAuthenticated("The token does not name a staff login.")
    return claims["sub"], login_id


async def authenticate_token(app: web.Application, token: str) -> StaffPrincipal:
    """The staff member behind an access token, whatever carried it (a header, a WebSocket hello)."""
    staff_id, login_id = staff_token_login(app[SIGNING_KEYS], app[SETTINGS].issuer, token)
    async with app[DB]() as session:
        row = (
            await session.execute(
                select(StaffLogin, StaffMember)
                .join(StaffMember, StaffMember.id == StaffLogin.staff_id)
                .where(StaffLogin.id == login_id)
            )
        ).one_or_none()
    login, member = (None, None) if row is None else row
    return await open_login(app, staff_id, login, member)


async def open_login(
    app: web.Application, staff_id: str, login: StaffLogin | None, member: StaffMember | None
) -> StaffPrincipal:
    """The principal of a login already read from the database (a hello reads it with the session it opens).

    Refuses a login that is not this staff member's, has ended, or belongs to a disabled account; ends
    (and audits) one past its idle or absolute limit; notes that it was seen, at most every 30 s.
    """
    settings = app[SETTINGS]
    if login is None or member is None or login.staff_id != staff_id:
        raise NotAuthenticated("The token names a login this server does not have.")
    if login.ended_at is not None:
        raise NotAuthenticated(ended_detail(login.end_reason, settings))
    if member.disabled_at is not None:
        raise NotAuthenticated("The account is disabled.")
    db = app[DB]
    now = utcnow()
    reason = login_expiry(login, now, settings)
    if reason is not None:
        audit = app[AUDIT]
        async with audit.recording(db) as session:
            await end_login(session, audit, login.id, reason, now, actor=f"staff:{member.id}")
        raise NotAuthenticated(ended_detail(reason, settings))
    if now - login.last_seen_at >= LAST_SEEN_INTERVAL:
        async with db() as session, session.begin():
            await session.execute(
                update(StaffLogin)
                .where(StaffLogin.id == login.id, StaffLogin.ended_at.is_(None))
                .values(last_seen_at=now)
            )
    # The role comes from the database, not the token, so a change applies at the next request.
    return StaffPrincipal(member.id, member.username, member.role, login.id)


async def require_staff(request: web.Request, *roles: str) -> StaffPrincipal:
    """The calling staff member: 401 without a valid, open login; 403 if their role is not among roles."""
    principal = request.get(PRINCIPAL)
    if principal is None:
        principal = await authenticate_token(request.app, bearer_token(request))
        request[PRINCIPAL] = principal
    if roles and principal.role not in roles:
        raise Forbidden(f"This needs the role {' or '.join(roles)}; you are signed in as {principal.role}.")
    return principal
