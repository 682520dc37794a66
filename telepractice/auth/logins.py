"""A staff login from password to its end: access and refresh tokens, rotation, timeouts, logout.

A login (one StaffLogin row) ends by logout, after staff_idle_minutes without
activity, after staff_session_hours in all, when its refresh token is used a
second time (a sign it was stolen), or when the account is disabled. Access
tokens name their login (``sid``) and are refused as soon as it has ended.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import enum
import hashlib
import secrets
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from telepractice.audit import AuditLog
from telepractice.auth.passwords import HASHER, needs_rehash, verify_password
from telepractice.auth.signing_keys import SigningKeyring
from telepractice.auth.throttle import account_key, address_key, clear, policies, record_failure, seconds_to_wait
from telepractice.auth.tokens import issue_token
from telepractice.config import Settings
from telepractice.errors import LoginFailed, NotAuthenticated, TooManyAttempts
from telepractice.storage.engine import SessionFactory
from telepractice.storage.models import RefreshToken, StaffLogin, StaffMember, new_id, utcnow

STAFF_AUDIENCE = "telepractice:staff"


class EndReason(enum.StrEnum):
    LOGOUT = "logout"
    IDLE = "idle"
    EXPIRED = "expired"
    REFRESH_REUSE = "refresh-reuse"
    DISABLED = "disabled"


_END_ACTIONS = {
    EndReason.LOGOUT: "staff.logout",
    EndReason.IDLE: "staff.login.timeout",
    EndReason.EXPIRED: "staff.login.timeout",
    EndReason.REFRESH_REUSE: "staff.refresh.reuse",
}


def login_expiry(login: StaffLogin, now: dt.datetime, settings: Settings) -> EndReason | None:
    """Why a login still open in the database should end now, or None if it may go on."""
    if now - login.started_at >= dt.timedelta(hours=settings.staff_session_hours):
        return EndReason.EXPIRED
    if now - login.last_seen_at >= dt.timedelta(minutes=settings.staff_idle_minutes):
        return EndReason.IDLE
    return None


def ended_detail(reason: str | None, settings: Settings) -> str:
    """The one sentence a client gets when its login has ended."""
    if reason == EndReason.IDLE:
        return f"The login ended after {settings.staff_idle_minutes} minutes without activity; log in again."
    if reason == EndReason.EXPIRED:
        return f"The login ended after {settings.staff_session_hours} hours; log in again."
    if reason == EndReason.REFRESH_REUSE:
        return "The login was ended because a refresh token was used twice; log in again."
    return "The login has ended; log in again."


def refresh_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def end_login(
    session: AsyncSession, audit: AuditLog, login_id: str, reason: EndReason, now: dt.datetime, *, actor: str
) -> bool:
    """End a login still open (its refresh and access tokens stop working); False if it had ended already."""
    result = await session.execute(
        update(StaffLogin)
        .where(StaffLogin.id == login_id, StaffLogin.ended_at.is_(None))
        .values(ended_at=now, end_reason=reason.value)
    )
    ended = result.rowcount == 1
    if ended and reason in _END_ACTIONS:
        await audit.append(
            session, actor=actor, action=_END_ACTIONS[reason], target=f"login:{login_id}", detail={"reason": reason.value}
        )
    return ended


@dataclasses.dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    login_ends_at: dt.datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "refresh_token": self.refresh_token,
            "login_ends_at": self.login_ends_at.isoformat(),
        }


@dataclasses.dataclass(frozen=True)
class StaffLogins:
    """Logging staff in, refreshing and ending their logins; built from the app's resources."""

    db: SessionFactory
    audit: AuditLog
    signing_keys: SigningKeyring
    settings: Settings

    def _access_token(self, member: StaffMember, login: StaffLogin) -> str:
        return issue_token(
            self.signing_keys,
            issuer=self.settings.issuer,
            audience=STAFF_AUDIENCE,
            subject=member.id,
            ttl=dt.timedelta(minutes=self.settings.access_token_minutes),
            claims={"role": member.role, "sid": login.id},
        )

    def _pair(self, session: AsyncSession, member: StaffMember, login: StaffLogin, now: dt.datetime) -> TokenPair:
        refresh = secrets.token_urlsafe(32)
        session.add(RefreshToken(token_hash=refresh_token_hash(refresh), login_id=login.id, issued_at=now))
        return TokenPair(
            access_token=self._access_token(member, login),
            refresh_token=refresh,
            expires_in=self.settings.access_token_minutes * 60,
            login_ends_at=login.started_at + dt.timedelta(hours=self.settings.staff_session_hours),
        )

    async def login(self, username: str, password: str, address: str) -> TokenPair:
        """Check the password (unless throttled) and open a login; LoginFailed or TooManyAttempts otherwise."""
        now = utcnow()
        name = username.strip().lower()
        account_policy, address_policy = policies(self.settings)
        keys = [account_key(name), address_key(address)]
        async with self.db() as session:
            wait = await seconds_to_wait(session, list(zip(keys, (account_policy, address_policy))), now)
            member = await session.scalar(select(StaffMember).where(StaffMember.username == name))
        if wait:
            await self._failed(member, "throttled")
            raise TooManyAttempts(wait)
        # Unknown users cost one verification too, against a decoy hash: timing tells no one who exists.
        matched = await asyncio.to_thread(verify_password, member.password_hash if member else None, password)
        if member is None or not matched or member.disabled_at is not None:
            reason = "unknown-user" if member is None else "disabled" if matched else "wrong-password"
            await self._failed(member, reason, count_against=keys, now=now)
            raise LoginFailed()
        rehashed = await asyncio.to_thread(HASHER.hash, password) if needs_rehash(member.password_hash) else None
        async with self.audit.recording(self.db) as session:
            await clear(session, keys[0])
            if rehashed is not None:
                await session.execute(
                    update(StaffMember).where(StaffMember.id == member.id).values(password_hash=rehashed)
                )
            login = StaffLogin(id=new_id(), staff_id=member.id, started_at=now, last_seen_at=now)
            session.add(login)
            await session.flush()
            pair = self._pair(session, member, login, now)
            detail = {"login": login.id, **({"rehashed": True} if rehashed else {})}
            await self.audit.append(
                session, actor=f"staff:{member.id}", action="staff.login", target=f"staff:{member.id}", detail=detail
            )
        return pair

    async def _failed(
        self, member: StaffMember | None, reason: str, *, count_against: list[str] | None = None,
        now: dt.datetime | None = None,
    ) -> None:
        # The attempted user name is not logged: people type their password into it by mistake.
        target = f"staff:{member.id}" if member else "staff:unknown"
        async with self.audit.recording(self.db) as session:
            if count_against:
                window = dt.timedelta(minutes=self.settings.login_window_minutes)
                await record_failure(session, count_against, now or utcnow(), window)
            await self.audit.append(
                session, actor="anonymous", action="staff.login.failed", target=target, detail={"reason": reason}
            )

    async def refresh(self, refresh_token: str) -> TokenPair:
        """A new token pair for a refresh token used once; a second use ends the whole login."""
        now = utcnow()
        digest = refresh_token_hash(refresh_token)
        async with self.audit.recording(self.db) as session:
            outcome = await self._rotate(session, digest, now)
        # Raised only now: a refusal that ended the login must be committed first.
        if isinstance(outcome, NotAuthenticated):
            raise outcome
        return outcome

    async def _rotate(self, session: AsyncSession, digest: str, now: dt.datetime) -> TokenPair | NotAuthenticated:
        """The new pair, or the refusal to raise once this transaction is committed."""
        row = (
            await session.execute(
                select(RefreshToken, StaffLogin, StaffMember)
                .join(StaffLogin, StaffLogin.id == RefreshToken.login_id)
                .join(StaffMember, StaffMember.id == StaffLogin.staff_id)
                .where(RefreshToken.token_hash == digest)
            )
        ).one_or_none()
        if row is None:
            raise NotAuthenticated("The refresh token is not one this server issued.")
        _token, login, member = row
        actor = f"staff:{member.id}"
        if login.ended_at is not None:
            raise NotAuthenticated(ended_detail(login.end_reason, self.settings))
        if member.disabled_at is not None:
            raise NotAuthenticated("The account is disabled.")
        claimed = await session.execute(
            update(RefreshToken)
            .where(RefreshToken.token_hash == digest, RefreshToken.used_at.is_(None))
            .values(used_at=now)
        )
        if claimed.rowcount != 1:
            await end_login(session, self.audit, login.id, EndReason.REFRESH_REUSE, now, actor=actor)
            return NotAuthenticated(ended_detail(EndReason.REFRESH_REUSE, self.settings))
        reason = login_expiry(login, now, self.settings)
        if reason is not None:
            await end_login(session, self.audit, login.id, reason, now, actor=actor)
            return NotAuthenticated(ended_detail(reason, self.settings))
        # A refresh is not activity: a tab left open must not keep an idle login alive.
        return self._pair(session, member, login, now)

    async def logout(self, staff_id: str, login_id: str) -> None:
        """End the login: its refresh tokens and access tokens stop working at once."""
        async with self.audit.recording(self.db) as session:
            await end_login(session, self.audit, login_id, EndReason.LOGOUT, utcnow(), actor=f"staff:{staff_id}")
