"""Commonly prescribed medications (issue 15, point 6): the top of a cited public ranking is in
the knowledge base, their brands resolve, and a typical participant's medicines no longer make a
screening come out "needs information"."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from openpat import knowledge, safety
from openpat.knowledge.base import KnowledgeBase

RANKING = Path(__file__).parent / "data" / "clincalc-top-300-2023.yaml"
TOP = 250
# Rows of the ranking the knowledge base deliberately does not cover (each says why in the file).
SKIPPED = {"Sodium Salts"}
TODAY = dt.date(2026, 11, 23)
DOSING = dt.date(2027, 1, 15)


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return knowledge.default()


@pytest.fixture(scope="module")
def ranking() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(RANKING.read_text(encoding="utf-8"))
    return data


def test_the_ranking_is_cited_and_lists_ranks_1_to_250_once_each(
    kb: KnowledgeBase, ranking: dict[str, Any]
) -> None:
    assert ranking["source"] in kb.references
    assert [e["rank"] for e in ranking["entries"]] == list(range(1, TOP + 1))


def test_the_250_most_prescribed_drugs_are_in_the_knowledge_base(
    kb: KnowledgeBase, ranking: dict[str, Any]
) -> None:
    skipped = {e["name"] for e in ranking["entries"] if "medications" not in e}
    assert skipped == SKIPPED
    for entry in ranking["entries"]:
        if entry["name"] in SKIPPED:
            assert entry["skipped"].strip(), entry
            continue
        assert entry["medications"], entry
        for med_id in entry["medications"]:
            med = kb.medications.get(med_id)
            assert med is not None, f"rank {entry['rank']} {entry['name']}: no {med_id!r}"
            assert med.atc and med.classes and med.refs, med_id
            known = set(kb.medication_classes)
            assert set(med.classes) <= known, med_id


def test_every_covered_drug_has_a_cited_half_life_or_says_why_not(
    kb: KnowledgeBase, ranking: dict[str, Any]
) -> None:
    ids = {i for e in ranking["entries"] for i in e.get("medications", [])}
    for med_id in sorted(ids):
        med = kb.medications[med_id]
        if med.half_life is None:
            assert med.note and "half-life" in med.note, med_id
        else:
            assert med.half_life.refs and med.half_life.evidence is not None, med_id


@pytest.mark.parametrize(
    ("name", "generic", "atc"),
    [
        ("paracetamol", "paracetamol", "N02BE01"),
        ("acetaminophen", "paracetamol", "N02BE01"),
        ("ibuprofen", "ibuprofen", "M01AE01"),
        ("metformin", "metformin", "A10BA02"),
    ],
)
def test_everyday_medicines_resolve_with_their_atc_code(
    kb: KnowledgeBase, name: str, generic: str, atc: str
) -> None:
    med = kb.medication(name)
    assert med.generic == generic
    assert atc in med.atc


@pytest.mark.parametrize(
    ("brand", "generic"),
    [
        ("Tylenol", "paracetamol"),
        ("Panadol", "paracetamol"),
        ("Calpol", "paracetamol"),
        ("Advil", "ibuprofen"),
        ("Nurofen", "ibuprofen"),
        ("Brufen", "ibuprofen"),
        ("Glucophage", "metformin"),
        ("Lipitor", "atorvastatin"),
        ("Zocor", "simvastatin"),
        ("Synthroid", "levothyroxine"),
        ("Eltroxin", "levothyroxine"),
        ("Ventolin", "salbutamol"),
        ("ProAir", "salbutamol"),
        ("albuterol", "salbutamol"),
        ("Nexium", "esomeprazole"),
        ("Losec", "omeprazole"),
        ("Eliquis", "apixaban"),
        ("Ozempic", "semaglutide"),
        ("Augmentin", "clavulanic acid"),
        ("Bactrim", "sulfamethoxazole"),
    ],
)
def test_us_uk_and_eu_brands_resolve_to_their_generic(
    kb: KnowledgeBase, brand: str, generic: str
) -> None:
    assert kb.medication(brand).generic == generic
    assert kb.find_medications(brand)[0].medication.generic == generic


def _profile(*names: str) -> dict[str, Any]:
    return {
        "participant": "COMMON-001",
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
        "medications": [{"name": name, "taper_allowed": True} for name in names],
    }


@pytest.mark.parametrize(
    "names",
    [("paracetamol", "ibuprofen", "metformin"), ("Tylenol", "Advil", "Glucophage")],
)
def test_a_participant_on_paracetamol_ibuprofen_and_metformin_can_be_screened_for_psilocybin(
    kb: KnowledgeBase, names: tuple[str, ...]
) -> None:
    report = safety.screen(
        _profile(*names), "comp360-psilocybin-trd", "psilocybin", DOSING, today=TODAY, kb=kb
    )
    assert report.unresolved == ()
    assert {m.medication for m in report.medications} == {"paracetamol", "ibuprofen", "metformin"}
    assert report.verdict is safety.Verdict.ELIGIBLE, report.reasons
    assert report.interactions == () and report.washout == ()
