"""The screening engine: criteria semantics, verdict rules, washout dates, bad input."""

from __future__ import annotations

import datetime as dt
import json
import math

import pytest

from openpat import knowledge, safety
from openpat.errors import InvalidInput
from openpat.safety import Verdict
from tests.safety.engine_protocol import eligible_profile, engine_protocol

KB = knowledge.default()
PROTOCOL = engine_protocol(KB)
DOSING = dt.date(2027, 1, 15)
TODAY = dt.date(2026, 11, 23)


def run(**changes: object) -> safety.ScreeningReport:
    return safety.screen(eligible_profile(**changes), PROTOCOL, None, DOSING, today=TODAY)


def status(report: safety.ScreeningReport, criterion: str) -> str:
    return next(c.status for c in report.criteria if c.id == criterion)


def test_eligible_profile_is_eligible_with_every_criterion_met():
    report = run()
    assert report.verdict is Verdict.ELIGIBLE
    assert {c.status for c in report.criteria} == {"met"}
    assert report.washout == () and report.interactions == () and report.reasons == ()


def test_blood_pressure_at_threshold_fails_a_below_test():
    report = run(vitals={"systolic_bp_mmhg": 140, "diastolic_bp_mmhg": 80})
    assert report.verdict is Verdict.INELIGIBLE
    assert status(report, "blood-pressure") == "not-met"
    reason = next(c.reason for c in report.criteria if c.id == "blood-pressure")
    assert "140 mmHg" in reason and "below 140" in reason


def test_blood_pressure_just_below_threshold_passes():
    assert run(vitals={"systolic_bp_mmhg": 139, "diastolic_bp_mmhg": 89}).verdict is (
        Verdict.ELIGIBLE
    )


def test_missing_qtc_needs_information_and_names_the_field():
    report = run(qtc_ms=None)
    assert report.verdict is Verdict.NEEDS_INFORMATION
    assert status(report, "qtc") == "missing"
    assert "QTc" in next(c.reason for c in report.criteria if c.id == "qtc")


def test_a_failed_criterion_outranks_missing_information():
    report = run(qtc_ms=None, age_years=70)
    assert report.verdict is Verdict.INELIGIBLE
    assert status(report, "adult") == "not-met" and status(report, "qtc") == "missing"


def test_pregnancy_criterion_does_not_apply_to_a_male_participant():
    report = run(sex="male", pregnant=None, lactating=None)
    assert status(report, "not-pregnant") == "met"
    assert report.verdict is Verdict.ELIGIBLE


def test_pregnancy_unknown_for_a_female_participant_is_missing():
    assert status(run(pregnant=None), "not-pregnant") == "missing"


def test_pregnancy_with_sex_unknown_is_missing_not_met_or_ineligible():
    assert status(run(sex=None, pregnant=True), "not-pregnant") == "missing"
    assert status(run(sex=None, pregnant=False), "not-pregnant") == "met"


def test_icd10_code_matches_the_codes_under_it():
    report = run(diagnoses=[{"code": "F33.1"}, {"code": "F31.4", "label": "Bipolar"}])
    assert status(report, "no-psychosis") == "not-met"
    assert status(run(diagnoses=[{"code": "F321"}]), "depression") == "met"  # F32.1


def test_first_degree_family_history_of_psychosis_excludes():
    report = run(family_history=["psychosis"])
    assert report.verdict is Verdict.INELIGIBLE
    assert status(report, "no-psychosis") == "not-met"


def test_unknown_history_is_missing_but_empty_history_is_none():
    assert status(run(personal_history=None), "no-psychosis") == "missing"
    assert status(run(personal_history=[]), "no-psychosis") == "met"


def test_cssrs_ideation_with_intent_excludes():
    assert status(run(cssrs={"ideation": 4, "behaviour_past_year": False}), "suicide-risk") == (
        "not-met"
    )
    assert status(run(cssrs={"ideation": 3, "behaviour_past_year": False}), "suicide-risk") == (
        "met"
    )


def test_substance_use_disorder_levels_are_ordered():
    assert (
        status(run(substance_use={"disorder": "mild", "never_used_psychedelics": True}), "no-sud")
        == "met"
    )
    assert (
        status(
            run(substance_use={"disorder": "moderate", "never_used_psychedelics": True}), "no-sud"
        )
        == "not-met"
    )


