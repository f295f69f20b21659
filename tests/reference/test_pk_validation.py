"""Every published figure in the validation table (docs/validation.md) against the
simulated typical subject: held rows within 20 %, recorded disagreements stay recorded."""

from __future__ import annotations

from pathlib import Path

import pytest

from openpat import knowledge
from openpat.pharmacology import library, validation

KB = knowledge.default()
ROWS = [(entry, target) for entry in library.entries(KB) for target in entry.model.validation]


@pytest.mark.parametrize(
    ("entry", "target"),
    ROWS,
    ids=[f"{e.model.id}:{t.quantity}:{t.dose}:{t.refs[0]}" for e, t in ROWS],
)
def test_published_figure_is_reproduced_within_20_percent(
    entry: library.ModelEntry, target: object
) -> None:
    model = library.build(entry)
    comparison = validation.check(model, [target])[0]  # type: ignore[list-item]
    if comparison.target.held:
        assert comparison.within, (comparison.published, comparison.simulated)
    else:  # a recorded disagreement: it must carry its reason
        assert comparison.target.note


def test_every_simulatable_substance_has_held_validation_rows() -> None:
    substances = {
        e.substance for e in library.entries(KB) if any(t.held for t in e.model.validation)
    }
    assert {"dmt", "psilocybin", "lsd", "mdma", "ketamine"} <= substances


def test_dmt_model_carries_the_published_eckernas_parameters() -> None:
    model = library.load(KB, "dmt", "iv")
    assert model.cl_l_per_min == 26.0 and model.v1_l == 221.0
    assert model.effect is not None
    # EC50 94.7 nM × 188.27 g/mol = 17.83 ng/mL
    assert model.effect.ec50_mg_per_l * 1000 == pytest.approx(17.83, rel=1e-3)
    assert dict(zip(model.omega_names, [model.omega[i][i] for i in range(3)], strict=True)) == (
        pytest.approx({"CL": 0.473**2, "EC50": 0.386**2, "gamma": 0.773**2})
    )


def test_docs_validation_page_is_the_generated_table() -> None:
    """docs/validation.md embeds `openpat pk validation --format markdown` verbatim."""
    page = (Path(__file__).parents[2] / "docs" / "validation.md").read_text(encoding="utf-8")
    table = validation.markdown(KB)
    begin = page.index(validation.MARKDOWN_BEGIN)
    end = page.index(validation.MARKDOWN_END) + len(validation.MARKDOWN_END) + 1
    assert page[begin:end] == table, (
        "docs/validation.md is out of date: replace its table with the output of "
        "`openpat pk validation --format markdown`"
    )


def test_validation_table_rows_carry_the_published_and_simulated_values() -> None:
    rows = validation.table(KB)
    assert len(rows) == len(ROWS)
    psilocin_25 = next(
        r for r in rows if r.substance == "psilocybin" and r.quantity == "cmax" and r.dose == "25mg"
    )
    assert psilocin_25.published == "17" and psilocin_25.unit == "ng/mL"
    assert psilocin_25.simulated == pytest.approx(17.0, rel=0.2)
    assert psilocin_25.status == "held"
    ketamine_half_life = next(
        r for r in rows if r.substance == "ketamine" and r.quantity == "half-life"
    )
    assert ketamine_half_life.status == "disagreement" and not ketamine_half_life.within
