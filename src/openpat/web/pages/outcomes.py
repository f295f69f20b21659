"""Questionnaire pages: a participant fills in a form on a phone (one question per screen,
or all on one page; saved at every step, so it resumes); the study team sends forms and
enters ratings; the participant page shows scores and timelines; the alerts page."""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from openpat import instruments, knowledge
from openpat.errors import (
    FieldProblem,
    InvalidInput,
    NotFound,
    OpenPatError,
    PermissionDenied,
    RuleViolation,
)
from openpat.security import Permission, Principal
from openpat.services import instruments as instrument_service
from openpat.services import outcomes, schedule, studies
from openpat.services.auth import ActiveSession
from openpat.services.ids import Id
from openpat.services.outcomes import (
    AlertAcknowledge,
    AlertRead,
    AnswersUpdate,
    ResponseCreate,
    ResponseRead,
    SheetEntry,
    Timeline,
)
from openpat.services.runtime import Actor
from openpat.services.schedule import ScheduledVisit
from openpat.services.studies import CrisisTextUpdate
from openpat.store.uow import UnitOfWork
from openpat.web.deps import (
    PUBLIC,
    AlertManager,
    AlertReader,
    OutcomeEnterer,
    SelfService,
    UowDep,
)
from openpat.web.pages.forms import form_problems
from openpat.web.templating import render

router = APIRouter(include_in_schema=False)

UNSCHEDULED = "-unscheduled-"  # the visit menu's choice for an assessment outside the schedule


# -- the participant's form ---------------------------------------------------------------


def _next_index(shown: list[bool], start: int, step: int) -> int:
    """The next asked item from ``start`` in direction ``step`` (len = the review screen)."""
    i = start
    while 0 <= i < len(shown) and not shown[i]:
        i += step
    return max(0, min(i, len(shown)))


def _form_context(
    r: ResponseRead, q: int | None, show_all: bool, errors: list[FieldProblem]
) -> dict[str, Any]:
    defn = instruments.definition(knowledge.default(), r.instrument)
    answers = r.answers or {}
    shown = outcomes.asked(defn, answers)
    items = outcomes.items(defn)
    index = r.position if q is None else q
    index = _next_index(shown, max(0, min(index, len(items))), 1)
    asked_count = sum(shown)
    number = sum(shown[:index]) + 1
    labels: dict[str, str | None] = {}
    for item in items:
        value = answers.get(item.id)
        label = None
        if value is not None and item.options:
            label = next((o["label"] for o in item.options if o["value"] == value), None)
        labels[item.id] = label if label is not None else (None if value is None else f"{value:g}")
    return {
        "title": f"{r.abbreviation} · {r.visit}",
        "nav_key": "me",
        "r": r,
        "instrument": defn.instrument,
        "items": items,
        "shown": shown,
        "answers": answers,
        "answer_labels": labels,
        "index": index,
        "number": min(number, asked_count),
        "asked_count": asked_count,
        "review": index >= len(items),
        "show_all": show_all,
        "errors": errors,
        "percent": round(100 * r.answered / max(asked_count, 1)),
    }


@router.get("/me/forms/{response_id}")
def my_form(request: Request, response_id: Id, active: SelfService, uow: UowDep) -> Response:
    return _show_form(request, uow, active.principal, response_id, f"/me/forms/{response_id}")


@router.post("/me/forms/{response_id}")
async def my_form_post(
    request: Request, response_id: Id, active: SelfService, uow: UowDep
) -> Response:
    return await _post_form(request, uow, active.principal, response_id, f"/me/forms/{response_id}")


@router.get("/f/{token}", dependencies=[PUBLIC])
def link_form(request: Request, token: str, uow: UowDep) -> Response:
    """A participant's personal link to one form (no account needed)."""
    try:
        principal, response_id = outcomes.link_principal(uow, token)
    except NotFound as exc:
        return _link_gone(request, exc.message)
    return _show_form(request, uow, principal, response_id, f"/f/{token}")


@router.post("/f/{token}", dependencies=[PUBLIC])
async def link_form_post(request: Request, token: str, uow: UowDep) -> Response:
    try:
        principal, response_id = outcomes.link_principal(uow, token)
    except NotFound as exc:
        return _link_gone(request, exc.message)
    uow.set_actor(Actor(name=f"participant (personal link, form {response_id})"))
    return await _post_form(request, uow, principal, response_id, f"/f/{token}")


