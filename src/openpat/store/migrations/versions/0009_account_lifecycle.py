"""accounts: a password set by an administrator must be changed at the next login

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 21:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # in place (SQLite's ADD COLUMN): a batch rebuild of `users` would break the foreign keys
    # that point at it
    op.add_column(
        "users",
        sa.Column("must_change_password", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    # SQLite drops the column in place: a batch rebuild of `users` would break the foreign
    # keys that point at it
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE users DROP COLUMN must_change_password")
    else:
        op.drop_column("users", "must_change_password")
