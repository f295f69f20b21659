"""Target-controlled infusion design: a bolus and a stepwise infusion that bring the
effect-site concentration to a target and hold it there, within a pump's maximum rate and a
total-dose limit, then the designed regimen simulated across the population.

The algorithm is effect-site targeting after Shafer & Gregg (1992): the loading bolus is the
one whose effect-site peak equals the target (target / peak of the unit-bolus effect-site
curve). Until that peak, each pump step's rate is the largest that keeps the predicted
effect-site curve at or below the target over a look-ahead horizon, given what is already in
the body (the free prediction) and the unit-rate response of one step. From the peak on, the
effect site is at the target and the rate holds the plasma concentration at the target at the
end of every step, which keeps the effect site there with a smooth, slowly falling rate (no
on/off cycling of the pump). Rates are clipped to [0, max rate] and stop when the total-dose
limit is reached. The model is advanced exactly with the matrix
exponential of its compartment matrix.

A design is refused when its bolus or total would exceed the model's cited dose ceilings
(:mod:`openpat.pharmacology.limits`), and it says plainly when the population's share of time
inside the target band is low (:data:`LOW_SHARE_IN_BAND`), naming the limit that binds.

References
----------
Shafer SL, Gregg KM. Algorithms to rapidly achieve and maintain stable drug concentrations at
the site of drug effect with a computer-controlled infusion pump. J Pharmacokinet Biopharm
1992;20(2):147-169. doi:10.1007/BF01070999
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.linalg import expm

from openpat.errors import InvalidInput
from openpat.pharmacology import analytic
from openpat.pharmacology import limits as dose_limits
from openpat.pharmacology.model import INTRAVENOUS, Dose, FloatArray, PKPDModel, sample_subjects
from openpat.pharmacology.simulate import SimulationResult, simulate

#: Below this share of time inside the target band a design says it holds too few people
#: there. openpat's presentation rule (a share under one half means most virtual subjects'
#: time is outside the band), not a clinical threshold.
LOW_SHARE_IN_BAND = 0.5

#: How each limit is named when it binds a design.
LIMIT_NAMES = {
    "max bolus": "the maximum bolus",
    "max rate": "the pump's maximum rate",
    "total dose": "the maximum total dose",
}


@dataclass(frozen=True, slots=True)
class InfusionLimits:
    """Pump and protocol limits, in mg of the dosing salt form."""

    max_rate_mg_per_min: float
    max_total_mg: float
    max_bolus_mg: float | None = None

    def __post_init__(self) -> None:
        if not self.max_rate_mg_per_min > 0:
            raise InvalidInput.for_field("limits.max_rate", "must be greater than zero")
        if not self.max_total_mg > 0:
            raise InvalidInput.for_field("limits.max_total", "must be greater than zero")
        if self.max_bolus_mg is not None and self.max_bolus_mg < 0:
            raise InvalidInput.for_field("limits.max_bolus", "must be zero or more")


@dataclass(frozen=True, slots=True)
class InfusionStep:
    start_min: float
    end_min: float
    rate_mg_per_min: float


@dataclass(frozen=True, slots=True)
class InfusionDesign:
    """A designed regimen (salt-form mg) and how it performs across the population."""

    model_id: str
    salt: str
    target_ce_mg_per_l: float
    target_effect: float | None
    band: tuple[float, float] | None
    duration_min: float
    bolus_mg: float
    steps: tuple[InfusionStep, ...]
    total_mg: float
    limited_by: tuple[str, ...]
    regimen: tuple[Dose, ...]
    typical_share_in_band: float | None
    population_share_in_band: float | None
    population: SimulationResult | None
    # when to distrust the design: doses outside the model's data, a low share in the band
    warnings: tuple[str, ...] = ()

    @property
    def mean_rate_mg_per_min(self) -> float:
        return (self.total_mg - self.bolus_mg) / self.duration_min


def _system(model: PKPDModel, subject_params: dict[str, float]) -> tuple[FloatArray, FloatArray]:
    """Rate matrix and input vector for states [A1, A2, A3..., Ce] (amounts, then mg/L)."""
    ncmt = model.compartments
    size = ncmt + 1
    k = np.zeros((size, size))
    v1 = subject_params["V1"]
    k[0, 0] = -subject_params["CL"] / v1
    for i, (q, v) in enumerate([("Q2", "V2"), ("Q3", "V3")][: ncmt - 1], start=1):
        k1i, ki1 = subject_params[q] / v1, subject_params[q] / subject_params[v]
        k[0, 0] -= k1i
        k[0, i] = ki1
        k[i, 0] = k1i
        k[i, i] = -ki1
    ke0 = subject_params["ke0"]
    k[ncmt, 0] = ke0 / v1
    k[ncmt, ncmt] = -ke0
    b = np.zeros(size)
    b[0] = 1.0
    return k, b


def _step_matrices(k: FloatArray, b: FloatArray, dt: float) -> tuple[FloatArray, FloatArray]:
    """Φ = e^(KΔt) and Γ = ∫ e^(Ks) b ds over one step, from one augmented exponential."""
    size = k.shape[0]
    aug = np.zeros((size + 1, size + 1))
    aug[:size, :size] = k
    aug[:size, size] = b
    e = expm(aug * dt)
    return e[:size, :size], e[:size, size]


def target_concentration(model: PKPDModel, effect: float) -> float:
    """The typical subject's effect-site concentration (mg/L) that gives ``effect``."""
    pd = model.effect
    if pd is None:
        raise InvalidInput.for_field("target", f"{model.id} has no effect model")
    drug = (pd.e0 - effect) if pd.kind == "imax" else (effect - pd.e0)
    if not 0 < drug < pd.emax:
        low, high = sorted((pd.e0, pd.e0 + (-pd.emax if pd.kind == "imax" else pd.emax)))
        raise InvalidInput.for_field(
            "target",
            f"{effect:g} is not reachable; choose a value strictly between {low:g} "
            f"and {high:g} {pd.unit}",
        )
    return float(pd.ec50_mg_per_l * (drug / (pd.emax - drug)) ** (1.0 / pd.gamma))