def test_psychedelic_use_counts_days_to_the_dosing_date():
    recent = DOSING - dt.timedelta(days=182)
    older = DOSING - dt.timedelta(days=183)
    assert (
        status(
            run(substance_use={"disorder": "none", "last_psychedelic_use": str(recent)}),
            "no-recent-psychedelic",
        )
        == "not-met"
    )
    assert (
        status(
            run(substance_use={"disorder": "none", "last_psychedelic_use": str(older)}),
            "no-recent-psychedelic",
        )
        == "met"
    )


def test_age_from_birth_date_is_taken_at_the_dosing_date():
    born = dt.date(DOSING.year - 66, DOSING.month, DOSING.day + 1)  # 66 the day after dosing
    report = run(age_years=None, birth_date=str(born))
    assert status(report, "adult") == "met"
    assert next(v for k, v in next(c for c in report.criteria if c.id == "adult").values) == (
        "65 years"
    )


def test_medications_not_recorded_needs_information():
    report = run(medications=None)
    assert report.verdict is Verdict.NEEDS_INFORMATION
    assert status(report, "medications-recorded") == "missing"


def test_unresolved_medication_is_never_eligible_and_suggests_a_spelling():
    report = run(medications=[{"name": "sertralin"}])
    assert report.verdict is Verdict.NEEDS_INFORMATION
    assert report.unresolved[0].as_entered == "sertralin"
    assert "sertraline" in report.unresolved[0].suggestions
    assert "did you mean" in report.unresolved[0].message


def test_brand_name_resolves_to_its_generic():
    report = run(medications=[{"name": "ZOLOFT", "taper_allowed": True}])
    assert report.medications[0].medication == "sertraline"
    assert report.washout[0].medication == "sertraline"


def test_fluoxetine_washout_counts_norfluoxetine_half_life():
    report = run(medications=[{"name": "fluoxetine", "taper_allowed": True}])
    fluoxetine = KB.medication("fluoxetine")
    norfluoxetine = next(m for m in fluoxetine.half_life.metabolites if m.active)
    expected = math.ceil(5 * norfluoxetine.half_life.in_hours()[1] / 24)
    step = report.washout[0]
    assert step.washout_days == expected > 14
    assert step.basis == "half-life" and "norfluoxetine" in step.detail
    assert step.last_dose_by == DOSING - dt.timedelta(days=expected)
    assert report.verdict is Verdict.ELIGIBLE_AFTER_WASHOUT


def test_protocol_fixed_washout_wins_when_longer_than_half_lives():
    report = run(medications=[{"name": "venlafaxine", "taper_allowed": True}])
    step = report.washout[0]
    venlafaxine = KB.medication("venlafaxine")
    by_half_life = math.ceil(5 * venlafaxine.half_life.effective_h / 24)
    assert by_half_life < 14
    assert step.washout_days == 14 and step.basis == "protocol"


def test_too_soon_when_the_washout_cannot_finish_before_the_dosing_date():
    soon = TODAY + dt.timedelta(days=20)
    report = safety.screen(
        eligible_profile(medications=[{"name": "fluoxetine", "taper_allowed": True}]),
        PROTOCOL,
        None,
        soon,
        today=TODAY,
    )
    step = report.washout[0]
    assert step.status == "too-soon" and step.last_dose_by < TODAY
    assert report.earliest_dosing_date == TODAY + dt.timedelta(days=step.washout_days)
    assert report.verdict is Verdict.ELIGIBLE_AFTER_WASHOUT
    assert any("too soon" in r for r in report.reasons)


def test_stopped_medication_with_complete_washout_does_not_block():
    stopped = DOSING - dt.timedelta(days=200)
    report = run(medications=[{"name": "fluoxetine", "last_dose": str(stopped)}])
    assert report.washout[0].status == "complete"
    assert report.verdict is Verdict.ELIGIBLE


def test_stopped_medication_still_washing_out_dates_the_earliest_dosing():
    stopped = DOSING - dt.timedelta(days=30)
    report = run(medications=[{"name": "fluoxetine", "last_dose": str(stopped)}])
    step = report.washout[0]
    assert step.status == "still-washing-out"
    assert report.earliest_dosing_date == stopped + dt.timedelta(days=step.washout_days)


