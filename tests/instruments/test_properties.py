"""Properties every instrument's scoring keeps (hypothesis): scores stay in range, reverse
scoring twice is the identity, prorating never applies where the manual forbids it, and a
batch scores every response exactly as it would be scored alone."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openpat import knowledge
from openpat.instruments import compile_definition, definition, score
from openpat.instruments.definition import Definition
from openpat.knowledge import schema as s

KB = knowledge.default()
SCORABLE = sorted(
    i.abbreviation
    for i in KB.instruments.values()
    if all(item.options or item.min is not None for item in i.items)
)


def answers_for(defn: Definition, missing_rate: float) -> st.SearchStrategy[list[float]]:
    """Valid answers for every item, some missing."""
    per_item = []
    for j in range(len(defn.keys)):
        values = defn.allowed[j]
        if values is not None:
            valid = st.sampled_from([float(v) for v in values])
        elif defn.integer[j]:
            valid = st.integers(int(defn.lo[j]), int(defn.hi[j])).map(float)
        else:
            valid = st.floats(float(defn.lo[j]), float(defn.hi[j]), allow_nan=False)
        per_item.append(st.one_of(valid, st.just(float("nan"))) if missing_rate else valid)
    return st.tuples(*per_item).map(lambda row: _not_asked_left_empty(defn, list(row)))


def _not_asked_left_empty(defn: Definition, row: list[float]) -> list[float]:
    """Items the skip logic does not ask stay unanswered (an answer there is refused)."""
    for item, gate, at_least in defn.ask_if:
        if row[gate] < at_least:
            row[item] = float("nan")
    return row


@settings(max_examples=40, deadline=None)
@given(data=st.data(), name=st.sampled_from(SCORABLE))
def test_scores_stay_within_the_instrument_range(data: st.DataObject, name: str) -> None:
    defn = definition(KB, name)
    rows = data.draw(st.lists(answers_for(defn, 0.2), min_size=1, max_size=12))
    result = score(defn, rows)
    total_range = defn.scoring.total
    if result.total is not None and total_range is not None:
        totals = result.total[~np.isnan(result.total)]
        assert np.all(totals >= total_range.low) and np.all(totals <= total_range.high)
    for sub in defn.subscales:
        values = result.subscales[sub.key]
        values = values[~np.isnan(values)]
        assert np.all(values >= 0)
        if sub.max is not None:
            assert np.all(values <= sub.max + 1e-9)
    # the band, where there is one, contains the total
    for i in range(len(result)):
        b = int(result.band[i])
        if b >= 0 and result.total is not None:
            band = defn.scoring.bands[b]
            assert band.low <= result.total[i] < band.high + 1


@settings(max_examples=40, deadline=None)
@given(data=st.data(), name=st.sampled_from(SCORABLE))
def test_prorating_never_applies_where_the_manual_forbids_it(
    data: st.DataObject, name: str
) -> None:
    defn = definition(KB, name)
    rows = data.draw(st.lists(answers_for(defn, 0.3), min_size=1, max_size=12))
    result = score(defn, rows)
    rule = defn.scoring.missing
    if rule is None or rule.kind == "none":
        assert not result.prorated.any()
        if result.total is not None:
            assert np.all(np.isnan(result.total[result.missing > 0]))
    else:
        assert np.all(result.missing[result.prorated] <= rule.max_missing)
        assert np.all(~result.scored[result.missing > rule.max_missing])


@settings(max_examples=30, deadline=None)
@given(data=st.data(), name=st.sampled_from(SCORABLE))
def test_a_batch_scores_each_response_as_it_would_alone(data: st.DataObject, name: str) -> None:
    defn = definition(KB, name)
    rows = data.draw(st.lists(answers_for(defn, 0.15), min_size=2, max_size=10))
    batch = score(defn, rows)
    for i, row in enumerate(rows):
        alone, together = score(defn, [row]).row(0), batch.row(i)
        assert alone.keys() == together.keys()
        for key, value in alone.items():
            if isinstance(value, float):  # fractional answers may be summed in another order
                assert together[key] == pytest.approx(value, rel=1e-12), key
            else:
                assert together[key] == value, key


def _reversed_instrument(reverse: list[bool]) -> Definition:
    instrument = s.Instrument.model_validate(
        {
            "id": "test-reverse",
            "name": "Reverse-scoring test scale",
            "abbreviation": "TRS",
            "measures": "nothing (test)",
            "administration": "self-report",
            "recall_period": "now",
            "updated": "2026-11-23",
            "refs": ["kroenke-2001"],
            "licence": {
                "summary": "test",
                "items_redistributable": True,
                "refs": ["kroenke-2001"],
            },
            "response_sets": {"likert": [{"value": v, "label": str(v)} for v in range(1, 6)]},
            "items": [
                {
                    "number": n + 1,
                    "key": f"i{n + 1}",
                    "label": f"item {n + 1}",
                    "options": "likert",
                    "reverse": r,
                }
                for n, r in enumerate(reverse)
            ],
            "scoring": {
                "method": "sum",
                "refs": ["kroenke-2001"],
                "subscales": [
                    {"key": "first", "label": "first half", "items": [1, 2, 3]},
                    {
                        "key": "mean-all",
                        "label": "mean",
                        "items": [1, 2, 3, 4, 5, 6],
                        "method": "mean",
                    },
                ],
                "missing": {
                    "kind": "prorate",
                    "max_missing": 2,
                    "subscale_max_missing": 1,
                    "description": "test",
                    "refs": ["kroenke-2001"],
                },
            },
        }
    )
    return compile_definition(instrument)


@settings(max_examples=60, deadline=None)
@given(
    reverse=st.lists(st.booleans(), min_size=6, max_size=6),
    answers=st.lists(
        st.lists(
            st.one_of(st.integers(1, 5).map(float), st.just(float("nan"))), min_size=6, max_size=6
        ),
        min_size=1,
        max_size=8,
    ),
)
def test_reverse_scoring_is_reflection_and_twice_is_identity(
    reverse: list[bool], answers: list[list[float]]
) -> None:
    flagged = _reversed_instrument(reverse)
    plain = _reversed_instrument([False] * 6)
    x = np.array(answers)
    flip = np.where(reverse, 6.0 - x, x)  # lowest + highest = 6
    a, b = score(flagged, x), score(plain, flip)
    assert a.total is not None and b.total is not None
    np.testing.assert_allclose(a.total, b.total, equal_nan=True)
    for key in ("first", "mean-all"):
        np.testing.assert_allclose(a.subscales[key], b.subscales[key], equal_nan=True)
    # reflecting twice is the identity: the flagged instrument scoring reflected answers
    # reflects them back, and so scores exactly as the plain one scores the originals
    back = score(flagged, flip)
    np.testing.assert_allclose(back.total, score(plain, x).total, equal_nan=True)
    for key in ("first", "mean-all"):
        np.testing.assert_allclose(
            back.subscales[key], score(plain, x).subscales[key], equal_nan=True
        )
