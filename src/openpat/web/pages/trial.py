"""Trial pages: the protocol, a participant's trial record (consent, randomisation, visit
schedule, bookings, guesses, emergency unblinding), the calendar, blinding integrity,
throughput by substance and notifications."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from openpat.errors import FieldProblem, InvalidInput, NotFound, OpenPatError, RuleViolation
from openpat.security import Permission
from openpat.services import jobs, messaging, participants, schedule, studies, trial
from openpat.services.auth import ActiveSession
from openpat.services.ids import Id
from openpat.services.runtime import UnitOfWork
from openpat.services.studies import today_at_site
from openpat.trial.pathway import ParticipantStatus
from openpat.trial.schedule import site_zone
from openpat.web.deps import (
    Account,
    AllocationReader,
    GuessEnterer,
    IdentityWriter,
    KnowledgeReader,
    ParticipantReader,
    ParticipantWriter,
    PlatformDep,
    ProtocolManager,
    Randomiser,
    ScheduleManager,
    ScheduleReader,
    StudyReader,
    Unblinder,
    UowDep,
)
from openpat.web.pages.forms import form_problems, submit_form
from openpat.web.templating import render

router = APIRouter(include_in_schema=False)


# -- protocol -------------------------------------------------------------------------------


def _protocol_page(
    request: Request,
    study_id: int,
    active: ActiveSession,
    uow: UnitOfWork,
    *,
    errors: list[FieldProblem] | None = None,
    source: str = "",
    status_code: int = 200,
) -> Response:
    principal = active.principal
    study = studies.get_study(uow=uow, principal=principal, study_id=study_id)
    try:
        protocol = trial.get_protocol(uow=uow, principal=principal, study_id=study_id)
    except NotFound:
        protocol = None
    return render(
        request,
        "trial/protocol.html",
        {
            "title": f"Protocol · {study.code}",
            "study": study,
            "study_id": study_id,
            "protocol": protocol,
            "unblindings": trial.list_unblindings(uow=uow, principal=principal, study_id=study_id),
            "can_load": principal.can(Permission.PROTOCOL_MANAGE, study_id=study_id),
            "errors": errors or [],
            "source": source or (protocol.source if protocol else ""),
            "saved": request.query_params.get("saved"),
            "nav_key": "trial",
        },
        status_code=status_code,
    )


@router.get("/studies/{study_id}/protocol")
def protocol_page(request: Request, study_id: Id, active: StudyReader, uow: UowDep) -> Response:
    return _protocol_page(request, study_id, active, uow)


@router.post("/studies/{study_id}/protocol")
def protocol_load(
    request: Request,
    study_id: Id,
    active: ProtocolManager,
    uow: UowDep,
    source: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    try:
        load = trial.ProtocolLoad.model_validate({"source": source, "reason": reason})
        trial.load_protocol(uow=uow, principal=active.principal, study_id=study_id, load=load)
        uow.commit()
    except (ValidationError, OpenPatError) as exc:
        uow.rollback()
        errors, code = form_problems(exc, "source")
        return _protocol_page(
            request, study_id, active, uow, errors=errors, source=source, status_code=code
        )
    return RedirectResponse(f"/studies/{study_id}/protocol?saved=1", status_code=303)


# -- a participant's trial record -----------------------------------------------------------


def _trial_page(
    request: Request,
    participant_id: int,
    active: ActiveSession,
    uow: UnitOfWork,
    *,
    errors: list[FieldProblem] | None = None,
    form: str | None = None,
    revealed: trial.UnblindRead | None = None,
    status_code: int = 200,
) -> Response:
    principal = active.principal
    p = participants.get_participant(uow=uow, principal=principal, participant_id=participant_id)
    study = studies.get_study(uow=uow, principal=principal, study_id=p.study_id)
    site = next(s for s in study.sites if s.id == p.site_id)
    try:
        protocol = trial.get_protocol(uow=uow, principal=principal, study_id=p.study_id)
    except NotFound:
        protocol = None
    plan = None
    if p.status is not ParticipantStatus.PRESCREEN:
        try:
            plan = schedule.participant_schedule(
                uow=uow, principal=principal, participant_id=participant_id
            )
        except (RuleViolation, NotFound):
            plan = None
    can = {
        "consent": principal.can(Permission.IDENTITY_WRITE, study_id=p.study_id, site_id=site.id),
        "randomise": principal.can(Permission.RANDOMISE, study_id=p.study_id, site_id=site.id),
        "visits": principal.can(Permission.PARTICIPANT_WRITE, study_id=p.study_id, site_id=site.id),
        "book": principal.can(Permission.SCHEDULE_MANAGE, study_id=p.study_id, site_id=site.id),
        "guess": principal.can(Permission.GUESS_ENTER, study_id=p.study_id, site_id=site.id),
        "unblind": principal.can(
            Permission.EMERGENCY_UNBLIND, study_id=p.study_id, site_id=site.id
        ),
        "calendar": principal.can(Permission.SCHEDULE_READ, study_id=p.study_id, site_id=site.id),
    }
    resources = (
        schedule.resources(uow=uow, principal=principal, site_id=site.id) if can["book"] else None
    )
    held_dosing = [
        v for v in (plan.visits if plan else []) if v.type == "dosing" and v.done_on is not None
    ]
    return render(
        request,
        "trial/participant.html",
        {
            "title": f"Trial record · {p.code}",
            "p": p,
            "study": study,
            "study_id": p.study_id,
            "site": site,
            "protocol": protocol,
            "consents": trial.list_consents(
                uow=uow, principal=principal, participant_id=participant_id
            ),
            "plan": plan,
            "resources": resources,
            "held_dosing": held_dosing,
            "guess_options": trial.guess_options(protocol.arms) if protocol else [],
            "can": can,
            "today": today_at_site(site.timezone, uow.now()).isoformat(),
            "now_local": uow.now().astimezone(site_zone(site.timezone)).strftime("%Y-%m-%dT%H:%M"),
            "errors": errors or [],
            "error_form": form,
            "revealed": revealed,
            "saved": request.query_params.get("saved"),
            "nav_key": "participants",
        },
        status_code=status_code,
    )


@router.get("/participants/{participant_id}/trial")
def trial_record(
    request: Request, participant_id: Id, active: ParticipantReader, uow: UowDep
) -> Response:
    return _trial_page(request, participant_id, active, uow)


def _submit(
    request: Request,
    participant_id: int,
    active: ActiveSession,
    uow: UnitOfWork,
    form: str,
    action: Callable[[], object],
    saved: str,
) -> Response:
    try:
        action()
        uow.commit()
    except (ValidationError, OpenPatError) as exc:
        uow.rollback()
        errors, code = form_problems(exc, form)
        return _trial_page(
            request, participant_id, active, uow, errors=errors, form=form, status_code=code
        )
    return RedirectResponse(
        f"/participants/{participant_id}/trial?saved={saved}#{form}", status_code=303
    )


def _local_datetime(value: str, zone_name: str) -> dt.datetime | str:
    """A ``datetime-local`` field read in the site's zone (left as text if malformed, so the
    model reports it)."""
    try:
        naive = dt.datetime.fromisoformat(value)
    except ValueError:
        return value
    return naive.replace(tzinfo=site_zone(zone_name))


@router.post("/participants/{participant_id}/consent")
def consent_form(
    request: Request,
    participant_id: Id,
    active: IdentityWriter,
    uow: UowDep,
    platform: PlatformDep,
    form_version: Annotated[str, Form()] = "",
    signature: Annotated[str, Form()] = "",
    signed_at: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
) -> Response:
    def action() -> None:
        p = participants.get_participant(
            uow=uow, principal=active.principal, participant_id=participant_id
        )
        zone = next(
            s.timezone
            for s in studies.get_study(
                uow=uow, principal=active.principal, study_id=p.study_id
            ).sites
            if s.id == p.site_id
        )
        body = trial.ConsentSignIn.model_validate(
            {
                "form_version": form_version,
                "signature": signature,
                "signed_at": _local_datetime(signed_at, zone),
                "password": password,
            }
        )
        trial.record_consent(
            uow=uow,
            principal=active.principal,
            participant_id=participant_id,
            consent=body,
            hasher=platform.hasher,
        )

    return _submit(request, participant_id, active, uow, "consent", action, "consent")


@router.post("/participants/{participant_id}/randomise")
async def randomise_form(
    request: Request, participant_id: Id, active: Randomiser, uow: UowDep
) -> Response:
    data = await request.form()
    factors = {
        str(k)[len("factor_") :]: str(v)
        for k, v in data.items()
        if str(k).startswith("factor_") and str(v).strip()
    }
    on_date = str(data.get("on_date") or "") or None
    reason = str(data.get("reason") or "") or "randomised"

    confirmed = str(data.get("confirm") or "") == "yes"

    def action() -> None:
        if not confirmed:
            # randomisation cannot be undone: the page asks for an explicit confirmation
            raise InvalidInput.for_field(
                "confirm", "tick the confirmation to randomise (the arm cannot be redrawn)"
            )
        body = trial.RandomiseIn.model_validate(
            {"on_date": on_date, "factors": factors, "reason": reason}
        )
        trial.randomise(
            uow=uow, principal=active.principal, participant_id=participant_id, request=body
        )

    return _submit(request, participant_id, active, uow, "randomise", action, "randomised")


@router.post("/participants/{participant_id}/visit")
def visit_form(
    request: Request,
    participant_id: Id,
    active: ParticipantWriter,
    uow: UowDep,
    visit: Annotated[str, Form()] = "",
    done_on: Annotated[str, Form()] = "",
    reschedule_to: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    def action() -> None:
        body = schedule.VisitUpdate.model_validate(
            {
                "visit": visit,
                "done_on": done_on or None,
                "reschedule_to": reschedule_to or None,
                "reason": reason,
            }
        )
        schedule.update_visit(
            uow=uow,
            principal=active.principal,
            participant_id=participant_id,
            update=body,
        )

    return _submit(request, participant_id, active, uow, "visits", action, "visit")


@router.post("/participants/{participant_id}/book")
async def book_form(
    request: Request, participant_id: Id, active: ScheduleManager, uow: UowDep
) -> Response:
    data = await request.form()
    staff = [str(v) for v in data.getlist("facilitator_ids") if str(v)]
    room = str(data.get("room_id") or "")

    def action() -> None:
        body = schedule.BookingIn.model_validate(
            {
                "visit": str(data.get("visit") or ""),
                "date": str(data.get("date") or ""),
                "start": str(data.get("start") or ""),
                "room_id": room or None,
                "facilitator_ids": staff,
            }
        )
        schedule.book_visit(
            uow=uow, principal=active.principal, participant_id=participant_id, booking=body
        )

    return _submit(request, participant_id, active, uow, "booking", action, "booked")


@router.post("/participants/{participant_id}/guess")
def guess_form(
    request: Request,
    participant_id: Id,
    active: GuessEnterer,
    uow: UowDep,
    visit: Annotated[str, Form()] = "",
    guesser: Annotated[str, Form()] = "",
    guess: Annotated[str, Form()] = "",
    confidence: Annotated[str, Form()] = "",
) -> Response:
    def action() -> None:
        body = trial.GuessIn.model_validate(
            {"visit": visit, "guesser": guesser, "guess": guess, "confidence": confidence}
        )
        trial.record_guess(
            uow=uow, principal=active.principal, participant_id=participant_id, guess=body
        )

    return _submit(request, participant_id, active, uow, "guess", action, "guess")


@router.post("/participants/{participant_id}/unblind")
def unblind_form(
    request: Request,
    participant_id: Id,
    active: Unblinder,
    uow: UowDep,
    reason: Annotated[str, Form()] = "",
) -> Response:
    try:
        body = trial.UnblindIn.model_validate({"reason": reason})
        revealed = trial.emergency_unblind(
            uow=uow, principal=active.principal, participant_id=participant_id, request=body
        )
        uow.commit()
    except (ValidationError, OpenPatError) as exc:
        uow.rollback()
        errors, code = form_problems(exc, "unblind")
        return _trial_page(
            request, participant_id, active, uow, errors=errors, form="unblind", status_code=code
        )
    # shown once, to this investigator, on this response (not a redirect that could be shared)
    return _trial_page(request, participant_id, active, uow, revealed=revealed)


# -- calendar -------------------------------------------------------------------------------


def _monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


@router.get("/studies/{study_id}/calendar")
def calendar_page(
    request: Request,
    study_id: Id,
    active: ScheduleReader,
    uow: UowDep,
    start: dt.date | None = None,
    site: Id | None = None,
    view: Annotated[str, Query(pattern="^(room|facilitator)$")] = "room",
) -> Response:
    return _calendar(request, study_id, active, uow, start, site, view)


def _calendar(
    request: Request,
    study_id: int,
    active: ActiveSession,
    uow: UnitOfWork,
    start: dt.date | None,
    site: int | None,
    view: str,
    *,
    email_errors: list[FieldProblem] | None = None,
    typed: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    principal = active.principal
    study = studies.get_study(uow=uow, principal=principal, study_id=study_id)
    if not study.sites:
        raise NotFound("the study has no sites")
    chosen = next((s for s in study.sites if s.id == site), study.sites[0])
    first = start or _monday(today_at_site(chosen.timezone, uow.now()))
    cal = schedule.calendar(uow=uow, principal=principal, site_id=chosen.id, start=first, days=7)
    days = [first + dt.timedelta(days=k) for k in range(7)]
    # one row per room or facilitator, one cell per day, each cell its bookings
    resources = (
        [(r.id, r.name) for r in cal.rooms]
        if view == "room"
        else [(f.id, f.name) for f in cal.facilitators]
    )
    row_of = {rid: k for k, (rid, _name) in enumerate(resources)}
    lanes: list[tuple[str, list[list[schedule.BookingRead]]]] = [
        (name, [[] for _ in days]) for _rid, name in resources
    ]
    for b in cal.bookings:
        day = (dt.date.fromisoformat(b.local_start[:10]) - first).days
        for rid in [b.room_id] if view == "room" else b.facilitator_ids:
            if rid in row_of:
                lanes[row_of[rid]][1][day].append(b)
    return render(
        request,
        "trial/calendar.html",
        {
            "title": f"Calendar · {study.code}",
            "study": study,
            "study_id": study_id,
            "site": chosen,
            "cal": cal,
            "days": days,
            "lanes": lanes,
            "view": view,
            "prev": (first - dt.timedelta(days=7)).isoformat(),
            "next": (first + dt.timedelta(days=7)).isoformat(),
            "today": today_at_site(chosen.timezone, uow.now()),
            "this_week": _monday(today_at_site(chosen.timezone, uow.now())).isoformat(),
            "nav_key": "calendar",
            "email_texts": messaging.email_texts(uow=uow, principal=principal, site_id=chosen.id),
            "email_errors": email_errors or [],
            "typed": typed,
        },
        status_code=status_code,
    )


@router.post("/studies/{study_id}/calendar/plan")
def calendar_plan(
    request: Request,
    study_id: Id,
    active: ScheduleManager,
    uow: UowDep,
    start: Annotated[str, Form()] = "",
    weeks: Annotated[str, Form()] = "26",
) -> Response:
    """Plan the unbooked visits in the background; the job's page follows it."""

    def act() -> jobs.JobRead:
        try:
            first = dt.date.fromisoformat(start.strip())
        except ValueError:
            raise InvalidInput.for_field(
                "start", "give the first day to plan, e.g. 2027-01-04"
            ) from None
        if not weeks.strip().isdecimal():
            raise InvalidInput.for_field("weeks", "give a whole number of weeks, 1 to 104")
        return jobs.queue_plan(
            uow=uow, principal=active.principal, study_id=study_id, start=first, weeks=int(weeks)
        )

    def again(errors: list[FieldProblem], status_code: int) -> Response:
        return render(
            request,
            "error.html",
            {
                "title": "Planning not started",
                "message": "The planning was not started.",
                "fields": errors,
                "status_code": status_code,
                "study_id": study_id,
            },
            status_code=status_code,
        )

    return submit_form(
        uow, act, default_field="start", done=lambda job: f"/jobs/{job.id}", again=again
    )


