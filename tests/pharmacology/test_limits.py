"""When to distrust a simulation: doses outside the studied range are flagged with the range
and its references, doses above a cited ceiling are refused, a model without variability says
so, and an infusion design that holds few people in the band says which limit binds."""

from __future__ import annotations

import numpy as np
import pytest

from openpat import knowledge
from openpat.errors import InvalidInput, RuleViolation
from openpat.pharmacology import library, limits, tci
from openpat.pharmacology.model import Dose, DoseCeiling, EffectModel, PKPDModel
from openpat.pharmacology.simulate import NO_VARIABILITY, simulate


@pytest.fixture(scope="module")
def kb() -> knowledge.KnowledgeBase:
    return knowledge.default()


def test_a_dose_above_the_studied_range_is_flagged_with_the_range_and_its_sources(
    kb: knowledge.KnowledgeBase,
) -> None:
    model = library.load(kb, "dmt", "iv")
    result = simulate(model, [Dose(25.0, salt="fumarate")], np.linspace(0, 60, 121))
    assert result.warnings == [
        "25 mg (fumarate) is above the highest dose studied for this model (7–20 mg "
        "(fumarate), single IV boluses; refs eckernas-2022); the prediction is an extrapolation"
    ]
    mdma = library.load(kb, "mdma", "oral")
    (warning,) = simulate(mdma, [Dose(140.0, route="oral")], np.linspace(0, 600, 61)).warnings
    assert warning.startswith("140 mg (hydrochloride) is above the highest dose studied")
    assert "75–125 mg" in warning and "mas-1999" in warning


def test_a_dose_inside_the_studied_range_carries_no_warning(kb: knowledge.KnowledgeBase) -> None:
    for substance, dose in [
        ("dmt", Dose(20.0, salt="fumarate")),
        ("psilocybin", Dose(25.0, route="oral")),
    ]:
        model = library.load(kb, substance)
        assert simulate(model, [dose], np.linspace(0, 600, 61)).warnings == []


def test_a_dose_in_another_salt_is_compared_through_the_salt_factor(
    kb: knowledge.KnowledgeBase,
) -> None:
    model = library.load(kb, "dmt", "iv")
    # 20 mg of DMT base is 32.3 mg of the fumarate the model was built from
    (warning,) = limits.studied_range_warnings(model, [Dose(20.0, salt="base")])
    assert warning.startswith("20 mg (base; 32.3 mg as fumarate) is above")


def test_a_regimen_whose_total_leaves_the_studied_range_is_flagged(
    kb: knowledge.KnowledgeBase,
) -> None:
    dmt = library.load(kb, "dmt", "iv")
    bolus_and_infusion = [Dose(16.0), Dose(42.0, duration_min=30.0)]
    (warning,) = limits.studied_range_warnings(dmt, bolus_and_infusion)
    assert warning.startswith("The regimen's total, 58 mg (fumarate), is above the highest")
    # a small infusion is inside the doses but not the way they were given
    (warning,) = limits.studied_range_warnings(dmt, [Dose(10.0, duration_min=30.0)])
    assert "built from single IV boluses only" in warning
    lsd = library.load(kb, "lsd", "oral")
    (warning,) = limits.studied_range_warnings(lsd, [Dose(0.01)])
    assert warning.startswith("The regimen's total, 10 µg (base), is below the lowest dose")


def test_a_model_without_a_recorded_studied_range_says_so() -> None:
    model = PKPDModel(id="bare", substance="bare", analyte="bare", cl_l_per_min=1.0, v1_l=50.0)
    result = simulate(model, [Dose(10.0)], np.linspace(0, 60, 31))
    assert result.warnings == [limits.NOT_RECORDED]
    assert "the studied dose range of this model is not recorded" in limits.NOT_RECORDED.lower()


def test_mdma_5000_mg_is_refused_naming_the_dose_and_the_cited_ceiling(
    kb: knowledge.KnowledgeBase,
) -> None:
    model = library.load(kb, "mdma", "oral")
    with pytest.raises(RuleViolation) as err:
        simulate(model, [Dose(5000.0, route="oral")], np.linspace(0, 600, 61))
    problem = err.value.fields[0]
    assert problem.field == "regimen[0].amount"
    assert problem.message.startswith(
        "5,000 mg (hydrochloride) is above the most openpat will simulate: 150 mg "
        "(hydrochloride) in one dose given at once"
    )
    assert "de-la-torre-2000" in problem.message


