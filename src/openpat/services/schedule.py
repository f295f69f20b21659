"""Visit schedules, rooms, facilitators, bookings and calendar planning.

A booking is checked and written in one transaction holding the site's row lock (SQLite
serialises writers anyway): a room or facilitator already taken at that time is a 409.
Booking lengths for dosing visits are the longest arm's predicted session, so nothing on a
calendar tells a blinded team which arm a participant is in.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Callable, Sequence

from pydantic import BaseModel, ConfigDict, Field

from openpat import knowledge
from openpat.errors import Conflict, InvalidInput, NotFound, PermissionDenied, RuleViolation
from openpat.scheduling import planner
from openpat.security import Permission, Principal
from openpat.services.ids import Id, TimeOfDay
from openpat.services.participants import visible_participant
from openpat.services.studies import site_with_permission, today_at_site, visible_study
from openpat.services.trial import current_protocol
from openpat.sessions.duration import dosing_minutes
from openpat.store.models import (
    BookingFacilitator,
    FacilitatorProfile,
    Participant,
    Room,
    RoomBooking,
    Site,
    VisitRecord,
)
from openpat.store.uow import UnitOfWork
from openpat.trial import throughput as throughput_model
from openpat.trial.pathway import ParticipantStatus
from openpat.trial.protocol import Protocol, VisitSpec
from openpat.trial.schedule import (
    PlannedVisit,
    local_instant,
    plan_visits,
    reschedule,
    site_zone,
    visit_status,
)

STATUS_LABELS = {
    "done": "Done",
    "done-out-of-window": "Done out of window",
    "overdue": "Overdue",
    "due": "Due (in window)",
    "upcoming": "Upcoming",
}

# -- rooms and facilitators -----------------------------------------------------------------


class RoomIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,19}$")
    name: str = Field(min_length=1, max_length=120)


class RoomRead(BaseModel):
    id: int
    site_id: int
    code: str
    name: str


class FacilitatorIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,19}$")
    name: str = Field(min_length=1, max_length=120)
    days: list[int] = Field(default=[0, 1, 2, 3, 4], min_length=1, description="Monday = 0")
    starts: TimeOfDay = dt.time(8, 0)
    ends: TimeOfDay = dt.time(20, 0)
    max_sessions_per_day: int = Field(default=1, ge=1, le=8)


class FacilitatorRead(BaseModel):
    id: int
    site_id: int
    code: str
    name: str
    days: list[int]
    starts: TimeOfDay
    ends: TimeOfDay
    max_sessions_per_day: int


def _room_read(r: Room) -> RoomRead:
    return RoomRead(id=r.id, site_id=r.site_id, code=r.code, name=r.name)


def _facilitator_read(f: FacilitatorProfile) -> FacilitatorRead:
    return FacilitatorRead(
        id=f.id,
        site_id=f.site_id,
        code=f.code,
        name=f.name,
        days=[int(d) for d in f.days.split(",") if d],
        starts=dt.time.fromisoformat(f.starts),
        ends=dt.time.fromisoformat(f.ends),
        max_sessions_per_day=f.max_sessions_per_day,
    )


def add_room(*, uow: UnitOfWork, principal: Principal, site_id: int, room: RoomIn) -> RoomRead:
    site_with_permission(uow, principal, site_id, Permission.SCHEDULE_MANAGE)
    if any(r.code == room.code for r in uow.schedule.rooms(site_id)):
        raise Conflict(f"code: room {room.code!r} already exists at this site")
    row = Room(site_id=site_id, code=room.code, name=room.name)
    with uow.reason("room added"):
        uow.schedule.add(row)
    return _room_read(row)


def add_facilitator(
    *, uow: UnitOfWork, principal: Principal, site_id: int, facilitator: FacilitatorIn
) -> FacilitatorRead:
    site_with_permission(uow, principal, site_id, Permission.SCHEDULE_MANAGE)
    if facilitator.ends <= facilitator.starts:
        raise InvalidInput.for_field("ends", "must be after starts")
    if any(not 0 <= d <= 6 for d in facilitator.days):
        raise InvalidInput.for_field("days", "use 0 (Monday) to 6 (Sunday)")
    if any(f.code == facilitator.code for f in uow.schedule.facilitators(site_id)):
        raise Conflict(f"code: facilitator {facilitator.code!r} already exists at this site")
    row = FacilitatorProfile(
        site_id=site_id,
        code=facilitator.code,
        name=facilitator.name,
        days=",".join(str(d) for d in sorted(set(facilitator.days))),
        starts=facilitator.starts.isoformat("minutes"),
        ends=facilitator.ends.isoformat("minutes"),
        max_sessions_per_day=facilitator.max_sessions_per_day,
    )
    with uow.reason("facilitator added"):
        uow.schedule.add(row)
    return _facilitator_read(row)


class Resources(BaseModel):
    site_id: int
    site_code: str
    timezone: str
    rooms: list[RoomRead]
    facilitators: list[FacilitatorRead]


def resources(*, uow: UnitOfWork, principal: Principal, site_id: int) -> Resources:
    site = site_with_permission(uow, principal, site_id, Permission.SCHEDULE_READ)
    return Resources(
        site_id=site.id,
        site_code=site.code,
        timezone=site.timezone,
        rooms=[_room_read(r) for r in uow.schedule.rooms(site_id)],
        facilitators=[_facilitator_read(f) for f in uow.schedule.facilitators(site_id)],
    )


# -- visit schedules ------------------------------------------------------------------------


class BookingRead(BaseModel):
    id: int
    participant_id: int
    participant_code: str
    visit: str
    visit_label: str
    room_id: int | None
    room: str | None
    facilitators: list[str]
    facilitator_ids: list[int]
    starts_at: dt.datetime
    ends_at: dt.datetime
    local_start: str = Field(description="site local time, e.g. 2026-03-30 09:00 BST")
    local_end: str
    minutes: int


class ScheduledVisit(BaseModel):
    visit: str
    label: str
    type: str
    target: dt.date
    earliest: dt.date
    latest: dt.date
    status: str
    status_label: str
    done_on: dt.date | None
    rescheduled: bool
    instruments: list[str]
    minutes: int | None = Field(description="booked length when the visit needs a room/staff")
    room: bool
    facilitators: int
    booking: BookingRead | None


class ParticipantSchedule(BaseModel):
    participant_id: int
    participant_code: str
    site_timezone: str
    randomised_on: dt.date
    today: dt.date
    visits: list[ScheduledVisit]
    overdue: int


def visit_minutes(protocol: Protocol, visit: VisitSpec) -> int | None:
    if visit.staffing is None or not (visit.staffing.room or visit.staffing.facilitators):
        return None
    return dosing_minutes(protocol, visit, knowledge.default())


def scheduled_visits(uow: UnitOfWork, participant: Participant) -> list[PlannedVisit] | None:
    """The participant's scheduled visits, or None before randomisation (no schedule yet)."""
    row = uow.trial.current_protocol(participant.study_id)
    if row is None or uow.trial.allocation(participant.id) is None:
        return None
    return _planned(uow, participant, current_protocol(uow, participant.study_id)[1])[1]