def design_infusion(
    model: PKPDModel,
    *,
    duration_min: float,
    limits: InfusionLimits,
    target_effect: float | None = None,
    target_ce_mg_per_l: float | None = None,
    band: tuple[float, float] | None = None,
    salt: str | None = None,
    step_min: float = 1.0,
    n_subjects: int = 0,
    rng: np.random.Generator | None = None,
    times_per_min: int = 4,
) -> InfusionDesign:
    """Bolus plus stepwise infusion holding a target effect (or effect-site concentration)
    for ``duration_min``; with ``n_subjects`` the regimen is simulated across the population
    and the share of subject-time (over the infusion) inside ``band`` is reported.

    References
    ----------
    Shafer SL, Gregg KM. J Pharmacokinet Biopharm 1992;20:147-169.
    """
    if model.effect is None or not model.iv:
        raise InvalidInput.for_field("model", f"{model.id} needs an IV route and an effect model")
    if model.needs_ode:
        raise InvalidInput.for_field("model", "infusion design needs a linear model")
    if (target_effect is None) == (target_ce_mg_per_l is None):
        raise InvalidInput.for_field("target", "give either a target effect or a concentration")
    if not duration_min > 0:
        raise InvalidInput.for_field("duration", "must be greater than zero")
    if not 0 < step_min <= duration_min:
        raise InvalidInput.for_field("step", "must be greater than zero and within the duration")
    ce_target = (
        target_concentration(model, target_effect)
        if target_effect is not None
        else float(target_ce_mg_per_l)  # type: ignore[arg-type]
    )
    if not ce_target > 0:
        raise InvalidInput.for_field("target", "must be greater than zero")
    fraction = model.base_fraction(salt)
    salt_name = salt or model.default_salt
    typical = sample_subjects(model, 1)
    params = {name: float(values[0]) for name, values in typical.params.items()}
    k, b = _system(model, params)
    v1 = params["V1"]
    ce = k.shape[0] - 1
    limited: list[str] = []

    # loading bolus: its effect-site peak equals the target (unit response on a 1-s grid)
    phi_s, _ = _step_matrices(k, b, 1 / 60)
    x = np.zeros(k.shape[0])
    x[0] = 1.0
    peak = 0.0
    peak_time = 0.0
    for second in range(1, int(60 * max(30.0, duration_min))):
        x = phi_s @ x
        if x[ce] < peak:
            break
        peak, peak_time = x[ce], second / 60
    bolus = ce_target / peak  # analyte mg
    max_bolus = (limits.max_bolus_mg if limits.max_bolus_mg is not None else np.inf) * fraction
    budget = limits.max_total_mg * fraction
    if bolus > max_bolus:
        bolus, limited = max_bolus, [*limited, "max bolus"]
    if bolus > budget:
        bolus, limited = budget, [*limited, "total dose"]

    # Each step's rate is the largest that keeps the predicted effect-site curve at or
    # below the target over a look-ahead horizon, so it touches the target at its peak
    # (Shafer & Gregg's peak targeting) instead of overshooting after the bolus.
    horizon = step_min + 3 * max(peak_time, step_min)
    tau = np.linspace(step_min / 6, horizon, round(horizon / (step_min / 6)))
    ce_row = np.zeros(k.shape[0])
    ce_row[ce] = 1.0
    free_rows = np.array([ce_row @ expm(k * t) for t in tau])  # Ce(τ) from a state
    unit = np.empty(tau.size)  # Ce(τ) after one step at rate 1 (then stopped)
    for j, t in enumerate(tau):
        if t <= step_min:
            unit[j] = _step_matrices(k, b, t)[1][ce]
        else:
            unit[j] = ce_row @ expm(k * (t - step_min)) @ _step_matrices(k, b, step_min)[1]
    phi, gamma = _step_matrices(k, b, step_min)
    state = np.zeros(k.shape[0])
    state[0] = bolus
    given = bolus
    rmax = limits.max_rate_mg_per_min * fraction
    rates: list[float] = []
    n_steps = int(np.ceil(duration_min / step_min - 1e-9))
    positive = unit > 1e-15 * unit.max()
    for i in range(n_steps):
        dt = min(step_min, duration_min - i * step_min)
        if dt != step_min:
            phi, gamma = _step_matrices(k, b, dt)
        if i * step_min < peak_time:
            # loading: the largest rate that keeps the effect-site curve under the target
            room = ce_target - free_rows[positive] @ state
            rate = float(np.min(room / unit[positive]))
        else:
            # maintenance: hold the plasma at the target at each step's end, so the effect
            # site (equilibrating with the plasma) stays there with a smooth, falling rate
            rate = float((ce_target * v1 - (phi @ state)[0]) / gamma[0])
        if rate > rmax:
            rate, limited = rmax, limited if "max rate" in limited else [*limited, "max rate"]
        rate = max(rate, 0.0)
        if given + rate * dt > budget:
            rate = max(budget - given, 0.0) / dt
            if "total dose" not in limited:
                limited.append("total dose")
        given += rate * dt
        state = phi @ state + gamma * rate
        rates.append(rate)

    steps: list[InfusionStep] = []
    for i, rate in enumerate(rates):
        start, end = i * step_min, min((i + 1) * step_min, duration_min)
        salt_rate = rate / fraction
        if steps and abs(steps[-1].rate_mg_per_min - salt_rate) <= 1e-9 * max(salt_rate, 1e-12):
            steps[-1] = InfusionStep(steps[-1].start_min, end, salt_rate)
        else:
            steps.append(InfusionStep(start, end, salt_rate))
    regimen: list[Dose] = []
    if bolus > 0:
        regimen.append(Dose(bolus / fraction, 0.0, INTRAVENOUS, salt=salt_name))
    for step in steps:
        if step.rate_mg_per_min > 0:
            span = step.end_min - step.start_min
            regimen.append(
                Dose(step.rate_mg_per_min * span, step.start_min, INTRAVENOUS, span, salt_name)
            )
    if not regimen:
        raise InvalidInput.for_field("limits", "allow no drug at all; raise the limits")
    breach = dose_limits.ceiling_breach(model, regimen)
    if breach is not None:
        # the bolus is bounded by the maximum bolus, the total by the maximum total
        field, what = (
            ("max_total", "total") if breach.dose_index is None else ("max_bolus", "bolus")
        )
        raise breach.error(
            field,
            f"the design's {what}, {breach.amount}, would be above the most openpat will "
            f"simulate: {breach.ceiling}; lower the limit",
        )

    grid = np.linspace(0.0, duration_min, int(duration_min * times_per_min) + 1)
    band_checked = _check_band(band)
    typical_share = population_share = None
    population = None
    if band_checked is not None:
        sim_typical = simulate(model, regimen, grid, 0)
        assert sim_typical.typical_effect is not None
        typical_share = _share(sim_typical.typical_effect[None, :], band_checked)
    if n_subjects:
        # the share in band is computed on the same virtual subjects as the curves
        same_draw = copy.deepcopy(rng)
        population = simulate(model, regimen, grid, n_subjects, rng, percentiles=(5, 50, 95))
        if band_checked is not None:
            population_share = _population_share(
                model, regimen, grid, n_subjects, same_draw, band_checked
            )
    warnings = list(population.warnings if population is not None else [])
    if population is None:
        warnings += dose_limits.studied_range_warnings(model, regimen)
    low = _low_share_warning(
        model,
        limits_given=limits,
        limited=limited,
        band=band_checked,
        salt=salt_name,
        typical=typical_share,
        population=population_share,
    )
    if low:
        warnings.append(low)
    return InfusionDesign(
        model_id=model.id,
        salt=salt_name,
        target_ce_mg_per_l=ce_target,
        target_effect=target_effect,
        band=band_checked,
        duration_min=duration_min,
        bolus_mg=bolus / fraction,
        steps=tuple(steps),
        total_mg=given / fraction,
        limited_by=tuple(limited),
        regimen=tuple(regimen),
        typical_share_in_band=typical_share,
        population_share_in_band=population_share,
        population=population,
        warnings=tuple(warnings),
    )


