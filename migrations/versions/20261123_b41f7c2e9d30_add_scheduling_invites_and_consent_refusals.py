"""Add what scheduling, join codes and consent refusals need: an individual session's person, cancellation,
a case discussion's further cases, a link's hashed join code and its wrong tries, and refused consent

Revision ID: b41f7c2e9d30
Revises: a6c3f0e9d512
Create Date: 2026-11-23 20:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b41f7c2e9d30"
down_revision: str | Sequence[str] | None = "a6c3f0e9d512"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("case_sessions") as batch:
        batch.add_column(sa.Column("participant_id", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("cancelled_at", sa.DateTime(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_case_sessions_participant_id_family_participants"), "family_participants",
            ["participant_id"], ["id"],
        )
    with op.batch_alter_table("session_invites") as batch:
        batch.add_column(sa.Column("join_code_hash", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("code_failures", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("locked_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("session_invites") as batch:
        batch.alter_column("code_failures", server_default=None)
    op.create_table(
        "session_case_links",
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(["session_id"], ["case_sessions.id"],
                                name=op.f("fk_session_case_links_session_id_case_sessions")),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_session_case_links_case_id_cases")),
        sa.PrimaryKeyConstraint("session_id", "case_id", name=op.f("pk_session_case_links")),
    )
    op.create_table(
        "consent_refusals",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("participant_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("refused_by_participant_id", sa.String(length=36), nullable=False),
        sa.Column("text_version", sa.String(length=32), nullable=False),
        sa.Column("text_hash", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("refused_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_consent_refusals_case_id_cases")),
        sa.ForeignKeyConstraint(["participant_id"], ["family_participants.id"],
                                name=op.f("fk_consent_refusals_participant_id_family_participants")),
        sa.ForeignKeyConstraint(["refused_by_participant_id"], ["family_participants.id"],
                                name=op.f("fk_consent_refusals_refused_by_participant_id_family_participants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_refusals")),
    )
    op.create_index(op.f("ix_consent_refusals_case_id"), "consent_refusals", ["case_id"], unique=False)
    op.create_index(op.f("ix_consent_refusals_participant_id"), "consent_refusals", ["participant_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_consent_refusals_participant_id"), table_name="consent_refusals")
    op.drop_index(op.f("ix_consent_refusals_case_id"), table_name="consent_refusals")
    op.drop_table("consent_refusals")
    op.drop_table("session_case_links")
    with op.batch_alter_table("session_invites") as batch:
        batch.drop_column("locked_at")
        batch.drop_column("code_failures")
        batch.drop_column("join_code_hash")
    with op.batch_alter_table("case_sessions") as batch:
        batch.drop_constraint(op.f("fk_case_sessions_participant_id_family_participants"), type_="foreignkey")
        batch.drop_column("cancelled_at")
        batch.drop_column("participant_id")
