"""Dosing-session lengths from the pharmacology engine and sessions per room-week."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Sequence
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from openpat import knowledge
from openpat.errors import InvalidInput, RuleViolation
from openpat.pharmacology import library
from openpat.pharmacology.model import Dose, PKPDModel
from openpat.pharmacology.simulate import SimulationResult, simulate
from openpat.scheduling.planner import Plan, Request, Site
from openpat.sessions import duration as sessions
from openpat.sessions.duration import arm_session_minutes, dosing_minutes
from openpat.trial import throughput
from openpat.trial.protocol import ArmSpec, Protocol, parse_protocol
from openpat.trial.throughput import SubstanceThroughput, compare, demo_protocols

KB = knowledge.default()
SITE = Site(ZoneInfo("Europe/London"))  # 08:00-20:00, Monday to Friday, 15-minute steps
START = dt.date(2026, 6, 1)  # a Monday, no clock change that week
ORDER = ("dmt", "psilocybin", "mdma", "lsd")


def _direct(arm: ArmSpec) -> float:
    """The typical session straight from the pharmacology engine."""
    assert arm.substance and arm.route
    model = library.load(KB, arm.substance, arm.route)
    regimen = [Dose(d.amount_mg, d.time_min, arm.route, d.duration_min, d.salt) for d in arm.doses]
    lengths = simulate(model, regimen).typical.session_length_min
    assert lengths is not None
    return float(lengths[0])


def _protocol(arms: str) -> Protocol:
    return parse_protocol(
        f"""
protocol:
  id: test
  title: Test
  version: "1"
  arms: {arms}
  visits:
    - id: dosing
      label: Dosing
      type: dosing
      day: 1
      staffing: {{room: true, facilitators: 2, session: true, observation_min: 45}}
