"""Screenings: eligibility reports as run and kept."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from openpat.store.models import Screening


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

    def add(self, screening: Screening) -> Screening:
        self.session.add(screening)
        self.session.flush()
        return screening
