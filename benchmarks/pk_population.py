"""Population PK benchmark: 100,000 subjects x 1,441 time points (24 h at 1 min), the
Eckernäs 2022 two-compartment DMT model, a bolus plus a 60-min infusion.

Prints the closed-form time and its ratio, in this run, to (a) a per-subject
scipy.integrate.solve_ivp loop (timed on a subsample, scaled), (b) the pytci package
stepping the same regimen per subject (subsample, scaled), (c) a floor: allocating and
writing an array of the same size. Then 1,000,000 subjects in chunks with peak memory.

Run: python benchmarks/pk_population.py
"""

from __future__ import annotations

import time
import tracemalloc

import numpy as np
from scipy.integrate import solve_ivp

from openpat import knowledge
from openpat.pharmacology import analytic, library
from openpat.pharmacology.model import Dose, sample_subjects

N = 100_000
TIMES = np.arange(0.0, 1441.0)
REGIMEN = [Dose(15.0, 0.0, salt="fumarate"), Dose(36.0, 0.0, duration_min=60.0, salt="fumarate")]
CHUNK = 4_096


def closed_form(model, subjects, out):  # type: ignore[no-untyped-def]
    prepared = analytic.Prepared(model, subjects, REGIMEN, outputs=("cp",))
    for lo in range(0, subjects.n, CHUNK):
        rows = slice(lo, min(lo + CHUNK, subjects.n))
        n = rows.stop - rows.start
        prepared.evaluate(TIMES, rows=rows, out={"cp": out[:n]})


def per_subject_ode(model, subjects, k):  # type: ignore[no-untyped-def]
    frac = model.base_fraction("fumarate")
    for i in range(k):
        cl, v1, q, v2 = (subjects[p][i] for p in ("CL", "V1", "Q2", "V2"))

        def rhs(t, a, rate, cl=cl, v1=v1, q=q, v2=v2):  # type: ignore[no-untyped-def]
            return [
                rate - cl / v1 * a[0] - q / v1 * a[0] + q / v2 * a[1],
                q / v1 * a[0] - q / v2 * a[1],
            ]

        y0 = [15.0 * frac, 0.0]
        s1 = solve_ivp(rhs, (0, 60), y0, t_eval=TIMES[:61], args=(36 * frac / 60,), rtol=1e-8)
        solve_ivp(rhs, (60, 1440), s1.y[:, -1], t_eval=TIMES[60:], args=(0.0,), rtol=1e-8)


def per_subject_pytci(model, subjects, k):  # type: ignore[no-untyped-def]
    from PyTCI.models.base import Three

    frac = model.base_fraction("fumarate")
    for i in range(k):
        m = Three()
        v1 = float(subjects["V1"][i])
        m.v1, m.v2, m.v3 = v1, float(subjects["V2"][i]), 1.0
        m.k10 = float(subjects["CL"][i]) / v1
        m.k12 = float(subjects["Q2"][i]) / v1
        m.k21 = float(subjects["Q2"][i]) / float(subjects["V2"][i])
        m.k13 = m.k31 = 0.0
        m.keo = 1.0
        m.setup()
        m.set_integrator("exact")
        m.give_drug(15.0 * frac)
        for minute in range(1440):
            rate = 36 * frac / 3600 if minute < 60 else 0.0  # per second
            m.giveoverseconds(rate, 60)


def main() -> None:
    model = library.load(knowledge.default(), "dmt", "iv")
    subjects = sample_subjects(model, N, np.random.default_rng(2026))
    out = np.empty((CHUNK, TIMES.size))

    t0 = time.perf_counter()
    floor = np.empty((N, TIMES.size))
    floor.fill(1.0)
    t_floor = time.perf_counter() - t0
    del floor

    closed_form(model, subjects, out)  # warm-up
    t0 = time.perf_counter()
    closed_form(model, subjects, out)
    t_closed = time.perf_counter() - t0

    k = 200
    t0 = time.perf_counter()
    per_subject_ode(model, subjects, k)
    t_ode = (time.perf_counter() - t0) * N / k
    k_tci = 50
    t0 = time.perf_counter()
    per_subject_pytci(model, subjects, k_tci)
    t_tci = (time.perf_counter() - t0) * N / k_tci

    print(f"subjects x times: {N:,} x {TIMES.size:,} ({N * TIMES.size / 1e6:.0f} M values)")
    print(f"closed form (chunks of {CHUNK}): {t_closed:.2f} s")
    print(
        f"(a) solve_ivp per subject ({k} timed, scaled): {t_ode:.0f} s -> {t_ode / t_closed:.0f}x"
    )
    print(
        f"(b) pytci exact stepping per subject ({k_tci} timed, scaled): {t_tci:.0f} s -> "
        f"{t_tci / t_closed:.0f}x"
    )
    print(
        f"(c) floor, allocate and write {N:,} x {TIMES.size:,}: {t_floor:.2f} s -> closed form "
        f"is {t_closed / t_floor:.1f}x the floor"
    )

    big = 1_000_000
    tracemalloc.start()
    t0 = time.perf_counter()
    cmax = np.empty(big)
    for lo in range(0, big, 100_000):
        part = sample_subjects(model, 100_000, np.random.default_rng([2026, lo]))
        prepared = analytic.Prepared(model, part, REGIMEN, outputs=("cp",))
        for c in range(0, part.n, CHUNK):
            rows = slice(c, min(c + CHUNK, part.n))
            block = prepared.evaluate(TIMES, rows=rows, out={"cp": out[: rows.stop - rows.start]})
            cmax[lo + c : lo + rows.stop] = block["cp"].max(axis=1)
    elapsed = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(
        f"1,000,000 subjects in chunks: {elapsed:.1f} s, peak traced memory "
        f"{peak / 2**20:.0f} MiB; median Cmax {np.median(cmax) * 1000:.1f} ng/mL"
    )


if __name__ == "__main__":
    main()
