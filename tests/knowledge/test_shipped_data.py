"""The knowledge data shipped with openpat: complete, cited, and consistent."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from openpat import knowledge
from openpat.knowledge import schema as s
from openpat.knowledge.base import KnowledgeBase
from openpat.knowledge.loader import _walk, citations

SUBSTANCE_ROUTES = {
    "dmt": {"intravenous", "intramuscular", "inhaled"},
    "5-meo-dmt": {"inhaled"},
    "ayahuasca": {"oral"},
    "psilocybin": {"oral"},
    "lsd": {"oral"},
    "mdma": {"oral"},
    "ketamine": {"intravenous", "intramuscular"},
    "esketamine": {"intranasal"},
}
INSTRUMENTS = {
    "phq-9",
    "gad-7",
    "pcl-5",
    "caps-5",
    "madrs",
    "qids-sr16",
    "ham-d17",
    "meq-30",
    "edi",
    "ceq",
    "c-ssrs",
    "who-5",
    "audit",
}
# Jurisdictions no primary source could be found for (say so rather than guess): the UK and
# Australian status of 5-MeO-DMT rest on generic tryptamine clauses nobody could read.
LEGAL_GAPS = {"5-meo-dmt": {"GB", "AU"}}
TRIALS = {
    "mapp1",
    "mapp2",
    "comp360-phase2b",
    "davis-2021",
    "carhart-harris-2021",
    "raison-2023",
    "palhano-fontes-2019",
    "spl026-phase2a",
}


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return knowledge.default()


def everything(kb: KnowledgeBase) -> list[BaseModel]:
    return [
        *kb.substances.values(),
        *kb.medications.values(),
        *kb.interactions.values(),
        *kb.instruments.values(),
        *kb.trials.values(),
        *kb.combinations.values(),
        *kb.protocols.values(),
        *kb.medication_classes.values(),
    ]


def test_every_fact_bearing_entry_cites_a_reference_that_resolves(kb: KnowledgeBase) -> None:
    cited = 0
    for entry in everything(kb):
        for path, node in _walk(entry, ""):
            if isinstance(node, s.Cited):
                assert node.refs, f"{entry}: {path} cites nothing"
        for path, ref in citations(entry):
            cited += 1
            assert ref in kb.references, f"{path} cites unknown {ref!r}"
            assert kb.references[ref].link.startswith("http")
    assert cited > 500  # the check really ran over the data


def test_every_reference_resolves_through_a_doi_pmid_or_url(kb: KnowledgeBase) -> None:
    for ref in kb.references.values():
        assert ref.doi or ref.pmid or ref.url, ref.id
        if ref.url and not (ref.doi or ref.pmid):
            assert ref.accessed is not None, f"{ref.id}: web page without an accessed date"


def test_every_reference_is_cited_somewhere(kb: KnowledgeBase) -> None:
    used = {ref for entry in everything(kb) for _, ref in citations(entry)}
    unused = sorted(set(kb.references) - used)
    assert not unused, f"references nothing cites: {unused}"


def test_the_substances_and_routes_the_field_uses_are_all_there(kb: KnowledgeBase) -> None:
    for sub_id, routes in SUBSTANCE_ROUTES.items():
        sub = kb.substances[sub_id]
        assert routes <= {r.route.value for r in sub.routes}, sub_id
        assert sub.mechanism.targets and sub.chemical_class.refs
        assert any(t.primary for t in sub.mechanism.targets), sub_id
        assert sub.legal_status, sub_id
        jurisdictions = {ls.jurisdiction for ls in sub.legal_status}
        expected = {"US", "GB", "CA", "AU"} - LEGAL_GAPS.get(sub_id, set())
        assert expected <= jurisdictions, (sub_id, jurisdictions)
        assert sub.contraindications and sub.safety and sub.notable_effects, sub_id


def test_legal_status_covers_state_programs_and_eu_examples(kb: KnowledgeBase) -> None:
    psilocybin = {ls.jurisdiction for ls in kb.substances["psilocybin"].legal_status}
    assert {"US-OR", "US-CO"} <= psilocybin
    for sub_id in ("psilocybin", "mdma"):
        (au,) = [ls for ls in kb.substances[sub_id].legal_status if ls.jurisdiction == "AU"]
        assert "Schedule 8" in au.status
    for sub_id in ("dmt", "psilocybin", "lsd", "mdma", "ketamine"):
        eu = [
            ls
            for ls in kb.substances[sub_id].legal_status
            if ls.jurisdiction in {"NL", "DE", "CZ", "PT", "FR", "BE", "IT", "DK", "FI", "EU"}
        ]
        assert eu, f"{sub_id}: no EU example"


def test_regulatory_milestones_the_field_cites(kb: KnowledgeBase) -> None:
    def events(sub_id: str) -> list[tuple[str, str]]:
        return [(m.date.isoformat(), m.event) for m in kb.substances[sub_id].milestones]

    assert any(d == "2019-03-05" and "Spravato" in e for d, e in events("esketamine"))
    assert any(d.startswith("2024-08") and "complete response" in e for d, e in events("mdma"))
    assert any("Breakthrough" in e for _, e in events("mdma"))
    assert any("Breakthrough" in e and "COMP360" in e for _, e in events("psilocybin"))
    assert any(d.startswith("2023-07-01") for d, _ in events("psilocybin"))


def test_popular_claims_are_shown_beside_the_literature(kb: KnowledgeBase) -> None:
    dmt = kb.substances["dmt"]
    kinds = {d.source_kind for r in dmt.routes for d in r.durations}
    assert {s.SourceKind.POPULAR_CLAIM, s.SourceKind.CONTROLLED_STUDY} <= kinds
    assert dmt.disagreements and all(len(d.positions) >= 2 for d in dmt.disagreements)


def test_dmt_doses_state_their_salt_form(kb: KnowledgeBase) -> None:
    forms = {d.salt_form for r in kb.substances["dmt"].routes for d in r.doses}
    assert "fumarate" in forms


def test_every_required_route_has_a_cited_duration(kb: KnowledgeBase) -> None:
    for sub_id, routes in SUBSTANCE_ROUTES.items():
        for route in routes:
            profile = kb.substances[sub_id].route(route)
            assert profile is not None and profile.durations, (sub_id, route)


def test_dmt_carries_the_published_iv_pk_model(kb: KnowledgeBase) -> None:
    iv = kb.substances["dmt"].route("intravenous")
    assert iv is not None
    (model,) = [m for m in iv.pk_models if "eckernas-2022" in m.refs]
    params = {p.name: p for p in model.parameters}
    # Eckernäs et al. 2022 Table 1 (doi:10.1111/cts.13410)
    assert params["CL"].value == pytest.approx(26.0) and params["CL"].unit == "L/min"
    assert model.dose_basis == "fumarate"


def test_at_least_150_medications_with_brands_atc_classes_and_references(
    kb: KnowledgeBase,
) -> None:
    assert len(kb.medications) >= 150
    with_atc = [m for m in kb.medications.values() if m.atc]
    assert len(with_atc) >= 140
    for med in kb.medications.values():
        assert med.classes and med.refs, med.id


@pytest.mark.parametrize(
    "generic",
    [
        "citalopram",
        "escitalopram",
        "fluoxetine",
        "fluvoxamine",
        "paroxetine",
        "sertraline",
        "venlafaxine",
        "duloxetine",
        "amitriptyline",
        "phenelzine",
        "tranylcypromine",
        "moclobemide",
        "selegiline",
        "linezolid",
        "methylene blue",
        "lithium",
        "bupropion",
        "mirtazapine",
        "trazodone",
        "vortioxetine",
        "vilazodone",
        "quetiapine",
        "lamotrigine",
        "alprazolam",
        "zolpidem",
        "methylphenidate",
        "tramadol",
        "tapentadol",
        "methadone",
        "fentanyl",
        "buprenorphine",
        "sumatriptan",
        "dextromethorphan",
        "st john's wort",
        "ritonavir",
        "cobicistat",
        "propranolol",
        "clonidine",
        "cannabis",
        "alcohol",
        "nicotine",
    ],
)
def test_the_medications_the_issue_names_are_present(kb: KnowledgeBase, generic: str) -> None:
    assert kb.medication(generic) is not None


def test_fluoxetine_washout_counts_norfluoxetine(kb: KnowledgeBase) -> None:
    fluoxetine = kb.medication("fluoxetine")
    assert fluoxetine.half_life is not None
    (norfluoxetine,) = [m for m in fluoxetine.half_life.metabolites if "norfluoxetine" in m.name]
    assert norfluoxetine.active
    assert fluoxetine.half_life.effective_h == norfluoxetine.half_life.in_hours()[1]
    assert fluoxetine.half_life.effective_h > fluoxetine.half_life.parent.in_hours()[1]


def test_class_hierarchy_reaches_the_umbrella_classes(kb: KnowledgeBase) -> None:
    assert {"ssri", "antidepressant", "serotonergic"} <= kb.classes_of(kb.medication("sertraline"))
    assert "maoi" in kb.classes_of(kb.medication("phenelzine"))


def test_interaction_rules_fire_for_the_textbook_pairs(kb: KnowledgeBase) -> None:
    def worst(substance: str, medication: str) -> s.Severity | None:
        rules = kb.interactions_between(kb.substance(substance), kb.medication(medication))
        return rules[0].severity if rules else None

    assert worst("mdma", "phenelzine") == s.Severity.CONTRAINDICATED
    assert worst("psilocybin", "lithium") == s.Severity.CONTRAINDICATED
    assert worst("ayahuasca", "sertraline") == s.Severity.CONTRAINDICATED
    assert worst("mdma", "tramadol") == s.Severity.CONTRAINDICATED
    assert worst("mdma", "sertraline") is not None


def test_the_instruments_and_trials_the_issue_names_are_present(kb: KnowledgeBase) -> None:
    assert set(kb.instruments) >= INSTRUMENTS
    assert set(kb.trials) >= TRIALS


def test_item_text_is_shipped_only_where_the_licence_allows(kb: KnowledgeBase) -> None:
    for ins in kb.instruments.values():
        if not ins.licence.items_redistributable:
            assert all(item.text is None for item in ins.items), ins.id


def test_trial_results_name_real_arms_and_the_primary_instrument_exists(
    kb: KnowledgeBase,
) -> None:
    for trial in kb.trials.values():
        assert trial.primary_outcome.instrument in kb.instruments
        assert trial.results or trial.effect_sizes, trial.id


def test_the_data_is_versioned(kb: KnowledgeBase) -> None:
    assert kb.version == kb.manifest.changes[0].version
    assert len(kb.content_hash) == 64
