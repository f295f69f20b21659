"""questionnaire responses and safety alerts

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "instrument_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("instrument", sa.String(length=40), nullable=False),
        sa.Column("visit", sa.String(length=60), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("answers_json", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("rater_blinded", sa.Boolean(), nullable=True),
        sa.Column("total", sa.Float(), nullable=True),
        sa.Column("band", sa.String(length=80), nullable=True),
        sa.Column("scored", sa.Boolean(), nullable=True),
        sa.Column("scores_json", sa.Text(), nullable=True),
        sa.Column("knowledge_version", sa.String(length=40), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("submitted_by", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "status IN ('in-progress', 'submitted')", name=op.f("ck_instrument_responses_status")
        ),
        sa.CheckConstraint(
            "source IN ('participant', 'staff', 'rater')",
            name=op.f("ck_instrument_responses_source"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_instrument_responses_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["submitted_by"],
            ["users.id"],
            name=op.f("fk_instrument_responses_submitted_by_users"),
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participants.id"],
            name=op.f("fk_instrument_responses_participant_id_participants"),
        ),
        sa.ForeignKeyConstraint(
            ["study_id"], ["studies.id"], name=op.f("fk_instrument_responses_study_id_studies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instrument_responses")),
    )
    with op.batch_alter_table("instrument_responses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_instrument_responses_participant_id"), ["participant_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_instrument_responses_study_id"), ["study_id"], unique=False
        )
    op.create_table(
        "form_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("response_id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_form_links_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participants.id"],
            name=op.f("fk_form_links_participant_id_participants"),
        ),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["instrument_responses.id"],
            name=op.f("fk_form_links_response_id_instrument_responses"),
        ),
        sa.ForeignKeyConstraint(
            ["study_id"], ["studies.id"], name=op.f("fk_form_links_study_id_studies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_links")),
        sa.UniqueConstraint("response_id", name=op.f("uq_form_links_response_id")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_form_links_token_hash")),
    )
    with op.batch_alter_table("form_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_form_links_participant_id"), ["participant_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_form_links_study_id"), ["study_id"], unique=False)
    op.create_table(
        "safety_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("response_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("rule", sa.String(length=120), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_by", sa.Integer(), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledgement", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "level IN ('low', 'moderate', 'high')", name=op.f("ck_safety_alerts_level")
        ),
        sa.CheckConstraint(
            "status IN ('open', 'acknowledged')", name=op.f("ck_safety_alerts_status")
        ),
        sa.ForeignKeyConstraint(
            ["acknowledged_by"], ["users.id"], name=op.f("fk_safety_alerts_acknowledged_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participants.id"],
            name=op.f("fk_safety_alerts_participant_id_participants"),
        ),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["instrument_responses.id"],
            name=op.f("fk_safety_alerts_response_id_instrument_responses"),
        ),
        sa.ForeignKeyConstraint(
            ["study_id"], ["studies.id"], name=op.f("fk_safety_alerts_study_id_studies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safety_alerts")),
    )
    with op.batch_alter_table("safety_alerts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_safety_alerts_participant_id"), ["participant_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_safety_alerts_response_id"), ["response_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_safety_alerts_study_id"), ["study_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("safety_alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_safety_alerts_study_id"))
        batch_op.drop_index(batch_op.f("ix_safety_alerts_response_id"))
        batch_op.drop_index(batch_op.f("ix_safety_alerts_participant_id"))
    op.drop_table("safety_alerts")
    with op.batch_alter_table("form_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_form_links_study_id"))
        batch_op.drop_index(batch_op.f("ix_form_links_participant_id"))
    op.drop_table("form_links")
    with op.batch_alter_table("instrument_responses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_instrument_responses_study_id"))
        batch_op.drop_index(batch_op.f("ix_instrument_responses_participant_id"))
    op.drop_table("instrument_responses")
