"""The ODE path: models without a closed form, integrated with SciPy.

Used for saturable (Michaelis–Menten) elimination and acute tolerance; for linear models
it solves the same equations as :mod:`openpat.pharmacology.analytic` and the two are tested
against each other. All subjects are integrated as one stacked system (states × subjects),
piecewise between dosing events so that boluses are exact jumps and infusion rates are
constant within each piece.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.integrate import solve_ivp

from openpat.errors import InvalidInput
from openpat.pharmacology.analytic import OUTPUTS, inputs
from openpat.pharmacology.model import INTRAVENOUS, Dose, FloatArray, PKPDModel, Subjects


def solve(
    model: PKPDModel,
    subjects: Subjects,
    regimen: Sequence[Dose],
    times: FloatArray,
    *,
    outputs: Sequence[str] = OUTPUTS,
    rtol: float = 1e-10,
    atol: float = 1e-14,
    method: str = "DOP853",
) -> dict[str, FloatArray]:
    """Concentrations (mg/L) ``cp`` and ``ce`` and, for tolerance models, ``tol`` — each
    (n, n_times) — by numerical integration."""
    events_in = inputs(model, subjects, regimen)
    routes = sorted(set(events_in.bolus) | set(events_in.rate))
    depots = [r for r in routes if r != INTRAVENOUS]
    n = subjects.n
    ncmt = model.compartments
    has_effect = model.effect is not None
    tolerance = model.effect.tolerance if model.effect is not None else None
    # state layout: depots, central/peripheral amounts, effect-site conc, tolerance
    i_central = len(depots)
    i_effect = i_central + ncmt
    i_tol = i_effect + int(has_effect)
    n_states = i_tol + int(tolerance is not None)

    v1 = subjects["V1"]
    k10 = subjects["CL"] / v1
    flows = []
    for q, v in [("Q2", "V2"), ("Q3", "V3")][: ncmt - 1]:
        flows.append((subjects[q] / v1, subjects[q] / subjects[v]))
    ka = [subjects[f"ka:{r}"] for r in depots]
    f = [model.absorption[r].bioavailability for r in depots]
    ke0 = subjects["ke0"] if has_effect else None
    elimination = model.elimination

    def rhs(_t: float, y: FloatArray, rate: FloatArray) -> FloatArray:
        s = y.reshape(n_states, n)
        d = np.empty_like(s)
        a1 = s[i_central]
        c1 = a1 / v1
        d[i_central] = rate - k10 * a1
        for j, depot_ka in enumerate(ka):
            d[j] = -depot_ka * s[j]
            d[i_central] += f[j] * depot_ka * s[j]
        for i, (k1i, ki1) in enumerate(flows, start=1):
            d[i_central] += ki1 * s[i_central + i] - k1i * a1
            d[i_central + i] = k1i * a1 - ki1 * s[i_central + i]
        if elimination is not None:
            d[i_central] -= elimination.vmax_mg_per_min * c1 / (elimination.km_mg_per_l + c1)
        if ke0 is not None:
            d[i_effect] = ke0 * (c1 - s[i_effect])
        if tolerance is not None:
            d[i_tol] = tolerance.k_tol_per_min * (s[i_effect] - s[i_tol])
        return d.reshape(-1)

    y = np.zeros(n_states * n)
    result = np.zeros((n_states, n, times.size))
    events = events_in.events
    bounds = [*events.tolist(), max(float(times[-1]), float(events[-1]))]
    for k in range(events.size):
        state = y.reshape(n_states, n)
        for route, amounts in events_in.bolus.items():
            index = i_central if route == INTRAVENOUS else depots.index(route)
            state[index] += amounts[k]
        rate = events_in.rate[INTRAVENOUS][k] if INTRAVENOUS in events_in.rate else np.zeros(n)
        lo, hi = bounds[k], bounds[k + 1]
        last = k == events.size - 1
        inside = np.flatnonzero((times >= lo) & ((times <= hi) if last else (times < hi)))
        if hi <= lo:
            result[:, :, inside] = state[:, :, None]
            continue
        stops = times[inside]
        if not (stops.size and stops[-1] == hi):
            stops = np.append(stops, hi)
        sol = solve_ivp(
            rhs, (lo, hi), y, method=method, t_eval=stops, args=(rate,), rtol=rtol, atol=atol
        )
        if not sol.success:
            raise InvalidInput.for_field("model", f"the ODE solver failed: {sol.message}")
        result[:, :, inside] = sol.y[:, : inside.size].reshape(n_states, n, -1)
        y = sol.y[:, -1].copy()
    found = {"cp": result[i_central] / v1[:, None]}
    if has_effect:
        found["ce"] = result[i_effect]
    if tolerance is not None:
        found["tol"] = result[i_tol]
    unknown = [o for o in outputs if o not in found and o in OUTPUTS]
    if unknown:
        raise InvalidInput.for_field("outputs", f"{unknown[0]} is not available for {model.id}")
    return found


def effect_with_tolerance(
    model: PKPDModel, subjects: Subjects, ce: FloatArray, tol: FloatArray
) -> FloatArray:
    """Sigmoid Emax with EC50 raised by the tolerance compartment."""
    pd = model.effect
    assert pd is not None and pd.tolerance is not None
    ec50 = subjects["EC50"][:, None] * (1.0 + np.clip(tol, 0, None) / pd.tolerance.c50_mg_per_l)
    ratio = np.power(np.clip(ce, 0.0, None) / ec50, subjects["gamma"][:, None])
    drug = subjects["Emax"][:, None] * ratio / (1.0 + ratio)
    return pd.e0 - drug if pd.kind == "imax" else pd.e0 + drug
