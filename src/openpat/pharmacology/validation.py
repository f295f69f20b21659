"""Published figures beside simulated typical-subject values (docs/validation.md).

Each knowledge-base model lists ``validation`` targets: a dose (and infusion time), a
quantity (Cmax, Tmax, half-life, effect duration, peak effect, its time, or a concentration
at a time) and the published value with its reference. :func:`check` simulates the typical
subject on a fine grid and compares; ``held`` targets must agree within 20 %.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from openpat.knowledge.schema import PkTarget, Range
from openpat.pharmacology.model import INTRAVENOUS, Dose, FloatArray, PKPDModel
from openpat.pharmacology.simulate import simulate
from openpat.pharmacology.units import parse_amount, parse_duration

TOLERANCE = 0.20
_TIME_TO_MIN = {"s": 1 / 60, "min": 1.0, "h": 60.0}


@dataclass(frozen=True, slots=True)
class Comparison:
    target: PkTarget
    simulated: float  # in the target's unit
    relative_error: float  # 0 inside a published range; else distance to the nearest end
    within: bool

    @property
    def published(self) -> str:
        v = self.target.value
        return f"{v.low:g}" if v.low == v.high else f"{v.low:g}–{v.high:g}"


def regimen_for(model: PKPDModel, target: PkTarget) -> list[Dose]:
    amount = parse_amount(target.dose, field="validation.dose")
    route = INTRAVENOUS if model.iv else next(iter(model.absorption))
    duration = parse_duration(target.infusion) if target.infusion else 0.0
    return [Dose(amount.mg, 0.0, route, duration, target.salt_form, amount.per_kg)]


def horizon_min(model: PKPDModel) -> float:
    return 90.0 if model.iv and model.compartments >= 2 and model.cl_l_per_min > 10 else 36 * 60.0


def simulated_value(model: PKPDModel, target: PkTarget, times: FloatArray | None = None) -> float:
    """The typical subject's value of ``target.quantity`` in the target's unit."""
    end = horizon_min(model)
    per_min = 12 if end <= 120 else 1
    grid = times if times is not None else np.linspace(0.0, end, int(end * per_min) + 1)
    result = simulate(model, regimen_for(model, target), grid, 0)
    unit = target.value.unit
    cp = result.typical_cp
    q = target.quantity
    if q == "cmax":
        return float(cp.max()) * (1e3 if unit == "pg/mL" else 1.0)
    if q == "tmax":
        return float(grid[np.argmax(cp)]) / _TIME_TO_MIN[unit]
    if q == "concentration":
        at = parse_duration(target.at or "0min")
        return float(np.interp(at, grid, cp))
    if q == "half-life":
        # terminal log-linear slope between 50 % and 10 % of Cmax after the peak
        peak = int(np.argmax(cp))
        tail = cp[peak:]
        sel = (tail <= 0.5 * cp[peak]) & (tail >= 0.1 * cp[peak])
        t = grid[peak:][sel]
        slope = np.polyfit(t, np.log(tail[sel]), 1)[0]
        return float(np.log(2) / -slope) / _TIME_TO_MIN[unit]
    effect = result.typical_effect
    assert effect is not None, f"{model.id} has no effect model for {q}"
    if q == "peak-effect":
        return float(effect.max())
    if q == "peak-effect-time":
        return float(grid[np.argmax(effect)]) / _TIME_TO_MIN[unit]
    length = result.typical.session_length_min
    assert length is not None
    return float(length[0]) / _TIME_TO_MIN[unit]


def _error(value: float, published: Range) -> float:
    if published.low <= value <= published.high:
        return 0.0
    nearest = published.low if value < published.low else published.high
    return (value - nearest) / nearest


def check(model: PKPDModel, targets: list[PkTarget]) -> list[Comparison]:
    """Compare every target; ``within`` is |relative error| <= 20 %."""
    rows = []
    for target in targets:
        value = simulated_value(model, target)
        err = _error(value, target.value)
        rows.append(Comparison(target, value, err, abs(err) <= TOLERANCE))
    return rows
