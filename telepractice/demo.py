"""The demo: one worker, supervisor and admin, one family case, one session, fresh links."""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets

from sqlalchemy import select

from telepractice.audit import AuditLog
from telepractice.auth.passwords import hash_password
from telepractice.auth.signing_keys import SigningKeyring
from telepractice.auth.staff import add_staff
from telepractice.cases.records import NewParticipant, add_participant, add_note, create_case
from telepractice.config import Settings
from telepractice.crypto.case_keys import open_case
from telepractice.crypto.keyring import Keyring
from telepractice.sessions.invites import issue_invite, join_link
from telepractice.sessions.scheduling import schedule_session
from telepractice.storage.engine import SessionFactory
from telepractice.storage.models import (
    Case,
    CaseSession,
    FamilyParticipant,
    SessionKind,
    SessionStatus,
    StaffMember,
    StaffRole,
    utcnow,
)

CASE_REFERENCE = "DEMO-0001"
DEMO_STAFF = (
    ("demo.worker", "Marta Worker (demo)", StaffRole.WORKER),
    ("demo.supervisor", "Sofia Supervisor (demo)", StaffRole.SUPERVISOR),
    ("demo.admin", "Alex Admin (demo)", StaffRole.ADMIN),
)
# Invented people: the demo must never be mistaken for a real family.
DEMO_FAMILY = (
    ("Ana Demo", "guardian", False, "pt", "+351 900 000 001"),
    ("Paulo Demo", "guardian", False, "en", "+351 900 000 002"),
    ("Bia Demo", "child", True, "pt", None),
)
DEMO_NOTE = "Demo note: first contact made by phone; family agreed to video sessions."


@dataclasses.dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str
    password: str


@dataclasses.dataclass(frozen=True)
class DemoLink:
    name: str
    role: str
    link: str


@dataclasses.dataclass(frozen=True)
class Demo:
    logins: list[DemoLogin]
    links: list[DemoLink]
    session_start: dt.datetime


async def _staff(db: SessionFactory, audit: AuditLog) -> tuple[list[DemoLogin], dict[str, StaffMember]]:
    """Demo accounts, each given a new random password on every run so none is ever guessable."""
    logins, members = [], {}
    for username, name, role in DEMO_STAFF:
        password = secrets.token_urlsafe(12)
        async with db() as session:
            member = await session.scalar(select(StaffMember).where(StaffMember.username == username))
        if member is None:
            member = await add_staff(db, audit, username=username, display_name=name, role=role,
                                     password=password, actor="demo")
        else:
            async with db() as session, session.begin():
                stored = await session.get(StaffMember, member.id)
                assert stored is not None
                stored.password_hash, stored.disabled_at = hash_password(password), None
        logins.append(DemoLogin(username, role.value, password))
        members[username] = member
    return logins, members


async def _family_case(db: SessionFactory, keyring: Keyring, audit: AuditLog, members: dict[str, StaffMember]) -> Case:
    async with audit.recording(db) as session:
        case = await session.scalar(select(Case).where(Case.reference == CASE_REFERENCE))
        if case is not None:
            return case
        case, cipher = await create_case(
            session, keyring, reference=CASE_REFERENCE, risk_level="high",
            supervisor_id=members["demo.supervisor"].id, worker_ids=[members["demo.worker"].id],
        )
        guardian_id = None
        for name, role, minor, language, contact in DEMO_FAMILY:
            person = await add_participant(session, cipher, NewParticipant(
                display_name=name, role=role, is_minor=minor, guardian_id=guardian_id if minor else None,
                preferred_language=language, contact=contact))
            guardian_id = guardian_id or person.id
        await add_note(session, cipher, members["demo.worker"].id, DEMO_NOTE)
        await audit.append(session, actor="demo", action="case.create", target=f"case:{case.id}")
        return case


async def prepare_demo(settings: Settings, db: SessionFactory, keyring: Keyring, audit: AuditLog) -> Demo:
    """Make (or refresh) the demo data in a migrated database and return what to print."""
    logins, members = await _staff(db, audit)
    case = await _family_case(db, keyring, audit, members)
    signing = SigningKeyring(settings.key_directory, settings)
    links: list[DemoLink] = []
    async with audit.recording(db) as session:
        scheduled = await session.scalar(
            select(CaseSession).where(
                CaseSession.case_id == case.id,
                CaseSession.status == SessionStatus.SCHEDULED,
                CaseSession.planned_start > utcnow() - dt.timedelta(minutes=30),
            )
        )
        if scheduled is None:
            start = (utcnow() + dt.timedelta(minutes=10)).replace(second=0, microsecond=0)
            scheduled = await schedule_session(session, case, kind=SessionKind.FAMILY, planned_start=start,
                                               host_id=members["demo.worker"].id)
        cipher = await open_case(session, keyring, case.id)
        people = (await session.execute(
            select(FamilyParticipant).where(FamilyParticipant.case_id == case.id)
            .order_by(FamilyParticipant.created_at))).scalars().all()
        for person in people:
            _invite, token = await issue_invite(session, signing, settings, scheduled, person)
            name = cipher.decrypt("family_participants", "display_name", person.id, person.display_name_enc)
            links.append(DemoLink(name, person.role, join_link(settings, token)))
        await audit.append(session, actor="demo", action="session.invites.issue", target=f"session:{scheduled.id}")
    return Demo(logins, links, scheduled.planned_start)


def describe(settings: Settings, demo: Demo) -> str:
    origin = settings.public_origin
    lines = [
        "telepractice demo",
        "",
        "Staff logins (new passwords on every run):",
        *[f"  {login.role:<11} {login.username:<16} password: {login.password}" for login in demo.logins],
        "",
        f"Family session of case {CASE_REFERENCE}, planned for {demo.session_start:%Y-%m-%d %H:%M} UTC.",
        "Each family member's personal link:",
        *[f"  {link.name} ({link.role}): {link.link}" for link in demo.links],
        "",
        "Open:",
        f"  {origin}/console          the staff console: log in as the worker or the supervisor above",
        f"  {origin}/                 the server's front page",
        f"  {origin}/healthz          health check",
        f"  {origin}/api/openapi.json the JSON API",
        "The development certificate is self-signed: your browser will ask you to accept it.",
    ]
    return "\n".join(lines)
