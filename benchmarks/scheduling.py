"""Scheduling benchmark: 300 participants, 6 rooms, 16 facilitators, 26 weeks.

Main instance: each participant has two dosing sessions (week 1 and week 5 after
randomisation, windows -2..+2 days) of 7 hours (a session plus observation) needing a room
and two facilitators, each facilitator doing at most one a day; randomisations are spread
over the first 14 weeks, so demand exceeds what the site can hold in the busiest weeks.
CP-SAT (58 s limit inside the 60 s budget, 2 workers, started from the first-fit plan) is
compared with the capacity upper bound (a flow from requests to days: exact for one session
length) and with the greedy first-fit baseline in the same run.

Constrained instance: the same site with flexible requests (10-day windows) and fixed ones
(a single day) mixed, as when a second dosing is pinned to the first: first-fit, taking
requests by earliest date, fills the fixed requests' days with flexible ones.

Goals: booked >= 97 % of the capacity bound; >= 1.2x the first-fit on the constrained
instance; solve time within 60 s.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from zoneinfo import ZoneInfo

import numpy as np

from openpat.scheduling.planner import (
    Facilitator,
    Request,
    Room,
    Site,
    capacity_bound,
    first_fit,
    plan,
)

START = dt.date(2027, 1, 4)  # a Monday
WEEKS = 26
SITE = Site(ZoneInfo("Europe/London"), opens=dt.time(8, 0), closes=dt.time(18, 0))
ROOMS = [Room(f"room-{k + 1}") for k in range(6)]
TEAM = [Facilitator(f"facilitator-{k + 1:02d}") for k in range(16)]
SESSION_MIN = 7 * 60


def main_instance(rng: np.random.Generator) -> list[Request]:
    out = []
    for p in range(300):
        randomised = START + dt.timedelta(days=int(rng.integers(0, 14 * 7)))
        for k, week in enumerate((1, 5)):
            target = randomised + dt.timedelta(weeks=week)
            out.append(
                Request(
                    f"p{p:03d}-dose{k + 1}",
                    target - dt.timedelta(days=2),
                    target + dt.timedelta(days=2),
                    SESSION_MIN,
                    target=target,
                )
            )
    return out


def constrained_instance() -> list[Request]:
    """Per fortnight: 6 x 5 flexible requests over 10 days, and 6 fixed requests on each of
    the 5 weekdays after the first Monday."""
    out = []
    for f in range(WEEKS // 2):
        monday = START + dt.timedelta(weeks=2 * f)
        for k in range(30):
            out.append(
                Request(f"flex-{f}-{k}", monday, monday + dt.timedelta(days=11), SESSION_MIN)
            )
        for day in range(5):
            fixed = monday + dt.timedelta(days=day)
            for k in range(6):
                out.append(Request(f"fixed-{f}-{day}-{k}", fixed, fixed, SESSION_MIN))
    return out


def run(name: str, requests: list[Request], budget_s: float) -> tuple[int, int, int, float]:
    days = WEEKS * 7
    t0 = time.perf_counter()
    greedy = first_fit(requests, ROOMS, TEAM, SITE, start=START, days=days)
    t_greedy = time.perf_counter() - t0
    bound = capacity_bound(requests, ROOMS, TEAM, SITE, start=START, days=days)

    def progress(booked: int, seconds: float) -> None:
        print(f"  {name}: {booked} booked after {seconds:.1f} s", file=sys.stderr)

    result = plan(
        requests,
        ROOMS,
        TEAM,
        SITE,
        start=START,
        days=days,
        time_limit_s=budget_s,
        hint=greedy,
        progress=progress,
    )
    print(
        f"{name}: {len(requests)} requests; CP-SAT booked {result.booked} "
        f"({result.status}, {result.seconds:.1f} s); first-fit {greedy.booked} "
        f"({t_greedy:.2f} s); capacity bound {bound}"
    )
    return result.booked, greedy.booked, bound, result.seconds


def main() -> None:
    rng = np.random.default_rng(2027)
    print(f"{len(ROOMS)} rooms, {len(TEAM)} facilitators, {WEEKS} weeks, 2 cores")
    booked, greedy, bound, seconds = run("main (300 participants)", main_instance(rng), 58.0)
    c_booked, c_greedy, _, c_seconds = run("constrained", constrained_instance(), 58.0)
    print(f"ratio to first-fit on the constrained instance: {c_booked / c_greedy:.2f}x")
    print(f"ratio to first-fit on the main instance: {booked / greedy:.2f}x")
    print(f"solve time: {seconds:.1f} s (main), {c_seconds:.1f} s (constrained); budget 60 s")
    print(f"booked: {100 * booked / bound:.1f}% of the capacity bound")


if __name__ == "__main__":
    main()
