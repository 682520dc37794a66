"""Create the initial schema

Revision ID: 0b5e1c7a2f01
Revises:
Create Date: 2026-11-23 19:04:57.269002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0b5e1c7a2f01"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=120), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_log")),
        sa.UniqueConstraint("prev_hash", name=op.f("uq_audit_log_prev_hash")),
    )
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("first_failure_at", sa.DateTime(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttle")),
    )
    op.create_table(
        "staff_members",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("disabled_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_members")),
        sa.UniqueConstraint("username", name=op.f("uq_staff_members_username")),
    )
    op.create_table(
        "cases",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("risk_level", sa.String(length=8), nullable=False),
        sa.Column("supervisor_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("erased_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["supervisor_id"], ["staff_members.id"], name=op.f("fk_cases_supervisor_id_staff_members")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
        sa.UniqueConstraint("reference", name=op.f("uq_cases_reference")),
    )
    op.create_table(
        "staff_logins",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("staff_id", sa.String(length=36), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("end_reason", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["staff_id"], ["staff_members.id"], name=op.f("fk_staff_logins_staff_id_staff_members")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_logins")),
    )
    op.create_index(op.f("ix_staff_logins_staff_id"), "staff_logins", ["staff_id"], unique=False)
    op.create_table(
        "case_keys",
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("kek_id", sa.String(length=64), nullable=True),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("destroyed_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_keys_case_id_cases")),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_keys")),
    )
    op.create_table(
        "case_notes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("author_id", sa.String(length=36), nullable=False),
        sa.Column("body_enc", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["author_id"], ["staff_members.id"], name=op.f("fk_case_notes_author_id_staff_members")),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_notes_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_notes")),
    )
    op.create_index(op.f("ix_case_notes_case_id"), "case_notes", ["case_id"], unique=False)
    op.create_table(
        "case_sessions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("planned_start", sa.DateTime(), nullable=False),
        sa.Column("planned_minutes", sa.Integer(), nullable=False),
        sa.Column("host_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_sessions_case_id_cases")),
        sa.ForeignKeyConstraint(["host_id"], ["staff_members.id"], name=op.f("fk_case_sessions_host_id_staff_members")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_sessions")),
    )
    op.create_index(op.f("ix_case_sessions_case_id"), "case_sessions", ["case_id"], unique=False)
    op.create_table(
        "case_workers",
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("staff_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_workers_case_id_cases")),
        sa.ForeignKeyConstraint(["staff_id"], ["staff_members.id"], name=op.f("fk_case_workers_staff_id_staff_members")),
        sa.PrimaryKeyConstraint("case_id", "staff_id", name=op.f("pk_case_workers")),
    )
    op.create_table(
        "family_participants",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("display_name_enc", sa.LargeBinary(), nullable=False),
        sa.Column("contact_enc", sa.LargeBinary(), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("is_minor", sa.Boolean(), nullable=False),
        sa.Column("guardian_id", sa.String(length=36), nullable=True),
        sa.Column("preferred_language", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_family_participants_case_id_cases")),
        sa.ForeignKeyConstraint(["guardian_id"], ["family_participants.id"], name=op.f("fk_family_participants_guardian_id_family_participants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_family_participants")),
    )
    op.create_index(op.f("ix_family_participants_case_id"), "family_participants", ["case_id"], unique=False)
    op.create_table(
        "refresh_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("login_id", sa.String(length=36), nullable=False),
        sa.Column("issued_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["login_id"], ["staff_logins.id"], name=op.f("fk_refresh_tokens_login_id_staff_logins")),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_refresh_tokens")),
    )
    op.create_index(op.f("ix_refresh_tokens_login_id"), "refresh_tokens", ["login_id"], unique=False)
    op.create_table(
        "session_invites",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("participant_id", sa.String(length=36), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["participant_id"], ["family_participants.id"], name=op.f("fk_session_invites_participant_id_family_participants")),
        sa.ForeignKeyConstraint(["session_id"], ["case_sessions.id"], name=op.f("fk_session_invites_session_id_case_sessions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_invites")),
    )
    op.create_index(op.f("ix_session_invites_session_id"), "session_invites", ["session_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_session_invites_session_id"), table_name="session_invites")
    op.drop_table("session_invites")
    op.drop_index(op.f("ix_refresh_tokens_login_id"), table_name="refresh_tokens")
    op.drop_table("refresh_tokens")
    op.drop_index(op.f("ix_family_participants_case_id"), table_name="family_participants")
    op.drop_table("family_participants")
    op.drop_table("case_workers")
    op.drop_index(op.f("ix_case_sessions_case_id"), table_name="case_sessions")
    op.drop_table("case_sessions")
    op.drop_index(op.f("ix_case_notes_case_id"), table_name="case_notes")
    op.drop_table("case_notes")
    op.drop_table("case_keys")
    op.drop_index(op.f("ix_staff_logins_staff_id"), table_name="staff_logins")
    op.drop_table("staff_logins")
    op.drop_table("cases")
    op.drop_table("staff_members")
    op.drop_table("login_throttle")
    op.drop_table("audit_log")
