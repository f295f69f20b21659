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
    study_id = context.get("study_id") or getattr(request.state, "study_id", None)
    full = {
        "active": active,
        "principal": active.principal if active else None,
        "csrf_token": active.csrf_token if active else "",
        "nav": navigation(active, study_id),
        "nav_key": context.get("nav_key", ""),
        "Permission": Permission,
        **context,
    }
    return TEMPLATES.TemplateResponse(request, name, full, status_code=status_code, headers=headers)
