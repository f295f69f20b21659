"""Jinja2 rendering with the layout's shared context (user, navigation, CSRF token)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from openpat import __version__
from openpat.security import Permission
from openpat.services.auth import ActiveSession

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
# Templates change only with a new release: do not stat each one on every render.
TEMPLATES.env.auto_reload = False
TEMPLATES.env.globals["version"] = __version__


@dataclass(frozen=True, slots=True)
class NavItem:
    label: str
    href: str | None  # None: not available yet in this release
    key: str


def navigation(active: ActiveSession | None, study_id: int | None) -> list[NavItem]:
    """The domains, in the order a study flows; those a role may not open are left out."""
    if active is None:
        return []
    p = active.principal
    items: list[NavItem] = []
    if p.has(Permission.SELF_SERVICE):
        items.append(NavItem("My participation", "/me", "me"))
    if p.has(Permission.STUDY_READ):
        items.append(NavItem("Dashboard", f"/studies/{study_id}" if study_id else "/", "dashboard"))
    if p.has(Permission.KNOWLEDGE_READ):
        items.append(NavItem("Knowledge", "/knowledge", "knowledge"))
    if p.has(Permission.SCREENING_WRITE):
        items.append(NavItem("Screening", "/screening", "screening"))
    if p.has(Permission.KNOWLEDGE_READ):
        items.append(NavItem("Pharmacology", "/pharmacology", "pharmacology"))
    if p.has(Permission.PARTICIPANT_READ) and study_id:
        items.append(NavItem("Participants", f"/studies/{study_id}/participants", "participants"))
    if p.has(Permission.STUDY_READ) and study_id:
        items.append(NavItem("Protocol", f"/studies/{study_id}/protocol", "trial"))
    if p.has(Permission.SCHEDULE_READ) and study_id:
        items.append(NavItem("Calendar", f"/studies/{study_id}/calendar", "calendar"))
    if p.has(Permission.ALLOCATION_READ) and study_id:
        items.append(NavItem("Blinding", f"/studies/{study_id}/blinding", "blinding"))
    if p.has(Permission.STUDY_READ):
        items.append(NavItem("Sessions", None, "sessions"))
        items.append(NavItem("Outcomes", None, "outcomes"))
    if p.has(Permission.ALERT_READ):
        items.append(NavItem("Alerts", "/alerts", "alerts"))
        items.append(NavItem("Analytics", None, "analytics"))
    if p.has(Permission.AUDIT_READ) or p.has(Permission.USER_MANAGE):
        href = "/admin/users" if p.has(Permission.USER_MANAGE) else "/admin/audit"
        items.append(NavItem("Admin", href, "admin"))
    return items


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    active: ActiveSession | None = getattr(request.state, "active_session", None)
    shown_study = context.get("study_id") or getattr(request.state, "study_id", None)
    study_id = shown_study or _current_study(request, active)
    full = {
        "active": active,
        "principal": active.principal if active else None,
        "csrf_token": active.csrf_token if active else "",
        "nav": navigation(active, study_id),
        "nav_key": context.get("nav_key", ""),
        "Permission": Permission,
        **context,
    }
    response = TEMPLATES.TemplateResponse(
        request, name, full, status_code=status_code, headers=headers
    )
    if active is not None and shown_study:
        # pages of no one study (screening, alerts, knowledge...) keep the study last shown
        response.set_cookie(STUDY_COOKIE, str(shown_study), httponly=True, samesite="lax")
    return response


STUDY_COOKIE = "openpat_study"


def _current_study(request: Request, active: ActiveSession | None) -> int | None:
    """The study the navigation keeps on a page that is not about one study: the last one
    shown, if the user may still see it, else the user's only study."""
    if active is None or not active.principal.has(Permission.STUDY_READ):
        return None
    remembered = request.cookies.get(STUDY_COOKIE, "")
    if remembered.isdigit() and active.principal.can(
        Permission.STUDY_READ, study_id=int(remembered)
    ):
        return int(remembered)
    studies = active.principal.study_ids(Permission.STUDY_READ)
    if studies is not None and len(studies) == 1:
        return next(iter(studies))
    return None
