"""Randomisation: balance within strata and blocks, replay from the seed, minimisation."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest

from openpat.errors import InvalidInput
from openpat.trial.randomisation import (
    ArmShare,
    allocate_block,
    block_list,
    minimisation_imbalance,
    minimise,
    stratum_key,
)

ONE_TO_ONE = [ArmShare("psilocybin"), ArmShare("placebo")]
TWO_TO_ONE = [ArmShare("active", 2), ArmShare("control", 1)]


def test_the_list_is_fixed_by_seed_and_stratum() -> None:
    a = block_list(ONE_TO_ONE, seed=2026, stratum="site=LON", length=60)
    assert a == block_list(ONE_TO_ONE, seed=2026, stratum="site=LON", length=60)
    assert a[:10] == block_list(ONE_TO_ONE, seed=2026, stratum="site=LON", length=10)
    assert a != block_list(ONE_TO_ONE, seed=2027, stratum="site=LON", length=60)
    assert a != block_list(ONE_TO_ONE, seed=2026, stratum="site=SF", length=60)


def test_every_block_is_balanced_and_sizes_vary() -> None:
    entries = block_list(ONE_TO_ONE, seed=7, stratum="", length=400, block_multiples=(1, 2, 3))
    sizes = Counter()
    for _, group in itertools.groupby(entries, key=lambda e: e.block):
        block = list(group)
        if len(block) < block[0].block_size:
            continue  # the last block may be cut off by the length asked for
        counts = Counter(e.arm for e in block)
        assert counts["psilocybin"] == counts["placebo"] == block[0].block_size // 2
        sizes[block[0].block_size] += 1
    assert set(sizes) == {2, 4, 6}
    # at any point the arms differ by at most half the largest block
    diff = np.cumsum([1 if e.arm == "psilocybin" else -1 for e in entries])
    assert np.abs(diff).max() <= 3


def test_a_two_to_one_ratio_holds_at_every_block_end() -> None:
    entries = block_list(TWO_TO_ONE, seed=11, length=300)
    ends = [
        i
        for i in range(len(entries))
        if i + 1 == len(entries) or entries[i + 1].block != entries[i].block
    ]
    for end in ends:
        counts = Counter(e.arm for e in entries[: end + 1])
        assert counts["active"] == 2 * counts["control"]
    assert {e.block_size for e in entries} == {3, 6}


def test_balance_within_each_stratum() -> None:
    rng = np.random.default_rng(5)
    per_stratum: dict[str, list[str]] = {}
    for _ in range(500):
        levels = {"site": str(rng.choice(["LON", "SF", "BER"])), "sex": str(rng.choice(["F", "M"]))}
        key = stratum_key(levels, ["site", "sex"])
        position = len(per_stratum.setdefault(key, []))
        per_stratum[key].append(
            allocate_block(ONE_TO_ONE, seed=99, stratum=key, position=position).arm
        )
    assert len(per_stratum) == 6
    for arms in per_stratum.values():
        counts = Counter(arms)
        assert abs(counts["psilocybin"] - counts["placebo"]) <= 2


def test_an_allocation_says_how_to_replay_it() -> None:
    a = allocate_block(ONE_TO_ONE, seed=42, stratum="site=LON|sex=F", position=5)
    assert a.arm == block_list(ONE_TO_ONE, seed=42, stratum="site=LON|sex=F", length=6)[5].arm
    assert "seed 42" in a.replay() and "entry 6" in a.replay() and "site=LON|sex=F" in a.replay()


def test_bad_input_is_refused_with_the_field_named() -> None:
    with pytest.raises(InvalidInput) as caught:
        stratum_key({"site": "LON"}, ["site", "sex"])
    assert caught.value.fields[0].field == "strata.sex"
    with pytest.raises(InvalidInput):
        block_list([ArmShare("only")], seed=1, length=4)
    with pytest.raises(InvalidInput):
        block_list([ArmShare("a", 0), ArmShare("b")], seed=1, length=4)
    with pytest.raises(InvalidInput):
        minimise(ONE_TO_ONE, {"sex": "F"}, [], seed=1, p_preferred=0.3)


def _simulate(method: str, n: int, seed: int) -> tuple[float, Counter[str]]:
    """Largest imbalance over the factor levels after n participants."""
    rng = np.random.default_rng(seed)
    previous: list[tuple[dict[str, str], str]] = []
    for i in range(n):
        levels = {
            "site": str(rng.choice(["LON", "SF", "BER", "TOR"])),
            "sex": str(rng.choice(["F", "M"])),
            "severity": str(rng.choice(["moderate", "severe"], p=[0.7, 0.3])),
        }
        if method == "minimisation":
            arm = minimise(ONE_TO_ONE, levels, previous, seed=seed).arm
        else:
            arm = ONE_TO_ONE[int(rng.integers(2))].arm
        previous.append((levels, arm))
    worst = 0.0
    for factor in ("site", "sex", "severity"):
        for level in {p[0][factor] for p in previous}:
            counts = Counter(arm for lv, arm in previous if lv[factor] == level)
            worst = max(worst, abs(counts["psilocybin"] - counts["placebo"]))
    return worst, Counter(arm for _, arm in previous)


def test_minimisation_balances_every_factor_better_than_chance() -> None:
    worst_min = [_simulate("minimisation", 120, s)[0] for s in range(8)]
    worst_simple = [_simulate("simple", 120, s)[0] for s in range(8)]
    # with p = 0.8 the worst level imbalance stays small; simple randomisation drifts
    assert max(worst_min) <= 6
    assert np.mean(worst_min) < 0.4 * np.mean(worst_simple)


def test_minimisation_replays_and_records_its_imbalance() -> None:
    previous = [
        ({"sex": "F", "site": "LON"}, "psilocybin"),
        ({"sex": "F", "site": "SF"}, "psilocybin"),
    ]
    levels = {"sex": "F", "site": "LON"}
    a = minimise(ONE_TO_ONE, levels, previous, seed=3, p_preferred=1.0)
    # joining placebo levels both factors (F: 2-1, LON: 1-1); psilocybin would worsen them
    assert a.imbalance == {"psilocybin": 3.0 + 2.0, "placebo": 1.0 + 0.0}
    assert a.arm == "placebo"
    assert minimise(ONE_TO_ONE, levels, previous, seed=3) == minimise(
        ONE_TO_ONE, levels, previous, seed=3
    )
    assert "draw" in a.replay()


def test_minimisation_with_a_two_to_one_ratio_allocates_in_proportion() -> None:
    rng = np.random.default_rng(8)
    previous: list[tuple[dict[str, str], str]] = []
    for _ in range(300):
        levels = {"sex": str(rng.choice(["F", "M"]))}
        previous.append((levels, minimise(TWO_TO_ONE, levels, previous, seed=8).arm))
    counts = Counter(arm for _, arm in previous)
    assert counts["active"] / counts["control"] == pytest.approx(2.0, abs=0.15)


def test_taves_sum_measure_counts_matching_participants() -> None:
    previous = [
        ({"sex": "F"}, "psilocybin"),
        ({"sex": "F"}, "psilocybin"),
        ({"sex": "M"}, "placebo"),
    ]
    g = minimisation_imbalance(ONE_TO_ONE, {"sex": "F"}, previous, measure="sum")
    assert g == {"psilocybin": 2.0, "placebo": 0.0}
