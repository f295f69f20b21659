"""Every published figure in the validation table (docs/validation.md) against the
simulated typical subject: held rows within 20 %, recorded disagreements stay recorded."""

from __future__ import annotations

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
