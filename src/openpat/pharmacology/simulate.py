"""Population simulation, exposure metrics and session length.

:func:`simulate` draws virtual subjects, predicts plasma and effect-site concentrations and
the effect for every subject on a time grid, and summarises them: percentiles over subjects
at every time, and per-subject Cmax, Tmax, peak effect and session length. Large populations
are evaluated in blocks of time columns (every subject, a few columns at a time) so memory
stays bounded while percentiles stay exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from openpat.errors import InvalidInput
from openpat.pharmacology import analytic, limits, ode
from openpat.pharmacology.model import (
    Dose,
    FloatArray,
    PKPDModel,
    Subjects,
    check_regimen,
    sample_subjects,
)
from openpat.pharmacology.units import NG_PER_ML_PER_MG_PER_L

PERCENTILES = (5.0, 50.0, 95.0)
DEFAULT_MEMORY_BYTES = 512 * 2**20
#: Said beside a population figure of a model without between-subject variability, whose
#: percentiles all equal the typical subject's (read from the model, not from equal numbers).
NO_VARIABILITY = "typical subject only: this model has no between-subject variability, so no range"


@dataclass(frozen=True, slots=True)
class Metrics:
    """Per-subject exposure and effect metrics, arrays of shape (n,)."""

    cmax_ng_per_ml: FloatArray
    tmax_min: FloatArray
    peak_effect: FloatArray | None
    session_length_min: FloatArray | None  # NaN where the effect is still above at the end

    def summary(self, percentiles: Sequence[float] = PERCENTILES) -> dict[str, list[float]]:
        out: dict[str, list[float]] = {}
        for name in ("cmax_ng_per_ml", "tmax_min", "peak_effect", "session_length_min"):
            values = getattr(self, name)
            if values is not None and name == "session_length_min":
                # a censored subject (still above the threshold when the grid ends) has a
                # session longer than any observed one: it counts as +inf, never dropped; a
                # percentile that falls among the censored is unknown (NaN)
                out[name] = _censored_percentiles(values, percentiles)
            elif values is not None:
                finite = values[np.isfinite(values)]
                out[name] = (
                    [float(v) for v in np.percentile(finite, percentiles)]
                    if finite.size
                    else [float("nan")] * len(percentiles)
                )
        return out


def _censored_percentiles(values: FloatArray, percentiles: Sequence[float]) -> list[float]:
    """Linear-interpolation percentiles with NaN read as +inf (right-censored)."""
    ranked = np.sort(np.where(np.isnan(values), np.inf, values))
    if not ranked.size:
        return [float("nan")] * len(percentiles)
    out = []
    for p in percentiles:
        pos = p / 100 * (ranked.size - 1)
        lo, hi = int(np.floor(pos)), int(np.ceil(pos))
        a, b = ranked[lo], ranked[hi]
        value = a if hi == lo or a == b else a + (pos - lo) * (b - a)
        out.append(float(value) if np.isfinite(value) else float("nan"))
    return out


@dataclass(frozen=True, slots=True)
class SimulationResult:
    """Concentration (ng/mL) and effect over time for a population and its typical subject.

    ``cp_percentiles`` and ``effect_percentiles`` are (len(percentiles), n_times)."""

    model_id: str
    times_min: FloatArray
    percentiles: tuple[float, ...]
    typical_cp: FloatArray
    typical_effect: FloatArray | None
    cp_percentiles: FloatArray
    effect_percentiles: FloatArray | None
    typical: Metrics
    population: Metrics
    n_subjects: int
    threshold: float | None
    censored: int = 0  # subjects whose effect was still above the threshold at the end
    notes: list[str] = field(default_factory=list)
    # when to distrust the result: doses outside those the model was built from
    warnings: list[str] = field(default_factory=list)
    # False when the model has no between-subject variability: the percentiles are the
    # typical subject's and give no range
    variability: bool = True

    @property
    def variability_note(self) -> str | None:
        """What to say beside the population figures of a model without variability."""
        return None if self.variability else NO_VARIABILITY

    def summary(self) -> dict[str, object]:
        """Headline figures (typical subject and population percentiles) as plain values."""
        typical = {k: v[0] for k, v in self.typical.summary((50.0,)).items()}
        return {
            "model": self.model_id,
            "n_subjects": self.n_subjects,
            "threshold": self.threshold,
            "typical": typical,
            "population": self.population.summary(self.percentiles),
            "percentiles": list(self.percentiles),
            "censored": self.censored,
            "variability": self.variability,
            "warnings": list(self.warnings),
        }


def _evaluate(
    model: PKPDModel,
    subjects: Subjects,
    regimen: Sequence[Dose],
    times: FloatArray,
    method: str,
) -> tuple[FloatArray, FloatArray | None]:
    """cp (mg/L) and effect for all subjects, in one go (callers bound the size)."""
    use_ode = method == "ode" or (method == "auto" and model.needs_ode)
    if not use_ode and model.needs_ode:
        raise InvalidInput.for_field("method", f"{model.id} has no closed form; use the ODE path")
    if use_ode:
        solved = ode.solve(model, subjects, regimen, times, rtol=1e-8, atol=1e-12)
        if model.effect is None:
            return solved["cp"], None
        if "tol" in solved:
            return solved["cp"], ode.effect_with_tolerance(
                model, subjects, solved["ce"], solved["tol"]
            )
        return solved["cp"], analytic.effect(model, subjects, solved["ce"])
    prepared = analytic.Prepared(model, subjects, regimen)
    values = prepared.evaluate(times)
    if model.effect is None:
        return values["cp"], None
    return values["cp"], analytic.effect(model, subjects, values["ce"])


def metrics(
    times: FloatArray,
    cp_mg_per_l: FloatArray,
    effect: FloatArray | None,
    threshold: float | None,
    *,
    start_min: float = 0.0,
) -> Metrics:
    """Cmax, Tmax, peak effect and session length from curves (n, n_times).

    The session length is the time from the first dose until the effect falls below
    ``threshold`` for good, interpolated linearly between grid points; NaN when the effect
    is still at or above the threshold at the last time."""
    index = np.argmax(cp_mg_per_l, axis=1)
    cmax = cp_mg_per_l[np.arange(cp_mg_per_l.shape[0]), index] * NG_PER_ML_PER_MG_PER_L
    peak = session = None
    if effect is not None:
        peak = effect.max(axis=1)
        if threshold is not None:
            session = session_lengths(times, effect, threshold, start_min=start_min)
    return Metrics(cmax, times[index], peak, session)


def session_lengths(
    times: FloatArray, effect: FloatArray, threshold: float, *, start_min: float = 0.0
) -> FloatArray:
    """Per subject: minutes from ``start_min`` until the effect stays below ``threshold``."""
    above = effect >= threshold
    n, nt = effect.shape
    any_above = above.any(axis=1)
    last = nt - 1 - np.argmax(above[:, ::-1], axis=1)
    result = np.zeros(n)
    still = any_above & (last == nt - 1)
    ok = any_above & ~still
    rows = np.flatnonzero(ok)
    i = last[rows]
    e0, e1 = effect[rows, i], effect[rows, i + 1]
    t0, t1 = times[i], times[i + 1]
    result[rows] = t0 + (t1 - t0) * (e0 - threshold) / (e0 - e1) - start_min
    result[still] = np.nan
    return result


def default_times(model: PKPDModel, regimen: Sequence[Dose], points: int = 601) -> FloatArray:
    """A grid from the first dose to well past the last: long enough for the typical
    subject's effect (or concentration) to fall near zero."""
    end = max(d.end_min for d in regimen)
    typical = sample_subjects(model, 1)
    rates, _ = analytic.disposition_modes(model, typical)
    slowest = float(rates.min())
    if model.effect is not None:
        slowest = min(slowest, float(typical["ke0"][0]))
    horizon = end + min(max(10 * np.log(2) / slowest, 30.0), 48 * 60.0)
    return np.linspace(0.0, float(np.ceil(horizon)), points)


