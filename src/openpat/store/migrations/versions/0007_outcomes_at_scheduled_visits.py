"""questionnaires and ratings belong to a scheduled visit of the participant's schedule (or
are unscheduled); existing free-text visits are linked where they match a scheduled visit

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 18:00:00
"""

from __future__ import annotations

import re
import sys

import sqlalchemy as sa
import yaml
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _key(text: str) -> str:
    """A visit name reduced for matching: "Week 6", "week-6" and "week_6" are one visit."""
    return re.sub(r"[^a-z0-9]+", "", text.lower())


def upgrade() -> None:
    with op.batch_alter_table("instrument_responses") as batch:
        batch.add_column(sa.Column("scheduled_visit", sa.String(60), nullable=True))
    bind = op.get_bind()
    # the visits of each study's newest protocol version, by id and by label
    visits: dict[int, dict[str, tuple[str, str]]] = {}
    rows = bind.execute(
        sa.text("SELECT study_id, version, source_yaml FROM study_protocols ORDER BY id")
    ).fetchall()
    for study_id, _version, source in rows:
        try:
            spec = yaml.safe_load(source)["protocol"]["visits"]
        except (yaml.YAMLError, KeyError, TypeError):
            continue
        names: dict[str, tuple[str, str]] = {}
        for v in spec:
            names[_key(str(v["id"]))] = (str(v["id"]), str(v.get("label", v["id"])))
            names[_key(str(v.get("label", v["id"])))] = (str(v["id"]), str(v.get("label", v["id"])))
        visits[study_id] = names  # a later version replaces an earlier one
    responses = bind.execute(
        sa.text(
            "SELECT r.id, r.study_id, r.visit FROM instrument_responses r "
            "JOIN allocations a ON a.participant_id = r.participant_id"
        )
    ).fetchall()
    linked = 0
    for response_id, study_id, visit in responses:
        match = visits.get(study_id, {}).get(_key(visit))
        if match is None:
            continue
        bind.execute(
            sa.text("UPDATE instrument_responses SET scheduled_visit = :v WHERE id = :i"),
            {"v": match[0], "i": response_id},
        )
        linked += 1
    total = bind.execute(sa.text("SELECT COUNT(*) FROM instrument_responses")).scalar() or 0
    print(
        f"questionnaires and ratings: {linked} linked to a scheduled visit, "
        f"{total - linked} kept as unscheduled",
        file=sys.stderr,
    )


def downgrade() -> None:
    # SQLite drops the column in place (3.35+): recreating the table would trip the
    # foreign keys of the rows that point at it
    with op.batch_alter_table("instrument_responses", recreate="never") as batch:
        batch.drop_column("scheduled_visit")