def test_a_session_total_above_the_ceiling_is_refused(kb: knowledge.KnowledgeBase) -> None:
    dmt = library.load(kb, "dmt", "iv")
    with pytest.raises(RuleViolation) as err:
        simulate(dmt, [Dose(450.0, duration_min=90.0)], np.linspace(0, 120, 61))
    assert err.value.fields[0].field == "regimen"
    assert "288 mg (fumarate) in one session" in err.value.message
    assert "ley-2025-dmt-infusion" in err.value.message
    mdma = library.load(kb, "mdma", "oral")
    split = [Dose(120.0), Dose(60.0, 120.0)]  # the MAPP regimen is the highest total given
    assert limits.ceiling_breach(mdma, split) is None
    assert limits.ceiling_breach(mdma, [Dose(120.0), Dose(120.0, 120.0)]) is not None


def test_a_per_kg_ceiling_applies_at_the_subjects_weight(kb: knowledge.KnowledgeBase) -> None:
    model = library.load(kb, "psilocybin", "oral")
    # Brown 2017 gave up to 0.6 mg/kg: 42 mg at 70 kg, 48 mg at 80 kg
    assert limits.ceiling_breach(model, [Dose(45.0)]) is not None
    assert limits.ceiling_breach(model, [Dose(45.0)], weight_kg=80.0) is None


def test_every_simulatable_model_records_its_studied_doses_and_cited_ceilings(
    kb: knowledge.KnowledgeBase,
) -> None:
    for entry in library.entries(kb):
        model = library.build(entry)
        studied = model.studied_doses
        assert studied is not None and studied.high is not None and studied.refs, model.id
        assert model.dose_ceilings, model.id
        high = limits.bound_mg(model, studied.high, studied.unit, studied.salt, None)
        highest = max(
            limits.bound_mg(model, c.amount, c.unit, c.salt, None) for c in model.dose_ceilings
        )
        # the studied doses themselves are never refused
        assert highest >= high * (1 - 1e-9), model.id
        assert all(c.refs and c.basis for c in model.dose_ceilings), model.id


def test_percentiles_of_a_model_without_variability_say_so(kb: knowledge.KnowledgeBase) -> None:
    psilocybin = library.load(kb, "psilocybin", "oral")
    rng = np.random.default_rng(1)
    result = simulate(psilocybin, [Dose(25.0, route="oral")], np.linspace(0, 720, 145), 50, rng)
    assert result.variability is False
    assert result.variability_note == NO_VARIABILITY
    assert "no between-subject variability, so no range" in NO_VARIABILITY
    dmt = library.load(kb, "dmt", "iv")
    result = simulate(dmt, [Dose(20.0)], np.linspace(0, 60, 121), 50, rng)
    assert result.variability is True and result.variability_note is None


def test_a_design_with_a_low_share_in_band_says_so_and_names_what_binds(
    kb: knowledge.KnowledgeBase,
) -> None:
    model = library.load(kb, "dmt", "iv")
    demo = tci.design_infusion(
        model,
        duration_min=30,
        limits=tci.InfusionLimits(2.4, 115.0, 25.0),
        target_effect=8.0,
        band=(7.0, 9.0),
        n_subjects=300,
        rng=np.random.default_rng(2026),
    )
    assert demo.limited_by == ()
    assert demo.population_share_in_band is not None
    assert demo.population_share_in_band < tci.LOW_SHARE_IN_BAND
    low = demo.warnings[-1]
    assert low.startswith(f"Only {100 * demo.population_share_in_band:.0f} % of the virtual")
    assert "no pump or dose limit binds" in low and "Hill coefficient 77 %" in low
    capped = tci.design_infusion(
        model,
        duration_min=30,
        limits=tci.InfusionLimits(0.5, 20.0, 8.0),
        target_effect=8.0,
        band=(7.0, 9.0),
    )
    assert (
        "limited by the maximum bolus (8 mg fumarate), the pump's maximum rate "
        in (capped.warnings[-1])
    )
    assert "the maximum total dose (20 mg fumarate)" in capped.warnings[-1]


def test_a_design_whose_bolus_would_pass_the_ceiling_is_refused_naming_max_bolus(
    kb: knowledge.KnowledgeBase,
) -> None:
    model = library.load(kb, "dmt", "iv")
    with pytest.raises(RuleViolation) as err:
        tci.design_infusion(
            model, duration_min=30, limits=tci.InfusionLimits(10, 250, 60), target_effect=9.9
        )
    assert err.value.fields[0].field == "max_bolus"
    assert "strassman-1994" in err.value.fields[0].message


def test_a_ceiling_in_an_unknown_unit_or_salt_is_refused() -> None:
    effect = EffectModel("e", "%", (0, 100), 1.0, 0.01, 1.0, 100.0)
    with pytest.raises(InvalidInput, match="dose_ceilings"):
        PKPDModel(
            id="x",
            substance="x",
            analyte="x",
            cl_l_per_min=1.0,
            v1_l=50.0,
            effect=effect,
            dose_ceilings=(DoseCeiling("bolus", 10.0, "mL", "base", "a label"),),
        )
