"""A participant's own page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from openpat.services import outcomes, participants
from openpat.web.deps import SelfService, UowDep
from openpat.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/me")
def my_participation(request: Request, active: SelfService, uow: UowDep) -> Response:
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
            "nav_key": "me",
        },
    )
