"""Properties of screening that must hold for every profile (hypothesis), and the batch
path giving the same verdict as one-at-a-time screening."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openpat import knowledge, safety
from openpat.safety import VERDICT_ORDER
from openpat.safety.batch import row_to_profile, screen_table
from tests.safety.engine_protocol import eligible_profile, engine_protocol

KB = knowledge.default()
PROTOCOLS = [engine_protocol(KB)] + [KB.protocols[p] for p in sorted(KB.protocols)]
TODAY = dt.date(2026, 11, 23)

MEDICATION_NAMES = [
    "sertraline",
    "Prozac",
    "fluoxetine",
    "lithium",
    "tramadol",
    "phenelzine",
    "bupropion",
    "lamotrigine",
    "haloperidol",
    "risperidone",
    "zolpidem",
    "metoprolol",
    "alprazolam",
    "oxycodone",
    "dextromethorphan",
    "methylphenidate",
    "St John's wort",
    "venlafaxine",
    "paroxetine",
    "moclobemide",
    "selegiline",
    "quetiapine",
    "clonidine",
    "citalopram",
    "mirtazapine",
    "trazodone",
    "amitriptyline",
    "ritonavir",
    "clarithromycin",
    "Zoloft",
    "sertralin",
    "no-such-drug",
]

medication = st.builds(
    lambda name, taper, stopped: {
        "name": name,
        "taper_allowed": taper,
        **({"last_dose": str(TODAY - dt.timedelta(days=stopped))} if stopped is not None else {}),
    },
    st.sampled_from(MEDICATION_NAMES),
    st.sampled_from([True, False, None]),
    st.one_of(st.none(), st.integers(0, 400)),
)
profiles = st.fixed_dictionaries(
    {
        "age_years": st.one_of(st.none(), st.integers(15, 80)),
        "sex": st.sampled_from(["female", "male", None]),
        "qtc_ms": st.one_of(st.none(), st.integers(380, 480)),
        "personal_history": st.one_of(
            st.none(), st.lists(st.sampled_from(["psychosis", "bipolar-ii", "mania"]), max_size=2)
        ),
        "medications": st.lists(medication, max_size=4),
    }
)
dosing_offsets = st.integers(0, 200)


def verdict_rank(report: safety.ScreeningReport) -> int:
    return VERDICT_ORDER[report.verdict]


def screen(profile: dict, protocol, days_ahead: int) -> safety.ScreeningReport:
    base = eligible_profile(**profile)
    if profile.get("sex") == "male":
        base.update(pregnant=None, lactating=None)
    return safety.screen(
        base, protocol, None, TODAY + dt.timedelta(days=days_ahead + 1), today=TODAY
    )


common = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@common
@given(protocol=st.sampled_from(PROTOCOLS), profile=profiles, extra=medication, days=dosing_offsets)
def test_adding_a_medication_never_improves_the_verdict(protocol, profile, extra, days):
    before = screen(profile, protocol, days)
    after = screen({**profile, "medications": [*profile["medications"], extra]}, protocol, days)
    assert verdict_rank(after) >= verdict_rank(before)


@common
@given(protocol=st.sampled_from(PROTOCOLS), profile=profiles, data=st.data(), days=dosing_offsets)
def test_the_order_of_medications_never_changes_the_report(protocol, profile, data, days):
    shuffled = data.draw(st.permutations(profile["medications"]))
    first = screen(profile, protocol, days)
    second = screen({**profile, "medications": list(shuffled)}, protocol, days)
    assert first == second


@common
@given(
    protocol=st.sampled_from(PROTOCOLS),
    profile=profiles,
    days=dosing_offsets,
    later=st.integers(1, 400),
)
def test_a_later_dosing_date_never_shortens_a_washout(protocol, profile, days, later):
    early = screen(profile, protocol, days)
    late = screen(profile, protocol, days + later)
    early_steps = {(w.medication, w.as_entered): w for w in early.washout}
    for step in late.washout:
        before = early_steps[(step.medication, step.as_entered)]
        assert step.washout_days == before.washout_days
        if step.last_dose_by is not None:
            assert step.last_dose_by > before.last_dose_by
        assert not (step.status == "too-soon" and before.status == "planned")


rows = st.fixed_dictionaries(
    {
        "participant": st.text("ABC123", min_size=1, max_size=6),
        "age_years": st.one_of(st.none(), st.integers(15, 80)),
        "sex": st.sampled_from(["female", "male", None]),
        "pregnant": st.sampled_from(["yes", "no", None]),
        "diagnoses": st.sampled_from(["F33.1", "F43.1", "F32.2;F31.4", "none", None]),
        "personal_history": st.sampled_from(["none", "psychosis", "bipolar-ii;mania", None]),
        "family_history": st.sampled_from(["none", "psychosis", "schizophrenia", None]),
        "systolic_bp_mmhg": st.one_of(st.none(), st.integers(100, 170)),
        "diastolic_bp_mmhg": st.one_of(st.none(), st.integers(50, 99)),
        "qtc_ms": st.one_of(st.none(), st.integers(380, 480)),
        "cssrs_ideation": st.sampled_from([0, 2, 4, 5, None]),
        "cssrs_behaviour_past_year": st.sampled_from(["yes", "no", None]),
        "substance_use_disorder": st.sampled_from(["none", "mild", "severe", None]),
        "days_since_psychedelic_use": st.sampled_from([10, 400, "never", None]),
        "medications": st.one_of(
            st.none(),
            st.just("none"),
            st.lists(st.sampled_from(MEDICATION_NAMES), min_size=1, max_size=5).map("; ".join),
        ),
        "taper_allowed": st.sampled_from(["yes", "no", None]),
    }
).map(lambda row: {**row, "pregnant": None} if row["sex"] == "male" else row)


@settings(max_examples=25, deadline=None)
@given(protocol=st.sampled_from(PROTOCOLS), candidates=st.lists(rows, min_size=1, max_size=30))
def test_batch_verdicts_equal_one_at_a_time_screening(protocol, candidates):
    dosing = dt.date(2027, 3, 1)
    table = pd.DataFrame(candidates)
    batch = screen_table(table, protocol, None, dosing, today=TODAY, chunk_rows=7)
    for i, row in enumerate(candidates):
        report = safety.screen(row_to_profile(row, dosing), protocol, None, dosing, today=TODAY)
        got = batch.verdicts.iloc[i]
        assert got["verdict"] == report.verdict.value, (row, report.reasons)
        assert set(filter(None, got["not_met"].split(";"))) == {
            c.id for c in report.criteria if c.status == "not-met"
        }
        stops = {w.washout_days for w in report.washout}
        if report.washout and None not in stops:
            assert got["washout_days"] == max(stops)
        assert got["worst_severity"] == (report.worst_severity or "")
