"""interview scoring sheets: frequency and intensity per rated item

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 23:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("instrument_responses") as batch:
        batch.add_column(sa.Column("sheet_json", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("instrument_responses") as batch:
        batch.drop_column("sheet_json")
