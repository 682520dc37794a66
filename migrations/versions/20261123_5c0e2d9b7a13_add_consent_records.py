"""Add consent records

Revision ID: 5c0e2d9b7a13
Revises: 0b5e1c7a2f01
Create Date: 2026-11-23 20:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5c0e2d9b7a13"
down_revision: str | Sequence[str] | None = "0b5e1c7a2f01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "consent_records",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("participant_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("given_by_participant_id", sa.String(length=36), nullable=True),
        sa.Column("recorded_by_staff_id", sa.String(length=36), nullable=True),
        sa.Column("method", sa.String(length=24), nullable=False),
        sa.Column("text_version", sa.String(length=32), nullable=False),
        sa.Column("text_hash", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("note_enc", sa.LargeBinary(), nullable=True),
        sa.Column("given_at", sa.DateTime(), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(), nullable=True),
        sa.Column("withdrawn_by", sa.String(length=80), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_consent_records_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["given_by_participant_id"], ["family_participants.id"],
            name=op.f("fk_consent_records_given_by_participant_id_family_participants"),
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"], ["family_participants.id"],
            name=op.f("fk_consent_records_participant_id_family_participants"),
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_staff_id"], ["staff_members.id"],
            name=op.f("fk_consent_records_recorded_by_staff_id_staff_members"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_records")),
    )
    op.create_index(op.f("ix_consent_records_case_id"), "consent_records", ["case_id"], unique=False)
    op.create_index(op.f("ix_consent_records_participant_id"), "consent_records", ["participant_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_consent_records_participant_id"), table_name="consent_records")
    op.drop_index(op.f("ix_consent_records_case_id"), table_name="consent_records")
    op.drop_table("consent_records")
