"""Questionnaires and ratings: send, fill in, submit, read scores, timelines, safety alerts."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path

from openpat.services import instruments as instrument_service
from openpat.services import outcomes
from openpat.services.ids import Id
from openpat.services.outcomes import (
    AlertAcknowledge,
    AlertRead,
    AnswersUpdate,
    ResponseCreate,
    ResponseRead,
    Timeline,
)
from openpat.web.deps import (
    AlertManager,
    AlertReader,
    KnowledgeReader,
    OutcomeEnterer,
    OutcomeReader,
    ParticipantReader,
    SelfService,
    UowDep,
)

router = APIRouter(tags=["outcomes"])


@router.get("/instruments")
def list_instruments(active: KnowledgeReader) -> list[dict[str, object]]:
    """Every instrument and whether openpat can score it."""
    return instrument_service.listing()


@router.post("/responses", status_code=201)
def create_response(body: ResponseCreate, active: OutcomeEnterer, uow: UowDep) -> ResponseRead:
    """Send a questionnaire to a participant, or start entering one or a rating."""
    with uow.reason("questionnaire started"):
        created = outcomes.create_response(uow=uow, principal=active.principal, response_in=body)
    uow.commit()
    return created


@router.get("/responses/{response_id}")
def get_response(response_id: Id, active: ParticipantReader, uow: UowDep) -> ResponseRead:
    return outcomes.get_response(uow=uow, principal=active.principal, response_id=response_id)


@router.put("/responses/{response_id}/answers")
def save_answers(
    response_id: Id, body: AnswersUpdate, active: OutcomeEnterer, uow: UowDep
) -> ResponseRead:
    with uow.reason("answers entered"):
        saved = outcomes.save_answers(
            uow=uow, principal=active.principal, response_id=response_id, update=body
        )
    uow.commit()
    return saved


@router.post("/responses/{response_id}/submit")
def submit_response(response_id: Id, active: OutcomeEnterer, uow: UowDep) -> ResponseRead:
    with uow.reason("response submitted and scored"):
        done = outcomes.submit(uow=uow, principal=active.principal, response_id=response_id)
    uow.commit()
    return done


@router.get("/participants/{participant_id}/responses")
def participant_responses(
    participant_id: Id, active: ParticipantReader, uow: UowDep
) -> list[ResponseRead]:
    """All responses for the study team; a blinded rater's own ratings for a rater."""
    return outcomes.list_for_participant(
        uow=uow, principal=active.principal, participant_id=participant_id
    )


@router.get("/participants/{participant_id}/timelines/{instrument_id}")
def participant_timeline(
    participant_id: Id,
    instrument_id: Annotated[str, Path(min_length=1, max_length=100)],
    active: OutcomeReader,
    uow: UowDep,
) -> Timeline:
    """Scores over time with change, response and remission against baseline."""
    return outcomes.timeline(
        uow=uow,
        principal=active.principal,
        participant_id=participant_id,
        instrument=instrument_id,
    )


@router.get("/me/responses")
def my_responses(active: SelfService, uow: UowDep) -> list[ResponseRead]:
    """A participant's own forms (no scores)."""
    return outcomes.my_forms(uow=uow, principal=active.principal)


@router.get("/me/responses/{response_id}")
def my_response(response_id: Id, active: SelfService, uow: UowDep) -> ResponseRead:
    return outcomes.get_response(uow=uow, principal=active.principal, response_id=response_id)


@router.put("/me/responses/{response_id}/answers")
def my_answers(
    response_id: Id, body: AnswersUpdate, active: SelfService, uow: UowDep
) -> ResponseRead:
    with uow.reason("answers given by the participant"):
        saved = outcomes.save_answers(
            uow=uow, principal=active.principal, response_id=response_id, update=body
        )
    uow.commit()
    return saved


@router.post("/me/responses/{response_id}/submit")
def my_submit(response_id: Id, active: SelfService, uow: UowDep) -> ResponseRead:
    with uow.reason("form submitted by the participant"):
        done = outcomes.submit(uow=uow, principal=active.principal, response_id=response_id)
    uow.commit()
    return done


@router.get("/alerts")
def list_alerts(
    active: AlertReader,
    uow: UowDep,
    status: Literal["open", "acknowledged"] | None = "open",
) -> list[AlertRead]:
    """Safety alerts raised by answers (open ones by default)."""
    return outcomes.list_alerts(uow=uow, principal=active.principal, status=status)


@router.post("/alerts/{alert_id}/acknowledge")
def acknowledge_alert(
    alert_id: Id, body: AlertAcknowledge, active: AlertManager, uow: UowDep
) -> AlertRead:
    with uow.reason("safety alert acknowledged"):
        done = outcomes.acknowledge_alert(
            uow=uow, principal=active.principal, alert_id=alert_id, ack=body
        )
    uow.commit()
    return done