def _link_gone(request: Request, message: str) -> Response:
    return render(
        request,
        "outcomes/link_done.html",
        {"title": "Questionnaire", "message": message},
        status_code=404,
    )


def _show_form(
    request: Request, uow: UnitOfWork, principal: Principal, response_id: int, form_url: str
) -> Response:
    r = outcomes.get_response(uow=uow, principal=principal, response_id=response_id)
    if r.status != "in-progress":
        return RedirectResponse("/me?saved=submitted", status_code=303)
    q = request.query_params.get("q")
    context = _form_context(
        r, int(q) if q and q.isdigit() else None, request.query_params.get("all") == "1", []
    )
    context["form_url"] = form_url
    return render(request, "outcomes/form.html", context)


async def _post_form(
    request: Request, uow: UnitOfWork, principal: Principal, response_id: int, form_url: str
) -> Response:
    form = await request.form()
    action = str(form.get("action", "next"))
    q_raw = str(form.get("q", "0"))
    q = int(q_raw) if q_raw.isdigit() else 0
    current = outcomes.get_response(uow=uow, principal=principal, response_id=response_id)
    defn = instruments.definition(knowledge.default(), current.instrument)
    q = min(q, len(defn.keys))
    show_all = action in ("save-all", "submit-all")
    by_link = form_url.startswith("/f/")
    try:
        answers: dict[str, float | None] = {}
        if show_all:
            for key in defn.keys:
                raw = str(form.get(f"a_{key}", "")).strip()
                if raw:
                    answers[key] = _number(raw, key)
        elif q < len(defn.keys):
            raw = str(form.get("answer", "")).strip()
            key = defn.keys[q]
            if raw:
                answers[key] = _number(raw, key)
            elif action == "next":
                raise InvalidInput.for_field(f"answers.{key}", "please choose an answer")
        merged = {**(current.answers or {}), **answers}
        shown = outcomes.asked(defn, merged)
        if action == "back":
            target = _next_index(shown, max(q - 1, 0), -1)
        elif action == "next":
            target = _next_index(shown, q + 1, 1)
        else:
            target = q
        with uow.reason("answers given by the participant"):
            outcomes.save_answers(
                uow=uow,
                principal=principal,
                response_id=response_id,
                update=AnswersUpdate(answers=answers, position=target),
            )
            sent = None
            if action in ("submit", "submit-all"):
                sent = outcomes.submit(uow=uow, principal=principal, response_id=response_id)
        uow.commit()
        if sent is not None:
            if by_link:
                return _link_gone_thanks(request, sent.crisis_text)
            return RedirectResponse(f"/me/forms/{response_id}/sent", status_code=303)
    except (ValidationError, OpenPatError) as exc:
        uow.rollback()
        errors, status_code = form_problems(exc, "answer")
        r = outcomes.get_response(uow=uow, principal=principal, response_id=response_id)
        context = _form_context(r, q if action != "submit" else len(defn.keys), show_all, errors)
        context["form_url"] = form_url
        return render(request, "outcomes/form.html", context, status_code=status_code)
    if action == "later":
        if by_link:
            return render(
                request,
                "outcomes/link_done.html",
                {
                    "title": "Questionnaire",
                    "message": "Your answers are saved. Open the same link again to finish.",
                },
            )
        return RedirectResponse("/me?saved=later", status_code=303)
    suffix = "?all=1" if show_all else f"?q={target}"
    return RedirectResponse(f"{form_url}{suffix}", status_code=303)


SENT_MESSAGE = "Thank you: your answers have been sent to your study team."


def _link_gone_thanks(request: Request, crisis_text: str | None) -> Response:
    return render(
        request,
        "outcomes/link_done.html",
        {"title": "Questionnaire", "message": SENT_MESSAGE, "crisis_text": crisis_text},
    )


@router.get("/me/forms/{response_id}/sent")
def my_form_sent(request: Request, response_id: Id, active: SelfService, uow: UowDep) -> Response:
    """Right after sending a form: thanks, and the site's crisis text if the answers raised a
    safety alert."""
    crisis = outcomes.crisis_text_after_submission(
        uow=uow, principal=active.principal, response_id=response_id
    )
    return render(
        request,
        "outcomes/link_done.html",
        {
            "title": "Questionnaire",
            "nav_key": "me",
            "message": SENT_MESSAGE,
            "crisis_text": crisis,
            "back": "/me",
        },
    )


