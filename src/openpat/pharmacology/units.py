"""Doses, rates and durations written with their units: ``20mg``, ``100ug``, ``1.2mg/min``,
``0.5mg/kg``, ``30min``, ``2h``.

Internally amounts are milligrams, times minutes and concentrations mg/L (reported as ng/mL,
which is µg/L: one mg/L is 1000 ng/mL). Parsing refuses anything it cannot read exactly, and
says how to write it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from openpat.errors import InvalidInput

MG_PER_UNIT: dict[str, float] = {"g": 1000.0, "mg": 1.0, "ug": 1e-3, "µg": 1e-3, "mcg": 1e-3}
MIN_PER_UNIT: dict[str, float] = {
    "s": 1 / 60,
    "sec": 1 / 60,
    "min": 1.0,
    "h": 60.0,
    "hr": 60.0,
    "d": 1440.0,
}
NG_PER_ML_PER_MG_PER_L = 1000.0

_NUMBER = r"(?P<value>[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?|\.[0-9]+)"
_AMOUNT_RE = re.compile(rf"^\s*{_NUMBER}\s*(?P<unit>g|mg|ug|µg|mcg)(?P<per_kg>\s*/\s*kg)?\s*$")
_RATE_RE = re.compile(
    rf"^\s*{_NUMBER}\s*(?P<unit>g|mg|ug|µg|mcg)(?P<per_kg>\s*/\s*kg)?\s*/\s*(?P<time>s|min|h)\s*$"
)
_TIME_RE = re.compile(rf"^\s*{_NUMBER}\s*(?P<unit>s|sec|min|h|hr|d)\s*$")


@dataclass(frozen=True, slots=True)
class Amount:
    """A dose amount in mg, either absolute or per kg of body weight."""

    mg: float
    per_kg: bool = False

    def __str__(self) -> str:
        return f"{self.mg:g} mg{'/kg' if self.per_kg else ''}"


def parse_amount(text: str, *, field: str = "dose") -> Amount:
    """``"20mg"`` → 20 mg; ``"100ug"`` → 0.1 mg; ``"0.2mg/kg"`` → 0.2 mg per kg."""
    match = _AMOUNT_RE.match(str(text))
    if match is None:
        raise InvalidInput.for_field(
            field,
            f"{text!r} is not a dose; write a number and a unit, e.g. 20mg, 100ug or 0.2mg/kg",
        )
    value = float(match["value"]) * MG_PER_UNIT[match["unit"]]
    _positive(value, field, text)
    return Amount(value, per_kg=bool(match["per_kg"]))


def parse_rate(text: str, *, field: str = "rate") -> Amount:
    """``"1.2mg/min"`` → 1.2 mg per minute (``per_kg`` for ``mg/kg/min``)."""
    match = _RATE_RE.match(str(text))
    if match is None:
        raise InvalidInput.for_field(
            field, f"{text!r} is not an infusion rate; write e.g. 1.2mg/min or 0.01mg/kg/min"
        )
    value = float(match["value"]) * MG_PER_UNIT[match["unit"]] / MIN_PER_UNIT[match["time"]]
    _positive(value, field, text)
    return Amount(value, per_kg=bool(match["per_kg"]))


def parse_duration(text: str | float, *, field: str = "duration") -> float:
    """``"30min"`` → 30.0; ``"2h"`` → 120.0 (minutes). A bare number is minutes."""
    if isinstance(text, int | float):
        minutes = float(text)
    else:
        match = _TIME_RE.match(str(text))
        if match is None:
            raise InvalidInput.for_field(
                field, f"{text!r} is not a duration; write e.g. 90s, 30min or 6h"
            )
        minutes = float(match["value"]) * MIN_PER_UNIT[match["unit"]]
    _positive(minutes, field, text)
    return minutes


def parse_time_point(text: str | float, *, field: str = "at") -> float:
    """A time after the start, in minutes: like :func:`parse_duration` but zero is allowed."""
    if isinstance(text, int | float):
        minutes = float(text)
    else:
        match = _TIME_RE.match(str(text))
        if match is None:
            raise InvalidInput.for_field(
                field, f"{text!r} is not a time; write e.g. 0min, 90min or 2h"
            )
        minutes = float(match["value"]) * MIN_PER_UNIT[match["unit"]]
    if not 0 <= minutes < float("inf"):
        raise InvalidInput.for_field(field, f"{text!r} must be zero or later")
    return minutes


def _positive(value: float, field: str, text: object) -> None:
    if not value > 0 or value == float("inf"):
        raise InvalidInput.for_field(field, f"{text!r} must be greater than zero")
