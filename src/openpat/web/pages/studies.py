"""Home and the study dashboard."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from openpat.security import Permission
from openpat.services import outcomes, studies, users
from openpat.services.ids import Id
from openpat.web.deps import Account, StudyReader, UowDep
from openpat.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/")
def home(request: Request, active: Account, uow: UowDep) -> Response:
    """Participants go to their own page; staff to their study (or a list of studies)."""
    principal = active.principal
    if not principal.has(Permission.STUDY_READ):
        if principal.has(Permission.SELF_SERVICE):
            return RedirectResponse("/me", status_code=303)
        return render(request, "no_access.html", {"title": "No study access"})
    visible = studies.list_studies(uow=uow, principal=principal)
    if len(visible) == 1:
        return RedirectResponse(f"/studies/{visible[0].id}", status_code=303)
    return render(request, "studies.html", {"title": "Studies", "studies": visible})


@router.get("/studies/{study_id}")
def dashboard(request: Request, study_id: Id, active: StudyReader, uow: UowDep) -> Response:
    board = studies.dashboard(uow=uow, principal=active.principal, study_id=study_id)
    peak = max((c.count for c in board.by_status), default=0) or 1
    alerts = outcomes.study_alerts(uow=uow, principal=active.principal, study_id=study_id)
    now = uow.now()
    return render(
        request,
        "dashboard.html",
        {
            "title": board.study.title,
            "board": board,
            "peak": peak,
            "study_id": study_id,
            "nav_key": "dashboard",
            "alerts": alerts,
            "can_read_alerts": active.principal.can(Permission.ALERT_READ, study_id=study_id),
            "age": lambda then: age_text(now - then),
        },
    )


@router.get("/studies/{study_id}/access")
def access(request: Request, study_id: Id, active: StudyReader, uow: UowDep) -> Response:
    """The study's access page: who holds which role, who granted it and when."""
    found = users.study_access(uow=uow, principal=active.principal, study_id=study_id)
    return render(
        request,
        "access.html",
        {"title": "Access", "access": found, "study_id": study_id, "nav_key": "access"},
    )


def age_text(elapsed: dt.timedelta) -> str:
    """How long ago, as a person says it: "40 min", "5 h 10 min", "3 days"."""
    minutes = max(0, int(elapsed.total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    return f"{hours // 24} days"
