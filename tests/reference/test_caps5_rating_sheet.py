"""CAPS-5 scoring sheet: severity from frequency and intensity, against the VA training table.

Reference: VA CAPS-5 web training, lesson 8 (va-caps5-severity-rule): the table of intensity
by frequency for the past-month version, and the three-prong rule. Frequency levels: 1 once a
month, 2 twice a month, 3 twice a week, 4 daily or almost daily (lesson 5)."""

from __future__ import annotations

import numpy as np
import pytest

from openpat import knowledge
from openpat.errors import InvalidInput
from openpat.instruments import definition, score
from openpat.instruments.ratings import sheet_severity

KB = knowledge.default()
SHEET = KB.instruments["caps-5"].scoring.rating_sheet
assert SHEET is not None

# (intensity, frequency levels, severity) rows of the lesson 8 table
TABLE = [
    (1, [1, 2, 3, 4], 1),  # minimal, once a month or more
    (2, [1], 1),  # clearly present, once a month only
    (2, [2, 3, 4], 2),  # clearly present, twice a month or more
    (3, [1, 2], 2),  # pronounced, at least once a month but under twice a week
    (3, [3, 4], 3),  # pronounced, twice a week or more
    (4, [1], 2),  # extreme, once a month only
    (4, [2, 3], 3),  # extreme, twice a month but not daily
    (4, [4], 4),  # extreme, daily or almost daily
]


@pytest.mark.parametrize(("intensity", "frequencies", "severity"), TABLE)
def test_the_training_table(intensity: int, frequencies: list[int], severity: int) -> None:
    got = sheet_severity(SHEET, frequencies, [intensity] * len(frequencies))
    assert got.tolist() == [severity] * len(frequencies)


def test_the_whole_table_at_once_and_the_rules_prongs() -> None:
    f, i = np.meshgrid(np.arange(5), np.arange(5))
    s = sheet_severity(SHEET, f, i)
    assert np.all(s[f == i] == f[f == i])  # prong 1: the same level
    assert np.all(s <= np.maximum(f, i))
    assert np.all(s[(i >= f + 2) & (f > 0)] == f[(i >= f + 2) & (f > 0)] + 1)  # prong 3
    assert np.all(s[(f == 0) | (i == 0)] == 0)  # never occurred, or no intensity


def test_missing_gives_missing_and_a_wrong_level_is_refused() -> None:
    assert np.isnan(sheet_severity(SHEET, [np.nan], [3])).all()
    with pytest.raises(InvalidInput) as caught:
        sheet_severity(SHEET, [5], [2])
    assert caught.value.fields[0].field == "frequency"


def test_caps5_ratings_are_whole_numbers_with_the_symptom_criteria() -> None:
    defn = definition(KB, "CAPS-5")
    with pytest.raises(InvalidInput):
        score(defn, [[1.5] + [0] * 19])
    # one B, one C, two D, two E symptoms at severity 2: criteria B-E met; total 12
    answers = [2, 0, 0, 0, 0, 2, 0, 2, 2, 0, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0]
    result = score(defn, answers).row(0)
    assert result["total"] == 12
    assert result["dsm5-symptom-criteria"] is True
    # a 1 (mild / subthreshold) does not count
    answers[14] = 1
    assert score(defn, answers).row(0)["dsm5-symptom-criteria"] is False