def _assessed_on(uow: UnitOfWork, participant: Participant) -> dict[str, dt.date]:
    """The first day (site time) each scheduled visit had a questionnaire or rating
    submitted: an assessment visit is held when its assessments are done."""
    site = uow.sites.get(participant.site_id)
    assert site is not None
    zone = site_zone(site.timezone)
    found: dict[str, dt.date] = {}
    for r in uow.responses.for_participant(participant.id):
        if r.scheduled_visit is None or r.status != "submitted" or r.submitted_at is None:
            continue
        day = r.submitted_at.astimezone(zone).date()
        if r.scheduled_visit not in found or day < found[r.scheduled_visit]:
            found[r.scheduled_visit] = day
    return found


def _planned(
    uow: UnitOfWork, participant: Participant, protocol: Protocol
) -> tuple[dt.date, list[PlannedVisit], dict[str, VisitRecord], dict[str, dt.date]]:
    """The randomisation day, the planned visits, the visit records and the day each visit
    was held (recorded as held, or its first submitted assessment)."""
    allocation = uow.trial.allocation(participant.id)
    if allocation is None:
        raise RuleViolation(
            f"participant: {participant.code} is not randomised yet, so has no visit schedule"
        )
    records = {r.visit_key: r for r in uow.trial.visit_records(participant.id)}
    # held: recorded as held, or (for an assessment visit) its first submitted assessment
    done = _assessed_on(uow, participant)
    done.update({k: r.done_on for k, r in records.items() if r.done_on is not None})
    planned = []
    for v in plan_visits(protocol, randomised_on=allocation.randomised_on, done=done):
        record = records.get(v.visit_id)
        if record is not None and record.rescheduled_to is not None and record.done_on is None:
            v = reschedule(v, record.rescheduled_to)
        planned.append(v)
    return allocation.randomised_on, planned, records, done


