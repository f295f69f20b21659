"""Room and facilitator scheduling: no double booking, windows, hours across clock changes."""

from __future__ import annotations

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from openpat.errors import InvalidInput
from openpat.scheduling.planner import (
    Facilitator,
    Plan,
    Request,
    Room,
    Site,
    capacity_bound,
    first_fit,
    plan,
)

LONDON = ZoneInfo("Europe/London")
SITE = Site(LONDON, opens=dt.time(8, 0), closes=dt.time(18, 0))
START = dt.date(2026, 3, 23)  # the week the clocks go forward (Sunday 29 March)


def _requests(n: int, seed: int, minutes: int = 240, spread: int = 14) -> list[Request]:
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        target = START + dt.timedelta(days=int(rng.integers(0, spread)))
        out.append(
            Request(
                f"r{k}",
                target - dt.timedelta(days=1),
                target + dt.timedelta(days=2),
                minutes,
                target=target,
            )
        )
    return out


def _check_no_double_booking(
    result: Plan, requests: list[Request], team: list[Facilitator]
) -> None:
    by_id = {r.id: r for r in requests}
    for a, b in itertools.combinations(result.bookings, 2):
        overlap = a.start < b.end and b.start < a.end
        if overlap:
            assert a.room is None or a.room != b.room, (a, b)
            assert not set(a.facilitators) & set(b.facilitators), (a, b)
    for booking in result.bookings:
        r = by_id[booking.request_id]
        local = booking.start.astimezone(LONDON)
        assert r.earliest <= local.date() <= r.latest
        assert local.time() >= SITE.opens and booking.end.astimezone(LONDON).time() <= SITE.closes
        assert local.weekday() < 5
        assert len(booking.facilitators) == r.facilitators
        assert booking.end - booking.start == dt.timedelta(minutes=r.minutes)
    per_day: dict[tuple[str, dt.date], int] = {}
    limits = {f.id: f.max_sessions_per_day for f in team}
    for booking in result.bookings:
        for fid in booking.facilitators:
            key = (fid, booking.start.astimezone(LONDON).date())
            per_day[key] = per_day.get(key, 0) + 1
            assert per_day[key] <= limits[fid]


def test_cp_sat_books_without_double_booking_and_inside_windows() -> None:
    requests = _requests(40, seed=1)
    rooms = [Room("A"), Room("B")]
    team = [Facilitator(f"F{i}", max_sessions_per_day=2) for i in range(5)]
    result = plan(requests, rooms, team, SITE, start=START, days=21, time_limit_s=10)
    _check_no_double_booking(result, requests, team)
    bound = capacity_bound(requests, rooms, team, SITE, start=START, days=21)
    assert result.booked <= bound
    assert result.booked >= first_fit(requests, rooms, team, SITE, start=START, days=21).booked
    assert result.booked + len(result.unbooked) == len(requests)


def test_first_fit_never_double_books_either() -> None:
    requests = _requests(60, seed=2, minutes=120)
    rooms = [Room("A")]
    team = [Facilitator(f"F{i}", max_sessions_per_day=3) for i in range(3)]
    result = first_fit(requests, rooms, team, SITE, start=START, days=21)
    _check_no_double_booking(result, requests, team)


def test_hours_are_local_on_both_sides_of_the_clock_change() -> None:
    # one long session a day, Friday 27 March (GMT) and Monday 30 March (BST)
    requests = [
        Request("fri", dt.date(2026, 3, 27), dt.date(2026, 3, 27), 600),
        Request("mon", dt.date(2026, 3, 30), dt.date(2026, 3, 30), 600),
    ]
    team = [Facilitator("F1"), Facilitator("F2")]
    result = plan(requests, [Room("A")], team, SITE, start=START, days=14, time_limit_s=5)
    starts = {b.request_id: b.start for b in result.bookings}
    assert starts["fri"].hour == 8 and starts["mon"].hour == 7  # 08:00 GMT, 08:00 BST


def test_a_facilitator_away_or_outside_their_hours_is_not_booked() -> None:
    requests = [Request("r", dt.date(2026, 3, 24), dt.date(2026, 3, 24), 120)]
    team = [
        Facilitator("away", away=frozenset({dt.date(2026, 3, 24)})),
        Facilitator("late", starts=dt.time(16, 0)),
        Facilitator("F1"),
        Facilitator("F2"),
    ]
    result = plan(requests, [Room("A")], team, SITE, start=START, days=7, time_limit_s=5)
    assert set(result.bookings[0].facilitators) == {"F1", "F2"}


def test_requests_that_cannot_fit_are_reported_not_dropped_silently() -> None:
    requests = [Request(f"r{k}", dt.date(2026, 3, 24), dt.date(2026, 3, 24), 480) for k in range(3)]
    team = [Facilitator(f"F{i}") for i in range(6)]
    result = plan(requests, [Room("A"), Room("B")], team, SITE, start=START, days=7, time_limit_s=5)
    assert result.booked == 2 and len(result.unbooked) == 1
    assert capacity_bound(requests, [Room("A"), Room("B")], team, SITE, start=START, days=7) == 2


def test_bad_requests_are_refused() -> None:
    with pytest.raises(InvalidInput):
        plan(
            [Request("r", dt.date(2026, 3, 25), dt.date(2026, 3, 24), 60)],
            [Room("A")],
            [Facilitator("F1"), Facilitator("F2")],
            SITE,
            start=START,
            days=7,
        )
    with pytest.raises(InvalidInput):
        first_fit(
            [Request("r", START, START, 60, facilitators=3)],
            [Room("A")],
            [Facilitator("F1")],
            SITE,
            start=START,
            days=7,
        )
