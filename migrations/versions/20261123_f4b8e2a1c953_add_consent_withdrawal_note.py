"""Add a withdrawal note to consent records: a worker's words on how the person withdrew, sealed with the case key

Revision ID: f4b8e2a1c953
Revises: c7d2a91e4b60
Create Date: 2026-11-23 22:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f4b8e2a1c953"
down_revision: str | Sequence[str] | None = "c7d2a91e4b60"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("consent_records") as batch:
        batch.add_column(sa.Column("withdrawal_note_enc", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("consent_records") as batch:
        batch.drop_column("withdrawal_note_enc")
