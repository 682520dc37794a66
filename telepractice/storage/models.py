"""The tables. Personal fields end in ``_enc`` and hold envelope ciphertext only.

Ids are UUID strings made by the application, not the database, because each
ciphertext's associated data names its row before the row is inserted.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no time zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: object) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where UTC is required")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: object) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class StaffRole(enum.StrEnum):
    WORKER = "worker"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class RiskLevel(enum.StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class FamilyRole(enum.StrEnum):
    GUARDIAN = "guardian"
    CHILD = "child"
    OTHER = "other"


class SessionKind(enum.StrEnum):
    FAMILY = "family"
    INDIVIDUAL = "individual"
    CASE_DISCUSSION = "case_discussion"


class SessionStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    LIVE = "live"
    ENDED = "ended"
    CANCELLED = "cancelled"


ID = String(36)


class StaffMember(Base):
    __tablename__ = "staff_members"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    disabled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class StaffLogin(Base):
    """One staff login, from password to logout, idle timeout or absolute timeout."""

    __tablename__ = "staff_logins"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff_members.id"), index=True)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(String(32))


class RefreshToken(Base):
    """A refresh token, stored only as its SHA-256; each is good for one use."""

    __tablename__ = "refresh_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    login_id: Mapped[str] = mapped_column(ForeignKey("staff_logins.id"), index=True)
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class LoginThrottle(Base):
    """Recent failed logins for one account or one address."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    first_failure_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_failure_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    reference: Mapped[str] = mapped_column(String(64), unique=True)
    risk_level: Mapped[str] = mapped_column(String(8))
    supervisor_id: Mapped[str | None] = mapped_column(ForeignKey("staff_members.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    erased_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class CaseWorker(Base):
    __tablename__ = "case_workers"

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff_members.id"), primary_key=True)


class CaseKey(Base):
    """A case's data key, wrapped by a key-encryption key that never enters the database."""

    __tablename__ = "case_keys"

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    kek_id: Mapped[str | None] = mapped_column(String(64))
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    destroyed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class FamilyParticipant(Base):
    __tablename__ = "family_participants"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    display_name_enc: Mapped[bytes] = mapped_column(LargeBinary)
    contact_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    role: Mapped[str] = mapped_column(String(16))
    is_minor: Mapped[bool] = mapped_column(Boolean, default=False)
    guardian_id: Mapped[str | None] = mapped_column(ForeignKey("family_participants.id"))
    preferred_language: Mapped[str] = mapped_column(String(8), default="pt")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseNote(Base):
    __tablename__ = "case_notes"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    author_id: Mapped[str] = mapped_column(ForeignKey("staff_members.id"))
    body_enc: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseSession(Base):
    """A scheduled video session of a case (a family session, individual, or case discussion)."""

    __tablename__ = "case_sessions"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(16), default=SessionStatus.SCHEDULED)
    planned_start: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    planned_minutes: Mapped[int] = mapped_column(Integer, default=60)
    host_id: Mapped[str] = mapped_column(ForeignKey("staff_members.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # An individual session is with this one family member; None for the other kinds.
    participant_id: Mapped[str | None] = mapped_column(ForeignKey("family_participants.id"))
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class SessionCaseLink(Base):
    """A further case a case discussion is about (its own case is ``CaseSession.case_id``)."""

    __tablename__ = "session_case_links"

    session_id: Mapped[str] = mapped_column(ForeignKey("case_sessions.id"), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), primary_key=True)


class SessionInvite(Base):
    """A family member's personal link to one session; its id is the join token's jti."""

    __tablename__ = "session_invites"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    session_id: Mapped[str] = mapped_column(ForeignKey("case_sessions.id"), index=True)
    participant_id: Mapped[str] = mapped_column(ForeignKey("family_participants.id"))
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The optional 6-digit join code given by phone: only its argon2id hash, and the wrong tries against it.
    join_code_hash: Mapped[str | None] = mapped_column(String(255))
    code_failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ConsentKind(enum.StrEnum):
    CONSENT = "consent"
    ASSENT = "assent"


class ConsentMethod(enum.StrEnum):
    BROWSER = "browser"
    RECORDED_BY_WORKER = "recorded_by_worker"


class ConsentRecord(Base):
    """Informed consent (or a minor's assent) to video sessions of a case, until withdrawn.

    Both events stay: a withdrawal sets ``withdrawn_at`` and never deletes the row.
    """

    __tablename__ = "consent_records"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    participant_id: Mapped[str] = mapped_column(ForeignKey("family_participants.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    given_by_participant_id: Mapped[str | None] = mapped_column(ForeignKey("family_participants.id"))
    recorded_by_staff_id: Mapped[str | None] = mapped_column(ForeignKey("staff_members.id"))
    method: Mapped[str] = mapped_column(String(24))
    text_version: Mapped[str] = mapped_column(String(32))
    text_hash: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    note_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    given_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    withdrawn_by: Mapped[str | None] = mapped_column(String(80))
    withdrawal_note_enc: Mapped[bytes | None] = mapped_column(LargeBinary)  # a worker's note on how it was withdrawn


class ConsentRefusal(Base):
    """A family member (or their guardian) read a consent text and said no; kept, never admitted on."""

    __tablename__ = "consent_refusals"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    participant_id: Mapped[str] = mapped_column(ForeignKey("family_participants.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    refused_by_participant_id: Mapped[str] = mapped_column(ForeignKey("family_participants.id"))
    text_version: Mapped[str] = mapped_column(String(32))
    text_hash: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    refused_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditEntry(Base):
    """One link of the hash-chained audit log; ``prev_hash`` is unique so the chain cannot fork."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(120))
    detail: Mapped[str] = mapped_column(Text, default="{}")
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64))


# --- Attendance and session records (issue 4) --------------------------------
# Attendance rows hold ids and times only: who was there, never what they said.


class AttendanceEventRow(Base):
    """One attendance event as it happened; rows are only ever added, never changed."""

    __tablename__ = "attendance_events"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    session_id: Mapped[str] = mapped_column(ForeignKey("case_sessions.id"), index=True)
    participant_id: Mapped[str | None] = mapped_column(ForeignKey("family_participants.id"))
    staff_id: Mapped[str | None] = mapped_column(ForeignKey("staff_members.id"))
    who_kind: Mapped[str | None] = mapped_column(String(8))
    event: Mapped[str] = mapped_column(String(24))
    reason: Mapped[str | None] = mapped_column(String(32))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class PresenceInterval(Base):
    """One person's continuous presence in a session; a drop and return within the grace stays one row."""

    __tablename__ = "presence_intervals"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    session_id: Mapped[str] = mapped_column(ForeignKey("case_sessions.id"), index=True)
    participant_id: Mapped[str | None] = mapped_column(ForeignKey("family_participants.id"))
    staff_id: Mapped[str | None] = mapped_column(ForeignKey("staff_members.id"))
    who_kind: Mapped[str] = mapped_column(String(8))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_heartbeat_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    end_reason: Mapped[str | None] = mapped_column(String(32))
    dropped_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    interruptions: Mapped[int] = mapped_column(Integer, default=0)
    interrupted_ms: Mapped[int] = mapped_column(Integer, default=0)


class SessionRecord(Base):
    """What a session leaves in the case file; the personal part is one sealed JSON document."""

    __tablename__ = "session_records"

    session_id: Mapped[str] = mapped_column(ForeignKey("case_sessions.id"), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    actual_start: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    actual_end: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    family_attended: Mapped[bool] = mapped_column(Boolean, default=False)
    built_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    record_enc: Mapped[bytes] = mapped_column(LargeBinary)


# --- Connection tests (issue 6) ----------------------------------------------


class ConnectionTest(Base):
    """A connection test a participant ran before joining: what the page measured and the verdict it showed."""

    __tablename__ = "connection_tests"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    session_id: Mapped[str] = mapped_column(ForeignKey("case_sessions.id"), index=True)
    participant_id: Mapped[str | None] = mapped_column(ForeignKey("family_participants.id"))
    staff_id: Mapped[str | None] = mapped_column(ForeignKey("staff_members.id"))
    who_kind: Mapped[str] = mapped_column(String(8))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    verdict: Mapped[str] = mapped_column(String(16))
    rtt_ms: Mapped[int | None] = mapped_column(Integer)
    loss_permille: Mapped[int | None] = mapped_column(Integer)
    jitter_ms: Mapped[int | None] = mapped_column(Integer)
    kbps: Mapped[int | None] = mapped_column(Integer)


# --- Safety alerts and evaluations (issue 4) --------------------------------


class SafetyAlert(Base):
    """A family member asked for help during a session; its id is the one the room gave the alert."""

    __tablename__ = "safety_alerts"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    session_id: Mapped[str] = mapped_column(ForeignKey("case_sessions.id"), index=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    participant_id: Mapped[str] = mapped_column(ForeignKey("family_participants.id"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(ForeignKey("staff_members.id"))
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class EvaluationAnswer(Base):
    """A family member's three answers after a session; one per participant and session."""

    __tablename__ = "evaluation_answers"
    __table_args__ = (UniqueConstraint("session_id", "participant_id"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    session_id: Mapped[str] = mapped_column(ForeignKey("case_sessions.id"), index=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    participant_id: Mapped[str] = mapped_column(ForeignKey("family_participants.id"))
    usefulness: Mapped[int] = mapped_column(Integer)
    comfort: Mapped[int] = mapped_column(Integer)
    comment_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    language: Mapped[str] = mapped_column(String(8))
    answered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- Saved chat (issue 5) ----------------------------------------------------


class SessionChat(Base):
    """A session's text chat, kept only because staff of the case saved it to the record; the lines are sealed."""

    __tablename__ = "session_chats"

    session_id: Mapped[str] = mapped_column(ForeignKey("case_sessions.id"), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    saved_by: Mapped[str] = mapped_column(ForeignKey("staff_members.id"))
    saved_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    line_count: Mapped[int] = mapped_column(Integer)
    transcript_enc: Mapped[bytes] = mapped_column(LargeBinary)