def _bookings_read(uow: UnitOfWork, rows: Sequence[RoomBooking], zone: str) -> list[BookingRead]:
    staff = uow.schedule.staff_of([b.id for b in rows])
    tz = site_zone(zone)
    out = []
    labels: dict[int, dict[str, str]] = {}
    for b in rows:
        if b.study_id not in labels:  # a booked study has a protocol: booking needed it
            labels[b.study_id] = {
                v.id: v.label for v in current_protocol(uow, b.study_id)[1].visits
            }
        participant = uow.participants.get(b.participant_id)
        room = uow.schedule.room(b.room_id) if b.room_id else None
        people = [uow.schedule.facilitator(f) for f in staff.get(b.id, [])]
        start, end = b.starts_at.astimezone(tz), b.ends_at.astimezone(tz)
        out.append(
            BookingRead(
                id=b.id,
                participant_id=b.participant_id,
                participant_code=participant.code if participant else "?",
                visit=b.visit_key,
                visit_label=labels[b.study_id].get(b.visit_key, b.visit_key),
                room_id=b.room_id,
                room=room.name if room else None,
                facilitators=[p.name for p in people if p],
                facilitator_ids=[p.id for p in people if p],
                starts_at=b.starts_at,
                ends_at=b.ends_at,
                local_start=f"{start:%Y-%m-%d %H:%M %Z}",
                local_end=f"{end:%Y-%m-%d %H:%M %Z}",
                minutes=int((b.ends_at - b.starts_at).total_seconds() // 60),
            )
        )
    return out


def participant_schedule(
    *, uow: UnitOfWork, principal: Principal, participant_id: int
) -> ParticipantSchedule:
    """The participant's visits with windows and flags (overdue, out of window), in the
    site's calendar, with their bookings."""
    participant = visible_participant(uow, principal, participant_id, Permission.PARTICIPANT_READ)
    _, protocol = current_protocol(uow, participant.study_id)
    site = uow.sites.get(participant.site_id)
    assert site is not None
    today = today_at_site(site.timezone, uow.now())
    randomised, planned, records, held = _planned(uow, participant, protocol)
    bookings = {
        b.visit: b
        for b in _bookings_read(uow, uow.schedule.bookings_of(participant.id), site.timezone)
    }
    specs = {v.id: v for v in protocol.visits}
    visits = []
    for v in planned:
        record = records.get(v.visit_id)
        done_on = held.get(v.visit_id)
        status = visit_status(v, today=today, done_on=done_on)
        spec = specs[v.visit_id]
        visits.append(
            ScheduledVisit(
                visit=v.visit_id,
                label=v.label,
                type=v.type,
                target=v.target,
                earliest=v.earliest,
                latest=v.latest,
                status=status,
                status_label=STATUS_LABELS[status],
                done_on=done_on,
                rescheduled=bool(record and record.rescheduled_to and not done_on),
                instruments=list(v.instruments),
                minutes=visit_minutes(protocol, spec),
                room=bool(spec.staffing and spec.staffing.room),
                facilitators=spec.staffing.facilitators if spec.staffing else 0,
                booking=bookings.get(v.visit_id),
            )
        )
    return ParticipantSchedule(
        participant_id=participant.id,
        participant_code=participant.code,
        site_timezone=site.timezone,
        randomised_on=randomised,
        today=today,
        visits=visits,
        overdue=sum(1 for v in visits if v.status == "overdue"),
    )


class VisitUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    visit: str = Field(min_length=1, max_length=60, description="the protocol's visit id")
    done_on: dt.date | None = Field(default=None, description="the day the visit was held")
    reschedule_to: dt.date | None = Field(default=None, description="a new date in the window")
    reason: str = Field(min_length=3, max_length=500)


def update_visit(
    *,
    uow: UnitOfWork,
    principal: Principal,
    participant_id: int,
    update: VisitUpdate,
) -> ParticipantSchedule:
    """Record that a visit was held, or move it inside its window. Holding the first dosing
    visit moves a randomised participant into treatment."""
    participant = visible_participant(uow, principal, participant_id, Permission.PARTICIPANT_WRITE)
    _, protocol = current_protocol(uow, participant.study_id)
    visit = update.visit
    if all(v.id != visit for v in protocol.visits):
        raise InvalidInput.for_field("visit", f"{visit!r} is not in the protocol")
    if (update.done_on is None) == (update.reschedule_to is None):
        raise InvalidInput.for_field("done_on", "give either done_on or reschedule_to")
    _, planned, records, _held = _planned(uow, participant, protocol)
    target = next(v for v in planned if v.visit_id == visit)
    site = uow.sites.get(participant.site_id)
    assert site is not None
    today = today_at_site(site.timezone, uow.now())
    record = records.get(visit)
    with uow.reason(update.reason):
        if record is None:
            record = VisitRecord(
                study_id=participant.study_id,
                participant_id=participant.id,
                visit_key=visit,
                updated_at=uow.now(),
            )
            uow.trial.add(record)
        if update.done_on is not None:
            if update.done_on > today:
                raise InvalidInput.for_field("done_on", f"{update.done_on} is in the future")
            record.done_on = update.done_on
            if (
                target.type == "dosing"
                and participant.status == ParticipantStatus.RANDOMISED.value
                and update.done_on >= participant.status_date
            ):
                participant.status = ParticipantStatus.IN_TREATMENT.value
                participant.status_date = update.done_on
        else:
            assert update.reschedule_to is not None
            if record.done_on is not None:
                raise RuleViolation("reschedule_to: the visit has already been held")
            reschedule(target, update.reschedule_to)  # refuses a date outside the window
            record.rescheduled_to = update.reschedule_to
        record.updated_at = uow.now()
    return participant_schedule(uow=uow, principal=principal, participant_id=participant_id)


# -- bookings -------------------------------------------------------------------------------


class BookingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    visit: str = Field(min_length=1, max_length=60)
    date: dt.date = Field(description="local date at the site")
    start: TimeOfDay = Field(description="local start time, e.g. 09:00")
    room_id: Id | None = None
    facilitator_ids: list[Id] = Field(default_factory=list, max_length=4)


def _conflicts(
    uow: UnitOfWork,
    site_id: int,
    start: dt.datetime,
    end: dt.datetime,
    room_id: int | None,
    facilitator_ids: Sequence[int],
    *,
    ignore: int | None = None,
) -> str | None:
    taken = [
        b for b in uow.schedule.bookings(site_id=site_id, start=start, end=end) if b.id != ignore
    ]
    if room_id is not None and any(b.room_id == room_id for b in taken):
        room = uow.schedule.room(room_id)
        return f"room_id: {room.name if room else room_id} is already booked at that time"
    staff = uow.schedule.staff_of([b.id for b in taken])
    busy = {f for ids in staff.values() for f in ids}
    for f in facilitator_ids:
        if f in busy:
            person = uow.schedule.facilitator(f)
            return f"facilitator_ids: {person.name if person else f} is already booked at that time"
    return None


def _check_staff(
    uow: UnitOfWork,
    site: Site,
    facilitator_ids: Sequence[int],
    start: dt.datetime,
    end: dt.datetime,
    *,
    dosing: bool,
) -> None:
    zone = site_zone(site.timezone)
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    for k, fid in enumerate(facilitator_ids):
        f = uow.schedule.facilitator(fid)
        if f is None or f.site_id != site.id:
            raise InvalidInput.for_field(f"facilitator_ids.{k}", f"no facilitator {fid} here")
        profile = _facilitator_read(f)
        if local_start.weekday() not in profile.days:
            raise RuleViolation(f"facilitator_ids.{k}: {f.name} does not work that day")
        if local_start.time() < profile.starts or (
            local_end.date() > local_start.date() or local_end.time() > profile.ends
        ):
            raise RuleViolation(
                f"facilitator_ids.{k}: {f.name} works {profile.starts:%H:%M}-"
                f"{profile.ends:%H:%M}; the visit runs {local_start:%H:%M}-{local_end:%H:%M}"
            )
        if dosing:
            day_start = local_instant(local_start.date(), dt.time(0, 0), zone)
            day_end = day_start + dt.timedelta(days=1)
            staff = uow.schedule.staff_of(
                [b.id for b in uow.schedule.bookings(site_id=site.id, start=day_start, end=day_end)]
            )
            sessions = sum(1 for ids in staff.values() if fid in ids)
            if sessions >= profile.max_sessions_per_day:
                raise Conflict(
                    f"facilitator_ids.{k}: {f.name} already has {sessions} session(s) that day "
                    f"(maximum {profile.max_sessions_per_day})"
                )


def book_visit(
    *, uow: UnitOfWork, principal: Principal, participant_id: int, booking: BookingIn
) -> BookingRead:
    """Book a visit that needs a room or facilitators, inside its window, for its length."""
    participant = visible_participant(uow, principal, participant_id, Permission.SCHEDULE_MANAGE)
    _, protocol = current_protocol(uow, participant.study_id)
    _, planned, _records, _held = _planned(uow, participant, protocol)
    target = next((v for v in planned if v.visit_id == booking.visit), None)
    spec = next((v for v in protocol.visits if v.id == booking.visit), None)
    if target is None or spec is None:
        raise InvalidInput.for_field("visit", f"{booking.visit!r} is not in the protocol")
    minutes = visit_minutes(protocol, spec)
    if minutes is None or spec.staffing is None:
        raise InvalidInput.for_field("visit", f"{target.label} needs no room or facilitators")
    if not target.in_window(booking.date):
        raise InvalidInput.for_field(
            "date",
            f"{booking.date} is outside the window of {target.label} "
            f"({target.earliest} to {target.latest})",
        )
    if spec.staffing.room and booking.room_id is None:
        raise InvalidInput.for_field("room_id", f"{target.label} needs a room")
    if len(set(booking.facilitator_ids)) != len(booking.facilitator_ids):
        raise InvalidInput.for_field("facilitator_ids", "a facilitator is listed twice")
    if len(booking.facilitator_ids) != spec.staffing.facilitators:
        raise InvalidInput.for_field(
            "facilitator_ids",
            f"{target.label} needs {spec.staffing.facilitators} facilitator(s); "
            f"{len(booking.facilitator_ids)} given",
        )
    site = uow.sites.get(participant.site_id)
    assert site is not None
    if booking.room_id is not None:
        room = uow.schedule.room(booking.room_id)
        if room is None or room.site_id != site.id:
            raise InvalidInput.for_field("room_id", f"no room {booking.room_id} at {site.name}")
    zone = site_zone(site.timezone)
    start = local_instant(booking.date, booking.start, zone)
    end = start + dt.timedelta(minutes=minutes)
    if any(b.visit_key == booking.visit for b in uow.schedule.bookings_of(participant.id)):
        raise Conflict(f"visit: {target.label} is already booked; cancel that booking first")
    if start < uow.now():
        raise InvalidInput.for_field("start", "is in the past")
    uow.sites.lock(site.id)  # one booking at a time per site, checked and written together
    clash = _conflicts(uow, site.id, start, end, booking.room_id, booking.facilitator_ids)
    if clash:
        raise Conflict(clash)
    _check_staff(uow, site, booking.facilitator_ids, start, end, dosing=target.type == "dosing")
    row = _write_booking(
        uow,
        principal,
        participant,
        booking.visit,
        (start, end),
        booking.room_id,
        booking.facilitator_ids,
        source="manual",
        reason=f"{target.label} booked",
    )
    return _bookings_read(uow, [row], site.timezone)[0]


def _write_booking(
    uow: UnitOfWork,
    principal: Principal,
    participant: Participant,
    visit: str,
    span: tuple[dt.datetime, dt.datetime],
    room_id: int | None,
    facilitator_ids: Sequence[int],
    *,
    source: str,
    reason: str,
) -> RoomBooking:
    """Write a booking and its staff (the caller has checked it and holds the site lock)."""
    row = RoomBooking(
        study_id=participant.study_id,
        participant_id=participant.id,
        site_id=participant.site_id,
        visit_key=visit,
        room_id=room_id,
        starts_at=span[0],
        ends_at=span[1],
        status="booked",
        source=source,
        created_by=principal.user_id or None,
        created_at=uow.now(),
    )
    with uow.reason(reason):
        uow.schedule.add(row)
        for fid in facilitator_ids:
            uow.schedule.add(BookingFacilitator(booking_id=row.id, facilitator_id=fid))
    return row


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=3, max_length=500)


