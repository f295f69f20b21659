"""Scoring benchmark: 1,000,000 responses each of PHQ-9, PCL-5 and MEQ-30.

For each instrument, in the same run: openpat's vectorised scoring (validation, totals,
subscales, missing-item rule, bands, classifications), on one thread per core (the default)
and on one thread; (a) a per-response Python loop that does the same work (timed on a
subsample and scaled); (b) a plain NumPy sum over the same array (the floor, one thread).
Goals: >= 50x the loop, within 3x of the plain sum. The answers are random valid answers with
1 % missing, and both paths must agree on the subsample. Each time is the best of 5.
"""

from __future__ import annotations

import math
import time

import numpy as np

from openpat import knowledge
from openpat.instruments import definition, score, scoring
from openpat.instruments.definition import Definition

N = 1_000_000
LOOP_SAMPLE = 20_000
MISSING_RATE = 0.01


def answers(defn: Definition, n: int, rng: np.random.Generator) -> np.ndarray:
    x = rng.integers(defn.lo, defn.hi + 1, size=(n, len(defn.keys))).astype(np.float64)
    x[rng.random(x.shape) < MISSING_RATE] = np.nan
    return x


def loop_score(defn: Definition, rows: np.ndarray) -> list[float | None]:
    """The same rules written one response at a time, as a script would."""
    rule = defn.scoring.missing
    allowed_missing = rule.max_missing if rule is not None and rule.kind == "prorate" else 0
    scored_items = [int(j) for j in defn.scored]
    out: list[float | None] = []
    for row in rows.tolist():
        for j, value in enumerate(row):
            if not math.isnan(value) and not (
                defn.lo[j] <= value <= defn.hi[j] and value == int(value)
            ):
                raise ValueError(f"bad answer {value}")
        answered = [row[j] for j in scored_items if not math.isnan(row[j])]
        n_missing = len(scored_items) - len(answered)
        if n_missing > allowed_missing:
            out.append(None)
            continue
        total = sum(answered) * len(scored_items) / len(answered)
        if rule is not None and rule.round and n_missing:
            total = math.floor(total + 0.5)
        subscales = []
        for sub in defn.subscales:
            values = [row[scored_items[c]] for c in sub.columns]
            subscales.append(None if any(math.isnan(v) for v in values) else sum(values))
        band = None
        for b in defn.scoring.bands:
            if b.low <= total <= b.high:
                band = b.label
        del band, subscales
        out.append(total)
    return out


def best_of(fn, repeat: int = 5) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    kb = knowledge.default()
    rng = np.random.default_rng(2026)
    threads = scoring._workers()
    print(
        f"{N:,} responses per instrument, {MISSING_RATE:.0%} of answers missing; "
        f"default scoring threads: {threads}"
    )
    for name in ("PHQ-9", "PCL-5", "MEQ-30"):
        defn = definition(kb, name)
        x = answers(defn, N, rng)
        score(defn, x[:1000])  # warm-up
        t_vec = best_of(lambda defn=defn, x=x: score(defn, x))
        t_one = best_of(lambda defn=defn, x=x: score(defn, x, threads=1))
        t_sum = best_of(lambda x=x: x.sum(axis=1))
        sample = x[:LOOP_SAMPLE]
        t0 = time.perf_counter()
        looped = loop_score(defn, sample)
        t_loop = (time.perf_counter() - t0) * N / LOOP_SAMPLE
        vec = score(defn, sample).total
        assert vec is not None
        agree = all(
            (a is None and math.isnan(b)) or (a is not None and abs(a - b) < 1e-9)
            for a, b in zip(looped, vec.tolist(), strict=True)
        )
        print(
            f"{name}: vectorised {t_vec:.3f} s; (a) per-response loop {t_loop:.1f} s "
            f"(scaled from {LOOP_SAMPLE:,}) -> {t_loop / t_vec:.0f}x faster; "
            f"(b) plain sum {t_sum:.3f} s -> {t_vec / t_sum:.2f}x the plain sum "
            f"({t_one:.3f} s, {t_one / t_sum:.2f}x on one thread); "
            f"totals agree on the sample: {agree}"
        )


if __name__ == "__main__":
    main()
