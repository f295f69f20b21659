"""Randomisation: stratified permuted blocks and minimisation, replayable from a seed.

Two methods, chosen by the protocol:

- **Stratified permuted blocks** with random block sizes. Each stratum (one combination of
  the stratification factors' levels) has its own allocation list, built from the study's
  seed and the stratum's name alone: block after block, each a random multiple of the
  allocation ratio's total, each shuffled. The n-th participant of a stratum gets the n-th
  entry. The list is the same whoever asks and whenever, so an allocation is replayed from
  (seed, stratum, position), and the statistician's allocation list is the same list.
- **Minimisation** (Pocock and Simon 1975; Taves 1974): the arm that would leave the study
  least imbalanced on the new participant's factor levels is preferred, and taken with
  probability ``p_preferred``; ties are broken at random. Each decision draws from a
  generator made from (seed, sequence number), and the allocation records the imbalance of
  every arm and the draw, so it can be replayed given the participants before it.

A ratio such as 2:1 is honoured in both: blocks hold arms in proportion, and minimisation
compares counts divided by each arm's share.

References
----------
Pocock SJ, Simon R. Sequential treatment assignment with balancing for prognostic factors in
the controlled clinical trial. Biometrics 1975;31:103-115. doi:10.2307/2529712
Taves DR. Minimization: a new method of assigning patients to treatment and control groups.
Clin Pharmacol Ther 1974;15:443-453. doi:10.1002/cpt1974155443
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from openpat.errors import FieldProblem, InvalidInput

Measure = Literal["range", "variance", "sum"]


@dataclass(frozen=True, slots=True)
class ArmShare:
    """An arm and its whole-number share of the allocation ratio (2 and 1 for 2:1)."""

    arm: str
    ratio: int = 1


@dataclass(frozen=True, slots=True)
class Allocation:
    """One participant's arm and what replays it."""

    arm: str
    method: Literal["blocks", "minimisation"]
    seed: int
    stratum: str  # "" without stratification
    position: int  # blocks: 0-based place in the stratum's list; minimisation: sequence number
    block: int | None = None  # blocks: 0-based block number within the stratum
    block_size: int | None = None
    imbalance: dict[str, float] = field(default_factory=dict)  # minimisation: G per arm
    draw: float | None = None  # minimisation: the uniform draw that chose the arm

    def replay(self) -> str:
        """How to replay this allocation, in words."""
        if self.method == "blocks":
            where = f"stratum {self.stratum!r}" if self.stratum else "the single stratum"
            return (
                f"permuted blocks, seed {self.seed}, {where}, entry {self.position + 1} "
                f"(block {self.block}, size {self.block_size})"
            )
        totals = ", ".join(f"{arm} {g:g}" for arm, g in self.imbalance.items())
        return (
            f"minimisation, seed {self.seed}, participant {self.position + 1}: imbalance "
            f"{totals}; draw {self.draw:.6f}"
        )


def stratum_key(levels: Mapping[str, str], factors: Sequence[str]) -> str:
    """The stratum of a participant: ``factor=level`` for each stratification factor, in the
    protocol's order, joined by ``|``. A missing factor is refused."""
    missing = [f for f in factors if not str(levels.get(f, "")).strip()]
    if missing:
        raise InvalidInput(
            "stratification factors missing",
            fields=[
                FieldProblem(f"strata.{f}", "is needed to randomise; record it first")
                for f in missing
            ],
        )
    return "|".join(f"{f}={str(levels[f]).strip()}" for f in factors)


def _check_arms(arms: Sequence[ArmShare]) -> None:
    problems = []
    if len(arms) < 2:
        problems.append(FieldProblem("arms", "a randomised study needs at least two arms"))
    names = [a.arm for a in arms]
    if len(set(names)) != len(names):
        problems.append(FieldProblem("arms", "arm names must differ"))
    for a in arms:
        if not isinstance(a.ratio, int) or a.ratio < 1:
            problems.append(FieldProblem(f"arms.{a.arm}.ratio", "must be a whole number >= 1"))
    if problems:
        raise InvalidInput("the arms cannot be randomised", fields=problems)


def _generator(seed: int, *parts: str | int) -> np.random.Generator:
    """A generator fixed by the seed and the parts (method, stratum, sequence number): the
    same inputs give the same stream on any machine and NumPy version with PCG64."""
    words = [int(seed) & 0xFFFFFFFF, int(seed) >> 32 & 0xFFFFFFFF]
    for part in parts:
        digest = hashlib.sha256(str(part).encode()).digest()
        words += [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(words)))


@dataclass(frozen=True, slots=True)
class BlockEntry:
    arm: str
    block: int
    block_size: int