def cancel_booking(
    *, uow: UnitOfWork, principal: Principal, booking_id: int, cancel: CancelIn
) -> None:
    row = uow.schedule.booking(booking_id)
    if row is None:
        raise NotFound(f"booking {booking_id} not found")
    visible_participant(uow, principal, row.participant_id, Permission.SCHEDULE_MANAGE)
    if row.status != "booked":
        raise RuleViolation("status: the booking is already cancelled")
    with uow.reason(cancel.reason):
        row.status = "cancelled"


# -- calendar -------------------------------------------------------------------------------


class CalendarRead(BaseModel):
    site_id: int
    site_code: str
    timezone: str
    start: dt.date
    days: int
    rooms: list[RoomRead]
    facilitators: list[FacilitatorRead]
    bookings: list[BookingRead]


def calendar(
    *,
    uow: UnitOfWork,
    principal: Principal,
    site_id: int,
    start: dt.date | None = None,
    days: int = 7,
) -> CalendarRead:
    """Bookings at a site from ``start`` (default: this week's Monday at the site) for
    ``days`` local days (every study the viewer may see there), for the per-room and
    per-facilitator views."""
    site = site_with_permission(uow, principal, site_id, Permission.SCHEDULE_READ)
    if start is None:
        today = today_at_site(site.timezone, uow.now())
        start = today - dt.timedelta(days=today.weekday())
    if not 1 <= days <= 62:
        raise InvalidInput.for_field("days", "show between 1 and 62 days")
    zone = site_zone(site.timezone)
    begin = local_instant(start, dt.time(0, 0), zone)
    end = local_instant(start + dt.timedelta(days=days), dt.time(0, 0), zone)
    rows = [
        b
        for b in uow.schedule.bookings(site_id=site.id, start=begin, end=end)
        if principal.can(Permission.SCHEDULE_READ, study_id=b.study_id, site_id=site.id)
    ]
    return CalendarRead(
        site_id=site.id,
        site_code=site.code,
        timezone=site.timezone,
        start=start,
        days=days,
        rooms=[_room_read(r) for r in uow.schedule.rooms(site.id)],
        facilitators=[_facilitator_read(f) for f in uow.schedule.facilitators(site.id)],
        bookings=_bookings_read(uow, rows, site.timezone),
    )


