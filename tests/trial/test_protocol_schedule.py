"""Protocols as data and the visit schedules built from them."""

from __future__ import annotations

import datetime as dt

import pytest

from openpat.errors import InvalidInput
from openpat.trial.protocol import parse_protocol
from openpat.trial.schedule import (
    local_instant,
    plan_visits,
    reschedule,
    site_zone,
    visit_status,
)

PROTOCOL = """
protocol:
  id: test-psilocybin
  title: Test protocol
  version: "1.0"
  arms:
    - id: psilocybin
      label: Psilocybin
      kind: active
      substance: psilocybin
      route: oral
      doses: [{amount_mg: 25}]
    - {id: placebo, label: Placebo, kind: placebo}
  randomisation: {method: blocks, strata: [site]}
  visits:
    - {id: baseline, label: Baseline, type: baseline, day: -1, instruments: [MADRS]}
    - id: prep
      label: Preparation
      type: preparation
      day: -7
      window_before: 7
      staffing: {facilitators: 2, minutes: 120}
    - id: dose1
      label: Dosing
      type: dosing
      day: 1
      window_after: 3
      staffing: {room: true, facilitators: 2, session: true, observation_min: 60}
    - id: integ
      label: Integration
      type: integration
      day: 1
      anchor: dosing
      window_after: 2
      staffing: {facilitators: 1, minutes: 60}
    - id: week3
      label: Week 3
      type: follow-up
      day: 21
      anchor: dosing
      window_before: 3
      window_after: 3
      instruments: [MADRS, PHQ-9]
"""


def test_a_protocol_reads_from_yaml() -> None:
    p = parse_protocol(PROTOCOL)
    assert [a.id for a in p.arms] == ["psilocybin", "placebo"]
    assert p.arm("psilocybin").doses[0].amount_mg == 25
    assert [v.id for v in p.dosing_visits()] == ["dose1"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (("kind: placebo}", "kind: placebo, ratio: 0}"), "arms.1.ratio"),
        (("id: test-psilocybin", "id: Test Psilocybin"), "id"),
        (
            (
                "anchor: dosing\n      window_before: 3",
                "anchor: dosing\n      dosing_visit: week3\n      window_before: 3",
            ),
            "visits.4.dosing_visit",
        ),
        (("minutes: 120}", "minutes: 120, session: true}"), "visits.1.staffing"),
        (
            (
                "      substance: psilocybin\n      route: oral\n      doses: [{amount_mg: 25}]\n",
                "",
            ),
            "arms.0",
        ),
    ],
)
def test_a_bad_protocol_names_the_place(change: tuple[str, str], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_protocol(PROTOCOL.replace(*change))
    assert caught.value.fields[0].field.startswith(field), caught.value.fields


def test_not_yaml_is_refused() -> None:
    with pytest.raises(InvalidInput):
        parse_protocol("protocol: [unclosed")


def test_visits_follow_randomisation_and_the_actual_dosing_day() -> None:
    p = parse_protocol(PROTOCOL)
    planned = {v.visit_id: v for v in plan_visits(p, randomised_on=dt.date(2026, 3, 2))}
    assert planned["dose1"].target == dt.date(2026, 3, 3)
    assert planned["dose1"].latest == dt.date(2026, 3, 6)
    assert planned["week3"].target == dt.date(2026, 3, 24)
    assert (planned["week3"].earliest, planned["week3"].latest) == (
        dt.date(2026, 3, 21),
        dt.date(2026, 3, 27),
    )
    # dosing took place two days late: the visits anchored on it move with it
    moved = {
        v.visit_id: v
        for v in plan_visits(
            p, randomised_on=dt.date(2026, 3, 2), done={"dose1": dt.date(2026, 3, 5)}
        )
    }
    assert moved["integ"].target == dt.date(2026, 3, 6)
    assert moved["week3"].target == dt.date(2026, 3, 26)
    assert moved["baseline"].target == dt.date(2026, 3, 1)


def test_visit_status_flags_overdue_and_out_of_window() -> None:
    p = parse_protocol(PROTOCOL)
    week3 = next(
        v for v in plan_visits(p, randomised_on=dt.date(2026, 3, 2)) if v.visit_id == "week3"
    )
    assert visit_status(week3, today=dt.date(2026, 3, 10), done_on=None) == "upcoming"
    assert visit_status(week3, today=dt.date(2026, 3, 21), done_on=None) == "due"
    assert visit_status(week3, today=dt.date(2026, 3, 28), done_on=None) == "overdue"
    assert visit_status(week3, today=dt.date(2026, 4, 1), done_on=dt.date(2026, 3, 27)) == "done"
    assert (
        visit_status(week3, today=dt.date(2026, 4, 1), done_on=dt.date(2026, 3, 30))
        == "done-out-of-window"
    )


def test_rescheduling_stays_in_the_window() -> None:
    p = parse_protocol(PROTOCOL)
    week3 = next(
        v for v in plan_visits(p, randomised_on=dt.date(2026, 3, 2)) if v.visit_id == "week3"
    )
    assert reschedule(week3, dt.date(2026, 3, 26)).target == dt.date(2026, 3, 26)
    with pytest.raises(InvalidInput) as caught:
        reschedule(week3, dt.date(2026, 3, 28))
    assert caught.value.fields[0].field == "date"


def test_day_offsets_count_local_calendar_days_across_a_clock_change() -> None:
    # Europe/London goes forward on 29 March 2026: day 7 is still a calendar week later
    p = parse_protocol(PROTOCOL)
    planned = {v.visit_id: v for v in plan_visits(p, randomised_on=dt.date(2026, 3, 27))}
    assert planned["integ"].target == dt.date(2026, 3, 29)
    london = site_zone("Europe/London")
    before = local_instant(dt.date(2026, 3, 28), dt.time(9, 0), london)
    after = local_instant(dt.date(2026, 3, 30), dt.time(9, 0), london)
    assert before.hour == 9 and after.hour == 8  # 09:00 GMT, then 09:00 BST = 08:00 UTC
    assert after - before == dt.timedelta(days=2, hours=-1)


def test_a_time_the_clocks_skip_is_refused_and_bad_zones_named() -> None:
    london = site_zone("Europe/London")
    with pytest.raises(InvalidInput) as caught:
        local_instant(dt.date(2026, 3, 29), dt.time(1, 30), london)
    assert "clocks go forward" in caught.value.fields[0].message
    # the repeated autumn hour is taken at its first occurrence (BST)
    first = local_instant(dt.date(2026, 10, 25), dt.time(1, 30), london)
    assert first == dt.datetime(2026, 10, 25, 0, 30, tzinfo=dt.UTC)
    with pytest.raises(InvalidInput):
        site_zone("Mars/Olympus")