@router.post("/sites/{site_id}/email-texts")
def email_texts_form(
    request: Request,
    site_id: Id,
    active: ScheduleManager,
    uow: UowDep,
    study: Annotated[str, Form()] = "",
    form_text: Annotated[str, Form()] = "",
    visit_text: Annotated[str, Form()] = "",
) -> Response:
    """The site's wording of e-mails to participants (from the calendar page)."""
    back = (
        f"/studies/{study}/calendar?site={site_id}&saved=email-texts" if study.isdecimal() else "/"
    )

    def act() -> object:
        texts = messaging.EmailTexts.model_validate(
            {"form_text": form_text, "visit_text": visit_text}
        )
        return messaging.set_email_texts(
            uow=uow, principal=active.principal, site_id=site_id, texts=texts
        )

    def again(errors: list[FieldProblem], status_code: int) -> Response:
        if not study.isdecimal():
            return render(
                request,
                "error.html",
                {"title": "Not saved", "message": "The wording was not saved.", "fields": errors},
                status_code=status_code,
            )
        # the calendar again, with what was typed and what is wrong with it
        return _calendar(
            request,
            int(study),
            active,
            uow,
            None,
            site_id,
            "room",
            email_errors=errors,
            typed={"form_text": form_text, "visit_text": visit_text},
            status_code=status_code,
        )

    return submit_form(uow, act, default_field="form_text", done=back, again=again)


# -- blinding integrity (unblinded) ---------------------------------------------------------


@router.get("/studies/{study_id}/blinding")
def blinding_page(
    request: Request, study_id: Id, active: AllocationReader, uow: UowDep
) -> Response:
    study = studies.get_study(uow=uow, principal=active.principal, study_id=study_id)
    report = trial.blinding_report(uow=uow, principal=active.principal, study_id=study_id)
    return render(
        request,
        "trial/blinding.html",
        {
            "title": f"Blinding · {study.code}",
            "study": study,
            "study_id": study_id,
            "report": report,
            "nav_key": "blinding",
        },
    )


# -- throughput, notifications --------------------------------------------------------------


@router.get("/throughput")
def throughput_page(request: Request, active: KnowledgeReader) -> Response:
    return render(
        request,
        "trial/throughput.html",
        {"title": "Throughput by substance", "t": schedule.throughput(), "nav_key": "calendar"},
    )


@router.get("/notifications")
def notifications_page(request: Request, active: Account, uow: UowDep) -> Response:
    context: dict[str, Any] = {
        "title": "Notifications",
        "items": trial.my_notifications(uow=uow, principal=active.principal),
    }
    return render(request, "trial/notifications.html", context)
