"""Screenings: eligibility reports as run and kept."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from openpat.store.models import EligibilityOverride, Screening


class ScreeningRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, screening_id: int) -> Screening | None:
        return self.session.get(Screening, screening_id)

    def for_participant(self, participant_id: int, *, limit: int = 100) -> Sequence[Screening]:
        stmt = (
            select(Screening)
            .where(Screening.participant_id == participant_id)
            .order_by(Screening.created_at.desc(), Screening.id.desc())
            .limit(limit)
        )
        return self.session.scalars(stmt).all()

    def latest_for(self, participant_id: int, protocol: str) -> Screening | None:
        """The participant's newest screening against one eligibility template."""
        stmt = (
            select(Screening)
            .where(Screening.participant_id == participant_id, Screening.protocol == protocol)
            .order_by(Screening.created_at.desc(), Screening.id.desc())
            .limit(1)
        )
        return self.session.scalars(stmt).first()

    def override_of(self, screening_id: int) -> EligibilityOverride | None:
        stmt = (
            select(EligibilityOverride)
            .where(EligibilityOverride.screening_id == screening_id)
            .order_by(EligibilityOverride.id.desc())
            .limit(1)
        )
        return self.session.scalars(stmt).first()

    def add_override(self, override: EligibilityOverride) -> EligibilityOverride:
        self.session.add(override)
        self.session.flush()
        return override

    def add(self, screening: Screening) -> Screening:
        self.session.add(screening)
        self.session.flush()
        return screening