# -- planning -------------------------------------------------------------------------------


class PlanSummary(BaseModel):
    study_id: int
    start: dt.date
    weeks: int
    requests: int
    booked: int
    unbooked: list[str]
    refused_at_booking: list[str]
    status: str
    seconds: float
    saved: bool


def _waiting_visits(
    uow: UnitOfWork,
    protocol: Protocol,
    study_id: int,
    site_id: int,
    horizon: tuple[dt.date, dt.date],
) -> dict[str, tuple[planner.Request, Participant, PlannedVisit]]:
    """Planner requests, by id, for the site's visits that need a room or facilitators, are
    neither held nor booked, and whose window meets the horizon (clipped to it)."""
    found: dict[str, tuple[planner.Request, Participant, PlannedVisit]] = {}
    specs = {v.id: v for v in protocol.visits}
    for participant, _allocation in uow.trial.randomised(study_id, [site_id]):
        if ParticipantStatus(participant.status).is_final:
            continue
        _, planned, records, _held = _planned(uow, participant, protocol)
        taken = {b.visit_key for b in uow.schedule.bookings_of(participant.id)}
        for v in planned:
            staffing = specs[v.visit_id].staffing
            minutes = visit_minutes(protocol, specs[v.visit_id])
            record = records.get(v.visit_id)
            earliest, latest = max(v.earliest, horizon[0]), min(v.latest, horizon[1])
            if minutes is None or staffing is None or v.visit_id in taken or earliest > latest:
                continue
            if record is not None and record.done_on is not None:
                continue
            rid = f"{participant.code}/{v.visit_id}"
            request = planner.Request(
                id=rid,
                earliest=earliest,
                latest=latest,
                minutes=minutes,
                target=v.target if earliest <= v.target <= latest else None,
                room=staffing.room,
                facilitators=staffing.facilitators,
                dosing=v.type == "dosing",
            )
            found[rid] = (request, participant, v)
    return found


