"""Add saved session chats: the text chat of a session that staff chose to keep in the case record, sealed

Revision ID: c7d2a91e4b60
Revises: e3a9d4c6b2f7
Create Date: 2026-11-23 22:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c7d2a91e4b60"
down_revision: str | Sequence[str] | None = "e3a9d4c6b2f7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "session_chats",
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("saved_by", sa.String(length=36), nullable=False),
        sa.Column("saved_at", sa.DateTime(), nullable=False),
        sa.Column("line_count", sa.Integer(), nullable=False),
        sa.Column("transcript_enc", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["session_id"], ["case_sessions.id"],
                                name=op.f("fk_session_chats_session_id_case_sessions")),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_session_chats_case_id_cases")),
        sa.ForeignKeyConstraint(["saved_by"], ["staff_members.id"],
                                name=op.f("fk_session_chats_saved_by_staff_members")),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_session_chats")),
    )
    op.create_index(op.f("ix_session_chats_case_id"), "session_chats", ["case_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_session_chats_case_id"), table_name="session_chats")
    op.drop_table("session_chats")