def block_list(
    arms: Sequence[ArmShare],
    *,
    seed: int,
    stratum: str = "",
    length: int,
    block_multiples: Sequence[int] = (1, 2),
) -> list[BlockEntry]:
    """The first ``length`` entries of a stratum's allocation list.

    Blocks are ``m`` times the ratio's total long, ``m`` drawn uniformly from
    ``block_multiples`` for each block (random block sizes keep the next allocation from
    being guessed at the end of a block); each block holds every arm ``m`` times its ratio,
    in random order."""
    _check_arms(arms)
    if not block_multiples or any(int(m) < 1 for m in block_multiples):
        raise InvalidInput.for_field("block_multiples", "give whole numbers >= 1, e.g. [1, 2]")
    if length < 0:
        raise InvalidInput.for_field("length", "must be 0 or more")
    rng = _generator(seed, "blocks", stratum)
    unit = np.repeat(np.arange(len(arms)), [a.ratio for a in arms])
    multiples = np.array(sorted({int(m) for m in block_multiples}))
    out: list[BlockEntry] = []
    block = 0
    while len(out) < length:
        m = int(rng.choice(multiples))
        order = rng.permutation(np.tile(unit, m))
        out += [BlockEntry(arms[int(k)].arm, block, order.size) for k in order]
        block += 1
    return out[:length]


def allocate_block(
    arms: Sequence[ArmShare],
    *,
    seed: int,
    stratum: str,
    position: int,
    block_multiples: Sequence[int] = (1, 2),
) -> Allocation:
    """The allocation of the participant at ``position`` (0-based) in their stratum."""
    entry = block_list(
        arms, seed=seed, stratum=stratum, length=position + 1, block_multiples=block_multiples
    )[position]
    return Allocation(
        arm=entry.arm,
        method="blocks",
        seed=seed,
        stratum=stratum,
        position=position,
        block=entry.block,
        block_size=entry.block_size,
    )


def minimisation_imbalance(
    arms: Sequence[ArmShare],
    levels: Mapping[str, str],
    previous: Sequence[tuple[Mapping[str, str], str]],
    *,
    weights: Mapping[str, float] | None = None,
    measure: Measure = "range",
) -> dict[str, float]:
    """The total imbalance G for each arm the new participant could join.

    For each factor, count the earlier participants with the new participant's level in each
    arm, add the new participant to the candidate arm, and divide each count by the arm's
    ratio; the factor's imbalance is the range (largest minus smallest) or the variance of
    those counts (Pocock and Simon 1975). With ``measure="sum"``, it is the candidate arm's
    own count before adding the participant (Taves 1974: the marginal totals). G is the
    weighted sum over factors (weights default to 1)."""
    _check_arms(arms)
    names = [a.arm for a in arms]
    ratio = np.array([a.ratio for a in arms], dtype=float)
    factors = list(levels)
    w = np.array([float((weights or {}).get(f, 1.0)) for f in factors])
    counts = np.zeros((len(factors), len(arms)))
    index = {name: k for k, name in enumerate(names)}
    for earlier, arm in previous:
        if arm not in index:
            raise InvalidInput.for_field("previous", f"unknown arm {arm!r}; arms: {names}")
        for i, f in enumerate(factors):
            if earlier.get(f) == levels[f]:
                counts[i, index[arm]] += 1
    totals: dict[str, float] = {}
    for k, name in enumerate(names):
        if measure == "sum":
            per_factor = counts[:, k] / ratio[k]
        else:
            trial = counts.copy()
            trial[:, k] += 1
            scaled = trial / ratio
            if measure == "range":
                per_factor = scaled.max(axis=1) - scaled.min(axis=1)
            else:
                per_factor = scaled.var(axis=1, ddof=1)
        totals[name] = float(np.dot(w, per_factor))
    return totals


def minimise(
    arms: Sequence[ArmShare],
    levels: Mapping[str, str],
    previous: Sequence[tuple[Mapping[str, str], str]],
    *,
    seed: int,
    weights: Mapping[str, float] | None = None,
    measure: Measure = "range",
    p_preferred: float = 0.8,
) -> Allocation:
    """Allocate the next participant by minimisation.

    The arms with the smallest imbalance are preferred (one of them at random when several
    tie); the preferred arm is taken with probability ``p_preferred`` and otherwise one of the
    other arms at random (all arms equally when every imbalance ties). ``p_preferred=1`` is
    deterministic minimisation, which the literature advises against because the next
    allocation can then be predicted."""
    if not 0.5 <= p_preferred <= 1:
        raise InvalidInput.for_field("p_preferred", "must be between 0.5 and 1 (e.g. 0.8)")
    totals = minimisation_imbalance(arms, levels, previous, weights=weights, measure=measure)
    names = list(totals)
    g = np.array([totals[n] for n in names])
    sequence = len(previous)
    rng = _generator(seed, "minimisation", sequence)
    best = np.flatnonzero(np.isclose(g, g.min(), rtol=0, atol=1e-12))
    draw = float(rng.random())
    if best.size == len(names):
        chosen = int(best[int(draw * best.size)])
    else:
        preferred = int(best[int(rng.integers(best.size))]) if best.size > 1 else int(best[0])
        others = [k for k in range(len(names)) if k != preferred]
        if draw < p_preferred:
            chosen = preferred
        else:
            share = (draw - p_preferred) / (1 - p_preferred)
            chosen = others[min(int(share * len(others)), len(others) - 1)]
    return Allocation(
        arm=names[chosen],
        method="minimisation",
        seed=seed,
        stratum="",
        position=sequence,
        imbalance=totals,
        draw=draw,
    )