@dataclasses.dataclass(frozen=True)
class ProposedBooking:
    """One booking the planner proposes (ids only, so it outlives the planning transaction)."""

    request_id: str
    participant_id: int
    visit_id: str
    label: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    room_id: int | None
    facilitator_ids: tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class ComputedPlan:
    study_id: int
    start: dt.date
    weeks: int
    requests: int
    bookings: tuple[ProposedBooking, ...]
    unbooked: tuple[str, ...]
    status: str
    seconds: float


def plan_study(
    *,
    uow: UnitOfWork,
    principal: Principal,
    study_id: int,
    start: dt.date,
    weeks: int,
    time_limit_s: float = 30.0,
    save: bool = True,
    progress: Callable[[int, float], None] | None = None,
) -> PlanSummary:
    """Plan every unbooked visit that needs a room or facilitators and whose window falls
    (partly) in the next ``weeks`` weeks, with the CP-SAT planner, site by site; then write
    the bookings through the same conflict checks as a manual booking."""
    plan = compute_plan(
        uow=uow,
        principal=principal,
        study_id=study_id,
        start=start,
        weeks=weeks,
        time_limit_s=time_limit_s,
        progress=progress,
    )
    if not save:
        return _summary(plan, booked=len(plan.bookings), refused=[], saved=False)
    return book_plan(uow=uow, principal=principal, plan=plan)


