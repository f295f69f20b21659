"""Large batches are scored in blocks on several threads: the result must not depend on it."""

from __future__ import annotations

import numpy as np
import pytest

from openpat import knowledge
from openpat.errors import InvalidInput
from openpat.instruments import definition, score, scoring

KB = knowledge.default()


def _answers(name: str, n: int, missing: float, seed: int) -> np.ndarray:
    defn = definition(KB, name)
    rng = np.random.default_rng(seed)
    x = rng.integers(defn.lo, defn.hi + 1, size=(n, len(defn.keys))).astype(np.float64)
    x[rng.random(x.shape) < missing] = np.nan
    # an item the skip logic does not ask is left empty or at its lowest answer ("no"): a
    # higher answer there contradicts its gate and is refused
    for item, gate, at_least in defn.ask_if:
        not_asked = x[:, gate] < at_least
        x[not_asked, item] = np.where(rng.random(int(not_asked.sum())) < 0.5, np.nan, defn.lo[item])
    return x


@pytest.mark.parametrize("name", ["PHQ-9", "PCL-5", "MEQ-30", "C-SSRS", "WHO-5", "QIDS-SR16"])
@pytest.mark.parametrize("threads", [1, 3])
def test_blocks_and_threads_give_the_scores_of_one_pass(
    monkeypatch: pytest.MonkeyPatch, name: str, threads: int
) -> None:
    defn = definition(KB, name)
    x = _answers(name, 203, 0.08, seed=len(name))
    whole = score(defn, x)  # one block
    monkeypatch.setattr(scoring, "BLOCK_ROWS", 16)
    blocked = score(defn, x, threads=threads)
    assert len(blocked) == 203
    for i in range(203):
        assert blocked.row(i) == whole.row(i), i
    # and each row as it scores alone
    for i in (0, 17, 101, 202):
        assert score(defn, x[i]).row(0) == blocked.row(i)


def test_a_contradicted_skip_in_a_later_block_is_refused_not_scored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    defn = definition(KB, "C-SSRS")
    x = _answers("C-SSRS", 60, 0.0, seed=3)
    x[47, 1], x[47, 3] = 0, 1  # item 2 "no", item 4 "yes"
    monkeypatch.setattr(scoring, "BLOCK_ROWS", 10)
    with pytest.raises(InvalidInput) as caught:
        score(defn, x, threads=2)
    assert [p.field for p in caught.value.fields] == [f"row 48, {defn.keys[3]}"]


def test_a_wrong_answer_in_a_later_block_is_reported_with_its_row_and_all_later_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    defn = definition(KB, "PCL-5")
    x = _answers("PCL-5", 100, 0.05, seed=1)
    x[40, 3] = 7  # block 3 of 10-row blocks
    x[95, 0] = 2.5  # a later block
    monkeypatch.setattr(scoring, "BLOCK_ROWS", 10)
    with pytest.raises(InvalidInput) as caught:
        score(defn, x, first_row=2, threads=2)
    fields = [problem.field for problem in caught.value.fields]
    assert fields == [f"row 42, {defn.keys[3]}", f"row 97, {defn.keys[0]}"]
    assert caught.value.message.startswith("2 answer(s) are not allowed for PCL-5")


@pytest.mark.parametrize(("size", "dtype"), [(5, np.float32), (40, np.float64)])
def test_packed_cluster_counts_match_counting_each_cluster(size: int, dtype: type) -> None:
    from openpat.instruments.definition import _pack

    clusters = [np.arange(k * size, (k + 1) * size) for k in range(4)]
    minimum = [1, 2, size // 2, size]
    pack = _pack("test", clusters, minimum, 4 * size)
    assert pack.packing.dtype == dtype
    rng = np.random.default_rng(size)
    endorsed = (rng.random((500, 4 * size)) < rng.random((500, 1))).astype(dtype)
    packed = endorsed @ pack.packing
    met = ((packed + pack.bias).astype(np.int64) & pack.guard) == pack.guard
    counts = np.stack([endorsed[:, cols].sum(axis=1) for cols in clusters], axis=1)
    assert np.array_equal(met, (counts >= minimum).all(axis=1))
    assert met.any() and not met.all()
