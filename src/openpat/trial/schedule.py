"""A participant's visit schedule from the protocol and their dates.

Dates are calendar dates in the site's time zone: a visit "on day 7" is the seventh local
calendar day after randomisation, whatever daylight-saving change falls between. Times of
day become instants only when a visit is booked (:func:`local_instant`), through the site's
time zone, so a 09:00 session is at 09:00 local on both sides of a clock change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from openpat.errors import InvalidInput
from openpat.trial.protocol import Protocol, Staffing, VisitSpec

Status = Literal["done", "done-out-of-window", "overdue", "due", "upcoming", "missed"]


@dataclass(frozen=True, slots=True)
class PlannedVisit:
    visit_id: str
    label: str
    type: str
    target: dt.date
    earliest: dt.date
    latest: dt.date
    instruments: tuple[str, ...]
    staffing: Staffing | None

    def in_window(self, day: dt.date) -> bool:
        return self.earliest <= day <= self.latest


def plan_visits(
    protocol: Protocol,
    *,
    randomised_on: dt.date,
    done: Mapping[str, dt.date] | None = None,
) -> list[PlannedVisit]:
    """Every visit's target date and window. Visits anchored on a dosing visit follow the
    date it actually took place (``done``) once it has, and its target until then."""
    done = done or {}
    dosing_ids = [v.id for v in protocol.dosing_visits()]
    anchors: dict[str, dt.date] = {}
    for v in protocol.visits:
        if v.type == "dosing" and v.anchor == "randomisation":
            anchors[v.id] = done.get(v.id, randomised_on + dt.timedelta(days=v.day))
    out = []
    for v in protocol.visits:
        dosing_anchor = v.dosing_visit or (dosing_ids[0] if dosing_ids else "")
        base = anchors[dosing_anchor] if v.anchor == "dosing" else randomised_on
        out.append(_planned(v, base + dt.timedelta(days=v.day)))
    return sorted(out, key=lambda p: (p.target, p.visit_id))


def _planned(v: VisitSpec, target: dt.date) -> PlannedVisit:
    return PlannedVisit(
        visit_id=v.id,
        label=v.label,
        type=v.type,
        target=target,
        earliest=target - dt.timedelta(days=v.window_before),
        latest=target + dt.timedelta(days=v.window_after),
        instruments=tuple(v.instruments),
        staffing=v.staffing,
    )


def visit_status(visit: PlannedVisit, *, today: dt.date, done_on: dt.date | None) -> Status:
    """Where a visit stands today: done (in or out of its window), overdue (its window has
    closed and it is not done), due (inside its window), or upcoming."""
    if done_on is not None:
        return "done" if visit.in_window(done_on) else "done-out-of-window"
    if today > visit.latest:
        return "overdue"
    if today >= visit.earliest:
        return "due"
    return "upcoming"


def reschedule(visit: PlannedVisit, new_date: dt.date) -> PlannedVisit:
    """Move a visit to ``new_date`` inside its window; outside it is refused (the protocol's
    window is the limit; a deviation is recorded as such, not as a reschedule)."""
    if not visit.in_window(new_date):
        raise InvalidInput.for_field(
            "date",
            f"{new_date.isoformat()} is outside the window of {visit.label} "
            f"({visit.earliest.isoformat()} to {visit.latest.isoformat()}); choose a date in it",
        )
    return PlannedVisit(
        visit_id=visit.visit_id,
        label=visit.label,
        type=visit.type,
        target=new_date,
        earliest=visit.earliest,
        latest=visit.latest,
        instruments=visit.instruments,
        staffing=visit.staffing,
    )


def site_zone(name: str) -> ZoneInfo:
    """The site's time zone by IANA name (``Europe/London``)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput.for_field(
            "time_zone", f"unknown time zone {name!r}; use an IANA name such as Europe/London"
        ) from None


def local_instant(day: dt.date, time_of_day: dt.time, zone: ZoneInfo) -> dt.datetime:
    """The instant (UTC) of a local wall-clock time on a local date.

    A time skipped by a spring-forward change is refused; an ambiguous time in the autumn
    repeated hour is taken at its first occurrence."""
    local = dt.datetime.combine(day, time_of_day, tzinfo=zone)
    round_trip = local.astimezone(dt.UTC).astimezone(zone)
    if round_trip.replace(tzinfo=None) != local.replace(tzinfo=None):
        raise InvalidInput.for_field(
            "time",
            f"{time_of_day.isoformat('minutes')} does not exist on {day.isoformat()} in "
            f"{zone.key} (the clocks go forward); choose another time",
        )
    return local.astimezone(dt.UTC)
