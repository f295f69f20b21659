"""How many dosing sessions a site can hold per room and week, protocol by protocol.

For each protocol, :func:`compare` measures the *maximum* number of dosing sessions the
same site (its rooms, its facilitators with their daily maxima of dosing sessions, its open
days and hours) can book in ``weeks`` weeks, when demand is unlimited:

1. one booking lasts :func:`openpat.sessions.duration.dosing_minutes` of the protocol's dosing
   visit: the typical subject's predicted session for the longest arm, plus the visit's
   observation time, rounded up to the site's booking step; it needs the visit's room and
   facilitators;
2. the site is saturated: one more request than the planner's :func:`capacity_bound` allows,
   every request a dosing session whose window spans the whole horizon (so no window, only
   capacity, can keep a session out);
3. the CP-SAT :func:`plan` (short time limit, greedy :func:`first_fit` as its starting hint)
   books as many as fit (should it find fewer than first fit, or none within its limit, the
   first-fit plan is kept); ``booked / (rooms x weeks)`` is the figure compared.

Each result also gives the capacity bound (an upper bound that ignores how sessions pack
within a day, so the plan can never exceed it), what limits the bound (rooms and hours, the
facilitators' hours, or the facilitators' daily maxima), the first-fit count and the time
taken. It is a capacity figure for a room, not a forecast of recruitment: real demand,
windows, preparation and integration visits and turnover between sessions are left out.

Facilitators' daily maxima matter for short sessions: with the planner's default of one
dosing session per facilitator per day, two facilitators per session hold a 30-minute IV
DMT session to as few sessions a day as a 7-hour LSD session. ``max_sessions_per_day`` sets
the maximum so the two settings can be compared.

One week is enough when the weeks are alike (no closed dates): the figure is per room-week
either way, and the model grows with requests x open days (for 30-minute sessions in 2
rooms over 4 weeks, 961 requests on 20 days take CP-SAT's model about 5 s to build alone).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from openpat import knowledge
from openpat.errors import InvalidInput
from openpat.knowledge import KnowledgeBase
from openpat.scheduling.planner import (
    Facilitator,
    Request,
    Room,
    Site,
    capacity_bound,
    first_fit,
    plan,
)
from openpat.sessions.duration import dose_label, dosing_minutes, longest_arm
from openpat.trial.protocol import Protocol, VisitSpec, parse_protocol

DEMO_DIR = Path(__file__).parent / "data" / "throughput"
DEMO_FILES = ("dmt-iv.yaml", "psilocybin-oral.yaml", "mdma-oral.yaml", "lsd-oral.yaml")
_UNLIMITED = 10**6


@dataclass(frozen=True, slots=True)
class SubstanceThroughput:
    """One protocol's dosing throughput at the site compared.

    ``session_min`` is the longest arm's predicted typical session (unrounded),
    ``dosing_min`` what one booking occupies; ``booked`` the sessions placed out of
    ``requests`` by the better of CP-SAT and first fit (``plan_source``), ``bound`` the
    planner's capacity bound, ``first_fit`` the greedy count;
    ``limited_by`` names what holds the bound down; ``seconds`` is the wall time of the whole
    measurement for this protocol (session prediction, bound, first fit and CP-SAT)."""

    protocol_id: str
    visit_id: str
    substance: str | None
    route: str | None
    arm_id: str
    dose_label: str
    refs: tuple[str, ...]
    session_min: float
    observation_min: int
    dosing_min: int
    rooms: int
    facilitators: int
    facilitators_per_session: int
    max_sessions_per_day: int | None  # None when the team's maxima differ
    open_days: int
    weeks: int
    requests: int
    booked: int
    bound: int
    first_fit: int
    limited_by: str
    status: str  # CP-SAT's: OPTIMAL, FEASIBLE (time limit reached) or UNKNOWN (no solution)
    plan_source: str  # "cp-sat", or "first-fit" when CP-SAT found less than the greedy plan
    seconds: float

    @property
    def per_room_week(self) -> float:
        """Booked dosing sessions per room per week."""
        return self.booked / (self.rooms * self.weeks)

    @property
    def bound_per_room_week(self) -> float:
        return self.bound / (self.rooms * self.weeks)

    @property
    def proven_maximum(self) -> bool:
        """True when no plan can book more: CP-SAT proved it, or the bound is reached."""
        return self.status == "OPTIMAL" or self.booked == self.bound


def demo_protocols() -> list[Protocol]:
    """The four demo protocols (IV DMT, oral psilocybin, oral MDMA, oral LSD), their doses
    from the knowledge base and cited by each arm's ``refs``."""
    return [parse_protocol((DEMO_DIR / name).read_text(encoding="utf-8")) for name in DEMO_FILES]


