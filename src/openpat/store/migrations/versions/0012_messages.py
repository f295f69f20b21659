"""e-mail: the message log, and each site's own wording of e-mails to participants

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMN (no table rebuild, which would upset SQLite's foreign keys)
    op.add_column("sites", sa.Column("email_form_text", sa.Text(), nullable=True))
    op.add_column("sites", sa.Column("email_visit_text", sa.Text(), nullable=True))
    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(120), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("study_id", sa.Integer(), sa.ForeignKey("studies.id"), nullable=True),
        sa.Column("participant_id", sa.Integer(), sa.ForeignKey("participants.id"), nullable=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column(
            "response_id", sa.Integer(), sa.ForeignKey("instrument_responses.id"), nullable=True
        ),
        sa.Column("booking_id", sa.Integer(), sa.ForeignKey("bookings.id"), nullable=True),
        sa.Column("to_masked", sa.String(254), nullable=True),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("body_sha256", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("key", name="uq_messages_key"),
    )
    op.create_index("ix_messages_status", "messages", ["status"])
    op.create_index("ix_messages_study_id", "messages", ["study_id"])


def downgrade() -> None:
    op.drop_index("ix_messages_study_id", table_name="messages")
    op.drop_index("ix_messages_status", table_name="messages")
    op.drop_table("messages")
    # plain DROP COLUMN (SQLite 3.35 and later), not a rebuild of a table others point to
    op.drop_column("sites", "email_visit_text")
    op.drop_column("sites", "email_form_text")
