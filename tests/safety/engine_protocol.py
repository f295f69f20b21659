"""A small protocol used to test the screening engine itself, independent of the shipped
templates' content (which the literature cases test)."""

from __future__ import annotations

from openpat.knowledge import schema as s
from openpat.knowledge.base import KnowledgeBase


def engine_protocol(kb: KnowledgeBase, substance: str = "psilocybin") -> s.Protocol:
    ref = sorted(kb.references)[0]
    return s.Protocol.model_validate(
        {
            "id": "engine-test",
            "title": "Engine test protocol",
            "substance": substance,
            "indication": "test",
            "description": "Exercises every kind of test the criteria language has.",
            "refs": [ref],
            "washout_half_lives": {"value": 5, "refs": [ref]},
            "washout_rules": [
                {
                    "id": "antidepressants",
                    "medication_classes": ["antidepressant"],
                    "washout_days": 14,
                    "text": "Antidepressants stopped 2 weeks before dosing.",
                    "refs": [ref],
                }
            ],
            "criteria": [
                {
                    "id": "adult",
                    "kind": "inclusion",
                    "text": "18 to 65",
                    "tests": [
                        {"field": "age_years", "at_least": 18},
                        {"field": "age_years", "at_most": 65},
                    ],
                    "refs": [ref],
                },
                {
                    "id": "depression",
                    "kind": "inclusion",
                    "text": "Depression",
                    "tests": [{"field": "diagnoses", "any_of": ["F32", "F33"]}],
                    "refs": [ref],
                },
                {
                    "id": "not-pregnant",
                    "kind": "exclusion",
                    "text": "Not pregnant",
                    "applies_when": {"field": "sex", "equals": "female"},
                    "tests": [{"field": "pregnant", "equals": False}],
                    "refs": [ref],
                },
                {
                    "id": "blood-pressure",
                    "kind": "exclusion",
                    "text": "BP below 140/90",
                    "tests": [
                        {"field": "systolic_bp_mmhg", "below": 140},
                        {"field": "diastolic_bp_mmhg", "below": 90},
                    ],
                    "refs": [ref],
                },
                {
                    "id": "qtc",
                    "kind": "exclusion",
                    "text": "QTc at most 450 ms",
                    "tests": [{"field": "qtc_ms", "at_most": 450}],
                    "refs": [ref],
                },
                {
                    "id": "no-psychosis",
                    "kind": "exclusion",
                    "text": "No psychosis",
                    "tests": [
                        {"field": "personal_history", "none_of": ["psychosis", "bipolar-i"]},
                        {"field": "family_history", "none_of": ["psychosis"]},
                        {"field": "diagnoses", "none_of": ["F20", "F31"]},
                    ],
                    "refs": [ref],
                },
                {
                    "id": "suicide-risk",
                    "kind": "exclusion",
                    "text": "C-SSRS",
                    "tests": [
                        {"field": "cssrs_ideation", "at_most": "3"},
                        {"field": "cssrs_behaviour_past_year", "equals": False},
                    ],
                    "refs": [ref],
                },
                {
                    "id": "no-sud",
                    "kind": "exclusion",
                    "text": "No moderate or severe SUD",
                    "tests": [{"field": "substance_use_disorder", "at_most": "mild"}],
                    "refs": [ref],
                },
                {
                    "id": "no-recent-psychedelic",
                    "kind": "exclusion",
                    "text": "None in 6 months",
                    "tests": [{"field": "days_since_psychedelic_use", "at_least": 183}],
                    "refs": [ref],
                },
            ],
        }
    )


def eligible_profile(**changes: object) -> dict[str, object]:
    """A profile that meets every criterion of :func:`engine_protocol`."""
    profile: dict[str, object] = {
        "participant": "P-001",
        "assessed_on": "2026-11-23",
        "age_years": 40,
        "sex": "female",
        "pregnant": False,
        "lactating": False,
        "diagnoses": [{"code": "F33.1"}],
        "personal_history": [],
        "family_history": [],
        "vitals": {"systolic_bp_mmhg": 122, "diastolic_bp_mmhg": 78, "heart_rate_bpm": 70},
        "qtc_ms": 410,
        "cssrs": {"ideation": 1, "behaviour_past_year": False},
        "substance_use": {"disorder": "none", "never_used_psychedelics": True},
        "medications": [],
    }
    profile.update(changes)
    return profile
