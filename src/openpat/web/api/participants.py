"""Participants, their pathway status and their identities."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from openpat.services import eligibility, participants
from openpat.services.eligibility import EligibilityRead, OverrideIn
from openpat.services.ids import MAX_ID, Id
from openpat.services.participants import (
    IdentityRead,
    IdentityUpdate,
    OwnParticipation,
    ParticipantCreate,
    ParticipantPage,
    ParticipantRead,
    StatusChange,
)
from openpat.trial.pathway import ParticipantStatus
from openpat.web.deps import (
    EligibilityOverrider,
    IdentityReader,
    IdentityWriter,
    ParticipantReader,
    ParticipantWriter,
    SelfService,
    UowDep,
)

router = APIRouter(tags=["participants"])


@router.get("/studies/{study_id}/participants")
def list_participants(
    study_id: Id,
    active: ParticipantReader,
    uow: UowDep,
    status: ParticipantStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> ParticipantPage:
    return participants.list_participants(
        uow=uow,
        principal=active.principal,
        study_id=study_id,
        status=status,
        limit=limit,
        offset=offset,
    )


@router.post("/studies/{study_id}/participants", status_code=201)
def create_participant(
    study_id: Id, body: ParticipantCreate, active: ParticipantWriter, uow: UowDep
) -> ParticipantRead:
    created = participants.create_participant(
        uow=uow, principal=active.principal, study_id=study_id, participant_in=body
    )
    uow.commit()
    return created


@router.get("/participants/{participant_id}")
def get_participant(participant_id: Id, active: ParticipantReader, uow: UowDep) -> ParticipantRead:
    return participants.get_participant(
        uow=uow, principal=active.principal, participant_id=participant_id
    )


@router.post("/participants/{participant_id}/status")
def change_status(
    participant_id: Id, body: StatusChange, active: ParticipantWriter, uow: UowDep
) -> ParticipantRead:
    changed = participants.change_status(
        uow=uow, principal=active.principal, participant_id=participant_id, change=body
    )
    uow.commit()
    return changed


@router.get("/participants/{participant_id}/eligibility")
def get_eligibility(participant_id: Id, active: ParticipantReader, uow: UowDep) -> EligibilityRead:
    """What the latest screening against the protocol's eligibility template allows."""
    return eligibility.eligibility(
        uow=uow, principal=active.principal, participant_id=participant_id
    )


@router.post("/participants/{participant_id}/eligibility-override", status_code=201)
def override_eligibility(
    participant_id: Id, body: OverrideIn, active: EligibilityOverrider, uow: UowDep
) -> EligibilityRead:
    """An investigator lets the participant be enrolled and randomised despite the latest
    screening's verdict, with a reason (audited; shown on the participant's page)."""
    done = eligibility.override(
        uow=uow, principal=active.principal, participant_id=participant_id, override_in=body
    )
    uow.commit()
    return done


@router.get("/participants/{participant_id}/identity")
def get_identity(participant_id: Id, active: IdentityReader, uow: UowDep) -> IdentityRead:
    return participants.get_identity(
        uow=uow, principal=active.principal, participant_id=participant_id
    )


@router.put("/participants/{participant_id}/identity")
def set_identity(
    participant_id: Id, body: IdentityUpdate, active: IdentityWriter, uow: UowDep
) -> IdentityRead:
    saved = participants.set_identity(
        uow=uow, principal=active.principal, participant_id=participant_id, update=body
    )
    uow.commit()
    return saved


@router.get("/me/participation")
def own_participation(active: SelfService, uow: UowDep) -> list[OwnParticipation]:
    return participants.own_participation(uow=uow, principal=active.principal)
