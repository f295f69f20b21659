"""Literature cases: realistic screening situations run against the shipped protocol templates.

Each case names the source of the clinical situation or of the rule it exercises (a reference
id of the knowledge base, or ``doi:`` / ``pmid:``), starts from a per-protocol baseline profile
that meets every criterion, changes what the situation changes, and states the result the
knowledge base should give: the verdict, the interaction and co-medication rules that fire, the
worst severity, the criteria not met or missing, and the dated washout of each medication.

Screening date 2026-11-23; the default planned dosing date, 2027-01-15, is 53 days later, and
``LATER`` (2027-03-01) is 98 days later, for washouts longer than 53 days. Washout figures are
derived from the knowledge base as the engine documents it: the longest of the protocol's
multiple (5) of the longest active half-life rounded up to whole days, the protocol's fixed
washout and the interaction rules' fixed washouts.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from typing import Any

import pytest

from openpat import knowledge, safety
from openpat.safety import Verdict

KB = knowledge.default()
TODAY = dt.date(2026, 11, 23)
DOSING = dt.date(2027, 1, 15)  # 53 days after TODAY
LATER = dt.date(2027, 3, 1)  # 98 days after TODAY

SEVERITIES = ("contraindicated", "major", "moderate", "reduced-effect", "minor")
ANY = object()  # the case does not check this value

SUBSTANCE = {
    "mapp1-mdma-ptsd": "mdma",
    "comp360-psilocybin-trd": "psilocybin",
    "spl026-dmt-mdd": "dmt",
    "ayahuasca-trd": "ayahuasca",
    "esketamine-trd": "esketamine",
}


def _healthy(**changes: Any) -> dict[str, Any]:
    """A 40-year-old woman with recurrent depression and nothing else of note."""
    profile: dict[str, Any] = {
        "participant": "LIT-001",
        "assessed_on": TODAY.isoformat(),
        "age_years": 40,
        "sex": "female",
        "pregnant": False,
        "lactating": False,
        "weight_kg": 68,
        "height_cm": 168,
        "diagnoses": [{"code": "F33.1", "label": "Recurrent depressive disorder, moderate"}],
        "personal_history": [],
        "family_history": [],
        "vitals": {"systolic_bp_mmhg": 122, "diastolic_bp_mmhg": 78, "heart_rate_bpm": 70},
        "qtc_ms": 412,
        "labs": {
            "alt_u_per_l": 24,
            "alt_uln_u_per_l": 40,
            "ast_u_per_l": 21,
            "ast_uln_u_per_l": 40,
            "egfr": 96,
        },
        "cssrs": {"ideation": 1, "behaviour_past_year": False},
        "substance_use": {"disorder": "none", "never_used_psychedelics": True},
        "medications": [],
    }
    profile.update(changes)
    return profile


#: Per protocol, a profile meeting every one of its criteria (checked by its own test).
BASELINES: dict[str, dict[str, Any]] = {
    # MAPP1/MAPP2: PTSD (F43.1), no current substance use disorder, BP <= 140/90, QTc <= 450
    "mapp1-mdma-ptsd": _healthy(
        diagnoses=[{"code": "F43.1", "label": "Post-traumatic stress disorder"}]
    ),
    # COMP360 phase 2b: major depression (F32/F33), no BPD, no SUD, BP <= 140/90
    "comp360-psilocybin-trd": _healthy(),
    # SPL026: depression, no family psychosis, no psychedelic in 183 d, BP <= 140/90, QTcF <= 450
    "spl026-dmt-mdd": _healthy(),
    # Palhano-Fontes 2019: aged 18-60, depression, no dependence
    "ayahuasca-trd": _healthy(),
    # Spravato label / TRANSFORM-1: adult, depression, BP <= 140/90, not breastfeeding
    "esketamine-trd": _healthy(),
}


@dataclass(frozen=True)
class Washout:
    """The expected washout step of one medication."""

    medication: str  # generic name
    days: int | None
    status: str  # planned | too-soon | complete | taper-not-allowed | ask-prescriber | cannot-date


@dataclass(frozen=True)
class Case:
    id: str
    source: str  # reference ids, doi:... or pmid:..., comma-separated
    protocol: str
    substance: str
    profile_changes: dict[str, Any]
    medications: tuple[dict[str, Any], ...] | None
    dosing_date: dt.date
    expect_verdict: Verdict
    expect_severity: Any = None  # worst severity over interactions and combinations; ANY skips
    expect_rules: tuple[str, ...] = ()  # interaction or combination rule ids that must fire
    expect_criteria_not_met: tuple[str, ...] = ()  # exactly these
    expect_criteria_missing: tuple[str, ...] = ()  # exactly these
    expect_washout: tuple[Washout, ...] = ()  # exactly these medications
    expect_generics: tuple[str, ...] = ()  # generic names the entered names resolve to
    expect_unresolved: tuple[tuple[str, str], ...] = ()  # (as entered, a suggestion)
    expect_earliest: dt.date | None = None
    note: str = ""


def case(
    id: str,
    source: str,
    protocol: str,
    *,
    changes: dict[str, Any] | None = None,
    meds: tuple[dict[str, Any], ...] | None = (),
    dosing: dt.date = DOSING,
    verdict: Verdict,
    **expect: Any,
) -> Case:
    return Case(
        id=id,
        source=source,
        protocol=protocol,
        substance=SUBSTANCE[protocol],
        profile_changes=changes or {},
        medications=meds,
        dosing_date=dosing,
        expect_verdict=verdict,
        **{f"expect_{k}" if k != "note" else k: v for k, v in expect.items()},
    )


def med(name: str, taper: bool | None = True, **more: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name, **more}
    if taper is not None:
        entry["taper_allowed"] = taper
    return entry


def _norfluoxetine_washout_days() -> int:
    """Five half-lives of norfluoxetine at the upper bound of its range, in whole days, as
    the knowledge base records it."""
    fluoxetine = KB.medication("fluoxetine")
    assert fluoxetine.half_life is not None
    norfluoxetine = next(m for m in fluoxetine.half_life.metabolites if m.name == "norfluoxetine")
    upper_days = norfluoxetine.half_life.in_hours()[1] / 24
    return math.ceil(5 * upper_days)


NORFLUOXETINE_DAYS = _norfluoxetine_washout_days()

MAPP = "mapp1-mdma-ptsd"
COMP = "comp360-psilocybin-trd"
SPL = "spl026-dmt-mdd"
AYA = "ayahuasca-trd"
ESK = "esketamine-trd"
OK = Verdict.ELIGIBLE
WASH = Verdict.ELIGIBLE_AFTER_WASHOUT
INFO = Verdict.NEEDS_INFORMATION
NO = Verdict.INELIGIBLE

CASES: list[Case] = [
    # --- MDMA (MAPP1/MAPP2-like) --------------------------------------------------------
    case(
        "phenelzine-before-mdma-is-contraindicated-and-needs-14-days-off",
        "malcolm-thomas-2022, label-fluoxetine-us",
        MAPP,
        meds=(med("phenelzine"),),
        verdict=WASH,
        severity="contraindicated",
        rules=("mdma-maoi-irreversible",),
        # 5 x 11.6 h = 3 d is shorter than the rule's 14 d (MAO regeneration)
        washout=(Washout("phenelzine", 14, "planned"),),
    ),
    case(
        "phenelzine-whose-prescriber-refuses-a-taper-makes-mdma-ineligible",
        "malcolm-thomas-2022",
        MAPP,
        meds=(med("Nardil", taper=False),),
        verdict=NO,
        severity="contraindicated",
        rules=("mdma-maoi-irreversible",),
        washout=(Washout("phenelzine", 14, "taper-not-allowed"),),
        generics=("phenelzine",),
    ),
    case(
        "moclobemide-with-mdma-is-contraindicated-after-the-finnish-deaths",
        "vuori-2003-moclobemide, pilgrim-2012-moclobemide",
        MAPP,
        meds=(med("moclobemide"),),
        verdict=WASH,
        severity="contraindicated",
        rules=("mdma-maoi-reversible-and-other",),
        washout=(Washout("moclobemide", 1, "planned"),),  # 5 x 2 h
    ),
    case(
        "sertraline-blunts-mdma-and-is-washed-out-over-five-desmethylsertraline-half-lives",
        "feduccia-2021-reuptake-inhibitors, liechti-2000-citalopram",
        MAPP,
        meds=(med("sertraline", dose=100, unit="mg", since="2024-03-01"),),
        verdict=WASH,
        severity="reduced-effect",
        rules=("mdma-ssri",),
        washout=(Washout("sertraline", 22, "planned"),),  # 5 x 104 h = 21.7 d > 14 d
    ),
    case(
        "fluoxetine-before-mdma-inhibits-cyp2d6-and-needs-a-norfluoxetine-washout",
        "label-fluoxetine-us, hiemke-2000-ssri-pk, fda-cyp-table",
        MAPP,
        meds=(med("fluoxetine"),),
        dosing=LATER,
        verdict=WASH,
        severity="major",
        rules=("mdma-ssri", "fluoxetine-psychedelic-washout", "mdma-cyp2d6-inhibitor"),
        washout=(Washout("fluoxetine", NORFLUOXETINE_DAYS, "planned"),),
    ),
    case(
        "bupropion-raises-mdma-levels-through-cyp2d6",
        "schmid-2015-bupropion",
        MAPP,
        meds=(med("Wellbutrin XL"),),
        verdict=WASH,
        severity="major",
        rules=("mdma-bupropion", "mdma-cyp2d6-inhibitor"),
        washout=(Washout("bupropion", 8, "planned"),),  # 5 x 37 h (threohydrobupropion)
        generics=("bupropion",),
    ),
    case(
        "tramadol-with-mdma-risks-seizures-and-serotonin-toxicity",
        "tripsit-combos-83670cb, psychonautwiki-substances-8224449",
        MAPP,
        meds=(med("tramadol"),),
        verdict=WASH,
        severity="contraindicated",
        rules=("mdma-tramadol",),
        washout=(Washout("tramadol", 2, "planned"),),  # 5 x 9 h (O-desmethyltramadol)
    ),
    case(
        "lithium-before-mdma-needs-the-prescribers-word-on-a-taper",
        "mitchell-2023-mapp2, tripsit-combos-83670cb",
        MAPP,
        meds=(med("lithium carbonate", taper=None),),
        verdict=INFO,
        severity="major",
        rules=("mdma-lithium",),
        washout=(Washout("lithium", 8, "ask-prescriber"),),  # 5 x 36 h
        generics=("lithium",),
    ),
    case(
        "citalopram-adds-a-qt-flag-to-mdma-on-top-of-blunting",
        "mhra-citalopram-escitalopram-qt, liechti-2000-citalopram",
        MAPP,
        meds=(med("citalopram"),),
        verdict=WASH,
        severity="moderate",
        rules=("mdma-ssri", "mdma-qt-prolonging"),
        washout=(Washout("citalopram", 14, "planned"),),  # 14 d > 5 x 35 h
    ),
    case(
        "two-qt-prolonging-drugs-with-mdma-are-monitored-not-excluded",
        "wenzel-seifert-2011-qtc, mitchell-2021-mapp1",
        MAPP,
        meds=(med("hydroxychloroquine"), med("ondansetron")),
        verdict=OK,
        severity="moderate",
        rules=("mdma-qt-prolonging", "two-qt-prolonging-with-mdma"),
    ),
    case(
        "methylphenidate-adds-sympathomimetic-strain-to-mdma",
        "sarparast-2022, mitchell-2021-mapp1",
        MAPP,
        meds=(med("Ritalin"),),
        verdict=WASH,
        severity="major",
        rules=("mdma-stimulant",),
        washout=(Washout("methylphenidate", 1, "planned"),),
        generics=("methylphenidate",),
    ),
    case(
        "ritonavir-that-must-not-be-stopped-makes-mdma-ineligible",
        "henry-hill-1998-ritonavir, ibase-ritonavir-recreational-drugs",
        MAPP,
        meds=(med("ritonavir", taper=False),),
        verdict=NO,
        severity="major",
        rules=("mdma-pharmacokinetic-enhancer",),
        washout=(Washout("ritonavir", 2, "taper-not-allowed"),),
    ),
    case(
        "duloxetine-blunts-mdma-and-needs-two-weeks-off",
        "hysek-2012",
        MAPP,
        meds=(med("Cymbalta"),),
        verdict=WASH,
        severity="reduced-effect",
        rules=("mdma-snri",),
        washout=(Washout("duloxetine", 14, "planned"),),
        generics=("duloxetine",),
    ),
    case(
        "depression-without-ptsd-does-not-qualify-for-the-mdma-ptsd-protocol",
        "mitchell-2021-mapp1",
        MAPP,
        changes={"diagnoses": [{"code": "F33.1"}]},
        verdict=NO,
        criteria_not_met=("ptsd",),
    ),
    case(
        "a-17-year-old-is-not-eligible-for-mdma-therapy",
        "clinicaltrials-nct03537014",
        MAPP,
        changes={"age_years": 17},
        verdict=NO,
        criteria_not_met=("adult",),
    ),
    case(
        "uncontrolled-hypertension-excludes-mdma",
        "mitchell-2021-mapp1, vizeli-2017",
        MAPP,
        changes={"vitals": {"systolic_bp_mmhg": 162, "diastolic_bp_mmhg": 98}},
        verdict=NO,
        criteria_not_met=("no-uncontrolled-hypertension",),
    ),
    case(
        "marked-qtc-prolongation-excludes-mdma",
        "mitchell-2021-mapp1",
        MAPP,
        changes={"qtc_ms": 478},
        verdict=NO,
        criteria_not_met=("no-marked-qtc-prolongation",),
    ),
    case(
        "bipolar-i-disorder-excludes-mdma",
        "mitchell-2021-mapp1",
        MAPP,
        changes={"personal_history": ["bipolar-i"]},
        verdict=NO,
        criteria_not_met=("no-psychotic-or-bipolar-i-disorder",),
    ),
    case(
        "dissociative-identity-disorder-excludes-mdma",
        "mitchell-2021-mapp1",
        MAPP,
        changes={"personal_history": ["dissociative-identity-disorder"]},
        verdict=NO,
        criteria_not_met=("no-dissociative-identity-disorder",),
    ),
    case(
        "breastfeeding-excludes-mdma",
        "clinicaltrials-nct04077437",
        MAPP,
        changes={"lactating": True},
        verdict=NO,
        criteria_not_met=("not-pregnant-or-breastfeeding",),
    ),
    case(
        "a-current-mild-alcohol-use-disorder-excludes-mdma",
        "mitchell-2021-mapp1",
        MAPP,
        changes={"substance_use": {"disorder": "mild", "never_used_psychedelics": True}},
        verdict=NO,
        criteria_not_met=("no-current-substance-use-disorder",),
    ),
    # --- psilocybin (COMP360-like) --------------------------------------------------------
    case(
        "lithium-with-psilocybin-is-contraindicated-and-without-a-taper-ineligible",
        "nayak-2021",
        COMP,
        meds=(med("Priadel", taper=False),),
        verdict=NO,
        severity="contraindicated",
        rules=("psychedelic-lithium",),
        washout=(Washout("lithium", 8, "taper-not-allowed"),),
        generics=("lithium",),
    ),
    case(
        "tramadol-with-psilocybin-is-washed-out-for-seizure-risk",
        "tripsit-combos-83670cb, psychonautwiki-substances-8224449",
        COMP,
        meds=(med("tramadol"),),
        verdict=WASH,
        severity="major",
        rules=("psychedelic-tramadol",),
        washout=(Washout("tramadol", 2, "planned"),),
    ),
    case(
        "escitalopram-is-stopped-two-weeks-before-psilocybin",
        "becker-2022-escitalopram, euctr-2017-003288-36",
        COMP,
        meds=(med("Cipralex"),),
        verdict=WASH,
        severity="reduced-effect",
        rules=("psilocybin-ssri-snri", "psychedelic-serotonergic-toxicity-low"),
        washout=(Washout("escitalopram", 14, "planned"),),  # 14 d > 5 x 32 h
        generics=("escitalopram",),
    ),
    case(
        "prozac-before-psilocybin-is-washed-out-over-five-norfluoxetine-half-lives",
        "label-fluoxetine-us, hiemke-2000-ssri-pk",
        COMP,
        meds=(med("Prozac", dose=20, unit="mg", since="2025-01-10"),),
        dosing=LATER,
        verdict=WASH,
        severity="reduced-effect",
        rules=("psilocybin-ssri-snri", "fluoxetine-psychedelic-washout"),
        washout=(Washout("fluoxetine", NORFLUOXETINE_DAYS, "planned"),),
        generics=("fluoxetine",),
    ),
    case(
        "zoloft-resolves-to-sertraline-and-is-washed-out-before-psilocybin",
        "euctr-2017-003288-36, label-sertraline-us",
        COMP,
        meds=(med("Zoloft"),),
        verdict=WASH,
        severity="reduced-effect",
        rules=("psilocybin-ssri-snri",),
        washout=(Washout("sertraline", 22, "planned"),),
        generics=("sertraline",),
    ),
    case(
        "a-misspelt-sertralin-is-not-guessed-but-suggested",
        "euctr-2017-003288-36",
        COMP,
        meds=(med("sertralin"),),
        verdict=INFO,
        severity=None,
        unresolved=(("sertralin", "sertraline"),),
    ),
    case(
        "bupropion-blunts-psilocybin-less-but-the-protocol-still-stops-it",
        "gukasyan-2023-ssri-snri, euctr-2017-003288-36",
        COMP,
        meds=(med("bupropion"),),
        verdict=WASH,
        severity="minor",
        rules=("psilocybin-bupropion",),
        washout=(Washout("bupropion", 14, "planned"),),  # protocol 14 d > 5 x 37 h
    ),
    case(
        "risperidone-augmentation-blocks-psilocybin",
        "vollenweider-1998-psilocybin, halman-2024",
        COMP,
        meds=(med("risperidone"),),
        verdict=WASH,
        severity="reduced-effect",
        rules=("psychedelic-5ht2a-antagonist",),
        washout=(Washout("risperidone", 5, "planned"),),  # 5 x 20 h
    ),
    case(
        "lamotrigine-can-continue-with-psilocybin",
        "nayak-2021",
        COMP,
        meds=(med("Lamictal"),),
        verdict=OK,
        severity="minor",
        rules=("psychedelic-lamotrigine",),
        generics=("lamotrigine",),
    ),
    case(
        "sumatriptan-and-dextromethorphan-together-flag-serotonergic-load-with-psilocybin",
        "boyer-shannon-2005, malcolm-thomas-2022",
        COMP,
        meds=(med("sumatriptan"), med("dextromethorphan")),
        verdict=OK,
        severity="moderate",
        rules=("serotonergic-co-medications",),
    ),
    case(
        "sertraline-already-stopped-long-enough-leaves-the-participant-eligible",
        "euctr-2017-003288-36",
        COMP,
        meds=(med("sertraline", since="2024-01-15", last_dose="2026-10-01"),),
        verdict=OK,
        severity="reduced-effect",
        washout=(Washout("sertraline", 22, "complete"),),
    ),
    case(
        "a-dosing-date-8-days-away-is-too-soon-for-a-sertraline-washout",
        "euctr-2017-003288-36",
        COMP,
        meds=(med("sertraline"),),
        dosing=dt.date(2026, 12, 1),
        verdict=WASH,
        severity="reduced-effect",
        washout=(Washout("sertraline", 22, "too-soon"),),
        earliest=dt.date(2026, 12, 15),  # 22 days after the screening date
    ),
    case(
        "pregnancy-excludes-psilocybin",
        "poulin-2024-embrace",
        COMP,
        changes={"pregnant": True},
        verdict=NO,
        criteria_not_met=("not-pregnant-or-breastfeeding",),
    ),
    case(
        "suicidal-ideation-with-intent-excludes-psilocybin",
        "posner-2011-cssrs, raison-2023",
        COMP,
        changes={"cssrs": {"ideation": 4, "behaviour_past_year": False}},
        verdict=NO,
        criteria_not_met=("no-serious-suicide-risk",),
    ),
    case(
        "suicidal-behaviour-in-the-past-year-excludes-psilocybin",
        "posner-2011-cssrs",
        COMP,
        changes={"cssrs": {"ideation": 2, "behaviour_past_year": True}},
        verdict=NO,
        criteria_not_met=("no-serious-suicide-risk",),
    ),
    case(
        "a-moderate-substance-use-disorder-excludes-psilocybin",
        "raison-2023",
        COMP,
        changes={"substance_use": {"disorder": "moderate", "never_used_psychedelics": True}},
        verdict=NO,
        criteria_not_met=("no-current-substance-use-disorder",),
    ),
    case(
        "a-missing-cssrs-screen-needs-information",
        "posner-2011-cssrs",
        COMP,
        changes={"cssrs": None},
        verdict=INFO,
        criteria_missing=("no-serious-suicide-risk",),
    ),
    case(
        "unrecorded-medications-need-information-before-psilocybin",
        "euctr-2017-003288-36",
        COMP,
        meds=None,
        verdict=INFO,
        criteria_missing=("medications-recorded",),
    ),
    case(
        "borderline-personality-disorder-excludes-psilocybin",
        "euctr-2017-003288-36",
        COMP,
        changes={"diagnoses": [{"code": "F33.2"}, {"code": "F60.3"}]},
        verdict=NO,
        criteria_not_met=("no-borderline-personality-disorder",),
    ),
    case(
        "a-schizophrenia-diagnosis-excludes-psilocybin",
        "davis-2021",
        COMP,
        changes={"diagnoses": [{"code": "F32.1"}, {"code": "F20.0"}]},
        verdict=NO,
        criteria_not_met=("no-psychotic-or-bipolar-disorder",),
    ),
    # --- intravenous DMT (SPL026-like) ----------------------------------------------------
    case(
        "phenelzine-must-be-stopped-90-days-before-iv-dmt",
        "clinicaltrials-nct05553691, callaway-1999-hoasca-pk",
        SPL,
        meds=(med("phenelzine"),),
        dosing=LATER,
        verdict=WASH,
        severity="major",
        rules=("dmt-maoi",),
        washout=(Washout("phenelzine", 90, "planned"),),
    ),
    case(
        "phenelzine-cannot-be-washed-out-in-time-for-dmt-in-53-days",
        "clinicaltrials-nct05553691",
        SPL,
        meds=(med("phenelzine"),),
        verdict=WASH,
        severity="major",
        rules=("dmt-maoi",),
        washout=(Washout("phenelzine", 90, "too-soon"),),
        earliest=dt.date(2027, 2, 21),  # 90 days after the screening date
    ),
    case(
        "a-linezolid-course-counts-as-an-maoi-before-dmt",
        "clinicaltrials-nct05553691, label-linezolid-us",
        SPL,
        meds=(med("Zyvox"),),
        dosing=LATER,
        verdict=WASH,
        severity="major",
        rules=("dmt-maoi",),
        washout=(Washout("linezolid", 90, "planned"),),
        generics=("linezolid",),
    ),
    case(
        "sertraline-is-washed-out-before-dmt-in-the-monotherapy-design",
        "clinicaltrials-nct04673383",
        SPL,
        meds=(med("sertraline"),),
        verdict=WASH,
        severity="reduced-effect",
        rules=("dmt-ssri", "psychedelic-serotonergic-toxicity-low"),
        washout=(Washout("sertraline", 22, "planned"),),
    ),
    case(
        "a-sibling-with-schizophrenia-excludes-dmt",
        "clinicaltrials-nct05553691",
        SPL,
        changes={"family_history": ["schizophrenia"]},
        verdict=NO,
        criteria_not_met=("no-family-history-of-psychosis",),
    ),
    case(
        "unknown-family-history-needs-information-before-dmt",
        "clinicaltrials-nct05553691",
        SPL,
        changes={"family_history": None},
        verdict=INFO,
        criteria_missing=("no-family-history-of-psychosis",),
    ),
    case(
        "psilocybin-use-106-days-before-dosing-is-too-recent-for-dmt",
        "clinicaltrials-nct04673383",
        SPL,
        changes={"substance_use": {"disorder": "none", "last_psychedelic_use": "2026-10-01"}},
        verdict=NO,
        criteria_not_met=("no-recent-psychedelic-use",),
    ),
    case(
        "a-qtcf-of-470-ms-is-outside-the-dmt-range",
        "clinicaltrials-nct05553691",
        SPL,
        changes={"qtc_ms": 470},
        verdict=NO,
        criteria_not_met=("qtcf-in-range",),
    ),
    case(
        "tramadol-is-washed-out-before-dmt",
        "tripsit-combos-83670cb",
        SPL,
        meds=(med("tramadol"),),
        verdict=WASH,
        severity="major",
        rules=("psychedelic-tramadol",),
        washout=(Washout("tramadol", 2, "planned"),),
    ),
    case(
        "a-history-of-mania-excludes-dmt",
        "clinicaltrials-nct05553691",
        SPL,
        changes={"personal_history": ["mania"]},
        verdict=NO,
        criteria_not_met=("no-history-of-mania",),
    ),
    # --- ayahuasca (Palhano-Fontes-like) ----------------------------------------------------
    case(
        "sertraline-with-ayahuasca-is-contraindicated-for-serotonin-syndrome",
        "callaway-grob-1998, malcolm-thomas-2022",
        AYA,
        meds=(med("sertraline"),),
        verdict=WASH,
        severity="contraindicated",
        rules=("ayahuasca-ssri-snri",),
        washout=(Washout("sertraline", 22, "planned"),),
    ),
    case(
        "fluoxetine-with-ayahuasca-outlasts-the-label-five-weeks",
        "callaway-grob-1998, label-fluoxetine-us",
        AYA,
        meds=(med("Prozac"),),
        dosing=LATER,
        verdict=WASH,
        severity="contraindicated",
        rules=("ayahuasca-ssri-snri", "ayahuasca-fluoxetine"),
        washout=(Washout("fluoxetine", NORFLUOXETINE_DAYS, "planned"),),
    ),
    case(
        "amitriptyline-with-ayahuasca-is-contraindicated",
        "malcolm-thomas-2022, callaway-grob-1998",
        AYA,
        meds=(med("amitriptyline"),),
        verdict=WASH,
        severity="contraindicated",
        rules=("ayahuasca-tca",),
        washout=(Washout("amitriptyline", 7, "planned"),),  # 5 x 30 h
    ),
    case(
        "st-johns-wort-with-ayahuasca-has-no-datable-washout",
        "malcolm-thomas-2022",
        AYA,
        meds=(med("St John's wort"),),
        verdict=INFO,
        severity="contraindicated",
        rules=("ayahuasca-st-johns-wort",),
        washout=(Washout("st john's wort", None, "cannot-date"),),
    ),
    case(
        "tramadol-with-ayahuasca-is-contraindicated",
        "malcolm-thomas-2022, tripsit-combos-83670cb",
        AYA,
        meds=(med("tramadol"),),
        verdict=WASH,
        severity="contraindicated",
        rules=("ayahuasca-serotonergic-opioid",),
        washout=(Washout("tramadol", 2, "planned"),),
    ),
    case(
        "dextromethorphan-cough-syrup-with-ayahuasca-is-contraindicated",
        "malcolm-thomas-2022, tripsit-combos-83670cb",
        AYA,
        meds=(med("dextromethorphan"),),
        verdict=WASH,
        severity="contraindicated",
        rules=("ayahuasca-dextromethorphan",),
        washout=(Washout("dextromethorphan", 1, "planned"),),
    ),
    case(
        "phenelzine-is-stopped-14-days-before-ayahuasca-under-the-protocol-rule",
        "label-fluoxetine-us, malcolm-thomas-2022",
        AYA,
        meds=(med("phenelzine"),),
        verdict=WASH,
        severity=ANY,
        washout=(Washout("phenelzine", 14, "planned"),),
        note=(
            "The knowledge base has no ayahuasca x MAO-inhibitor interaction rule; only the "
            "protocol's washout rule applies, so no severity is asserted (data gap)."
        ),
    ),
    case(
        "a-61-year-old-is-outside-the-ayahuasca-trial-age-range",
        "clinicaltrials-nct02914769",
        AYA,
        changes={"age_years": 61},
        verdict=NO,
        criteria_not_met=("age-18-to-60",),
    ),
    # --- esketamine (Spravato label) --------------------------------------------------------
    case(
        "oxycodone-and-diazepam-with-esketamine-need-close-respiratory-monitoring",
        "fda-2016-opioid-benzodiazepine, label-esketamine-us",
        ESK,
        meds=(med("OxyContin"), med("diazepam")),
        verdict=OK,
        severity="major",
        rules=(
            "ketamine-opioid",
            "ketamine-benzodiazepine-sedation",
            "opioid-with-other-cns-depressant-under-ketamine",
        ),
        generics=("oxycodone", "diazepam"),
    ),
    case(
        "sertraline-continues-with-esketamine",
        "label-esketamine-us",
        ESK,
        meds=(med("sertraline", taper=None),),
        verdict=OK,
        severity="minor",
        rules=("ketamine-antidepressants-continue",),
    ),
    case(
        "phenelzine-with-tramadol-is-contraindicated-whatever-the-study-drug",
        "label-phenelzine-us, boyer-shannon-2005",
        ESK,
        meds=(med("phenelzine"), med("tramadol")),
        verdict=NO,
        severity="contraindicated",
        rules=(
            "ketamine-maoi",
            "ketamine-opioid",
            "maoi-with-serotonergic-antidepressant-or-opioid",
        ),
    ),
    case(
        "methylphenidate-with-esketamine-needs-blood-pressure-monitoring",
        "label-esketamine-us",
        ESK,
        meds=(med("methylphenidate"),),
        verdict=OK,
        severity="moderate",
        rules=("ketamine-stimulant",),
    ),
    case(
        "rifampicin-may-weaken-esketamine",
        "peltoniemi-2012-rifampicin",
        ESK,
        meds=(med("rifampicin"),),
        verdict=OK,
        severity="reduced-effect",
        rules=("ketamine-cyp3a4-inducer",),
    ),
    case(
        "clarithromycin-raises-esketamine-exposure",
        "hagelberg-2010-clarithromycin",
        ESK,
        meds=(med("clarithromycin"),),
        verdict=OK,
        severity="moderate",
        rules=("ketamine-cyp3a4-inhibitor",),
    ),
    case(
        "a-blood-pressure-of-150-over-95-stops-esketamine-until-the-prescriber-weighs-it",
        "label-esketamine-us",
        ESK,
        changes={"vitals": {"systolic_bp_mmhg": 150, "diastolic_bp_mmhg": 95}},
        verdict=NO,
        criteria_not_met=("blood-pressure",),
    ),
    case(
        "breastfeeding-is-not-recommended-with-esketamine",
        "label-esketamine-us, mims-esketamine-pregnancy-ph",
        ESK,
        changes={"lactating": True},
        verdict=NO,
        criteria_not_met=("not-pregnant-or-breastfeeding",),
    ),
    case(
        "psychotic-depression-was-excluded-from-the-esketamine-trials",
        "centerwatch-transform-1",
        ESK,
        changes={"diagnoses": [{"code": "F32.3"}]},
        verdict=NO,
        criteria_not_met=("no-psychotic-or-bipolar-disorder",),
    ),
]


def _profile(c: Case) -> dict[str, Any]:
    profile = dict(BASELINES[c.protocol])
    profile.update(c.profile_changes)
    if c.medications is None:
        profile.pop("medications", None)
    else:
        profile["medications"] = list(c.medications)
    return {k: v for k, v in profile.items() if v is not None}


def _screen(c: Case) -> safety.ScreeningReport:
    return safety.screen(_profile(c), c.protocol, c.substance, c.dosing_date, today=TODAY)


# --- tests ------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", sorted(BASELINES))
def test_each_protocols_baseline_profile_is_eligible_on_its_own(protocol: str) -> None:
    report = safety.screen(BASELINES[protocol], protocol, SUBSTANCE[protocol], DOSING, today=TODAY)
    assert report.verdict is Verdict.ELIGIBLE, report.reasons
    assert {c.status for c in report.criteria} == {"met"}
    assert report.interactions == () and report.washout == () and report.unresolved == ()


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_a_literature_case_gets_the_screening_result_its_source_implies(c: Case) -> None:
    report = _screen(c)

    assert report.verdict is c.expect_verdict, report.reasons
    if c.expect_severity is not ANY:
        assert report.worst_severity == c.expect_severity

    fired = {f.rule for f in report.interactions} | {k.rule for k in report.combinations}
    missing_rules = set(c.expect_rules) - fired
    assert not missing_rules, f"rules that did not fire: {missing_rules}; fired: {fired}"

    not_met = {r.id for r in report.criteria if r.status == "not-met"}
    missing = {r.id for r in report.criteria if r.status == "missing"}
    assert not_met == set(c.expect_criteria_not_met)
    assert missing == set(c.expect_criteria_missing)

    steps = {w.medication: w for w in report.washout}
    assert set(steps) == {w.medication for w in c.expect_washout}
    for expected in c.expect_washout:
        step = steps[expected.medication]
        assert step.washout_days == expected.days, step.detail
        assert step.status == expected.status
        if expected.days is None:
            assert step.last_dose_by is None
        else:
            assert step.last_dose_by == c.dosing_date - dt.timedelta(days=expected.days)
        if expected.status == "complete":
            entry = next(m for m in c.medications or () if "last_dose" in m)
            last = dt.date.fromisoformat(entry["last_dose"])
            assert step.completes_on == last + dt.timedelta(days=expected.days or 0)
            assert step.completes_on <= c.dosing_date

    resolved = {m.medication for m in report.medications if m.medication}
    assert set(c.expect_generics) <= resolved
    unresolved = {u.as_entered: u.suggestions for u in report.unresolved}
    assert set(unresolved) == {entered for entered, _ in c.expect_unresolved}
    for entered, suggestion in c.expect_unresolved:
        assert suggestion in unresolved[entered]

    if c.expect_earliest is not None:
        assert report.earliest_dosing_date == c.expect_earliest
    if report.verdict is Verdict.ELIGIBLE:
        assert not report.unresolved


def test_fluoxetine_washout_lasts_five_norfluoxetine_half_lives_from_the_knowledge_base() -> None:
    protocol = KB.protocol("comp360-psilocybin-trd")
    assert protocol.washout_half_lives.value == 5
    fluoxetine = KB.medication("Prozac")
    assert fluoxetine.half_life is not None
    norfluoxetine = next(m for m in fluoxetine.half_life.metabolites if m.name == "norfluoxetine")
    assert norfluoxetine.active
    # the washout uses norfluoxetine because it outlasts the parent drug
    assert norfluoxetine.half_life.in_hours()[1] > fluoxetine.half_life.parent.in_hours()[1]
    expected = math.ceil(5 * norfluoxetine.half_life.in_hours()[1] / 24)
    profile = _healthy(medications=[med("Prozac")])
    report = safety.screen(profile, protocol.id, "psilocybin", LATER, today=TODAY)
    (step,) = report.washout
    assert step.washout_days == expected == NORFLUOXETINE_DAYS
    assert step.basis == "half-life" and "norfluoxetine" in step.detail
    assert step.last_dose_by == LATER - dt.timedelta(days=expected)


def test_the_cases_cover_every_severity_and_every_verdict() -> None:
    assert len(CASES) >= 45
    assert {c.expect_severity for c in CASES} >= set(SEVERITIES)
    assert {c.expect_verdict for c in CASES} == set(Verdict)
    assert {c.protocol for c in CASES} == set(BASELINES)


def test_case_ids_are_unique() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))


_DOI = re.compile(r"^doi:10\.\d{4,9}/\S+$")
_PMID = re.compile(r"^pmid:\d{1,9}$")


def test_every_case_cites_a_knowledge_base_reference_or_a_doi_or_pmid() -> None:
    for c in CASES:
        sources = [s.strip() for s in c.source.split(",") if s.strip()]
        assert sources, c.id
        for source in sources:
            assert source in KB.references or _DOI.match(source) or _PMID.match(source), (
                f"{c.id}: {source!r} is neither a reference id nor a doi:/pmid:"
            )


def test_every_rule_a_case_expects_exists_in_the_knowledge_base() -> None:
    known = set(KB.interactions) | set(KB.combinations)
    for c in CASES:
        assert set(c.expect_rules) <= known, c.id
        criteria = {cr.id for cr in KB.protocol(c.protocol).criteria} | {"medications-recorded"}
        assert set(c.expect_criteria_not_met) | set(c.expect_criteria_missing) <= criteria, c.id