def _number(raw: str, key: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise InvalidInput.for_field(f"answers.{key}", f"{raw!r} is not an answer")
    return value


# -- the study team -----------------------------------------------------------------------


def participant_outcomes(
    uow: UnitOfWork, principal: Principal, participant_id: int, study_id: int, site_id: int
) -> dict[str, Any] | None:
    """What the participant page shows about questionnaires, for this user; None if nothing."""
    team = principal.can(Permission.OUTCOME_READ, study_id=study_id, site_id=site_id)
    enter = principal.can(Permission.OUTCOME_ENTER, study_id=study_id, site_id=site_id)
    if not team and not enter:
        return None
    responses = outcomes.list_for_participant(
        uow=uow, principal=principal, participant_id=participant_id
    )
    timelines: list[dict[str, Any]] = []
    if team:
        names = sorted(
            {r.instrument for r in responses if r.status == "submitted" and r.total is not None}
        )
        for name in names:
            t = outcomes.timeline(
                uow=uow, principal=principal, participant_id=participant_id, instrument=name
            )
            if t.points:
                timelines.append(_chart(t))
    listing = [i for i in instrument_service.listing() if i["scorable"]]
    visits, default_visit = _visit_choices(uow, principal, participant_id)
    return {
        "visits": visits,
        "default_visit": default_visit,
        "responses": responses,
        "timelines": timelines,
        "team": team,
        "can_send": enter and team,
        "can_rate": enter,
        "self_report": [i for i in listing if i["administration"] == "self-report"],
        "ratings": [i for i in listing if i["administration"] != "self-report"],
        "alerts": outcomes.list_alerts(
            uow=uow, principal=principal, status="open", participant_id=participant_id
        )
        if principal.can(Permission.ALERT_READ, study_id=study_id, site_id=site_id)
        else [],
    }


def _visit_choices(
    uow: UnitOfWork, principal: Principal, participant_id: int
) -> tuple[list[ScheduledVisit], str | None]:
    """The participant's scheduled visits that take assessments, and the one due now (the
    first due or overdue and not done, else the next to come); none before randomisation."""
    try:
        plan = schedule.participant_schedule(
            uow=uow, principal=principal, participant_id=participant_id
        )
    except (RuleViolation, NotFound, PermissionDenied):
        return [], None
    visits = [v for v in plan.visits if v.instruments]
    due = next((v for v in visits if v.status in ("due", "overdue")), None)
    upcoming = next((v for v in visits if v.status == "upcoming"), None)
    chosen = due or upcoming
    return visits, chosen.visit if chosen else None


def _chart(t: Timeline) -> dict[str, Any]:
    """Coordinates for a small SVG: bands shaded, baseline ringed, response/remission marked."""
    width, height, left, right, top, bottom = 560, 170, 40, 16, 10, 34
    low, high = t.scale if t.scale else (0.0, max(p.total or 0 for p in t.points) or 1.0)
    n = len(t.points)

    def x(i: int) -> float:
        return left + (i + 0.5) * (width - left - right) / n

    def y(v: float) -> float:
        return top + (high - v) / (high - low) * (height - top - bottom)

    bands = [
        {
            "y": y(min(b["high"] + 1, high) if b["high"] < high else high),
            "h": y(b["low"]) - y(min(b["high"] + 1, high) if b["high"] < high else high),
            "label": b["label"],
            "shade": k % 2,
        }
        for k, b in enumerate(t.bands)
    ]
    points = [
        {
            "x": x(i),
            "y": y(p.total) if p.total is not None else None,
            "p": p,
            "baseline": p.response_id == t.baseline_response_id,
        }
        for i, p in enumerate(t.points)
    ]
    line = " ".join(f"{q['x']:.1f},{q['y']:.1f}" for q in points if q["y"] is not None)
    return {
        "t": t,
        "width": width,
        "height": height,
        "left": left,
        "right": right,
        "bands": bands,
        "points": points,
        "line": line,
        "ticks": [{"v": v, "y": y(v)} for v in (low, (low + high) / 2, high)],
        "base_y": height - bottom,
    }


@router.post("/participants/{participant_id}/responses")
def send_or_start(
    request: Request,
    participant_id: Id,
    active: OutcomeEnterer,
    uow: UowDep,
    instrument: Annotated[str, Form()] = "",
    visit: Annotated[str, Form()] = "",
    unscheduled_label: Annotated[str, Form()] = "",
    repeat: Annotated[str, Form()] = "",
    source: Annotated[str, Form()] = "participant",
    rater_blinded: Annotated[str, Form()] = "",
) -> Response:
    unscheduled = visit == UNSCHEDULED
    try:
        body = ResponseCreate.model_validate(
            {
                "participant_id": participant_id,
                "instrument": instrument,
                "visit": unscheduled_label if unscheduled else visit,
                "unscheduled": unscheduled,
                "repeat": repeat == "yes",
                "source": source,
                "rater_blinded": None if source != "rater" else rater_blinded == "yes",
            }
        )
        with uow.reason("questionnaire sent" if source == "participant" else "entry started"):
            created = outcomes.create_response(
                uow=uow, principal=active.principal, response_in=body
            )
        uow.commit()
    except (ValidationError, OpenPatError) as exc:
        uow.rollback()
        errors, _ = form_problems(exc, "instrument")
        message = "; ".join(f"{e.field}: {e.message}" for e in errors)
        # a repeat refused for want of confirmation comes back with the form filled in and
        # the confirmation to tick
        again = "&".join(
            f"{k}={_quote(v)}"
            for k, v in (
                ("instrument", instrument),
                ("visit", visit),
                ("unscheduled_label", unscheduled_label),
                ("source", source),
                ("confirm_repeat", "1" if any(e.field == "repeat" for e in errors) else ""),
            )
            if v
        )
        return RedirectResponse(
            f"/participants/{participant_id}?outcome_error={_quote(message)}&{again}#outcomes",
            status_code=303,
        )
    if created.source == "participant":
        return RedirectResponse(f"/participants/{participant_id}?saved=sent#outcomes", 303)
    return RedirectResponse(f"/responses/{created.id}/enter", status_code=303)


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text[:300])


