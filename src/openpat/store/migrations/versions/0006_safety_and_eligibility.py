"""each site's crisis text, shown to a participant whose answers raised a safety alert; an
investigator's recorded override of an enrolment refused by the latest screening

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sites") as batch:
        batch.add_column(sa.Column("crisis_text", sa.Text(), nullable=True))
    op.create_table(
        "eligibility_overrides",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("study_id", sa.Integer(), sa.ForeignKey("studies.id"), nullable=False),
        sa.Column("participant_id", sa.Integer(), sa.ForeignKey("participants.id"), nullable=False),
        sa.Column("screening_id", sa.Integer(), sa.ForeignKey("screenings.id"), nullable=False),
        sa.Column("verdict", sa.String(30), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_eligibility_overrides_participant_id", "eligibility_overrides", ["participant_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_eligibility_overrides_participant_id", "eligibility_overrides")
    op.drop_table("eligibility_overrides")
    # SQLite drops the column in place (3.35+): recreating the table would trip the
    # foreign keys of the rows that point at it
    with op.batch_alter_table("sites", recreate="never") as batch:
        batch.drop_column("crisis_text")
