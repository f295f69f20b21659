"""Closed form against the ODE path, superposition, salts, session length, infusion design
and clear errors for bad input."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from openpat import knowledge
from openpat.errors import InvalidInput
from openpat.pharmacology import analytic, library, ode, tci
from openpat.pharmacology.model import (
    Absorption,
    Dose,
    EffectModel,
    PKPDModel,
    sample_subjects,
)
from openpat.pharmacology.simulate import session_lengths, simulate
from openpat.pharmacology.units import (
    parse_amount,
    parse_duration,
    parse_rate,
    parse_time_point,
)

EFFECT = EffectModel("intensity", "0-10", (0, 10), 1.38, 0.0178, 2.87, 10.0)


def _model(compartments: int, **extra: object) -> PKPDModel:
    peripheral: dict[str, float] = {}
    if compartments >= 2:
        peripheral |= {"q2_l_per_min": 2.99, "v2_l": 59.0}
    if compartments == 3:
        peripheral |= {"q3_l_per_min": 0.8, "v3_l": 300.0}
    return PKPDModel(
        id=f"test-{compartments}",
        substance="test",
        analyte="test",
        cl_l_per_min=26.0,
        v1_l=221.0,
        absorption={"oral": Absorption(0.03, 0.5, 4.0)},
        salts={"base": 1.0, "fumarate": 0.6186},
        default_salt="fumarate",
        effect=EFFECT,
        omega_names=("CL", "V1", "EC50"),
        omega=((0.22, 0.02, 0.0), (0.02, 0.1, 0.0), (0.0, 0.0, 0.15)),
        **peripheral,  # type: ignore[arg-type]
        **extra,  # type: ignore[arg-type]
    )


REGIMEN = [
    Dose(20.0, 0.0),
    Dose(30.0, 2.0, duration_min=30.0),
    Dose(40.0, 10.0, route="oral"),
    Dose(5.0, 45.0),
]


@pytest.mark.parametrize("compartments", [1, 2, 3])
def test_closed_form_and_ode_agree_to_1e8_relative(compartments: int) -> None:
    model = _model(compartments)
    subjects = sample_subjects(model, 25, np.random.default_rng(7))
    times = np.linspace(0.0, 180.0, 361)
    closed = analytic.Prepared(model, subjects, REGIMEN).evaluate(times)
    solved = ode.solve(model, subjects, REGIMEN, times, rtol=1e-13, atol=1e-20)
    for output in ("cp", "ce"):
        ref = solved[output]
        mask = np.abs(ref) > 1e-9 * np.abs(ref).max()
        rel = np.abs(closed[output][mask] - ref[mask]) / np.abs(ref[mask])
        assert rel.max() < 1e-8, (output, rel.max())


def test_a_bolus_decays_from_dose_over_v1_in_one_compartment() -> None:
    model = PKPDModel(id="one", substance="x", analyte="x", cl_l_per_min=2.0, v1_l=100.0)
    times = np.array([0.0, 10.0, 50.0])
    cp = analytic.Prepared(model, sample_subjects(model, 1), [Dose(50.0)]).evaluate(times)["cp"]
    expected = 0.5 * np.exp(-0.02 * times)
    np.testing.assert_allclose(cp[0], expected, rtol=1e-12)


def test_two_doses_superpose_exactly() -> None:
    model = _model(2)
    subjects = sample_subjects(model, 5, np.random.default_rng(1))
    times = np.linspace(0, 120, 241)
    both = analytic.Prepared(model, subjects, [Dose(10.0, 0.0), Dose(8.0, 20.0, duration_min=15)])
    first = analytic.Prepared(model, subjects, [Dose(10.0, 0.0)])
    second = analytic.Prepared(model, subjects, [Dose(8.0, 20.0, duration_min=15)])
    total = both.evaluate(times)["cp"]
    np.testing.assert_allclose(
        total, first.evaluate(times)["cp"] + second.evaluate(times)["cp"], rtol=1e-10, atol=1e-15
    )


def test_a_fumarate_dose_is_converted_to_base_with_its_factor() -> None:
    model = _model(2)
    subjects = sample_subjects(model, 1)
    times = np.linspace(0, 30, 31)
    salt = analytic.Prepared(model, subjects, [Dose(20.0, salt="fumarate")]).evaluate(times)["cp"]
    base = analytic.Prepared(model, subjects, [Dose(20.0 * 0.6186, salt="base")]).evaluate(times)
    np.testing.assert_allclose(salt, base["cp"], rtol=1e-12)


def test_weight_covariate_scales_a_per_kg_model() -> None:
    kb = knowledge.default()
    model = library.load(kb, "ketamine", "iv")
    light = sample_subjects(model, 1, weight_kg=50.0)
    heavy = sample_subjects(model, 1, weight_kg=100.0)
    assert heavy["V1"][0] == pytest.approx(2 * light["V1"][0])
    assert heavy["CL"][0] == pytest.approx(2 * light["CL"][0])


def test_between_subject_variability_matches_omega() -> None:
    model = _model(2)
    subjects = sample_subjects(model, 40_000, np.random.default_rng(3))
    log_cl = np.log(subjects["CL"] / model.cl_l_per_min)
    log_v1 = np.log(subjects["V1"] / model.v1_l)
    assert np.var(log_cl) == pytest.approx(0.22, rel=0.03)
    assert np.cov(log_cl, log_v1)[0, 1] == pytest.approx(0.02, abs=0.004)


def test_session_length_is_interpolated_at_the_last_crossing() -> None:
    times = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    effect = np.array([[0.0, 5.0, 3.0, 1.0, 0.0], [0.0, 0.5, 0.5, 0.0, 0.0], [0, 2, 2, 2, 2.0]])
    lengths = session_lengths(times, effect, 2.0)
    assert lengths[0] == pytest.approx(2.5)  # 3 -> 1 crosses 2 halfway between 2 and 3 min
    assert lengths[1] == 0.0  # never reached
    assert np.isnan(lengths[2])  # still at the threshold when the grid ends


def test_dmt_population_session_length_percentiles_bracket_the_typical_subject() -> None:
    model = library.load(knowledge.default(), "dmt", "iv")
    result = simulate(model, [Dose(20.0)], np.linspace(0, 240, 961), 400, np.random.default_rng(11))
    typical = result.typical.session_length_min
    assert typical is not None and 8 < typical[0] < 30
    p5, p50, p95 = result.population.summary()["session_length_min"]
    assert p5 < p50 < p95
    assert result.population.cmax_ng_per_ml.shape == (400,)


def test_infusion_design_holds_the_target_intensity_for_the_typical_subject() -> None:
    model = library.load(knowledge.default(), "dmt", "iv")
    limits = tci.InfusionLimits(max_rate_mg_per_min=5.0, max_total_mg=200.0)
    design = tci.design_infusion(
        model,
        duration_min=30,
        limits=limits,
        target_effect=8.0,
        band=(7.0, 9.0),
        n_subjects=300,
        rng=np.random.default_rng(5),
    )
    assert design.typical_share_in_band is not None and design.typical_share_in_band > 0.9
    assert design.population_share_in_band is not None
    assert 0 < design.population_share_in_band < design.typical_share_in_band
    result = simulate(model, list(design.regimen), np.linspace(3, 30, 109), 0)
    assert result.typical_effect is not None
    assert np.all(result.typical_effect <= 8.0 * 1.005)
    assert np.all(result.typical_effect[-40:] >= 7.5)
    # maintenance is a smooth, slowly falling rate (no on/off pump cycling)
    maintenance = [s.rate_mg_per_min for s in design.steps if s.start_min >= 3]
    assert len(maintenance) >= 20
    assert all(b <= a * (1 + 1e-9) for a, b in itertools.pairwise(maintenance))
    assert min(maintenance) > 0.8 * max(maintenance)


def test_infusion_design_respects_rate_and_total_limits() -> None:
    model = library.load(knowledge.default(), "dmt", "iv")
    limits = tci.InfusionLimits(max_rate_mg_per_min=0.5, max_total_mg=20.0, max_bolus_mg=8.0)
    design = tci.design_infusion(model, duration_min=30, limits=limits, target_effect=8.0)
    assert design.bolus_mg <= 8.0 + 1e-9
    assert max(s.rate_mg_per_min for s in design.steps) <= 0.5 + 1e-9
    assert design.total_mg <= 20.0 + 1e-9
    assert {"max bolus", "max rate", "total dose"} <= set(design.limited_by)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: parse_amount("-20mg"), "dose"),
        (lambda: parse_amount("0mg"), "dose"),
        (lambda: parse_amount("20 furlongs"), "dose"),
        (lambda: parse_rate("1.2mg"), "rate"),
        (lambda: parse_duration("0min"), "duration"),
        (lambda: parse_time_point("-5min"), "at"),
        (lambda: PKPDModel(id="x", substance="x", analyte="x", cl_l_per_min=26, v1_l=0.0), "V1"),
        (lambda: PKPDModel(id="x", substance="x", analyte="x", cl_l_per_min=-1, v1_l=5), "CL"),
        (lambda: PKPDModel(id="x", substance="x", analyte="x", cl_l_per_min=26000, v1_l=5), "CL"),
        (lambda: analytic.check_times([0.0, 5.0, 4.0]), "times[2]"),
        (lambda: _model(2).base_fraction("sulfate"), "salt"),
        (
            lambda: analytic.Prepared(
                _model(2), sample_subjects(_model(2), 1), [Dose(10.0, route="rectal")]
            ),
            "regimen[0].route",
        ),
        (
            lambda: analytic.Prepared(
                _model(2), sample_subjects(_model(2), 1), [Dose(10.0, route="oral", duration_min=5)]
            ),
            "regimen[0].duration",
        ),
        (
            lambda: analytic.Prepared(_model(2), sample_subjects(_model(2), 1), [Dose(-1.0)]),
            "regimen[0].amount",
        ),
    ],
)
def test_bad_input_is_refused_naming_the_field(call: object, field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        call()  # type: ignore[operator]
    assert err.value.fields[0].field == field


def test_censored_session_lengths_count_as_longest_not_dropped() -> None:
    from openpat.pharmacology.simulate import Metrics

    lengths = np.array([10.0, 20.0, 30.0, np.nan, np.nan])
    ones = np.ones(5)
    summary = Metrics(ones, ones, ones, lengths).summary((0.0, 50.0, 100.0))
    low, median, high = summary["session_length_min"]
    assert low == 10.0
    assert median == 30.0  # dropping the censored would give 20
    assert np.isnan(high)  # the longest is beyond the grid: unknown
    # without censoring it is NumPy's linear percentile
    finite = np.random.default_rng(3).gamma(2.0, 10.0, 999)
    plain = Metrics(finite, finite, finite, finite).summary((5.0, 50.0, 95.0))
    assert plain["session_length_min"] == pytest.approx(np.percentile(finite, (5, 50, 95)))


def test_a_dose_time_may_be_zero_and_is_read_in_minutes() -> None:
    assert parse_time_point("0s") == 0.0
    assert parse_time_point("90min") == 90.0
    assert parse_time_point("1.5h") == 90.0