@router.get("/responses/{response_id}/enter")
def enter_form(request: Request, response_id: Id, active: OutcomeEnterer, uow: UowDep) -> Response:
    r = outcomes.get_response(uow=uow, principal=active.principal, response_id=response_id)
    return _enter_page(request, r, [])


def _enter_page(
    request: Request, r: ResponseRead, errors: list[FieldProblem], status_code: int = 200
) -> Response:
    defn = instruments.definition(knowledge.default(), r.instrument)
    answers = r.answers or {}
    return render(
        request,
        "outcomes/enter.html",
        {
            "title": f"{r.abbreviation} · {r.visit}",
            "nav_key": "participants",
            "r": r,
            "items": outcomes.items(defn),
            "answers": answers,
            "shown": outcomes.asked(defn, answers),
            "gates": outcomes.gates(defn),
            "sheet": defn.scoring.rating_sheet,
            "errors": errors,
        },
        status_code=status_code,
    )


@router.post("/responses/{response_id}/enter")
async def enter_post(
    request: Request, response_id: Id, active: OutcomeEnterer, uow: UowDep
) -> Response:
    form = await request.form()
    principal = active.principal
    r = outcomes.get_response(uow=uow, principal=principal, response_id=response_id)
    defn = instruments.definition(knowledge.default(), r.instrument)
    try:
        answers: dict[str, float | None] = {}
        sheet: dict[str, SheetEntry] = {}
        for key in defn.keys:
            raw = str(form.get(f"a_{key}", "")).strip()
            answers[key] = _number(raw, key) if raw else None
            if defn.scoring.rating_sheet is not None:
                levels = {
                    part: str(form.get(f"{part[0]}_{key}", "")).strip()
                    for part in ("frequency", "intensity")
                }
                sheet[key] = SheetEntry(
                    **{part: _number(raw, key) if raw else None for part, raw in levels.items()}
                )
        with uow.reason("answers entered"):
            outcomes.save_answers(
                uow=uow,
                principal=principal,
                response_id=response_id,
                update=AnswersUpdate(answers=answers, sheet=sheet),
            )
            if form.get("action") == "submit":
                outcomes.submit(uow=uow, principal=principal, response_id=response_id)
        uow.commit()
    except (ValidationError, OpenPatError) as exc:
        uow.rollback()
        errors, status_code = form_problems(exc, "answers")
        return _enter_page(request, r, errors, status_code)
    if form.get("action") == "submit":
        # the participant page says what submitting did: scored, or saved and not scored
        # (and why), and any safety alert raised
        return RedirectResponse(
            f"/participants/{r.participant_id}?saved=submitted&response={response_id}#outcomes",
            303,
        )
    return RedirectResponse(f"/responses/{response_id}/enter", status_code=303)