def simulate(
    model: PKPDModel,
    regimen: Sequence[Dose],
    times: Sequence[float] | FloatArray | None = None,
    n_subjects: int = 0,
    rng: np.random.Generator | None = None,
    *,
    threshold: float | None = None,
    percentiles: Sequence[float] = PERCENTILES,
    weight_kg: float | None = None,
    method: str = "auto",
    memory_bytes: int = DEFAULT_MEMORY_BYTES,
) -> SimulationResult:
    """Simulate ``regimen`` for the typical subject and ``n_subjects`` virtual subjects.

    Parameters
    ----------
    model : the PK/PD model; ``regimen``: doses (salt forms converted by the model).
    times : grid in minutes (strictly increasing); default from :func:`default_times`.
    n_subjects : 0 for the typical subject only.
    rng : ``numpy.random.Generator`` for the random effects (required when n_subjects > 0).
    threshold : effect level for the session length; default the model's own.
    method : ``"auto"`` (closed form when one exists), ``"analytic"`` or ``"ode"``.

    A regimen above the model's cited dose ceilings is refused (``RuleViolation``); one
    outside the doses the model was built from is simulated with ``warnings`` saying that the
    prediction is an extrapolation (:mod:`openpat.pharmacology.limits`).

    References
    ----------
    Sheiner LB et al. Clin Pharmacol Ther 1979;25:358-371 (effect compartment).
    """
    if method not in ("auto", "analytic", "ode"):
        raise InvalidInput.for_field("method", "must be auto, analytic or ode")
    if n_subjects < 0:
        raise InvalidInput.for_field("n_subjects", "must be zero or more")
    if n_subjects and rng is None:
        raise InvalidInput.for_field("rng", "a numpy Generator is needed for n_subjects > 0")
    for p in percentiles:
        if not 0 <= p <= 100:
            raise InvalidInput.for_field("percentiles", f"{p:g} is not between 0 and 100")
    regimen = check_regimen(model, regimen)
    limits.check_ceilings(model, regimen, weight_kg=weight_kg)
    warnings = limits.studied_range_warnings(model, regimen, weight_kg=weight_kg)
    variability = bool(model.omega_names)
    grid = analytic.check_times(times if times is not None else default_times(model, regimen))
    pd = model.effect
    level = threshold if threshold is not None else (pd.session_threshold if pd else None)
    start = min(d.time_min for d in regimen)

    typical_subjects = sample_subjects(model, 1, weight_kg=weight_kg)
    cp_t, eff_t = _evaluate(model, typical_subjects, regimen, grid, method)
    typical = metrics(grid, cp_t, eff_t, level, start_min=start)

    pcts = tuple(float(p) for p in percentiles)
    if not n_subjects:
        cp_p = np.repeat(cp_t * NG_PER_ML_PER_MG_PER_L, len(pcts), axis=0)
        eff_p = None if eff_t is None else np.repeat(eff_t, len(pcts), axis=0)
        return SimulationResult(
            model.id,
            grid,
            pcts,
            cp_t[0] * NG_PER_ML_PER_MG_PER_L,
            None if eff_t is None else eff_t[0],
            cp_p,
            eff_p,
            typical,
            typical,
            0,
            level,
            censored=int(np.isnan(typical.session_length_min).sum())
            if typical.session_length_min is not None
            else 0,
            warnings=warnings,
            variability=variability,
        )

    population = sample_subjects(model, n_subjects, rng, weight_kg=weight_kg)
    cp_p = np.empty((len(pcts), grid.size))
    eff_p = np.empty((len(pcts), grid.size)) if pd is not None else None
    # blocks of time columns for every subject: exact percentiles at bounded memory
    per_column = n_subjects * 8 * (6 if model.needs_ode else 4)
    width = max(2, min(grid.size, memory_bytes // max(per_column, 1)))
    running_max = np.full(n_subjects, -np.inf)
    running_tmax = np.zeros(n_subjects)
    peak = np.full(n_subjects, -np.inf) if pd is not None else None
    track = _SessionTracker(n_subjects, level) if pd is not None and level is not None else None
    if model.needs_ode or method == "ode":
        width = grid.size  # the ODE path integrates the whole horizon once
    for lo in range(0, grid.size, width):
        cols = grid[lo : lo + width]
        cp, eff = _evaluate(model, population, regimen, cols, method)
        cp_p[:, lo : lo + cols.size] = np.percentile(cp, pcts, axis=0) * NG_PER_ML_PER_MG_PER_L
        block_index = np.argmax(cp, axis=1)
        block_max = cp[np.arange(n_subjects), block_index]
        better = block_max > running_max
        running_max = np.where(better, block_max, running_max)
        running_tmax = np.where(better, cols[block_index], running_tmax)
        if eff is not None and eff_p is not None and peak is not None:
            eff_p[:, lo : lo + cols.size] = np.percentile(eff, pcts, axis=0)
            peak = np.maximum(peak, eff.max(axis=1))
            if track is not None:
                track.update(cols, eff)
    session = track.result(start) if track is not None else None
    pop = Metrics(running_max * NG_PER_ML_PER_MG_PER_L, running_tmax, peak, session)
    censored = int(np.isnan(session).sum()) if session is not None else 0
    notes = []
    if censored:
        notes.append(
            f"{censored} of {n_subjects} subjects were still above the threshold at the end of "
            "the time grid; their session length is unknown (extend the grid)"
        )
    return SimulationResult(
        model.id,
        grid,
        pcts,
        cp_t[0] * NG_PER_ML_PER_MG_PER_L,
        None if eff_t is None else eff_t[0],
        cp_p,
        eff_p,
        typical,
        pop,
        n_subjects,
        level,
        censored=censored,
        notes=notes,
        warnings=warnings,
        variability=variability,
    )


class _SessionTracker:
    """Finds, across blocks of columns, each subject's last time at or above a threshold
    and the value just after it, for the interpolated session length."""

    def __init__(self, n: int, threshold: float) -> None:
        self.threshold = threshold
        self.t0 = np.full(n, np.nan)
        self.e0 = np.full(n, np.nan)
        self.t1 = np.full(n, np.nan)
        self.e1 = np.full(n, np.nan)

    def update(self, cols: FloatArray, eff: FloatArray) -> None:
        waiting = np.isfinite(self.t0) & np.isnan(self.t1)
        self.t1[waiting] = cols[0]
        self.e1[waiting] = eff[waiting, 0]
        above = eff >= self.threshold
        has = above.any(axis=1)
        last = cols.size - 1 - np.argmax(above[:, ::-1], axis=1)
        rows = np.flatnonzero(has)
        i = last[rows]
        self.t0[rows] = cols[i]
        self.e0[rows] = eff[rows, i]
        inside = i + 1 < cols.size
        nxt = np.minimum(i + 1, cols.size - 1)
        self.t1[rows] = np.where(inside, cols[nxt], np.nan)
        self.e1[rows] = np.where(inside, eff[rows, nxt], np.nan)

    def result(self, start: float) -> FloatArray:
        out = np.zeros(self.t0.size)
        seen = np.isfinite(self.t0)
        closed = seen & np.isfinite(self.t1)
        frac = (self.e0[closed] - self.threshold) / (self.e0[closed] - self.e1[closed])
        out[closed] = self.t0[closed] + (self.t1[closed] - self.t0[closed]) * frac - start
        out[seen & ~closed] = np.nan
        return out