def compute_plan(
    *,
    uow: UnitOfWork,
    principal: Principal,
    study_id: int,
    start: dt.date,
    weeks: int,
    time_limit_s: float = 30.0,
    progress: Callable[[int, float], None] | None = None,
    on_site: Callable[[int, int], None] | None = None,
) -> ComputedPlan:
    """The planner's proposal, without writing anything: a read-only unit of work will do
    (a background job plans without holding the write lock, then books in a short one).
    ``on_site(done, total)`` is told as each site is planned."""
    check_may_plan(uow, principal, study_id)
    if not 1 <= weeks <= 104:
        raise InvalidInput.for_field("weeks", "plan between 1 and 104 weeks")
    _, protocol = current_protocol(uow, study_id)
    horizon_end = start + dt.timedelta(weeks=weeks) - dt.timedelta(days=1)
    total_requests = 0
    bookings: list[ProposedBooking] = []
    unbooked: list[str] = []
    seconds = 0.0
    statuses = []
    sites = list(uow.studies.sites_of(study_id))
    for done, site in enumerate(sites):
        if on_site is not None:
            on_site(done, len(sites))
        rooms = uow.schedule.rooms(site.id)
        team = uow.schedule.facilitators(site.id)
        meta = _waiting_visits(uow, protocol, study_id, site.id, (start, horizon_end))
        requests = [request for request, _p, _v in meta.values()]
        if not requests:
            continue
        total_requests += len(requests)
        result = planner.plan(
            requests,
            [planner.Room(id=str(r.id)) for r in rooms],
            [
                planner.Facilitator(
                    id=str(f.id),
                    days=frozenset(_facilitator_read(f).days),
                    starts=dt.time.fromisoformat(f.starts),
                    ends=dt.time.fromisoformat(f.ends),
                    max_sessions_per_day=f.max_sessions_per_day,
                )
                for f in team
            ],
            planner.Site(zone=site_zone(site.timezone)),
            start=start,
            days=weeks * 7,
            time_limit_s=time_limit_s,
            progress=progress,
        )
        seconds += result.seconds
        statuses.append(result.status)
        unbooked += list(result.unbooked)
        for b in result.bookings:
            _request, participant, v = meta[b.request_id]
            bookings.append(
                ProposedBooking(
                    request_id=b.request_id,
                    participant_id=participant.id,
                    visit_id=v.visit_id,
                    label=v.label,
                    starts_at=b.start,
                    ends_at=b.end,
                    room_id=int(b.room) if b.room else None,
                    facilitator_ids=tuple(int(f) for f in b.facilitators),
                )
            )
    return ComputedPlan(
        study_id=study_id,
        start=start,
        weeks=weeks,
        requests=total_requests,
        bookings=tuple(bookings),
        unbooked=tuple(unbooked),
        status=", ".join(sorted(set(statuses))) or "nothing to plan",
        seconds=round(seconds, 2),
    )


def book_plan(
    *, uow: UnitOfWork, principal: Principal, plan: ComputedPlan, reason_suffix: str = ""
) -> PlanSummary:
    """Write a computed plan's bookings, each through the conflict checks of a manual
    booking; a visit booked meanwhile (by hand or by an earlier run) is left as it is, so
    booking the same plan twice books nothing twice."""
    check_may_plan(uow, principal, plan.study_id)
    booked = 0
    refused: list[str] = []
    for b in plan.bookings:
        participant = uow.participants.get(b.participant_id)
        taken = participant is None or any(
            x.visit_key == b.visit_id for x in uow.schedule.bookings_of(b.participant_id)
        )
        if participant is None or taken:
            refused.append(b.request_id)
            continue
        site_id = participant.site_id
        clash = _conflicts(uow, site_id, b.starts_at, b.ends_at, b.room_id, b.facilitator_ids)
        if clash or b.starts_at < uow.now():
            refused.append(b.request_id)
            continue
        _write_booking(
            uow,
            principal,
            participant,
            b.visit_id,
            (b.starts_at, b.ends_at),
            b.room_id,
            list(b.facilitator_ids),
            source="planner",
            reason=f"{b.label} booked by the planner{reason_suffix}",
        )
        booked += 1
    return _summary(plan, booked=booked, refused=refused, saved=True)


