"""Trial operations: protocols, consent, randomisation, the blind, guesses, visit schedules,
rooms, facilitators, bookings, the calendar and planning."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from openpat.services import jobs, schedule, trial
from openpat.services.ids import MAX_ID, Id
from openpat.services.jobs import JobRead
from openpat.web.deps import (
    Account,
    AllocationReader,
    AuditedReadUow,
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
    SelfService,
    StudyReader,
    Unblinder,
    UowDep,
)

router = APIRouter(tags=["trial operations"])


@router.get("/studies/{study_id}/protocol")
def get_protocol(study_id: Id, active: StudyReader, uow: UowDep) -> trial.ProtocolRead:
    return trial.get_protocol(uow=uow, principal=active.principal, study_id=study_id)


@router.post("/studies/{study_id}/protocol", status_code=201)
def load_protocol(
    study_id: Id, body: trial.ProtocolLoad, active: ProtocolManager, uow: UowDep
) -> trial.ProtocolRead:
    loaded = trial.load_protocol(uow=uow, principal=active.principal, study_id=study_id, load=body)
    uow.commit()
    return loaded


@router.get("/participants/{participant_id}/consents")
def list_consents(
    participant_id: Id, active: ParticipantReader, uow: UowDep
) -> list[trial.ConsentRead]:
    return trial.list_consents(uow=uow, principal=active.principal, participant_id=participant_id)


@router.post("/participants/{participant_id}/consents", status_code=201)
def record_consent(
    participant_id: Id,
    body: trial.ConsentSignIn,
    active: IdentityWriter,
    uow: UowDep,
    platform: PlatformDep,
) -> trial.ConsentRead:
    """Record a consent and sign it electronically: your password again, and the meaning
    'obtained this consent'."""
    made = trial.record_consent(
        uow=uow,
        principal=active.principal,
        participant_id=participant_id,
        consent=body,
        hasher=platform.hasher,
    )
    uow.commit()
    return made


@router.post("/me/consent", status_code=201)
def sign_own_consent(
    body: trial.OwnConsentIn, active: SelfService, uow: UowDep, platform: PlatformDep
) -> trial.ConsentRead:
    """A participant signs their own consent: the form version and their password again."""
    made = trial.sign_own_consent(
        uow=uow, principal=active.principal, consent=body, hasher=platform.hasher
    )
    uow.commit()
    return made


@router.post("/participants/{participant_id}/randomise", status_code=201)
def randomise(
    participant_id: Id, body: trial.RandomiseIn, active: Randomiser, uow: UowDep
) -> trial.RandomisationRead:
    made = trial.randomise(
        uow=uow, principal=active.principal, participant_id=participant_id, request=body
    )
    uow.commit()
    return made


@router.get("/studies/{study_id}/allocations")
def allocations(
    study_id: Id, active: AllocationReader, uow: AuditedReadUow
) -> list[trial.AllocationRow]:
    rows = trial.allocation_list(uow=uow, principal=active.principal, study_id=study_id)
    uow.commit()  # the read is audited
    return rows


@router.get(
    "/studies/{study_id}/allocations.csv",
    response_class=Response,
    responses={
        200: {
            "description": "the allocation list as CSV (every read is audited)",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    },
)
def allocations_csv(study_id: Id, active: AllocationReader, uow: AuditedReadUow) -> Response:
    rows = trial.allocation_list(uow=uow, principal=active.principal, study_id=study_id)
    uow.commit()
    return Response(
        trial.allocation_csv(rows),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="allocations-{study_id}.csv"'},
    )


@router.get("/studies/{study_id}/blinding")
def blinding(study_id: Id, active: AllocationReader, uow: UowDep) -> trial.BlindingReport:
    return trial.blinding_report(uow=uow, principal=active.principal, study_id=study_id)


@router.post("/participants/{participant_id}/unblind")
def unblind(
    participant_id: Id, body: trial.UnblindIn, active: Unblinder, uow: UowDep
) -> trial.UnblindRead:
    revealed = trial.emergency_unblind(
        uow=uow, principal=active.principal, participant_id=participant_id, request=body
    )
    uow.commit()
    return revealed


@router.get("/studies/{study_id}/unblindings")
def unblindings(study_id: Id, active: StudyReader, uow: UowDep) -> list[trial.UnblindingRead]:
    return trial.list_unblindings(uow=uow, principal=active.principal, study_id=study_id)


@router.get("/me/notifications")
def notifications(active: Account, uow: UowDep) -> list[trial.NotificationRead]:
    return trial.my_notifications(uow=uow, principal=active.principal)


STREAM_KEEPALIVE_S = 15.0


@router.get(
    "/me/notifications/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def notification_stream(
    request: Request,
    active: Account,
    uow: UowDep,
    platform: PlatformDep,
    after: Annotated[
        int | None,
        Query(ge=0, le=MAX_ID, description="send notifications newer than this id"),
    ] = None,
    wait: Annotated[
        int,
        Query(ge=0, le=300, description="seconds to stay open for new ones (0: answer at once)"),
    ] = 0,
    last_event_id: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> StreamingResponse:
    """Your notifications as server-sent events, as they arrive (in any web process).

    Each is an ``event: notification`` whose ``id`` is the notification's id and whose data is
    the notification as JSON. The stream opens with ``event: ready`` carrying the id it goes
    on from. It stays open ``wait`` seconds (comments keep it alive), then ends; an
    EventSource reconnects by itself, sending ``Last-Event-ID``, so nothing is missed."""
    principal = active.principal
    start = after
    if last_event_id is not None and last_event_id.isdigit():
        start = min(int(last_event_id), MAX_ID)
    # The look-up's snapshot is not kept open while the stream waits.
    uow.rollback()
    hub = getattr(request.app.state, "notification_hub", None)

    def read(after_id: int | None) -> tuple[int, list[trial.NotificationRead]]:
        with platform.uow(actor=uow.actor, read_only=True) as snapshot:
            return trial.my_notifications_after(
                uow=snapshot, principal=principal, after_id=after_id
            )

    async def events() -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        position, items = await run_in_threadpool(read, start)
        yield f"id: {position}\nevent: ready\ndata: {{}}\n\n"
        while True:
            for item in items:
                yield f"id: {item.id}\nevent: notification\ndata: {item.model_dump_json()}\n\n"
            left = deadline - loop.time()
            if left <= 0 or await request.is_disconnected():
                return
            if hub is None:  # no listener in this app (it was not started): poll
                await asyncio.sleep(min(left, 1.0))
            elif not await hub.wait(principal.user_id, min(left, STREAM_KEEPALIVE_S)):
                yield ": keep-alive\n\n"
            position, items = await run_in_threadpool(read, position)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.post("/participants/{participant_id}/guesses", status_code=201)
def record_guess(
    participant_id: Id, body: trial.GuessIn, active: GuessEnterer, uow: UowDep
) -> trial.GuessRead:
    made = trial.record_guess(
        uow=uow, principal=active.principal, participant_id=participant_id, guess=body
    )
    uow.commit()
    return made


@router.get("/participants/{participant_id}/schedule")
def participant_schedule(
    participant_id: Id, active: ParticipantReader, uow: UowDep
) -> schedule.ParticipantSchedule:
    return schedule.participant_schedule(
        uow=uow, principal=active.principal, participant_id=participant_id
    )


@router.post("/participants/{participant_id}/visits")
def update_visit(
    participant_id: Id, body: schedule.VisitUpdate, active: ParticipantWriter, uow: UowDep
) -> schedule.ParticipantSchedule:
    updated = schedule.update_visit(
        uow=uow, principal=active.principal, participant_id=participant_id, update=body
    )
    uow.commit()
    return updated


@router.post("/participants/{participant_id}/bookings", status_code=201)
def book_visit(
    participant_id: Id, body: schedule.BookingIn, active: ScheduleManager, uow: UowDep
) -> schedule.BookingRead:
    made = schedule.book_visit(
        uow=uow, principal=active.principal, participant_id=participant_id, booking=body
    )
    uow.commit()
    return made


@router.post("/bookings/{booking_id}/cancel", status_code=204)
def cancel_booking(
    booking_id: Id, body: schedule.CancelIn, active: ScheduleManager, uow: UowDep
) -> Response:
    schedule.cancel_booking(uow=uow, principal=active.principal, booking_id=booking_id, cancel=body)
    uow.commit()
    return Response(status_code=204)


@router.get("/sites/{site_id}/resources")
def resources(site_id: Id, active: ScheduleReader, uow: UowDep) -> schedule.Resources:
    return schedule.resources(uow=uow, principal=active.principal, site_id=site_id)


@router.post("/sites/{site_id}/rooms", status_code=201)
def add_room(
    site_id: Id, body: schedule.RoomIn, active: ScheduleManager, uow: UowDep
) -> schedule.RoomRead:
    made = schedule.add_room(uow=uow, principal=active.principal, site_id=site_id, room=body)
    uow.commit()
    return made


@router.post("/sites/{site_id}/facilitators", status_code=201)
def add_facilitator(
    site_id: Id, body: schedule.FacilitatorIn, active: ScheduleManager, uow: UowDep
) -> schedule.FacilitatorRead:
    made = schedule.add_facilitator(
        uow=uow, principal=active.principal, site_id=site_id, facilitator=body
    )
    uow.commit()
    return made


@router.get("/sites/{site_id}/calendar")
def calendar(
    site_id: Id,
    active: ScheduleReader,
    uow: UowDep,
    start: dt.date | None = None,
    days: Annotated[int, Query(ge=1, le=62)] = 7,
) -> schedule.CalendarRead:
    return schedule.calendar(
        uow=uow, principal=active.principal, site_id=site_id, start=start, days=days
    )


class PlanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: dt.date
    weeks: int = Field(default=26, ge=1, le=104)
    time_limit_s: float = Field(default=20.0, gt=0, le=120)
    save: bool = True


@router.post("/studies/{study_id}/schedule/plan")
def plan(study_id: Id, body: PlanIn, active: ScheduleManager, uow: UowDep) -> schedule.PlanSummary:
    summary = schedule.plan_study(
        uow=uow,
        principal=active.principal,
        study_id=study_id,
        start=body.start,
        weeks=body.weeks,
        time_limit_s=body.time_limit_s,
        save=body.save,
    )
    uow.commit()
    return summary


@router.post("/studies/{study_id}/schedule/plan-job", status_code=202)
def plan_job(study_id: Id, body: PlanIn, active: ScheduleManager, uow: UowDep) -> JobRead:
    """Plan the calendar in the background: answers at once with the queued job, whose
    progress and outcome `GET /api/v1/jobs/{id}` reports (`save` is always true here)."""
    job = jobs.queue_plan(
        uow=uow,
        principal=active.principal,
        study_id=study_id,
        start=body.start,
        weeks=body.weeks,
        time_limit_s=body.time_limit_s,
    )
    uow.commit()
    return job


@router.get("/throughput")
def throughput(active: KnowledgeReader) -> schedule.ThroughputRead:
    return schedule.throughput()
