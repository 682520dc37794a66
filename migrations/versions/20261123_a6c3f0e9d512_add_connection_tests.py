"""Add connection tests: what a participant's pre-join test measured, kept with the session's attendance

Revision ID: a6c3f0e9d512
Revises: d79eb94ebe3f
Create Date: 2026-11-23 20:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a6c3f0e9d512"
down_revision: str | Sequence[str] | None = "d79eb94ebe3f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "connection_tests",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("participant_id", sa.String(length=36), nullable=True),
        sa.Column("staff_id", sa.String(length=36), nullable=True),
        sa.Column("who_kind", sa.String(length=8), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("rtt_ms", sa.Integer(), nullable=True),
        sa.Column("loss_permille", sa.Integer(), nullable=True),
        sa.Column("jitter_ms", sa.Integer(), nullable=True),
        sa.Column("kbps", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["session_id"], ["case_sessions.id"],
                                name=op.f("fk_connection_tests_session_id_case_sessions")),
        sa.ForeignKeyConstraint(["participant_id"], ["family_participants.id"],
                                name=op.f("fk_connection_tests_participant_id_family_participants")),
        sa.ForeignKeyConstraint(["staff_id"], ["staff_members.id"],
                                name=op.f("fk_connection_tests_staff_id_staff_members")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connection_tests")),
    )
    op.create_index(op.f("ix_connection_tests_session_id"), "connection_tests", ["session_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_connection_tests_session_id"), table_name="connection_tests")
    op.drop_table("connection_tests")