def _low_share_warning(
    model: PKPDModel,
    *,
    limits_given: InfusionLimits,
    limited: Sequence[str],
    band: tuple[float, float] | None,
    salt: str,
    typical: float | None,
    population: float | None,
) -> str | None:
    """A plain sentence when the share of time inside the band is below
    :data:`LOW_SHARE_IN_BAND`, naming the limits that bind, or, when none binds, the
    between-subject variability that spreads the effect."""
    share = population if population is not None else typical
    if band is None or share is None or share >= LOW_SHARE_IN_BAND:
        return None
    who = (
        "of the virtual subjects' time"
        if population is not None
        else "of the typical subject's time"
    )
    text = (
        f"Only {100 * share:.0f} % {who} during the infusion is inside the target band "
        f"{band[0]:g}–{band[1]:g}"
    )
    values = {
        "max bolus": f"{dose_limits.number(limits_given.max_bolus_mg or 0.0)} mg {salt}",
        "max rate": f"{dose_limits.number(limits_given.max_rate_mg_per_min)} mg/min {salt}",
        "total dose": f"{dose_limits.number(limits_given.max_total_mg)} mg {salt}",
    }
    if limited:
        named = [f"{LIMIT_NAMES[name]} ({values[name]})" for name in limited]
        listed = named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1]
        text += f"; the design is limited by {listed}"
        if population is not None and typical is not None and typical < LOW_SHARE_IN_BAND:
            text += f" (even the typical subject is in the band {100 * typical:.0f} % of the time)"
        return text
    spread = ", ".join(
        f"{_PARAMETER_NAMES.get(name, name)} {100 * np.sqrt(model.omega[i][i]):.0f} %"
        for i, name in enumerate(model.omega_names)
    )
    text += (
        "; no pump or dose limit binds, so the spread comes from differences between people"
        + (f" (between-subject variability: {spread})" if spread else "")
        + ". A design for the typical subject is a starting point to titrate from"
    )
    return text


