"""Participants (pseudonymous) and their identities (kept apart)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, TypeVar

from sqlalchemy import Row, Select, func, select
from sqlalchemy.orm import Session

from openpat.store.models import Participant, ParticipantIdentity

S = TypeVar("S", bound=Select[Any])


def _scoped(stmt: S, study_id: int, site_ids: Collection[int] | None) -> S:
    stmt = stmt.where(Participant.study_id == study_id)
    if site_ids is not None:
        stmt = stmt.where(Participant.site_id.in_(list(site_ids)))
    return stmt


LIST_COLUMNS = (
    Participant.id,
    Participant.study_id,
    Participant.site_id,
    Participant.code,
    Participant.status,
    Participant.status_date,
    Participant.year_of_birth,
    Participant.sex,
    Participant.created_at,
)


class ParticipantRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, participant_id: int) -> Participant | None:
        return self.session.get(Participant, participant_id)

    def get_many(self, participant_ids: Collection[int]) -> dict[int, Participant]:
        """Participants by id, in one query."""
        if not participant_ids:
            return {}
        stmt = select(Participant).where(Participant.id.in_(sorted(set(participant_ids))))
        return {p.id: p for p in self.session.scalars(stmt)}

    def get_by_code(self, study_id: int, code: str) -> Participant | None:
        stmt = select(Participant).where(Participant.study_id == study_id, Participant.code == code)
        return self.session.scalars(stmt).first()

    def list(
        self,
        *,
        study_id: int,
        site_ids: Collection[int] | None,
        status: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> Sequence[Row[Any]]:
        """A page of the study's participants as plain rows (a list is read often and only
        read: rows cost a fraction of ORM objects)."""
        stmt = _scoped(select(*LIST_COLUMNS), study_id, site_ids)
        if status is not None:
            stmt = stmt.where(Participant.status == status)
        stmt = stmt.order_by(Participant.code).limit(limit).offset(offset)
        return self.session.execute(stmt).all()

    def count(
        self, *, study_id: int, site_ids: Collection[int] | None, status: str | None = None
    ) -> int:
        stmt = select(func.count(Participant.id)).where(Participant.study_id == study_id)
        if site_ids is not None:
            stmt = stmt.where(Participant.site_id.in_(list(site_ids)))
        if status is not None:
            stmt = stmt.where(Participant.status == status)
        return int(self.session.scalar(stmt) or 0)

    def count_by_status(self, *, study_id: int, site_ids: Collection[int] | None) -> dict[str, int]:
        stmt = select(Participant.status, func.count(Participant.id)).where(
            Participant.study_id == study_id
        )
        if site_ids is not None:
            stmt = stmt.where(Participant.site_id.in_(list(site_ids)))
        stmt = stmt.group_by(Participant.status)
        return {status: int(n) for status, n in self.session.execute(stmt).all()}

    def codes_at_site(self, *, study_id: int, prefix: str) -> Sequence[str]:
        stmt = select(Participant.code).where(
            Participant.study_id == study_id, Participant.code.like(f"{prefix}-%")
        )
        return self.session.scalars(stmt).all()

    def add(self, participant: Participant) -> Participant:
        self.session.add(participant)
        self.session.flush()
        return participant

    def get_identity(self, participant_id: int) -> ParticipantIdentity | None:
        return self.session.get(ParticipantIdentity, participant_id)

    def add_identity(self, identity: ParticipantIdentity) -> ParticipantIdentity:
        self.session.add(identity)
        self.session.flush()
        return identity

    def flush(self) -> None:
        self.session.flush()
