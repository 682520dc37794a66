"""Add safety alerts and evaluation answers: help asked for in a session, and the family's three answers after it

Revision ID: e3a9d4c6b2f7
Revises: b41f7c2e9d30
Create Date: 2026-11-23 20:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e3a9d4c6b2f7"
down_revision: str | Sequence[str] | None = "b41f7c2e9d30"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "safety_alerts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("participant_id", sa.String(length=36), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("acknowledged_by", sa.String(length=36), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["session_id"], ["case_sessions.id"],
                                name=op.f("fk_safety_alerts_session_id_case_sessions")),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_safety_alerts_case_id_cases")),
        sa.ForeignKeyConstraint(["participant_id"], ["family_participants.id"],
                                name=op.f("fk_safety_alerts_participant_id_family_participants")),
        sa.ForeignKeyConstraint(["acknowledged_by"], ["staff_members.id"],
                                name=op.f("fk_safety_alerts_acknowledged_by_staff_members")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safety_alerts")),
    )
    op.create_index(op.f("ix_safety_alerts_session_id"), "safety_alerts", ["session_id"], unique=False)
    op.create_index(op.f("ix_safety_alerts_case_id"), "safety_alerts", ["case_id"], unique=False)
    op.create_table(
        "evaluation_answers",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("participant_id", sa.String(length=36), nullable=False),
        sa.Column("usefulness", sa.Integer(), nullable=False),
        sa.Column("comfort", sa.Integer(), nullable=False),
        sa.Column("comment_enc", sa.LargeBinary(), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("answered_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["session_id"], ["case_sessions.id"],
                                name=op.f("fk_evaluation_answers_session_id_case_sessions")),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_evaluation_answers_case_id_cases")),
        sa.ForeignKeyConstraint(["participant_id"], ["family_participants.id"],
                                name=op.f("fk_evaluation_answers_participant_id_family_participants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation_answers")),
        sa.UniqueConstraint("session_id", "participant_id", name=op.f("uq_evaluation_answers_session_id")),
    )
    op.create_index(op.f("ix_evaluation_answers_session_id"), "evaluation_answers", ["session_id"], unique=False)
    op.create_index(op.f("ix_evaluation_answers_case_id"), "evaluation_answers", ["case_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_evaluation_answers_case_id"), table_name="evaluation_answers")
    op.drop_index(op.f("ix_evaluation_answers_session_id"), table_name="evaluation_answers")
    op.drop_table("evaluation_answers")
    op.drop_index(op.f("ix_safety_alerts_case_id"), table_name="safety_alerts")
    op.drop_index(op.f("ix_safety_alerts_session_id"), table_name="safety_alerts")
    op.drop_table("safety_alerts")