@router.post("/responses/{response_id}/link")
def create_link_page(
    request: Request, response_id: Id, active: OutcomeEnterer, uow: UowDep
) -> Response:
    """A personal link to a sent form, shown once to pass on to the participant."""
    with uow.reason("personal form link created"):
        link = outcomes.create_link(uow=uow, principal=active.principal, response_id=response_id)
    uow.commit()
    r = outcomes.get_response(uow=uow, principal=active.principal, response_id=response_id)
    return render(
        request,
        "outcomes/link.html",
        {
            "title": "Personal link",
            "nav_key": "participants",
            "r": r,
            "url": str(request.base_url).rstrip("/") + link.path,
            "expires_at": link.expires_at,
        },
    )


# -- alerts -------------------------------------------------------------------------------


@router.get("/alerts")
def alerts_page(request: Request, active: AlertReader, uow: UowDep) -> Response:
    status = request.query_params.get("status", "open")
    wanted = status if status in ("open", "acknowledged") else "open"
    found = outcomes.list_alerts(uow=uow, principal=active.principal, status=wanted)  # type: ignore[arg-type]
    return _alerts_page(request, uow, active.principal, found, wanted, [])


def _alerts_page(
    request: Request,
    uow: UnitOfWork,
    principal: Principal,
    found: list[AlertRead],
    status: str,
    errors: list[FieldProblem],
    status_code: int = 200,
    **extra: Any,
) -> Response:
    return render(
        request,
        "outcomes/alerts.html",
        {
            "title": "Safety alerts",
            "nav_key": "alerts",
            "alerts": found,
            "status": status,
            "can_manage": principal.has(Permission.ALERT_MANAGE),
            "crisis_sites": studies.crisis_text_sites(uow=uow, principal=principal),
            "errors": errors,
            **extra,
        },
        status_code=status_code,
    )


def _alerts_refused(
    request: Request,
    uow: UnitOfWork,
    active: ActiveSession,
    exc: Exception,
    default_field: str,
    **extra: Any,
) -> Response:
    """The alerts page again after a refused form, its problems beside that form."""
    uow.rollback()
    errors, status_code = form_problems(exc, default_field)
    found = outcomes.list_alerts(uow=uow, principal=active.principal, status="open")
    return _alerts_page(request, uow, active.principal, found, "open", errors, status_code, **extra)


@router.post("/sites/{site_id}/crisis-text")
def crisis_text_page(
    request: Request,
    site_id: Id,
    active: AlertManager,
    uow: UowDep,
    text: Annotated[str, Form()] = "",
) -> Response:
    try:
        with uow.reason("site crisis text changed"):
            studies.set_crisis_text(
                uow=uow,
                principal=active.principal,
                site_id=site_id,
                update=CrisisTextUpdate.model_validate({"text": text}),
            )
        uow.commit()
    except (ValidationError, OpenPatError) as exc:
        return _alerts_refused(
            request, uow, active, exc, "text", error_site=site_id, typed_text=text
        )
    return RedirectResponse("/alerts?saved=crisis-text#crisis-text", status_code=303)


@router.post("/alerts/{alert_id}/acknowledge")
def acknowledge_page(
    request: Request,
    alert_id: Id,
    active: AlertManager,
    uow: UowDep,
    note: Annotated[str, Form()] = "",
) -> Response:
    try:
        with uow.reason("safety alert acknowledged"):
            outcomes.acknowledge_alert(
                uow=uow,
                principal=active.principal,
                alert_id=alert_id,
                ack=AlertAcknowledge.model_validate({"note": note}),
            )
        uow.commit()
    except (ValidationError, OpenPatError) as exc:
        return _alerts_refused(request, uow, active, exc, "note", error_alert=alert_id)
    return RedirectResponse("/alerts?saved=acknowledged", status_code=303)
