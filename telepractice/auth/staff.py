"""Staff accounts: add, disable, list; used alike by the command line and the admin API."""

from __future__ import annotations

import asyncio
import re

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from telepractice.audit import AuditLog
from telepractice.auth.logins import EndReason
from telepractice.auth.passwords import check_password_rule, hash_password
from telepractice.errors import Conflict, InvalidField, NotFound
from telepractice.storage.engine import SessionFactory
from telepractice.storage.models import StaffLogin, StaffMember, StaffRole, new_id, utcnow

USERNAME = re.compile(r"[a-z0-9._-]{3,64}")
USERNAME_RULE = "3 to 64 characters: lower-case letters, digits, '.', '_' or '-'"


def check_username(username: str) -> str:
    if not USERNAME.fullmatch(username):
        raise InvalidField(f"The user name must be {USERNAME_RULE}.", field="username")
    return username


def staff_view(member: StaffMember) -> dict[str, object]:
    """What the API shows of an account (never its password hash)."""
    return {
        "id": member.id,
        "username": member.username,
        "display_name": member.display_name,
        "role": member.role,
        "created_at": member.created_at.isoformat(),
        "disabled_at": None if member.disabled_at is None else member.disabled_at.isoformat(),
    }


async def add_staff(
    db: SessionFactory,
    audit: AuditLog,
    *,
    username: str,
    display_name: str,
    role: str,
    password: str,
    actor: str,
) -> StaffMember:
    """A new account; InvalidField for a bad user name, role or password, Conflict if the name is taken."""
    check_username(username)
    if role not in set(StaffRole):
        raise InvalidField(f"The role must be one of: {', '.join(StaffRole)}.", field="role")
    display_name = display_name.strip()
    if not 1 <= len(display_name) <= 200:
        raise InvalidField("The display name must be 1 to 200 characters long.", field="display_name")
    check_password_rule(password)
    # argon2 takes a tenth of a second of CPU: off the event loop.
    password_hash = await asyncio.to_thread(hash_password, password)
    member = StaffMember(
        id=new_id(), username=username, display_name=display_name, role=StaffRole(role).value,
        password_hash=password_hash, created_at=utcnow(),
    )
    try:
        async with audit.recording(db) as session:
            taken = await session.scalar(select(StaffMember.id).where(StaffMember.username == username))
            if taken is not None:
                raise Conflict(f"The user name {username} is taken.")
            session.add(member)
            await session.flush()
            await audit.append(session, actor=actor, action="staff.add", target=f"staff:{member.id}",
                               detail={"role": member.role})
    except IntegrityError:
        # Another process added the same name between our check and our insert.
        raise Conflict(f"The user name {username} is taken.") from None
    return member


async def _disable(db: SessionFactory, audit: AuditLog, actor: str, *, username: str | None = None,
                   staff_id: str | None = None) -> StaffMember:
    async with audit.recording(db) as session:
        query = select(StaffMember)
        query = query.where(StaffMember.username == username) if username else query.where(StaffMember.id == staff_id)
        member = await session.scalar(query)
        if member is None:
            raise NotFound("There is no staff account with that name or id.")
        now = utcnow()
        if member.disabled_at is None:
            member.disabled_at = now
        ended = await session.execute(
            update(StaffLogin)
            .where(StaffLogin.staff_id == member.id, StaffLogin.ended_at.is_(None))
            .values(ended_at=now, end_reason=EndReason.DISABLED.value)
        )
        await audit.append(session, actor=actor, action="staff.disable", target=f"staff:{member.id}",
                           detail={"logins_ended": ended.rowcount})
    return member


async def disable_staff(db: SessionFactory, audit: AuditLog, username: str, actor: str) -> StaffMember:
    """Disable an account by user name and end all its logins at once; NotFound if there is none."""
    return await _disable(db, audit, actor, username=username)


async def disable_staff_by_id(db: SessionFactory, audit: AuditLog, staff_id: str, actor: str) -> StaffMember:
    """Disable an account by id and end all its logins at once; NotFound if there is none."""
    return await _disable(db, audit, actor, staff_id=staff_id)


async def list_staff(db: SessionFactory) -> list[StaffMember]:
    """Every account, disabled ones included, by user name."""
    async with db() as session:
        return list((await session.scalars(select(StaffMember).order_by(StaffMember.username))).all())