def test_taper_not_allowed_makes_a_must_stop_medication_exclusionary():
    report = run(medications=[{"name": "lithium", "taper_allowed": False}])
    assert report.verdict is Verdict.INELIGIBLE
    assert report.washout[0].status == "taper-not-allowed"
    assert report.interactions[0].severity == "contraindicated"


def test_taper_not_yet_agreed_needs_information():
    report = run(medications=[{"name": "sertraline"}])
    assert report.verdict is Verdict.NEEDS_INFORMATION
    assert report.washout[0].status == "ask-prescriber"


def test_continuing_medication_without_a_stop_rule_keeps_eligibility():
    report = run(medications=[{"name": "metoprolol", "dose": 50, "unit": "mg"}])
    assert report.verdict is Verdict.ELIGIBLE
    assert report.medications[0].dose == "50 mg"


def test_taper_warnings_cite_their_sources_when_a_medication_is_stopped():
    report = run(medications=[{"name": "sertraline", "taper_allowed": True}])
    risks = KB.discontinuation_risks(KB.medication("sertraline"))
    assert len(report.taper_warnings) == len(risks)
    for warning in report.taper_warnings:
        assert warning.references, warning


def test_report_is_frozen_and_serialises_to_json():
    report = run(medications=[{"name": "Prozac", "taper_allowed": True}])
    with pytest.raises(AttributeError):
        report.verdict = Verdict.ELIGIBLE  # type: ignore[misc]
    data = json.loads(json.dumps(report.to_dict()))
    assert data["verdict"] == "eligible-after-washout"
    assert data["washout"][0]["last_dose_by"] == report.washout[0].last_dose_by.isoformat()
    assert "VERDICT: ELIGIBLE-AFTER-WASHOUT" in report.summary()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"vitals": {"systolic_bp_mmhg": 400, "diastolic_bp_mmhg": 20}}, "vitals.systolic_bp_mmhg"),
        ({"qtc_ms": 50}, "qtc_ms"),
        ({"medications": [{"name": "sertraline", "dose": -50}]}, "medications[0].dose"),
        ({"vitals": {"systolic_bp_mmhg": 80, "diastolic_bp_mmhg": 120}}, "vitals"),
        ({"age_years": -3}, "age_years"),
        ({"diagnoses": [{"code": "depression"}]}, "diagnoses[0].code"),
        ({"sex": "male", "pregnant": True}, ""),
        ({"personal_history": ["psychosiss"]}, "personal_history[0]"),
        ({"weight_kg": 3}, "weight_kg"),
    ],
)
def test_impossible_values_are_refused_naming_the_field(changes, field):
    with pytest.raises(InvalidInput) as caught:
        run(**changes)
    assert caught.value.fields
    assert caught.value.fields[0].field == field


def test_medication_started_after_the_dosing_date_is_refused():
    later = DOSING + dt.timedelta(days=1)
    with pytest.raises(InvalidInput) as caught:
        run(medications=[{"name": "sertraline", "since": str(later)}])
    assert caught.value.fields[0].field == "medications[0].since"
    assert str(later) in caught.value.message


def test_dosing_date_before_the_screening_date_is_refused():
    with pytest.raises(InvalidInput, match="planned_dosing_date"):
        safety.screen(eligible_profile(), PROTOCOL, None, TODAY - dt.timedelta(days=1), today=TODAY)


def test_substance_other_than_the_protocols_is_refused():
    with pytest.raises(InvalidInput, match="written for psilocybin"):
        safety.screen(eligible_profile(), PROTOCOL, "MDMA", DOSING, today=TODAY)


def test_unknown_protocol_name_is_refused_with_the_shipped_list():
    with pytest.raises(InvalidInput) as caught:
        safety.screen(eligible_profile(), "no-such-protocol", None, DOSING)
    assert caught.value.fields[0].field == "protocol"


def test_history_terms_match_exactly_so_bipolar_ii_is_not_bipolar_i():
    assert status(run(personal_history=["bipolar-ii"]), "no-psychosis") == "met"
    assert status(run(personal_history=["bipolar-i"]), "no-psychosis") == "not-met"