def compare(
    protocols: Sequence[Protocol],
    *,
    rooms: int | Sequence[Room],
    facilitators: int | Sequence[Facilitator],
    site: Site,
    start: dt.date,
    weeks: int = 1,
    max_sessions_per_day: int | None = None,
    visit: str | None = None,
    kb: KnowledgeBase | None = None,
    time_limit_s: float = 1.0,
    workers: int = 2,
    seed: int = 0,
) -> list[SubstanceThroughput]:
    """The maximum dosing sessions per room and week for each protocol, at one site.

    ``rooms`` and ``facilitators`` are counts (rooms ``room-1``...; facilitators working
    all the site's open days and hours) or the planner's own objects.
    ``max_sessions_per_day`` is every facilitator's daily maximum of dosing sessions
    (default: 1 for counted facilitators, as given for objects). ``start`` is the first day
    of the horizon (pick a week without public holidays); ``visit`` the dosing visit
    measured (default each protocol's first dosing visit). ``time_limit_s`` bounds each
    CP-SAT run. See the module for what is measured."""
    if weeks < 1:
        raise InvalidInput.for_field("weeks", "must be at least 1")
    if time_limit_s <= 0:
        raise InvalidInput.for_field("time_limit_s", "must be positive")
    kb = kb or knowledge.default()
    room_list = _rooms(rooms)
    team = _team(facilitators, max_sessions_per_day, site)
    days = 7 * weeks
    open_days = [
        d
        for k in range(days)
        if (d := start + dt.timedelta(days=k)).weekday() in site.days and d not in site.closed_dates
    ]
    maxima = {f.max_sessions_per_day for f in team}
    return [
        _measure(
            k,
            p,
            _dosing_visit(k, p, visit),
            kb=kb,
            rooms=room_list,
            team=team,
            site=site,
            start=start,
            weeks=weeks,
            open_days=len(open_days),
            common_max=next(iter(maxima)) if len(maxima) == 1 else None,
            time_limit_s=time_limit_s,
            workers=workers,
            seed=seed,
        )
        for k, p in enumerate(protocols)
    ]


