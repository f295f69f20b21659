"""Participant list, registration, detail, status changes and identity."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from openpat.errors import FieldProblem, NotFound, OpenPatError
from openpat.security import Permission
from openpat.services import eligibility, participants, studies
from openpat.services.auth import ActiveSession
from openpat.services.ids import MAX_ID, Id
from openpat.services.participants import (
    IdentityIn,
    IdentityUpdate,
    ParticipantCreate,
    StatusChange,
)
from openpat.services.runtime import UnitOfWork
from openpat.services.studies import today_at_site
from openpat.trial.pathway import ALLOWED_TRANSITIONS, PATHWAY_ORDER, ParticipantStatus
from openpat.web.deps import (
    EligibilityOverrider,
    IdentityWriter,
    ParticipantReader,
    ParticipantWriter,
    UowDep,
)
from openpat.web.pages.forms import form_problems
from openpat.web.pages.outcomes import participant_outcomes
from openpat.web.templating import render

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50


@router.get("/studies/{study_id}/participants")
def participant_list(
    request: Request,
    study_id: Id,
    active: ParticipantReader,
    uow: UowDep,
    status: ParticipantStatus | None = None,
    page: Annotated[int, Query(ge=1, le=MAX_ID // PAGE_SIZE)] = 1,
) -> Response:
    study = studies.get_study(uow=uow, principal=active.principal, study_id=study_id)
    result = participants.list_participants(
        uow=uow,
        principal=active.principal,
        study_id=study_id,
        status=status,
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    pages = max(1, -(-result.total // PAGE_SIZE))
    return render(
        request,
        "participants.html",
        {
            "title": f"Participants · {study.code}",
            "study": study,
            "study_id": study_id,
            "result": result,
            "status": status,
            "statuses": PATHWAY_ORDER,
            "page": page,
            "pages": pages,
            "can_write": active.principal.can(Permission.PARTICIPANT_WRITE, study_id=study_id),
            "nav_key": "participants",
        },
    )


def _new_form(
    request: Request,
    study: studies.StudyRead,
    *,
    errors: list[FieldProblem] | None = None,
    values: dict[str, Any] | None = None,
    can_identity: bool,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "participant_new.html",
        {
            "title": "Register participant",
            "study": study,
            "study_id": study.id,
            "errors": errors or [],
            "values": values or {},
            "can_identity": can_identity,
            "nav_key": "participants",
        },
        status_code=status_code,
    )


@router.get("/studies/{study_id}/participants/new")
def participant_new(
    request: Request, study_id: Id, active: ParticipantWriter, uow: UowDep
) -> Response:
    study = studies.get_study(uow=uow, principal=active.principal, study_id=study_id)
    can_identity = active.principal.can(Permission.IDENTITY_WRITE, study_id=study_id)
    return _new_form(request, study, can_identity=can_identity)


@router.post("/studies/{study_id}/participants/new")
def participant_create(
    request: Request,
    study_id: Id,
    active: ParticipantWriter,
    uow: UowDep,
    site_id: Annotated[str, Form()] = "",
    year_of_birth: Annotated[str, Form()] = "",
    sex: Annotated[str, Form()] = "",
    prescreen_date: Annotated[str, Form()] = "",
    full_name: Annotated[str, Form()] = "",
    date_of_birth: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    phone: Annotated[str, Form()] = "",
) -> Response:
    study = studies.get_study(uow=uow, principal=active.principal, study_id=study_id)
    can_identity = active.principal.can(Permission.IDENTITY_WRITE, study_id=study_id)
    values = {
        "site_id": site_id,
        "year_of_birth": year_of_birth,
        "sex": sex,
        "prescreen_date": prescreen_date,
        "full_name": full_name,
        "date_of_birth": date_of_birth,
        "email": email,
        "phone": phone,
    }
    entered = [year_of_birth, sex, prescreen_date, full_name, date_of_birth, email, phone]
    if not any(value.strip() for value in entered):
        # an empty form (a stray click on Register) registers nobody
        return _new_form(
            request,
            study,
            errors=[
                FieldProblem(
                    "form",
                    "the form is empty: enter at least the pre-screening date, the year of "
                    "birth or the participant's name",
                )
            ],
            values=values,
            can_identity=can_identity,
            status_code=422,
        )
    identity: dict[str, Any] | None = None
    if full_name.strip() or date_of_birth or email or phone:
        identity = {
            "full_name": full_name,
            "date_of_birth": date_of_birth or None,
            "email": email or None,
            "phone": phone or None,
        }
    try:
        body = ParticipantCreate.model_validate(
            {
                "site_id": site_id,
                "year_of_birth": year_of_birth or None,
                "sex": sex or None,
                "prescreen_date": prescreen_date or None,
                "identity": identity,
            }
        )
        created = participants.create_participant(
            uow=uow, principal=active.principal, study_id=study_id, participant_in=body
        )
        uow.commit()
    except (ValidationError, OpenPatError) as exc:
        uow.rollback()
        errors, status_code = form_problems(exc, "form")
        return _new_form(
            request,
            study,
            errors=errors,
            values=values,
            can_identity=can_identity,
            status_code=status_code,
        )
    return RedirectResponse(f"/participants/{created.id}?saved=registered", status_code=303)


def _detail(
    request: Request,
    participant_id: int,
    active: ActiveSession,
    uow: UnitOfWork,
    *,
    errors: list[FieldProblem] | None = None,
    form: str | None = None,
    typed: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    principal = active.principal
    p = participants.get_participant(uow=uow, principal=principal, participant_id=participant_id)
    possible = sorted(ALLOWED_TRANSITIONS[p.status], key=PATHWAY_ORDER.index)
    study = studies.get_study(uow=uow, principal=principal, study_id=p.study_id)
    site_timezone = next(s.timezone for s in study.sites if s.id == p.site_id)
    can_identity = principal.can(Permission.IDENTITY_READ, study_id=p.study_id, site_id=p.site_id)
    identity = None
    if can_identity:
        try:
            identity = participants.get_identity(
                uow=uow, principal=principal, participant_id=participant_id
            )
        except NotFound:
            identity = None
    outcome_view = participant_outcomes(uow, principal, p.id, p.study_id, p.site_id)
    return render(
        request,
        "participant.html",
        {
            "title": f"Participant {p.code}",
            "outcomes": outcome_view,
            "p": p,
            "study": study,
            "study_id": p.study_id,
            "identity": identity,
            "can_identity": can_identity,
            "can_identity_write": principal.can(
                Permission.IDENTITY_WRITE, study_id=p.study_id, site_id=p.site_id
            ),
            "can_write": principal.can(
                Permission.PARTICIPANT_WRITE, study_id=p.study_id, site_id=p.site_id
            ),
            "can_audit": principal.has(Permission.AUDIT_READ),
            # only the moves possible from here; consent and randomisation have their own
            # forms on the trial record, so the menu links to them instead
            "next_statuses": [s for s in possible if s not in OWN_FORM],
            "own_form_steps": [(s, OWN_FORM[s]) for s in possible if s in OWN_FORM],
            "eligibility": eligibility.eligibility(
                uow=uow, principal=principal, participant_id=participant_id
            ),
            "can_override": principal.can(
                Permission.ELIGIBILITY_OVERRIDE, study_id=p.study_id, site_id=p.site_id
            ),
            "typed": typed or {},
            # The default date is today where the participant's site is (the service checks
            # dates against the same day).
            "today": today_at_site(site_timezone, uow.now()).isoformat(),
            "errors": errors or [],
            "error_form": form,
            "saved": request.query_params.get("saved"),
            "nav_key": "participants",
        },
        status_code=status_code,
    )


def _refused(
    request: Request,
    participant_id: int,
    active: ActiveSession,
    uow: UnitOfWork,
    exc: Exception,
    form: str,
    typed: dict[str, str],
    default_field: str | None = None,
) -> Response:
    """The participant page again after a refused form: its problems beside that form, and
    what was typed kept."""
    uow.rollback()
    errors, status_code = form_problems(exc, default_field or form)
    return _detail(
        request,
        participant_id,
        active,
        uow,
        errors=errors,
        form=form,
        typed=typed,
        status_code=status_code,
    )


@router.get("/participants/{participant_id}")
def participant_detail(
    request: Request, participant_id: Id, active: ParticipantReader, uow: UowDep
) -> Response:
    return _detail(request, participant_id, active, uow)


@router.post("/participants/{participant_id}/status")
def participant_status(
    request: Request,
    participant_id: Id,
    active: ParticipantWriter,
    uow: UowDep,
    status: Annotated[str, Form()] = "",
    on_date: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    try:
        change = StatusChange.model_validate(
            {"status": status, "on_date": on_date, "reason": reason}
        )
        participants.change_status(
            uow=uow, principal=active.principal, participant_id=participant_id, change=change
        )
        uow.commit()
    except (ValidationError, OpenPatError) as exc:
        typed = {"status": status, "on_date": on_date, "reason": reason}
        return _refused(request, participant_id, active, uow, exc, "status", typed)
    return RedirectResponse(f"/participants/{participant_id}?saved=status", status_code=303)


@router.post("/participants/{participant_id}/eligibility-override")
def participant_eligibility_override(
    request: Request,
    participant_id: Id,
    active: EligibilityOverrider,
    uow: UowDep,
    reason: Annotated[str, Form()] = "",
) -> Response:
    try:
        eligibility.override(
            uow=uow,
            principal=active.principal,
            participant_id=participant_id,
            override_in=eligibility.OverrideIn.model_validate({"reason": reason}),
        )
        uow.commit()
    except (ValidationError, OpenPatError) as exc:
        typed = {"override_reason": reason}
        return _refused(request, participant_id, active, uow, exc, "override", typed, "reason")
    return RedirectResponse(f"/participants/{participant_id}?saved=override", status_code=303)


OWN_FORM = {
    ParticipantStatus.CONSENTED: "record the signed consent on the trial record",
    ParticipantStatus.RANDOMISED: "randomise on the trial record",
}


@router.post("/participants/{participant_id}/identity")
def participant_identity(
    request: Request,
    participant_id: Id,
    active: IdentityWriter,
    uow: UowDep,
    full_name: Annotated[str, Form()] = "",
    date_of_birth: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    phone: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    try:
        update = IdentityUpdate.model_validate(
            {
                "identity": IdentityIn.model_validate(
                    {
                        "full_name": full_name,
                        "date_of_birth": date_of_birth or None,
                        "email": email or None,
                        "phone": phone or None,
                    }
                ),
                "reason": reason,
            }
        )
        participants.set_identity(
            uow=uow, principal=active.principal, participant_id=participant_id, update=update
        )
        uow.commit()
    except (ValidationError, OpenPatError) as exc:
        uow.rollback()
        errors, status_code = form_problems(exc, "identity")
        return _detail(
            request,
            participant_id,
            active,
            uow,
            errors=errors,
            form="identity",
            status_code=status_code,
        )
    return RedirectResponse(f"/participants/{participant_id}?saved=identity", status_code=303)