"""
    )


@pytest.fixture(scope="module")
def demos() -> dict[str, Protocol]:
    protocols = demo_protocols()
    found = {next(a.substance for a in p.arms if a.substance): p for p in protocols}
    assert tuple(found) == ORDER
    return found


def test_demo_protocols_have_one_active_arm_a_placebo_and_one_staffed_dosing_visit(
    demos: dict[str, Protocol],
) -> None:
    for p in demos.values():
        assert sorted(a.kind for a in p.arms) == ["active", "placebo"]
        (visit,) = p.dosing_visits()
        staffing = visit.staffing
        assert staffing is not None
        assert staffing.room and staffing.facilitators == 2 and staffing.session
        assert staffing.observation_min == 0  # the knowledge base cites no observation time


@pytest.mark.parametrize("substance", ORDER)
def test_session_minutes_are_the_longest_arm_plus_observation_rounded_up(
    demos: dict[str, Protocol], substance: str
) -> None:
    p = demos[substance]
    active = next(a for a in p.arms if a.kind == "active")
    direct = _direct(active)
    assert arm_session_minutes(active, KB) == pytest.approx(direct)
    visit = p.dosing_visits()[0]
    assert visit.staffing is not None
    expected = math.ceil((direct + visit.staffing.observation_min) / 15) * 15
    assert dosing_minutes(p, visit, KB) == expected
    assert dosing_minutes(p, "dosing", KB, step_min=5) == math.ceil(direct / 5) * 5
    # with observation: the same session plus 45 minutes, then rounded
    arm = active.model_dump_json()
    with_observation = _protocol(f'[{arm}, {{"id": "p", "label": "P", "kind": "placebo"}}]')
    assert dosing_minutes(with_observation, "dosing", KB) == math.ceil((direct + 45) / 15) * 15


def test_placebo_arms_contribute_nothing_and_the_longest_arm_sets_the_length(
    demos: dict[str, Protocol],
) -> None:
    placebo = next(a for a in demos["dmt"].arms if a.kind == "placebo")
    assert arm_session_minutes(placebo, KB) is None
    psilocybin = next(a for a in demos["psilocybin"].arms if a.kind == "active")
    lsd = next(a for a in demos["lsd"].arms if a.kind == "active")
    both = _protocol(
        f"[{psilocybin.model_dump_json()}, "
        f"{lsd.model_copy(update={'id': 'lsd', 'kind': 'active-control'}).model_dump_json()}]"
    )
    longest = max(_direct(psilocybin), _direct(lsd))
    assert dosing_minutes(both, "dosing", KB) == math.ceil((longest + 45) / 15) * 15
    assert _direct(lsd) > _direct(psilocybin)  # the blinded calendar holds every arm's room
    fixed = parse_protocol(
        demos["dmt"]
        .model_dump_json()
        .replace('"session":true', '"session":false')
        .replace('"minutes":null', '"minutes":50')
    )
    assert dosing_minutes(fixed, "dosing", KB) == 50  # minutes: staffing is taken as given


def test_every_arm_ref_resolves_and_every_dose_is_a_cited_knowledge_base_dose(
    demos: dict[str, Protocol],
) -> None:
    for p in demos.values():
        for arm in p.arms:
            for ref in arm.refs:
                assert KB.reference(ref).id == ref
            if arm.kind != "active":
                continue
            assert arm.refs, f"{p.id}: the active arm cites no source for its doses"
            assert arm.substance and arm.route
            route = next(
                r for r in KB.substances[arm.substance].routes if str(r.route.value) == arm.route
            )
            for dose in arm.doses:
                per_mg = {"mg": 1.0, "µg": 1000.0}
                matches = [
                    entry
                    for entry in route.doses
                    if entry.amount.unit in per_mg
                    and entry.salt_form == dose.salt
                    and entry.amount.low
                    <= dose.amount_mg * per_mg[entry.amount.unit]
                    <= entry.amount.high
                    and set(entry.refs) & set(arm.refs)
                ]
                assert matches, f"{p.id}: {dose} is not a dose the knowledge base cites"


@pytest.fixture(scope="module")
def unlimited(demos: dict[str, Protocol]) -> list[SubstanceThroughput]:
    """2 rooms, 4 facilitators (two sessions at once), up to 24 sessions each a day: the
    facilitators are not the bottleneck."""
    return compare(
        list(demos.values()),
        rooms=2,
        facilitators=4,
        max_sessions_per_day=24,
        site=SITE,
        start=START,
        kb=KB,
        time_limit_s=1.0,
    )


def test_throughput_follows_session_length_when_facilitators_are_not_the_bottleneck(
    unlimited: list[SubstanceThroughput],
) -> None:
    by = {r.substance: r for r in unlimited}
    assert tuple(by) == ORDER
    for r in unlimited:
        assert r.limited_by == "rooms and opening hours"
        assert 0 < r.booked <= r.bound
        assert r.requests == r.bound + 1  # saturated
        # a room holds no more sessions a day than its opening hours fit end to end
        assert r.bound_per_room_week <= 5 * (12 * 60 // r.dosing_min)
    # shorter sessions, at least as many per room-week
    ranked = sorted(unlimited, key=lambda r: r.dosing_min)
    rates = [r.per_room_week for r in ranked]
    assert rates == sorted(rates, reverse=True), [(r.substance, r.dosing_min) for r in ranked]
    # IV DMT first and oral LSD last; the KB's MDMA session (120 mg + 60 mg) is shorter than
    # psilocybin's, so MDMA comes second
    assert by["dmt"].per_room_week >= by["mdma"].per_room_week >= by["psilocybin"].per_room_week
    assert by["psilocybin"].per_room_week >= by["lsd"].per_room_week
    assert by["dmt"].per_room_week > by["lsd"].per_room_week
    assert by["dmt"].dosing_min == 30


def test_one_session_per_facilitator_a_day_caps_short_sessions(
    demos: dict[str, Protocol], unlimited: list[SubstanceThroughput]
) -> None:
    capped = compare(
        [demos["dmt"], demos["lsd"]],
        rooms=2,
        facilitators=4,
        site=SITE,
        start=START,
        kb=KB,
        time_limit_s=0.5,
    )
    dmt, lsd = capped
    assert dmt.max_sessions_per_day == 1
    # 4 facilitators x 1 session / 2 per session = 2 sessions a day = 5 per room-week
    assert dmt.bound == lsd.bound == 10
    assert dmt.booked <= dmt.bound and lsd.booked <= lsd.bound
    assert dmt.limited_by == "facilitators' daily maxima"
    assert dmt.per_room_week < unlimited[0].per_room_week


def test_an_unknown_substance_is_named_by_its_field() -> None:
    bad = _protocol(
        '[{"id": "x", "label": "X", "kind": "active", "substance": "unobtainium", '
        '"route": "oral", "doses": [{"amount_mg": 10}]}, '
        '{"id": "p", "label": "P", "kind": "placebo"}]'
    )
    with pytest.raises(InvalidInput) as caught:
        dosing_minutes(bad, "dosing", KB)
    assert caught.value.fields[0].field == "arms.0.substance"
    assert "unobtainium" in caught.value.message
    with pytest.raises(InvalidInput) as caught:
        compare([bad], rooms=1, facilitators=2, site=SITE, start=START, kb=KB)
    assert caught.value.fields[0].field == "arms.0.substance"


@pytest.mark.parametrize(
    ("substance", "route", "dose", "field"),
    [
        # concentrations only: no effect model, so no session length
        ("ketamine", "intravenous", {"amount_mg": 35}, "arms.1.substance"),
        ("lsd", "intravenous", {"amount_mg": 0.1}, "arms.1.route"),
        ("lsd", "oral", {"amount_mg": 0.1, "salt": "fumarate"}, "arms.1.doses.0.salt"),
        ("lsd", "oral", {"amount_mg": 0.1, "duration_min": 5}, "arms.1.doses.0.duration"),
    ],
)
def test_arms_without_a_usable_model_are_named_by_their_field(
    substance: str, route: str, dose: dict[str, object], field: str
) -> None:
    active = {"id": "x", "label": "X", "kind": "active", "substance": substance, "route": route}
    arms = [{"id": "p", "label": "P", "kind": "placebo"}, active | {"doses": [dose]}]
    with pytest.raises(InvalidInput) as caught:
        dosing_minutes(_protocol(json.dumps(arms)), "dosing", KB)
    assert caught.value.fields[0].field == field


def test_a_session_still_running_at_the_end_of_the_horizon_is_an_error(
    demos: dict[str, Protocol], monkeypatch: pytest.MonkeyPatch
) -> None:
    def short_grid(model: PKPDModel, regimen: Sequence[Dose]) -> SimulationResult:
        return simulate(model, regimen, np.linspace(0.0, 60.0, 61))

    monkeypatch.setattr(sessions, "_CACHE", {})
    monkeypatch.setattr(sessions, "simulate", short_grid)
    with pytest.raises(InvalidInput) as caught:
        dosing_minutes(demos["lsd"], "dosing", KB)
    assert caught.value.fields[0].field == "arms.0.doses"
    assert "end of the simulated 60 minutes" in caught.value.message


def test_session_minutes_are_cached(
    demos: dict[str, Protocol], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def counting(model: PKPDModel, regimen: Sequence[Dose]) -> SimulationResult:
        calls.append(model.id)
        return simulate(model, regimen)

    monkeypatch.setattr(sessions, "_CACHE", {})
    monkeypatch.setattr(sessions, "simulate", counting)
    first = dosing_minutes(demos["mdma"], "dosing", KB)
    assert dosing_minutes(demos["mdma"], "dosing", KB) == first
    assert calls == ["openpat-mdma-oral"]


def test_the_first_fit_plan_is_kept_when_cp_sat_finds_nothing_in_time(
    demos: dict[str, Protocol], monkeypatch: pytest.MonkeyPatch
) -> None:
    def nothing(requests: Sequence[Request], *args: object, **kwargs: object) -> Plan:
        return Plan((), tuple(r.id for r in requests), "UNKNOWN", 0.0)

    monkeypatch.setattr(throughput, "plan", nothing)
    (r,) = compare([demos["psilocybin"]], rooms=1, facilitators=2, site=SITE, start=START, kb=KB)
    assert r.status == "UNKNOWN" and r.plan_source == "first-fit"
    assert r.booked == r.first_fit == r.bound == 5


def test_an_arm_dose_above_the_cited_ceiling_is_refused_naming_the_dose() -> None:
    active = {"id": "x", "label": "X", "kind": "active", "substance": "mdma", "route": "oral"}
    arms = [{"id": "p", "label": "P", "kind": "placebo"}, active | {"doses": [{"amount_mg": 5000}]}]
    with pytest.raises(RuleViolation) as caught:
        dosing_minutes(_protocol(json.dumps(arms)), "dosing", KB)
    assert caught.value.fields[0].field == "arms.1.doses.0.amount_mg"
    assert "above the most openpat will simulate" in caught.value.message