_PARAMETER_NAMES = {
    "CL": "clearance",
    "V1": "central volume",
    "EC50": "EC50",
    "gamma": "Hill coefficient",
    "ke0": "ke0",
    "Emax": "Emax",
}


def _check_band(band: Sequence[float] | None) -> tuple[float, float] | None:
    if band is None:
        return None
    low, high = (float(v) for v in band)
    if not low < high:
        raise InvalidInput.for_field("band", "the lower bound must be below the upper bound")
    return low, high


def _share(effect: FloatArray, band: tuple[float, float]) -> float:
    inside = (effect >= band[0]) & (effect <= band[1])
    return float(inside.mean())


def _population_share(
    model: PKPDModel,
    regimen: Sequence[Dose],
    grid: FloatArray,
    n_subjects: int,
    rng: np.random.Generator | None,
    band: tuple[float, float],
) -> float:
    """Share of subject-time inside the band, evaluated in chunks of subjects."""
    if rng is None:
        raise InvalidInput.for_field("rng", "a numpy Generator is needed for n_subjects > 0")
    subjects = sample_subjects(model, n_subjects, rng)
    prepared = analytic.Prepared(model, subjects, regimen, outputs=("ce",))
    inside = 0
    chunk = max(1, 4_000_000 // grid.size)
    for lo in range(0, n_subjects, chunk):
        rows = slice(lo, min(lo + chunk, n_subjects))
        ce = prepared.evaluate(grid, rows=rows)["ce"]
        eff = analytic.effect(model, subjects, ce, rows)
        inside += int(((eff >= band[0]) & (eff <= band[1])).sum())
    return inside / (n_subjects * grid.size)
