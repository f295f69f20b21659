"""Closed-form solutions of linear PK/PD models, vectorised over subjects × times.

Every linear model here has a plasma impulse response that is a sum of exponentials,
``h(t) = Σ c_j e^(-r_j t)``: the disposition modes of the 1-, 2- or 3-compartment model
(eigenvalues of its rate matrix), plus ``ka`` for first-order absorption; the effect
compartment adds ``ke0`` (Sheiner et al. 1979). Writing the concentration as a sum of
modal states ``x_j`` with ``dx_j/dt = -r_j x_j + c_j u(t)`` makes doses easy: a bolus adds
``c_j · D`` to each state, and under a constant infusion rate ``R`` the state relaxes to
``c_j R / r_j``. Between two dosing events every output is therefore

    y(t) = Σ_j (x_j(t_k) - c_j R / r_j) · e^(-r_j (t - t_k)) + Σ_j c_j R / r_j,

one exponential and one multiply-add per mode and grid point; the states at each event are
computed once per subject. This is exact superposition of any number of boluses, infusions
and absorbed doses.

References
----------
Gibaldi M, Perrier D. Pharmacokinetics, 2nd ed. Marcel Dekker; 1982 (multi-compartment
closed forms). Sheiner LB, Stanski DR, Vozeh S, Miller RD, Ham J. Simultaneous modeling of
pharmacokinetics and pharmacodynamics: application to d-tubocurarine. Clin Pharmacol Ther
1979;25:358-371 (effect compartment).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from openpat.errors import InvalidInput
from openpat.pharmacology.model import (
    INTRAVENOUS,
    Dose,
    FloatArray,
    PKPDModel,
    Subjects,
    check_regimen,
)

OUTPUTS = ("cp", "ce")
# Two modes closer than this (relative) would divide by ~0; one is moved by _NUDGE (relative).
_COINCIDENT = 1e-7
_NUDGE = 1e-6


def check_times(times: Sequence[float] | FloatArray) -> FloatArray:
    """A 1-D grid of finite, non-negative, strictly increasing times (minutes)."""
    grid = np.asarray(times, dtype=float)
    if grid.ndim != 1 or grid.size == 0:
        raise InvalidInput.for_field("times", "must be a non-empty list of times in minutes")
    if not np.all(np.isfinite(grid)) or grid[0] < 0:
        raise InvalidInput.for_field("times", "must be finite and not before time zero")
    bad = np.flatnonzero(np.diff(grid) <= 0)
    if bad.size:
        i = int(bad[0])
        raise InvalidInput.for_field(
            f"times[{i + 1}]",
            f"{grid[i + 1]:g} min is not after {grid[i]:g} min; times must be strictly increasing",
        )
    return grid


def disposition_modes(model: PKPDModel, subjects: Subjects) -> tuple[FloatArray, FloatArray]:
    """Rates ``r`` (n, c) and plasma coefficients ``c`` (n, c) of the impulse response to
    one unit of drug put into the central compartment (concentration per amount)."""
    cl, v1 = subjects["CL"], subjects["V1"]
    ncmt = model.compartments
    if ncmt == 1:
        return (cl / v1)[:, None], (1.0 / v1)[:, None]
    k = np.zeros((subjects.n, ncmt, ncmt))
    k10 = cl / v1
    k[:, 0, 0] = -k10
    for i, (q, v) in enumerate([("Q2", "V2"), ("Q3", "V3")][: ncmt - 1], start=1):
        k1i = subjects[q] / v1
        ki1 = subjects[q] / subjects[v]
        k[:, 0, 0] -= k1i
        k[:, i, i] = -ki1
        k[:, i, 0] = k1i
        k[:, 0, i] = ki1
    values, vectors = np.linalg.eig(k)
    inverse = np.linalg.inv(vectors)
    rates = -values.real
    coefficients = (vectors[:, 0, :] * inverse[:, :, 0]).real / v1[:, None]
    return rates, coefficients


def _separate(new: FloatArray, existing: FloatArray) -> FloatArray:
    """Move ``new`` (n,) off any rate in ``existing`` (n, m) it coincides with."""
    close = np.any(np.abs(existing - new[:, None]) <= _COINCIDENT * existing, axis=1)
    return np.where(close, new * (1 + _NUDGE), new)


def _through(rate: FloatArray, rates: FloatArray, coefs: FloatArray) -> tuple[FloatArray, ...]:
    """Pass a sum of exponentials through a first-order compartment with rate constant
    ``rate`` (normalised input ``rate · e^(-rate t)``): each mode keeps its rate, scaled by
    rate/(rate - r_j), and a new mode at ``rate`` balances them so the output starts at 0."""
    scaled = coefs * (rate[:, None] / (rate[:, None] - rates))
    return (
        np.concatenate([rates, rate[:, None]], axis=1),
        np.concatenate([scaled, -scaled.sum(axis=1, keepdims=True)], axis=1),
    )


@dataclass(frozen=True, slots=True)
class Channel:
    """Where doses enter (the central compartment, or one route's depot) and the modal
    decomposition of each output's response to one mg of analyte given there."""

    route: str
    rates: FloatArray  # (n, m)
    coefs: dict[str, FloatArray]  # output -> (n, m)


def channels(model: PKPDModel, subjects: Subjects, routes: set[str]) -> dict[str, Channel]:
    """The modal decomposition for every route used by a regimen."""
    rates, coefs = disposition_modes(model, subjects)
    found: dict[str, Channel] = {}
    for route in sorted(routes):
        if route == INTRAVENOUS:
            r, cp = rates, coefs
        else:
            absorption = model.absorption[route]
            ka = _separate(subjects[f"ka:{route}"], rates)
            r, cp = _through(ka, rates, coefs * absorption.bioavailability)
        coef_by_output = {"cp": cp}
        if model.effect is not None:
            ke0 = _separate(subjects["ke0"], r)
            r_e, ce = _through(ke0, r, cp)
            r = r_e
            coef_by_output = {"cp": np.pad(cp, ((0, 0), (0, 1))), "ce": ce}
        found[route] = Channel(route=route, rates=r, coefs=coef_by_output)
    return found


@dataclass(frozen=True, slots=True)
class Inputs:
    """The regimen as events per channel: boluses (amount arrays) and infusion-rate changes."""

    events: FloatArray  # sorted unique event times (min)
    bolus: dict[str, FloatArray]  # route -> (n_events, n) analyte mg added at each event
    rate: dict[str, FloatArray]  # route -> (n_events, n) infusion rate from each event on


def inputs(model: PKPDModel, subjects: Subjects, regimen: Sequence[Dose]) -> Inputs:
    """Convert doses to analyte mg (salt factor, mg/kg × weight) and lay them on events."""
    doses = check_regimen(model, regimen)
    times: set[float] = set()
    for dose in doses:
        start = dose.time_min + (
            model.absorption[dose.route].lag_min if dose.route != INTRAVENOUS else 0.0
        )
        times.add(start)
        if dose.duration_min:
            times.add(start + dose.duration_min)
    events = np.array(sorted(times))
    index = {t: i for i, t in enumerate(events.tolist())}
    n = subjects.n
    bolus: dict[str, FloatArray] = {}
    rate: dict[str, FloatArray] = {}
    for dose in doses:
        amount = dose.amount_mg * model.base_fraction(dose.salt)
        per_subject = amount * subjects.weight_kg if dose.per_kg else np.full(n, amount)
        lag = model.absorption[dose.route].lag_min if dose.route != INTRAVENOUS else 0.0
        start = index[dose.time_min + lag]
        if dose.duration_min:
            changes = rate.setdefault(dose.route, np.zeros((events.size, n)))
            changes[start : index[dose.time_min + dose.duration_min]] += (
                per_subject / dose.duration_min
            )
        else:
            bolus.setdefault(dose.route, np.zeros((events.size, n)))[start] += per_subject
    return Inputs(events=events, bolus=bolus, rate=rate)


class Prepared:
    """A regimen applied to a set of subjects: modal states at every event, ready to be
    evaluated on any slice of a time grid (so large populations can be done in blocks)."""

    def __init__(
        self,
        model: PKPDModel,
        subjects: Subjects,
        regimen: Sequence[Dose],
        outputs: Sequence[str] = OUTPUTS,
    ) -> None:
        if model.needs_ode:
            raise InvalidInput.for_field(
                "model", f"{model.id} has no closed form (saturable elimination or tolerance)"
            )
        wanted = [o for o in outputs if o in OUTPUTS and (o == "cp" or model.effect)]
        if not wanted:
            raise InvalidInput.for_field("outputs", f"choose from {', '.join(OUTPUTS)}")
        self.model = model
        self.outputs = tuple(wanted)
        self.inputs = inputs(model, subjects, regimen)
        routes = set(self.inputs.bolus) | set(self.inputs.rate)
        self.channels = channels(model, subjects, routes)
        self.n = subjects.n
        # states[k][route][output] = (x, steady) just after the events at events[k]
        self.states: list[dict[str, dict[str, tuple[FloatArray, FloatArray]]]] = []
        current: dict[str, dict[str, FloatArray]] = {
            route: {o: np.zeros_like(ch.rates) for o in self.outputs}
            for route, ch in self.channels.items()
        }
        events = self.inputs.events
        for k in range(events.size):
            if k:
                dt = events[k] - events[k - 1]
                for route, ch in self.channels.items():
                    decay = np.exp(-ch.rates * dt)
                    for o in self.outputs:
                        x, steady = self.states[k - 1][route][o]
                        current[route][o] = (x - steady) * decay + steady
            snapshot: dict[str, dict[str, tuple[FloatArray, FloatArray]]] = {}
            for route, ch in self.channels.items():
                amount = self.inputs.bolus.get(route)
                infusion = self.inputs.rate.get(route)
                snapshot[route] = {}
                for o in self.outputs:
                    x = current[route][o]
                    if amount is not None:
                        x = x + ch.coefs[o] * amount[k][:, None]
                    steady = (
                        ch.coefs[o] * (infusion[k][:, None] / ch.rates)
                        if infusion is not None
                        else np.zeros_like(x)
                    )
                    snapshot[route][o] = (x, steady)
            self.states.append(snapshot)

    def evaluate(
        self,
        times: FloatArray,
        *,
        rows: slice = slice(None),
        out: dict[str, FloatArray] | None = None,
    ) -> dict[str, FloatArray]:
        """Outputs (mg/L) for subjects ``rows`` at ``times`` (sorted, minutes): a dict of
        arrays (n_rows, n_times), written into ``out`` when given."""
        n_rows = len(range(self.n)[rows])
        result = out or {o: np.empty((n_rows, times.size)) for o in self.outputs}
        for o in self.outputs:
            result[o][:, : times.size].fill(0.0)
        events = self.inputs.events
        cuts = np.searchsorted(times, events, side="left")
        bounds = [*cuts.tolist(), times.size]
        buffer = np.empty((n_rows, times.size))
        for k in range(events.size):
            lo, hi = bounds[k], bounds[k + 1]
            if lo >= hi:
                continue
            tau = times[lo:hi] - events[k]
            work = buffer[:, : hi - lo]
            for route, ch in self.channels.items():
                rates = ch.rates[rows]
                for o in self.outputs:
                    x, steady = self.states[k][route][o]
                    amplitude = (x - steady)[rows]
                    target = result[o][:, lo:hi]
                    target += steady[rows].sum(axis=1)[:, None]
                    for j in range(rates.shape[1]):
                        if not np.any(amplitude[:, j]):
                            continue
                        np.multiply.outer(-rates[:, j], tau, out=work)
                        np.exp(work, out=work)
                        work *= amplitude[:, j, None]
                        target += work
        return result


def effect(
    model: PKPDModel, subjects: Subjects, ce: FloatArray, rows: slice = slice(None)
) -> FloatArray:
    """Sigmoid Emax/Imax effect from effect-site concentrations (n_rows, n_times)."""
    pd = model.effect
    if pd is None:
        raise InvalidInput.for_field("model", f"{model.id} has no effect model")
    ec50 = subjects["EC50"][rows, None]
    gamma = subjects["gamma"][rows, None]
    emax = subjects["Emax"][rows, None]
    ratio = np.power(np.clip(ce, 0.0, None) / ec50, gamma)
    drug = emax * ratio / (1.0 + ratio)
    return pd.e0 - drug if pd.kind == "imax" else pd.e0 + drug
