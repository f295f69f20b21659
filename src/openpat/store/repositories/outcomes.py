"""Questionnaire responses and the safety alerts their answers raise."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openpat.store.models import FormLink, InstrumentResponse, Participant, SafetyAlert


class ResponseRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, response_id: int) -> InstrumentResponse | None:
        return self.session.get(InstrumentResponse, response_id)

    def open_participant_forms(self) -> Sequence[InstrumentResponse]:
        """Forms sent to participants and not yet submitted, in every study."""
        stmt = select(InstrumentResponse).where(
            InstrumentResponse.source == "participant",
            InstrumentResponse.status == "in-progress",
        )
        return self.session.scalars(stmt).all()

    def get_many(self, response_ids: Collection[int]) -> dict[int, InstrumentResponse]:
        """Responses by id, in one query."""
        if not response_ids:
            return {}
        stmt = select(InstrumentResponse).where(
            InstrumentResponse.id.in_(sorted(set(response_ids)))
        )
        return {r.id: r for r in self.session.scalars(stmt)}

    def for_participant(
        self, participant_id: int, *, instrument: str | None = None, limit: int = 500
    ) -> Sequence[InstrumentResponse]:
        stmt = select(InstrumentResponse).where(InstrumentResponse.participant_id == participant_id)
        if instrument is not None:
            stmt = stmt.where(InstrumentResponse.instrument == instrument)
        stmt = stmt.order_by(InstrumentResponse.created_at, InstrumentResponse.id).limit(limit)
        return self.session.scalars(stmt).all()

    def add(self, response: InstrumentResponse) -> InstrumentResponse:
        self.session.add(response)
        self.session.flush()
        return response


class AlertRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, alert_id: int) -> SafetyAlert | None:
        return self.session.get(SafetyAlert, alert_id)

    def add(self, alert: SafetyAlert) -> SafetyAlert:
        self.session.add(alert)
        self.session.flush()
        return alert

    def open_counts_by_level(self) -> dict[str, int]:
        stmt = (
            select(SafetyAlert.level, func.count())
            .where(SafetyAlert.status == "open")
            .group_by(SafetyAlert.level)
        )
        return {str(level): int(n) for level, n in self.session.execute(stmt).all()}

    def count_for_response(self, response_id: int) -> int:
        stmt = select(func.count()).where(SafetyAlert.response_id == response_id)
        return int(self.session.scalar(stmt) or 0)

    def listing(
        self,
        *,
        study_ids: Collection[int] | None,
        site_ids: Collection[int] | None = None,
        status: str | None = None,
        participant_id: int | None = None,
        limit: int = 1000,
    ) -> Sequence[SafetyAlert]:
        """Alerts in these studies (and at these sites), newest first."""
        stmt = select(SafetyAlert)
        if study_ids is not None:
            stmt = stmt.where(SafetyAlert.study_id.in_(list(study_ids)))
        if site_ids is not None:
            stmt = stmt.join(Participant, Participant.id == SafetyAlert.participant_id).where(
                Participant.site_id.in_(list(site_ids))
            )
        if status is not None:
            stmt = stmt.where(SafetyAlert.status == status)
        if participant_id is not None:
            stmt = stmt.where(SafetyAlert.participant_id == participant_id)
        stmt = stmt.order_by(SafetyAlert.created_at.desc(), SafetyAlert.id.desc()).limit(limit)
        return self.session.scalars(stmt).all()


class FormLinkRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def by_hash(self, token_hash: str) -> FormLink | None:
        return self.session.scalars(
            select(FormLink).where(FormLink.token_hash == token_hash)
        ).first()

    def for_response(self, response_id: int) -> FormLink | None:
        return self.session.scalars(
            select(FormLink).where(FormLink.response_id == response_id)
        ).first()

    def add(self, link: FormLink) -> FormLink:
        self.session.add(link)
        self.session.flush()
        return link
