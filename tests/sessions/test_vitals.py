"""Vital signs: codes, the plausibility gate and the two-tier check over a batch."""

from __future__ import annotations

import numpy as np
import pytest

from openpat.sessions.vitals import (
    BY_LOINC,
    BY_MDC,
    VITALS,
    Band,
    Level,
    check,
    implausible,
    implausible_pair,
)


def test_codes_follow_the_fhir_vital_signs_value_set() -> None:
    assert {k: (v.loinc, v.ucum) for k, v in VITALS.items()} == {
        "sbp": ("8480-6", "mm[Hg]"),
        "dbp": ("8462-4", "mm[Hg]"),
        "map": ("8478-0", "mm[Hg]"),
        "hr": ("8867-4", "/min"),
        "rr": ("9279-1", "/min"),
        "spo2": ("59408-5", "%"),
        "temp": ("8310-5", "Cel"),
    }
    assert BY_LOINC["2708-6"].key == "spo2"
    assert {c: v.key for c, v in BY_MDC.items()} == {
        "150021": "sbp",
        "150022": "dbp",
        "150456": "spo2",
    }


@pytest.mark.parametrize(
    ("vital", "value", "says"),
    [
        ("spo2", 101, "outside what a reading can be (0-100 %)"),
        ("temp", 98.6, "check the value and its unit"),  # °F sent as °C
        ("hr", -1, "outside"),
        ("rr", float("nan"), "is not a number"),
        ("bp", 120, "there is no vital sign 'bp'"),
    ],
)
def test_impossible_values_are_refused_with_a_reason(vital: str, value: float, says: str) -> None:
    reason = implausible(vital, value)
    assert reason is not None and says in reason


def test_extreme_but_real_readings_pass_the_gate() -> None:
    for vital, value in (("sbp", 240), ("hr", 220), ("temp", 41.5), ("spo2", 62), ("hr", 0)):
        assert implausible(vital, value) is None
    assert implausible_pair(120, 80) is None
    assert "not below systolic" in (implausible_pair(80, 80) or "")


def test_two_tiers_over_a_batch_critical_wins() -> None:
    bands = {
        "sbp": Band("sbp", warning_high=160, critical_high=180, source="site-defined"),
        "spo2": Band("spo2", warning_low=94, critical_low=90, source="site-defined"),
    }
    vitals = ["sbp", "sbp", "sbp", "sbp", "spo2", "spo2", "spo2", "hr"]
    values = [150, 160, 161, 181, 95, 93, 89, 190]
    got = check(vitals, values, bands)
    assert got.level.tolist() == [0, 0, 1, 2, 0, 1, 2, 0]
    np.testing.assert_array_equal(got.bound, [np.nan, np.nan, 160, 180, np.nan, 94, 90, np.nan])
    assert Level(int(got.level[3])) is Level.CRITICAL


def test_bands_that_make_no_sense_are_refused() -> None:
    with pytest.raises(ValueError, match="low bound must be below"):
        Band("hr", warning_low=120, warning_high=100)
    with pytest.raises(ValueError, match="critical high bound must not be below"):
        Band("hr", warning_high=120, critical_high=110)
    with pytest.raises(ValueError, match="cites its source"):
        Band("hr", warning_high=120, source=" ")


def test_a_large_batch_is_checked_at_numpy_speed() -> None:
    rng = np.random.default_rng(7)
    n = 200_000
    vitals = rng.choice(np.array(list(VITALS), dtype=object), size=n)
    values = rng.normal(100, 30, size=n)
    got = check(vitals, values, {"hr": Band("hr", warning_high=120, critical_high=150)})
    is_hr = vitals == "hr"
    assert (got.level[~is_hr] == 0).all()
    assert (got.level[is_hr & (values > 150)] == 2).all()
    assert (got.level[is_hr & (values > 120) & (values <= 150)] == 1).all()
