"""Batch pre-screening throughput against a per-candidate loop, in the same process.

Builds N synthetic candidates (about five medications each, drawn from common psychiatric
and general medications, with some misspellings), screens them all with
``safety.batch.screen_table`` and screens a sample one at a time with ``safety.screen``
(the naive loop: one profile built and screened per candidate). Prints candidates per
second for both and their ratio (goal: >= 30x). Also checks that the two paths agree on
every sampled candidate.

    python benchmarks/screening.py [N] [naive_sample]
"""

from __future__ import annotations

import datetime as dt
import sys
import time

import numpy as np
import pandas as pd

from openpat import knowledge, safety
from openpat.safety.batch import row_to_profile, screen_table

PROTOCOL = "spl026-dmt-mdd"
DOSING = dt.date(2027, 3, 1)
TODAY = dt.date(2026, 11, 23)
MEDICATIONS = [
    "sertraline",
    "Zoloft",
    "fluoxetine",
    "Prozac",
    "citalopram",
    "escitalopram",
    "venlafaxine",
    "duloxetine",
    "bupropion",
    "mirtazapine",
    "trazodone",
    "amitriptyline",
    "lithium",
    "lamotrigine",
    "quetiapine",
    "aripiprazole",
    "risperidone",
    "olanzapine",
    "alprazolam",
    "lorazepam",
    "clonazepam",
    "zolpidem",
    "gabapentin",
    "pregabalin",
    "tramadol",
    "oxycodone",
    "methylphenidate",
    "metoprolol",
    "propranolol",
    "clonidine",
    "levothyroxine",
    "phenelzine",
    "moclobemide",
    "selegiline",
    "ritonavir",
    "clarithromycin",
    "dextromethorphan",
    "St John's wort",
    "sertralin",
    "metoprolo",
]


def candidates(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """A synthetic registry export: plausible values, some unknown, ~5 medications each."""

    def maybe(values: np.ndarray, p_missing: float = 0.05) -> list[object]:
        mask = rng.random(n) < p_missing
        return [None if m else v for v, m in zip(values.tolist(), mask, strict=True)]

    n_meds = rng.poisson(5, n).clip(0, 10)
    picks = rng.integers(0, len(MEDICATIONS), n_meds.sum())
    meds = np.split(np.array(MEDICATIONS, dtype=object)[picks], np.cumsum(n_meds)[:-1])
    sex = rng.choice(["female", "male"], n)
    return pd.DataFrame(
        {
            "participant": [f"C{i:06d}" for i in range(n)],
            "age_years": maybe(rng.integers(18, 80, n)),
            "sex": sex,
            "pregnant": np.where(
                sex == "female", rng.choice(["no", "yes"], n, p=[0.98, 0.02]), None
            ),
            "lactating": np.where(sex == "female", "no", None),
            "weight_kg": maybe(rng.normal(75, 14, n).clip(40, 160).round(1)),
            "diagnoses": rng.choice(
                ["F33.1", "F32.2", "F33.2;F41.1", "F31.4", "F43.1"],
                n,
                p=[0.4, 0.3, 0.2, 0.05, 0.05],
            ),
            "personal_history": rng.choice(
                ["none", "psychosis", "bipolar-ii", "none"], n, p=[0.85, 0.03, 0.04, 0.08]
            ),
            "family_history": maybe(rng.choice(["none", "schizophrenia"], n, p=[0.95, 0.05])),
            "systolic_bp_mmhg": maybe(rng.normal(128, 14, n).clip(90, 200).round()),
            "diastolic_bp_mmhg": maybe(rng.normal(80, 9, n).clip(50, 89).round()),
            "heart_rate_bpm": maybe(rng.normal(72, 10, n).clip(45, 130).round()),
            "qtc_ms": maybe(rng.normal(420, 18, n).clip(360, 520).round()),
            "cssrs_ideation": maybe(rng.choice([0, 1, 2, 3, 4, 5], n)),
            "cssrs_behaviour_past_year": maybe(rng.choice(["no", "yes"], n, p=[0.95, 0.05])),
            "substance_use_disorder": maybe(
                rng.choice(["none", "mild", "moderate"], n, p=[0.8, 0.15, 0.05])
            ),
            "days_since_psychedelic_use": maybe(
                rng.choice(["never", "30", "400"], n, p=[0.8, 0.05, 0.15])
            ),
            "medications": ["; ".join(m) if len(m) else "none" for m in meds],
            "taper_allowed": rng.choice(["yes", "no", None], n, p=[0.7, 0.1, 0.2]),
        }
    ).astype("string")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    sample = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000
    rng = np.random.default_rng(20261123)
    table = candidates(n, rng)
    kb = knowledge.default()
    protocol = kb.protocol(PROTOCOL)
    print(
        f"{n:,} candidates, {table['medications'].str.count(';').add(1).mean():.1f} "
        f"medication entries each on average; protocol {protocol.id}"
    )

    # naive baseline: one profile built and screened per candidate (on a sample)
    rows = table.head(sample).to_dict("records")
    start = time.perf_counter()
    naive = [
        safety.screen(row_to_profile(r, DOSING), protocol, None, DOSING, today=TODAY, kb=kb)
        for r in rows
    ]
    naive_s = time.perf_counter() - start
    naive_rate = sample / naive_s

    start = time.perf_counter()
    result = screen_table(table, protocol, None, DOSING, today=TODAY, kb=kb)
    batch_s = time.perf_counter() - start
    batch_rate = n / batch_s

    agree = sum(
        report.verdict.value == verdict
        for report, verdict in zip(naive, result.verdicts["verdict"].head(sample), strict=True)
    )
    print(f"per-candidate loop: {sample:,} in {naive_s:.2f} s = {naive_rate:,.0f} candidates/s")
    print(f"batch:              {n:,} in {batch_s:.2f} s = {batch_rate:,.0f} candidates/s")
    print(f"ratio batch / per-candidate: {batch_rate / naive_rate:.1f}x (goal >= 30x)")
    print(f"agreement on the sample: {agree}/{sample}")
    print("verdicts:", result.counts())
    if agree != sample:
        raise SystemExit("batch and per-candidate verdicts differ")


if __name__ == "__main__":
    main()
