"""Safety screening: protocol templates, screenings run and kept for participants."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from openpat.services import screening
from openpat.services.ids import Id
from openpat.services.screening import (
    ProtocolRead,
    ScreeningCreate,
    ScreeningRead,
    ScreeningSummary,
)
from openpat.web.deps import KnowledgeReader, ParticipantReader, ScreeningWriter, UowDep

router = APIRouter(tags=["screening"])

Slug = Annotated[str, Path(min_length=1, max_length=100)]


@router.get("/screening/protocols")
def list_protocols(active: KnowledgeReader) -> list[ProtocolRead]:
    """The shipped eligibility templates with their criteria and washout rules."""
    return screening.protocols()


@router.get("/screening/protocols/{protocol_id}")
def get_protocol(active: KnowledgeReader, protocol_id: Slug) -> ProtocolRead:
    return screening.protocol(protocol_id)


@router.post("/screenings", status_code=201)
def create_screening(body: ScreeningCreate, active: ScreeningWriter, uow: UowDep) -> ScreeningRead:
    """Screen a participant against a protocol for a planned dosing date; the profile and
    the full report are kept and audited. A verdict of any kind is a 201; bad input a 422."""
    with uow.reason("eligibility screening"):
        created = screening.create_screening(uow=uow, principal=active.principal, screening_in=body)
    uow.commit()
    return created


@router.get("/screenings/{screening_id}")
def get_screening(screening_id: Id, active: ParticipantReader, uow: UowDep) -> ScreeningRead:
    return screening.get_screening(uow=uow, principal=active.principal, screening_id=screening_id)


@router.get("/participants/{participant_id}/screenings")
def participant_screenings(
    participant_id: Id, active: ParticipantReader, uow: UowDep
) -> list[ScreeningSummary]:
    return screening.list_for_participant(
        uow=uow, principal=active.principal, participant_id=participant_id
    )