def _measure(
    index: int,
    protocol: Protocol,
    spec: VisitSpec,
    *,
    kb: KnowledgeBase,
    rooms: list[Room],
    team: list[Facilitator],
    site: Site,
    start: dt.date,
    weeks: int,
    open_days: int,
    common_max: int | None,
    time_limit_s: float,
    workers: int,
    seed: int,
) -> SubstanceThroughput:
    t0 = time.perf_counter()
    staffing = spec.staffing
    assert staffing is not None  # _dosing_visit checked
    minutes = dosing_minutes(protocol, spec, kb, step_min=site.step_min)
    if staffing.facilitators > len(team) or (staffing.room and not rooms):
        raise InvalidInput.for_field(
            f"protocols.{index}",
            f"a {protocol.id} session needs {staffing.facilitators} facilitator(s)"
            f"{' and a room' if staffing.room else ''}; the site has {len(team)} and "
            f"{len(rooms)}",
        )
    days = 7 * weeks

    def requests(n: int) -> list[Request]:
        return [
            Request(
                f"{protocol.id}-{k}",
                start,
                start + dt.timedelta(days=days - 1),
                minutes,
                target=start,
                room=staffing.room,
                facilitators=staffing.facilitators,
                dosing=True,
            )
            for k in range(n)
        ]

    def bound(reqs: list[Request], who: list[Facilitator]) -> int:
        return capacity_bound(reqs, rooms, who, site, start=start, days=days)

    # more requests than any resource could hold (a day at most 24 h; at most one session at
    # a time per room, or per facilitator for sessions without a room)
    width = max(1, len(rooms), len(team))
    probe = requests(open_days * width * (24 * 60 // minutes) + 1)
    limit = bound(probe, team)
    unlimited_max = bound(probe, [replace(f, max_sessions_per_day=_UNLIMITED) for f in team])
    spare = [
        Facilitator(f"spare-{k}", days=site.days, max_sessions_per_day=_UNLIMITED)
        for k in range(width * max(1, staffing.facilitators))
    ]
    rooms_only = bound(probe, spare)
    if limit < unlimited_max:
        limited_by = "facilitators' daily maxima"
    elif limit < rooms_only:
        limited_by = "facilitators' hours"
    else:
        limited_by = "rooms and opening hours"
    saturated = requests(limit + 1)
    greedy = first_fit(saturated, rooms, team, site, start=start, days=days)
    result = plan(
        saturated,
        rooms,
        team,
        site,
        start=start,
        days=days,
        time_limit_s=time_limit_s,
        workers=workers,
        seed=seed,
        hint=greedy,
    )
    # CP-SAT may stop at its time limit without a solution (UNKNOWN) on a large horizon, or
    # with one worse than its hint; the first-fit plan is as real a plan, so keep the better
    booked, source = (
        (result.booked, "cp-sat")
        if result.booked >= greedy.booked
        else (greedy.booked, "first-fit")
    )
    found = longest_arm(protocol, kb)
    assert found is not None  # dosing_minutes refuses a protocol without one
    arm, session = found
    return SubstanceThroughput(
        protocol_id=protocol.id,
        visit_id=spec.id,
        substance=arm.substance,
        route=arm.route,
        arm_id=arm.id,
        dose_label=dose_label(arm),
        refs=tuple(arm.refs),
        session_min=session,
        observation_min=staffing.observation_min,
        dosing_min=minutes,
        rooms=len(rooms),
        facilitators=len(team),
        facilitators_per_session=staffing.facilitators,
        max_sessions_per_day=common_max,
        open_days=open_days,
        weeks=weeks,
        requests=len(saturated),
        booked=booked,
        bound=bound(saturated, team),
        first_fit=greedy.booked,
        limited_by=limited_by,
        status=result.status,
        plan_source=source,
        seconds=time.perf_counter() - t0,
    )


def table(results: Sequence[SubstanceThroughput]) -> str:
    """The results as a plain-text table, one protocol a line."""
    head = (
        f"{'protocol':<28} {'dose':<46} {'session':>8} {'booked':>7} {'min':>5} "
        f"{'/room/wk':>9} {'bound':>6} {'ff':>4} {'limited by':<27} {'status':<9} {'s':>5}"
    )
    lines = [head]
    for r in results:
        lines.append(
            f"{r.protocol_id:<28} {r.dose_label[:46]:<46} {r.session_min:>8.1f} "
            f"{r.booked:>7} {r.dosing_min:>5} {r.per_room_week:>9.1f} {r.bound:>6} "
            f"{r.first_fit:>4} {r.limited_by:<27} {r.status:<9} {r.seconds:>5.2f}"
        )
    return "\n".join(lines)


def _rooms(rooms: int | Sequence[Room]) -> list[Room]:
    if isinstance(rooms, int):
        if rooms < 1:
            raise InvalidInput.for_field("rooms", "must be at least 1")
        return [Room(f"room-{k + 1}") for k in range(rooms)]
    if not rooms:
        raise InvalidInput.for_field("rooms", "give at least one room")
    return list(rooms)


def _team(
    facilitators: int | Sequence[Facilitator], maximum: int | None, site: Site
) -> list[Facilitator]:
    if maximum is not None and maximum < 1:
        raise InvalidInput.for_field("max_sessions_per_day", "must be at least 1")
    if isinstance(facilitators, int):
        if facilitators < 1:
            raise InvalidInput.for_field("facilitators", "must be at least 1")
        return [
            Facilitator(f"facilitator-{k + 1}", days=site.days, max_sessions_per_day=maximum or 1)
            for k in range(facilitators)
        ]
    if not facilitators:
        raise InvalidInput.for_field("facilitators", "give at least one facilitator")
    if maximum is None:
        return list(facilitators)
    return [replace(f, max_sessions_per_day=maximum) for f in facilitators]


def _dosing_visit(index: int, protocol: Protocol, wanted: str | None) -> VisitSpec:
    candidates = [
        v
        for v in protocol.visits
        if (v.id == wanted if wanted else v.type == "dosing") and v.staffing is not None
    ]
    if not candidates:
        what = f"visit {wanted!r} with staffing" if wanted else "dosing visit with staffing"
        raise InvalidInput.for_field(f"protocols.{index}.visits", f"{protocol.id} has no {what}")
    return candidates[0]
