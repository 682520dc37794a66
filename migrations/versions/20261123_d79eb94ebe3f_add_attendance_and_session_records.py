"""Add attendance events, presence intervals and session records

Revision ID: d79eb94ebe3f
Revises: 5c0e2d9b7a13
Create Date: 2026-11-23 19:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d79eb94ebe3f"
down_revision: str | Sequence[str] | None = "5c0e2d9b7a13"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _who(table: str) -> list[sa.SchemaItem]:
    return [
        sa.Column("participant_id", sa.String(length=36), nullable=True),
        sa.Column("staff_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(["session_id"], ["case_sessions.id"], name=op.f(f"fk_{table}_session_id_case_sessions")),
        sa.ForeignKeyConstraint(
            ["participant_id"], ["family_participants.id"], name=op.f(f"fk_{table}_participant_id_family_participants")
        ),
        sa.ForeignKeyConstraint(["staff_id"], ["staff_members.id"], name=op.f(f"fk_{table}_staff_id_staff_members")),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
    ]


def upgrade() -> None:
    op.create_table(
        "attendance_events",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("who_kind", sa.String(length=8), nullable=True),
        sa.Column("event", sa.String(length=24), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        *_who("attendance_events"),
    )
    op.create_index(op.f("ix_attendance_events_session_id"), "attendance_events", ["session_id"], unique=False)
    op.create_table(
        "presence_intervals",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("who_kind", sa.String(length=8), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("last_heartbeat_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("end_reason", sa.String(length=32), nullable=True),
        sa.Column("dropped_at", sa.DateTime(), nullable=True),
        sa.Column("interruptions", sa.Integer(), nullable=False),
        sa.Column("interrupted_ms", sa.Integer(), nullable=False),
        *_who("presence_intervals"),
    )
    op.create_index(op.f("ix_presence_intervals_session_id"), "presence_intervals", ["session_id"], unique=False)
    op.create_index(op.f("ix_presence_intervals_ended_at"), "presence_intervals", ["ended_at"], unique=False)
    op.create_table(
        "session_records",
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("actual_start", sa.DateTime(), nullable=True),
        sa.Column("actual_end", sa.DateTime(), nullable=False),
        sa.Column("family_attended", sa.Boolean(), nullable=False),
        sa.Column("built_at", sa.DateTime(), nullable=False),
        sa.Column("record_enc", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_session_records_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["session_id"], ["case_sessions.id"], name=op.f("fk_session_records_session_id_case_sessions")
        ),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_session_records")),
    )
    op.create_index(op.f("ix_session_records_case_id"), "session_records", ["case_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_session_records_case_id"), table_name="session_records")
    op.drop_table("session_records")
    op.drop_index(op.f("ix_presence_intervals_ended_at"), table_name="presence_intervals")
    op.drop_index(op.f("ix_presence_intervals_session_id"), table_name="presence_intervals")
    op.drop_table("presence_intervals")
    op.drop_index(op.f("ix_attendance_events_session_id"), table_name="attendance_events")
    op.drop_table("attendance_events")
