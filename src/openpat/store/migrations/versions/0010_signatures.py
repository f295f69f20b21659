"""electronic signatures: who signed which record, meaning what, and a hash of what they signed

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signatures",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("study_id", sa.Integer(), sa.ForeignKey("studies.id"), nullable=False),
        sa.Column("participant_id", sa.Integer(), sa.ForeignKey("participants.id"), nullable=False),
        sa.Column("record_table", sa.String(64), nullable=False),
        sa.Column("record_id", sa.String(64), nullable=False),
        sa.Column("meaning", sa.String(40), nullable=False),
        sa.Column("signer_user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("printed_name", sa.String(200), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_signatures_record", "signatures", ["record_table", "record_id"])


def downgrade() -> None:
    op.drop_index("ix_signatures_record", table_name="signatures")
    op.drop_table("signatures")
