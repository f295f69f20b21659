"""Bang's and James's blinding indices against published and externally computed values.

- Enblom A et al. Evid Based Complement Alternat Med 2011:185034 (doi:10.1155/2011/185034),
  Table 2: Bang's index with 95 % CI per arm, from the printed counts (published values,
  two decimals).
- Houweling 2014 investigators' guesses, the example table of the R package BI (Mercaldo,
  Schwartz) and of BlindingIndex.jl, whose README prints James 0.896 (SE 0.011, 0.875-0.918),
  Bang treatment 0.115 (0.08-0.15) and control 0.022 (-0.016-0.06): externally computed,
  not published by the trial's authors.
"""

from __future__ import annotations

import numpy as np
import pytest

from openpat.errors import InvalidInput
from openpat.trial.blinding import blinding_indices


def test_enblom_2011_bang_index_per_arm() -> None:
    # columns: verum (acupuncture), sham; rows: guessed verum, guessed sham, not sure
    result = blinding_indices([[74, 68], [6, 11], [15, 16]], arms=("verum", "sham"))
    verum, sham = result.bang
    assert verum.estimate == pytest.approx(0.72, abs=0.005)
    assert (verum.low, verum.high) == pytest.approx((0.60, 0.83), abs=0.005)
    assert sham.estimate == pytest.approx(-0.60, abs=0.005)
    assert (sham.low, sham.high) == pytest.approx((-0.74, -0.46), abs=0.005)
    assert "broken" in result.bang_reading(0)
    assert "opposite" in result.bang_reading(1)


def test_houweling_investigators_james_and_bang() -> None:
    result = blinding_indices([[48, 22], [4, 30], [330, 319]])
    assert result.james.estimate == pytest.approx(0.896, abs=0.0005)
    assert result.james.se == pytest.approx(0.011, abs=0.0005)
    assert (result.james.low, result.james.high) == pytest.approx((0.875, 0.918), abs=0.0006)
    treatment, control = result.bang
    assert treatment.estimate == pytest.approx(0.115, abs=0.0005)
    assert (treatment.low, treatment.high) == pytest.approx((0.08, 0.15), abs=0.005)
    assert control.estimate == pytest.approx(0.022, abs=0.0005)
    assert (control.low, control.high) == pytest.approx((-0.016, 0.06), abs=0.0006)
    assert result.james_reading() == "no evidence of unblinding"


def test_edges_of_the_indices() -> None:
    everyone_right = blinding_indices([[50, 0], [0, 50], [0, 0]])
    assert everyone_right.james.estimate == pytest.approx(0.0)
    assert [b.estimate for b in everyone_right.bang] == [1.0, 1.0]
    only_dont_know = blinding_indices([[0, 0], [0, 0], [20, 20]])
    assert only_dont_know.james.estimate == 1.0 and only_dont_know.james.se == 0.0
    chance = blinding_indices([[25, 25], [25, 25], [0, 0]])
    assert chance.james.estimate == pytest.approx(0.5)
    assert [b.estimate for b in chance.bang] == [0.0, 0.0]
    nobody = blinding_indices([[0, 3], [0, 3], [0, 0]])
    assert np.isnan(nobody.bang[0].estimate)


def test_intervals_stay_within_the_range_of_each_index() -> None:
    # few guesses, nearly all right: the plain Wald interval of Bang's index reaches 1.10
    few = blinding_indices([[9, 1], [1, 9], [0, 0]])
    plain_high = few.bang[0].estimate + 1.959964 * few.bang[0].se
    assert plain_high > 1.0  # what the page showed before
    for b in few.bang:
        assert -1.0 <= b.low <= b.estimate <= b.high <= 1.0
    assert few.bang[0].high == 1.0
    everyone_wrong = blinding_indices([[0, 10], [10, 0], [0, 0]])
    for b in everyone_wrong.bang:
        assert b.low == -1.0
    assert 0.0 <= few.james.low <= few.james.high <= 1.0


@pytest.mark.parametrize(
    "counts", [[[1, 2], [3, 4]], [[1, 2], [3, -4], [0, 0]], [[1.5, 2], [3, 4], [0, 0]]]
)
def test_bad_tables_are_refused(counts: list[list[float]]) -> None:
    with pytest.raises(InvalidInput):
        blinding_indices(counts)
