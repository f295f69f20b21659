"""A participant's own page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from openpat.errors import FieldProblem
from openpat.services import outcomes, participants, trial
from openpat.web.deps import PlatformDep, SelfService, UowDep
from openpat.web.pages.forms import submit_form
from openpat.web.templating import render

router = APIRouter(include_in_schema=False)


def _me_page(
    request: Request,
    active: SelfService,
    uow: UowDep,
    *,
    errors: list[FieldProblem] | None = None,
    status_code: int = 200,
) -> Response:
    own = participants.own_participation(uow=uow, principal=active.principal)
    forms = outcomes.my_forms(uow=uow, principal=active.principal)
    return render(
        request,
        "me.html",
        {
            "title": "My participation",
            "own": own,
            "forms": forms,
            "saved": request.query_params.get("saved"),
            "errors": errors or [],
            "nav_key": "me",
        },
        status_code=status_code,
    )


@router.get("/me")
def my_participation(request: Request, active: SelfService, uow: UowDep) -> Response:
    return _me_page(request, active, uow)


@router.post("/me/consent")
def my_consent(
    request: Request,
    active: SelfService,
    uow: UowDep,
    platform: PlatformDep,
    form_version: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
) -> Response:
    """The participant signs their consent: the form version and their password again."""

    def act() -> None:
        body = trial.OwnConsentIn.model_validate(
            {"form_version": form_version, "password": password}
        )
        trial.sign_own_consent(
            uow=uow, principal=active.principal, consent=body, hasher=platform.hasher
        )

    return submit_form(
        uow,
        act,
        default_field="password",
        done="/me?saved=consented",
        again=lambda errors, status_code: _me_page(
            request, active, uow, errors=errors, status_code=status_code
        ),
    )
