"""Room and facilitator scheduling with OR-Tools CP-SAT.

Requests (a participant's visit, with its window of local dates, its length, whether it
needs a room and how many facilitators) are placed on the site's open days and hours.

The model, in minutes from the start of the horizon (real elapsed time, so a clock change
shortens or lengthens the local day as it should):

- each request is an optional interval; it is booked (present) on exactly one candidate day
  of its window, inside the site's hours that day, starting on a ``step_min`` grid;
- rooms: at no time more room-needing intervals than rooms (a cumulative constraint); which
  room is decided afterwards, by start time, which always succeeds for intervals;
- facilitators: at no time more facilitators needed than are working (a cumulative whose
  capacity falls while some are off or outside their hours), and on no day more dosing
  sessions than their daily maxima allow together; named facilitators are then given to
  each booking, by start time, to those free, working and under their day's maximum;
- objective: first book as many requests as possible (dosing visits weigh most), then keep
  them close to their target day.

A greedy first-fit (:func:`first_fit`) is the baseline, and :func:`capacity_bound` an upper
bound on the requests any plan can book (a flow from requests to the days of their windows,
each day holding what its rooms, facilitators and hours allow).
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from ortools.graph.python import max_flow
from ortools.sat.python import cp_model

from openpat.errors import InvalidInput
from openpat.trial.schedule import local_instant

WEEKDAYS = frozenset(range(5))


@dataclass(frozen=True, slots=True)
class Site:
    zone: ZoneInfo
    opens: dt.time = dt.time(8, 0)
    closes: dt.time = dt.time(20, 0)
    days: frozenset[int] = WEEKDAYS  # Monday = 0
    closed_dates: frozenset[dt.date] = frozenset()
    step_min: int = 15


@dataclass(frozen=True, slots=True)
class Room:
    id: str


@dataclass(frozen=True, slots=True)
class Facilitator:
    id: str
    days: frozenset[int] = WEEKDAYS
    starts: dt.time | None = None  # None: the site's hours
    ends: dt.time | None = None
    max_sessions_per_day: int = 1
    away: frozenset[dt.date] = frozenset()


@dataclass(frozen=True, slots=True)
class Request:
    id: str
    earliest: dt.date
    latest: dt.date
    minutes: int
    target: dt.date | None = None
    room: bool = True
    facilitators: int = 2
    dosing: bool = True


@dataclass(frozen=True, slots=True)
class Booking:
    request_id: str
    start: dt.datetime  # UTC
    end: dt.datetime
    room: str | None
    facilitators: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Plan:
    bookings: tuple[Booking, ...]
    unbooked: tuple[str, ...]
    status: str
    seconds: float
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def booked(self) -> int:
        return len(self.bookings)


@dataclass(frozen=True, slots=True)
class _Day:
    date: dt.date
    open_min: int
    close_min: int


def _days(site: Site, start: dt.date, days: int, origin: dt.datetime) -> list[_Day]:
    out = []
    for k in range(days):
        d = start + dt.timedelta(days=k)
        if d.weekday() not in site.days or d in site.closed_dates:
            continue
        o = local_instant(d, site.opens, site.zone)
        c = local_instant(d, site.closes, site.zone)
        out.append(_Day(d, _minutes(o, origin), _minutes(c, origin)))
    return out


def _minutes(instant: dt.datetime, origin: dt.datetime) -> int:
    return int((instant - origin).total_seconds() // 60)


def _hours(f: Facilitator, site: Site, day: _Day, origin: dt.datetime) -> tuple[int, int] | None:
    """A facilitator's working minutes on a day, within the site's hours; None if off."""
    if day.date.weekday() not in f.days or day.date in f.away:
        return None
    o = day.open_min
    c = day.close_min
    if f.starts is not None:
        o = max(o, _minutes(local_instant(day.date, f.starts, site.zone), origin))
    if f.ends is not None:
        c = min(c, _minutes(local_instant(day.date, f.ends, site.zone), origin))
    return (o, c) if c > o else None


def _check(requests: Sequence[Request], rooms: Sequence[Room], team: Sequence[Facilitator]) -> None:
    ids = [r.id for r in requests]
    if len(set(ids)) != len(ids):
        raise InvalidInput.for_field("requests", "request ids must be unique")
    for r in requests:
        if r.latest < r.earliest:
            raise InvalidInput.for_field(f"requests.{r.id}", "the window ends before it starts")
        if r.minutes <= 0:
            raise InvalidInput.for_field(f"requests.{r.id}.minutes", "must be positive")
        if r.facilitators > len(team) or (r.room and not rooms):
            raise InvalidInput.for_field(
                f"requests.{r.id}", "needs more rooms or facilitators than the site has"
            )


def plan(
    requests: Sequence[Request],
    rooms: Sequence[Room],
    team: Sequence[Facilitator],
    site: Site,
    *,
    start: dt.date,
    days: int,
    time_limit_s: float = 60.0,
    workers: int = 2,
    seed: int = 0,
    hint: Plan | None = None,
    progress: Callable[[int, float], None] | None = None,
) -> Plan:
    """Book ``requests`` on ``days`` days from ``start`` with CP-SAT (see the module)."""
    _check(requests, rooms, team)
    t0 = time.perf_counter()
    origin = local_instant(start, dt.time(0, 0), site.zone)
    open_days = _days(site, start, days, origin)
    by_date = {d.date: d for d in open_days}
    model = cp_model.CpModel()
    step = site.step_min
    present: dict[str, cp_model.IntVar] = {}
    starts: dict[str, cp_model.IntVar] = {}
    on_day: dict[str, dict[dt.date, cp_model.IntVar]] = {}
    room_iv, room_dem, team_iv, team_dem = [], [], [], []
    objective = []
    for r in requests:
        candidates = [
            by_date[r.earliest + dt.timedelta(days=k)]
            for k in range((r.latest - r.earliest).days + 1)
            if r.earliest + dt.timedelta(days=k) in by_date
        ]
        candidates = [d for d in candidates if d.close_min - d.open_min >= r.minutes]
        if not candidates:
            continue
        spans = [
            [_ceil(d.open_min, step), d.close_min - r.minutes]
            for d in candidates
            if _ceil(d.open_min, step) <= d.close_min - r.minutes
        ]
        if not spans:
            continue
        s = model.new_int_var_from_domain(cp_model.Domain.from_intervals(spans), f"s_{r.id}")
        p = model.new_bool_var(f"p_{r.id}")
        iv = model.new_optional_fixed_size_interval_var(s, r.minutes, p, f"i_{r.id}")
        days_r = {}
        for d in candidates:
            y = model.new_bool_var(f"y_{r.id}_{d.date}")
            model.add(s >= d.open_min).only_enforce_if(y)
            model.add(s + r.minutes <= d.close_min).only_enforce_if(y)
            days_r[d.date] = y
        model.add(sum(days_r.values()) == p)
        present[r.id], starts[r.id], on_day[r.id] = p, s, days_r
        if r.room:
            room_iv.append(iv)
            room_dem.append(1)
        if r.facilitators:
            team_iv.append(iv)
            team_dem.append(r.facilitators)
        weight = 1000 if r.dosing else 100
        objective.append(weight * p)
        target = r.target or r.earliest
        for date, y in days_r.items():
            distance = abs((date - target).days)
            if distance:
                objective.append(-distance * y)
    if room_iv:
        model.add_cumulative(room_iv, room_dem, len(rooms))
    # facilitators: capacity lowered by fixed intervals while some are not working
    if team_iv:
        fixed_iv, fixed_dem = [], []
        for d in open_days:
            for f in team:
                hours = _hours(f, site, d, origin)
                off = (
                    [(d.open_min, d.close_min)]
                    if hours is None
                    else [
                        (d.open_min, hours[0]),
                        (hours[1], d.close_min),
                    ]
                )
                for a, b in off:
                    if b > a:
                        fixed_iv.append(
                            model.new_interval_var(a, b - a, b, f"off_{f.id}_{d.date}_{a}")
                        )
                        fixed_dem.append(1)
        model.add_cumulative(team_iv + fixed_iv, team_dem + fixed_dem, len(team))
        # daily maxima of dosing sessions, summed over those working that day
        for d in open_days:
            limit = sum(
                f.max_sessions_per_day for f in team if _hours(f, site, d, origin) is not None
            )
            terms = [
                r.facilitators * on_day[r.id][d.date]
                for r in requests
                if r.dosing and r.id in on_day and d.date in on_day[r.id]
            ]
            if terms:
                model.add(sum(terms) <= limit)
    model.maximize(sum(objective))
    if hint is not None:
        hinted = {booking.request_id: booking for booking in hint.bookings}
        for rid, p in present.items():
            was = hinted.get(rid)
            model.add_hint(p, was is not None)
            if was is not None:
                model.add_hint(starts[rid], _minutes(was.start, origin))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit_s
    solver.parameters.num_workers = workers
    solver.parameters.random_seed = seed
    callback = _Progress(present, progress, t0) if progress else None
    status = solver.solve(model, callback)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return Plan(
            (), tuple(r.id for r in requests), solver.status_name(status), time.perf_counter() - t0
        )
    placed = [
        (r, solver.value(starts[r.id]))
        for r in requests
        if r.id in present and solver.value(present[r.id])
    ]
    bookings, notes = _assign(placed, rooms, team, site, open_days, origin)
    booked = {b.request_id for b in bookings}
    return Plan(
        bookings=tuple(bookings),
        unbooked=tuple(r.id for r in requests if r.id not in booked),
        status=solver.status_name(status),
        seconds=time.perf_counter() - t0,
        notes=tuple(notes),
    )


class _Progress(cp_model.CpSolverSolutionCallback):
    def __init__(
        self,
        present: dict[str, cp_model.IntVar],
        report: Callable[[int, float], None] | None,
        t0: float,
    ) -> None:
        super().__init__()
        self._present = list(present.values())
        self._report = report
        self._t0 = t0

    def on_solution_callback(self) -> None:
        if self._report is not None:
            booked = sum(self.value(p) for p in self._present)
            self._report(int(booked), time.perf_counter() - self._t0)


def _ceil(value: int, step: int) -> int:
    return -(-value // step) * step


class _Ledger:
    """Who and what is taken when, while bookings are made one at a time."""

    def __init__(
        self,
        rooms: Sequence[Room],
        team: Sequence[Facilitator],
        site: Site,
        origin: dt.datetime,
    ) -> None:
        self.rooms, self.team, self.site, self.origin = rooms, team, site, origin
        self.room_busy: dict[str, list[tuple[int, int]]] = defaultdict(list)
        self.busy: dict[str, list[tuple[int, int]]] = defaultdict(list)
        self.per_day: dict[tuple[str, dt.date], int] = defaultdict(int)
        self.bookings: list[Booking] = []

    def free_room(self, s: int, e: int) -> str | None:
        return next(
            (
                room.id
                for room in self.rooms
                if not any(s < b and a < e for a, b in self.room_busy[room.id])
            ),
            None,
        )

    def free_team(self, r: Request, day: _Day, s: int, e: int) -> list[Facilitator]:
        """Facilitators working all of [s, e) that day, not busy, under their day's maximum
        (for dosing sessions), in team order."""
        return [
            f
            for f in self.team
            if (h := _hours(f, self.site, day, self.origin)) is not None
            and h[0] <= s
            and e <= h[1]
            and not any(s < b and a < e for a, b in self.busy[f.id])
            and (not r.dosing or self.per_day[(f.id, day.date)] < f.max_sessions_per_day)
        ]

    def book(self, r: Request, day: _Day, s: int, room: str | None, chosen: Sequence[str]) -> None:
        e = s + r.minutes
        if room is not None:
            self.room_busy[room].append((s, e))
        for fid in chosen:
            self.busy[fid].append((s, e))
            if r.dosing:
                self.per_day[(fid, day.date)] += 1
        self.bookings.append(
            Booking(
                r.id,
                self.origin + dt.timedelta(minutes=s),
                self.origin + dt.timedelta(minutes=e),
                room,
                tuple(chosen),
            )
        )


def _assign(
    placed: list[tuple[Request, int]],
    rooms: Sequence[Room],
    team: Sequence[Facilitator],
    site: Site,
    open_days: list[_Day],
    origin: dt.datetime,
) -> tuple[list[Booking], list[str]]:
    """Name a room and the facilitators of each placed request, by start time; facilitators
    with the fewest sessions that day first."""
    ledger = _Ledger(rooms, team, site, origin)
    notes = []
    for r, s in sorted(placed, key=lambda item: (item[1], item[0].id)):
        e = s + r.minutes
        day = next(d for d in open_days if d.open_min <= s < d.close_min)
        room = ledger.free_room(s, e) if r.room else None
        if r.room and room is None:  # cannot happen under the cumulative constraint
            notes.append(f"{r.id}: no room free at its start")
            continue
        free = sorted(
            ledger.free_team(r, day, s, e), key=lambda f: (ledger.per_day[(f.id, day.date)], f.id)
        )
        if len(free) < r.facilitators:
            notes.append(f"{r.id}: facilitators could not be named on {day.date}; left unbooked")
            continue
        ledger.book(r, day, s, room, [f.id for f in free[: r.facilitators]])
    return ledger.bookings, notes


def first_fit(
    requests: Sequence[Request],
    rooms: Sequence[Room],
    team: Sequence[Facilitator],
    site: Site,
    *,
    start: dt.date,
    days: int,
) -> Plan:
    """The baseline: each request in order of its earliest date, at the first day and time in
    its window where a room and enough facilitators are free."""
    _check(requests, rooms, team)
    t0 = time.perf_counter()
    origin = local_instant(start, dt.time(0, 0), site.zone)
    open_days = _days(site, start, days, origin)
    ledger = _Ledger(rooms, team, site, origin)
    for r in sorted(requests, key=lambda r: (r.earliest, r.latest, r.id)):
        _first_slot(ledger, r, [d for d in open_days if r.earliest <= d.date <= r.latest])
    booked = {b.request_id for b in ledger.bookings}
    return Plan(
        tuple(ledger.bookings),
        tuple(r.id for r in requests if r.id not in booked),
        "FIRST_FIT",
        time.perf_counter() - t0,
    )


def _first_slot(ledger: _Ledger, r: Request, days: list[_Day]) -> None:
    """Book ``r`` at the first free start on the step grid, if any."""
    for day in days:
        for s in range(
            _ceil(day.open_min, ledger.site.step_min),
            day.close_min - r.minutes + 1,
            ledger.site.step_min,
        ):
            e = s + r.minutes
            room = ledger.free_room(s, e) if r.room else None
            if r.room and room is None:
                continue
            free = ledger.free_team(r, day, s, e)
            if len(free) >= r.facilitators:
                ledger.book(r, day, s, room, [f.id for f in free[: r.facilitators]])
                return


def capacity_bound(
    requests: Sequence[Request],
    rooms: Sequence[Room],
    team: Sequence[Facilitator],
    site: Site,
    *,
    start: dt.date,
    days: int,
) -> int:
    """An upper bound on the requests any plan can book: a maximum flow from each request to
    the open days of its window, each day holding at most what its rooms, its working
    facilitators (and their daily maxima) and its hours allow for requests of the shortest
    length. It ignores how sessions pack within a day, so it can only be loose, never low."""
    origin = local_instant(start, dt.time(0, 0), site.zone)
    open_days = _days(site, start, days, origin)
    flow = max_flow.SimpleMaxFlow()
    source, sink = 0, 1
    day_node = {d.date: 2 + k for k, d in enumerate(open_days)}
    shortest = min((r.minutes for r in requests), default=1)
    fewest = max(1, min((r.facilitators for r in requests), default=1))
    for d in open_days:
        hours = d.close_min - d.open_min
        per_room = hours // shortest
        working = [h for f in team if (h := _hours(f, site, d, origin)) is not None]
        by_time = sum((b - a) // shortest for a, b in working) // fewest
        by_max = (
            sum(f.max_sessions_per_day for f in team if _hours(f, site, d, origin) is not None)
            // fewest
        )
        cap = min(len(rooms) * per_room if rooms else 10**9, by_time, by_max)
        flow.add_arc_with_capacity(day_node[d.date], sink, int(cap))
    next_node = 2 + len(open_days)
    for r in requests:
        node = next_node
        next_node += 1
        flow.add_arc_with_capacity(source, node, 1)
        for d in open_days:
            if r.earliest <= d.date <= r.latest:
                flow.add_arc_with_capacity(node, day_node[d.date], 1)
    if flow.solve(source, sink) != flow.OPTIMAL:
        return len(requests)
    return int(flow.optimal_flow())
