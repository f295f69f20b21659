"""Name look-up: brands map to generics; case, spaces and hyphens do not matter; typos find
the intended drug (real brand names)."""

from __future__ import annotations

import pytest

from openpat import knowledge
from openpat.errors import InvalidInput, NotFound


@pytest.fixture(scope="module")
def find():
    kb = knowledge.default()
    return kb.find_medications


@pytest.mark.parametrize(
    ("query", "generic"),
    [
        ("Zoloft", "sertraline"),
        ("Prozac", "fluoxetine"),
        ("Lexapro", "escitalopram"),
        ("Cipralex", "escitalopram"),
        ("Wellbutrin", "bupropion"),
        ("Effexor", "venlafaxine"),
        ("Cymbalta", "duloxetine"),
        ("Nardil", "phenelzine"),
        ("Lamictal", "lamotrigine"),
        ("Seroquel", "quetiapine"),
        ("Xanax", "alprazolam"),
        ("Ritalin", "methylphenidate"),
        ("Ultram", "tramadol"),
        ("Imitrex", "sumatriptan"),
        ("Emsam", "selegiline"),
    ],
)
def test_a_brand_finds_its_generic_first(find, query: str, generic: str) -> None:
    best = find(query)[0]
    assert best.medication.generic == generic
    assert (best.kind, best.how, best.score) == ("brand", "exact", 1.0)


@pytest.mark.parametrize(
    "query", ["sertraline", "SERTRALINE", " Sertraline ", "sert-raline", "Ser Traline"]
)
def test_case_spaces_and_hyphens_do_not_matter(find, query: str) -> None:
    best = find(query)[0]
    assert best.medication.generic == "sertraline" and best.how == "exact"


def test_hyphenated_and_spaced_names_match_each_other(find) -> None:
    assert find("St Johns Wort")[0].medication.id == "st-johns-wort"
    assert find("st.-john's-wort")[0].medication.id == "st-johns-wort"
    assert find("methyleneblue")[0].medication.generic == "methylene blue"


@pytest.mark.parametrize(
    ("typo", "generic", "via"),
    [
        ("sertralin", "sertraline", "sertraline"),
        ("Prozak", "fluoxetine", "Prozac"),
        ("escitalopran", "escitalopram", "escitalopram"),
        ("Welbutrin", "bupropion", "Wellbutrin"),
        ("venlafaxin", "venlafaxine", "venlafaxine"),
    ],
)
def test_typos_suggest_the_intended_drug(find, typo: str, generic: str, via: str) -> None:
    best = find(typo)[0]
    assert best.medication.generic == generic
    assert best.matched == via
    assert best.how in ("fuzzy", "prefix") and 0.6 < best.score < 1.0


def test_an_exact_match_outranks_any_fuzzy_match(find) -> None:
    # "citalopram" is also a close spelling of "escitalopram"
    hits = find("citalopram")
    assert hits[0].medication.generic == "citalopram" and hits[0].score == 1.0
    assert all(h.score < 1.0 for h in hits[1:])


def test_nonsense_finds_nothing_and_empty_is_refused(find) -> None:
    assert find("qqqqzzzzxxxx") == []
    with pytest.raises(InvalidInput):
        find("   ")


def test_substances_are_found_by_name_synonym_and_case() -> None:
    kb = knowledge.default()
    assert kb.substance("DMT").id == "dmt"
    assert kb.substance("n,n-dimethyltryptamine").id == "dmt"
    assert kb.substance("5-MeO-DMT").id == "5-meo-dmt"
    assert kb.substance("Psilocybin").id == "psilocybin"
    with pytest.raises(NotFound, match="did you mean"):
        kb.substance("psilocibin")