def check_may_plan(uow: UnitOfWork, principal: Principal, study_id: int) -> None:
    visible_study(uow, principal, study_id)
    if not principal.can(Permission.SCHEDULE_MANAGE, study_id=study_id):
        raise PermissionDenied("your role does not allow planning the calendar")


def _summary(plan: ComputedPlan, *, booked: int, refused: list[str], saved: bool) -> PlanSummary:
    return PlanSummary(
        study_id=plan.study_id,
        start=plan.start,
        weeks=plan.weeks,
        requests=plan.requests,
        booked=booked,
        unbooked=list(plan.unbooked),
        refused_at_booking=refused,
        status=plan.status,
        seconds=plan.seconds,
        saved=saved,
    )


# -- throughput by substance ----------------------------------------------------------------


class ThroughputRow(BaseModel):
    protocol: str
    substance: str | None
    route: str | None
    dose: str
    refs: list[str]
    session_min: float
    dosing_min: int
    booked: int
    bound: int
    per_room_week: float
    limited_by: str
    proven_maximum: bool


class ThroughputSetting(BaseModel):
    label: str
    max_sessions_per_day: int
    rows: list[ThroughputRow]


class ThroughputRead(BaseModel):
    rooms: int
    facilitators: int
    facilitators_per_session: int
    hours: str
    week_of: dt.date
    settings: list[ThroughputSetting]
    note: str


# The site compared: two rooms, six facilitators, two facilitators per dosing session.
THROUGHPUT_ROOMS = 2
THROUGHPUT_FACILITATORS = 6
# A fixed week without public holidays, so the figure does not change with the day it is read.
THROUGHPUT_WEEK = dt.date(2027, 3, 1)


@functools.cache
def throughput() -> ThroughputRead:
    """Dosing sessions per room per week for the IV DMT, psilocybin, MDMA and LSD demo
    protocols at the same site, with one and with several dosing sessions per facilitator
    per day (computed once per process: it is deterministic)."""
    site = planner.Site(
        zone=site_zone("Europe/London"),
        opens=dt.time(8, 0),
        closes=dt.time(20, 0),
    )
    protocols = throughput_model.demo_protocols()
    settings = []
    for per_day, label in ((1, "one dosing session per facilitator per day"), (4, "up to four")):
        results = throughput_model.compare(
            protocols,
            rooms=THROUGHPUT_ROOMS,
            facilitators=THROUGHPUT_FACILITATORS,
            site=site,
            max_sessions_per_day=per_day,
            start=THROUGHPUT_WEEK,
            time_limit_s=1.0,
        )
        settings.append(
            ThroughputSetting(
                label=label,
                max_sessions_per_day=per_day,
                rows=[
                    ThroughputRow(
                        protocol=r.protocol_id,
                        substance=r.substance,
                        route=r.route,
                        dose=r.dose_label,
                        refs=list(r.refs),
                        session_min=round(r.session_min, 1),
                        dosing_min=r.dosing_min,
                        booked=r.booked,
                        bound=r.bound,
                        per_room_week=round(r.per_room_week, 1),
                        limited_by=r.limited_by,
                        proven_maximum=r.proven_maximum,
                    )
                    for r in results
                ],
            )
        )
    return ThroughputRead(
        rooms=THROUGHPUT_ROOMS,
        facilitators=THROUGHPUT_FACILITATORS,
        facilitators_per_session=2,
        hours="Monday to Friday, 08:00-20:00",
        week_of=THROUGHPUT_WEEK,
        settings=settings,
        note=(
            "Capacity for one week of unlimited demand, planned by the same CP-SAT scheduler "
            "as the calendar. A booking lasts the longest arm's predicted session for the "
            "typical subject plus the protocol's observation time; preparation, integration, "
            "turnover between sessions and real recruitment are left out."
        ),
    )
