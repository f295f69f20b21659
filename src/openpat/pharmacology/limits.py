"""When to distrust a simulation, and when to refuse one.

A model's knowledge entry records the single doses its source studies gave
(``studied_doses``) and the most openpat will simulate (``dose_ceilings``), both cited.

- Outside the studied doses the model extrapolates. :func:`studied_range_warnings` says so,
  with the studied range and its references: for a dose given at once (an IV bolus or an
  oral dose) above the highest studied dose, for a regimen whose total is above it (several
  doses, or an infusion), for a regimen whose total is below the lowest studied dose, and
  for an infusion when the sources gave none. A model whose studied range is not recorded
  says that instead of staying silent.
- Above a ceiling openpat refuses to simulate (:func:`ceiling_breach`,
  :func:`check_ceilings`). This is openpat's rule, not a clinical limit: a ceiling is the
  highest dose given to people in a cited study, or a label's maximum. A dose given at once
  must not exceed the highest ``bolus`` ceiling; a regimen's total must not exceed the
  highest of its ``session`` and ``bolus`` ceilings (a one-dose session is a session). A
  model without a ``session`` ceiling has no bound on the total (ketamine's label, for
  example, allows repeated maintenance increments).

Per-kg bounds apply at the subject's weight (the model's reference weight, 70 kg, unless one
is given), and amounts are compared as mg of the modelled analyte, so a dose of one salt form
is compared with a bound written in another through the model's cited salt factors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from openpat.errors import FieldProblem, RuleViolation
from openpat.pharmacology.model import DOSE_UNITS, Dose, DoseCeiling, PKPDModel, StudiedDoses

NOT_RECORDED = (
    "The studied dose range of this model is not recorded, so openpat cannot tell whether this "
    "regimen is inside the doses the model was built from"
)


def number(value: float) -> str:
    """A dose figure as people write it: 3 significant digits, no exponent."""
    if value >= 1000:
        return f"{value:,.0f}"
    text = f"{value:.3g}"
    if "e" in text:
        text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text


def _weight(model: PKPDModel, weight_kg: float | None) -> float:
    return float(weight_kg) if weight_kg else model.reference_weight_kg


def bound_mg(
    model: PKPDModel, amount: float, unit: str, salt: str, weight_kg: float | None
) -> float:
    """A bound's amount as mg of the analyte (at ``weight_kg`` when it is per kg)."""
    mg_per_unit, per_kg = DOSE_UNITS[unit]
    mg = amount * mg_per_unit * (_weight(model, weight_kg) if per_kg else 1.0)
    return mg * model.base_fraction(salt)


def dose_mg(model: PKPDModel, dose: Dose, weight_kg: float | None) -> float:
    """A dose as mg of the analyte (at ``weight_kg`` when it is per kg)."""
    mg = dose.amount_mg * (_weight(model, weight_kg) if dose.per_kg else 1.0)
    return mg * model.base_fraction(dose.salt)


def _express(
    model: PKPDModel, analyte_mg: float, unit: str, salt: str, weight_kg: float | None
) -> float:
    """``analyte_mg`` as an amount of ``salt`` in ``unit`` (per kg at ``weight_kg``)."""
    return analyte_mg / bound_mg(model, 1.0, unit, salt, weight_kg)


def _absolute_unit(unit: str) -> str:
    return "µg" if DOSE_UNITS[unit][0] < 1 else "mg"


def _amount_text(
    model: PKPDModel, analyte_mg: float, unit: str, salt: str, weight_kg: float | None
) -> str:
    """``35 mg (base)``; for a per-kg unit also the per-kg figure at the weight used."""
    absolute = _absolute_unit(unit)
    text = f"{number(_express(model, analyte_mg, absolute, salt, weight_kg))} {absolute}"
    if not DOSE_UNITS[unit][1]:
        return f"{text} ({salt})"
    per_kg = number(_express(model, analyte_mg, unit, salt, weight_kg))
    return f"{text} ({salt}; {per_kg} {unit} at {number(_weight(model, weight_kg))} kg)"


def _bound_text(
    model: PKPDModel, value: float, unit: str, salt: str, weight_kg: float | None
) -> str:
    """A bound as its source writes it; a per-kg bound also at the weight used."""
    text = f"{number(value)} {unit}"
    if not DOSE_UNITS[unit][1]:
        return f"{text} ({salt})"
    absolute = _absolute_unit(unit)
    mg = _express(model, bound_mg(model, value, unit, salt, weight_kg), absolute, salt, weight_kg)
    return f"{text} ({salt}; {number(mg)} {absolute} at {number(_weight(model, weight_kg))} kg)"


def _dose_text(model: PKPDModel, dose: Dose, unit: str, salt: str, weight_kg: float | None) -> str:
    """The dose as the user wrote it and, when that differs, in the bound's unit and salt:
    ``20 mg (base; 32.3 mg as fumarate)``."""
    given_salt = dose.salt or model.default_salt
    micro = DOSE_UNITS[unit][0] < 1
    own_unit = ("µg" if micro else "mg") + ("/kg" if dose.per_kg else "")
    text = f"{number(dose.amount_mg * (1000.0 if micro else 1.0))} {own_unit}"
    if own_unit == unit and given_salt == salt:
        return f"{text} ({salt})"
    other = number(_express(model, dose_mg(model, dose, weight_kg), unit, salt, weight_kg))
    at = f" at {number(_weight(model, weight_kg))} kg" if DOSE_UNITS[unit][1] != dose.per_kg else ""
    as_salt = "" if given_salt == salt else f" as {salt}"
    return f"{text} ({given_salt}; {other} {unit}{as_salt}{at})"


def _refs(refs: Sequence[str]) -> str:
    return f"refs {', '.join(refs)}" if refs else "no reference recorded"


def _studied_text(model: PKPDModel, studied: StudiedDoses, weight_kg: float | None) -> str:
    assert studied.low is not None and studied.high is not None
    high = _bound_text(model, studied.high, studied.unit, studied.salt, weight_kg)
    span = high if studied.low == studied.high else f"{number(studied.low)}–{high}"
    return f"{span}, {studied.administration}; {_refs(studied.refs)}"


def studied_range_warnings(
    model: PKPDModel, regimen: Sequence[Dose], *, weight_kg: float | None = None
) -> list[str]:
    """Plain-language warnings when ``regimen`` leaves the doses the model was built from,
    or when that range is not recorded; empty when the regimen is inside it."""
    studied = model.studied_doses
    if studied is None or studied.low is None or studied.high is None:
        return [NOT_RECORDED]
    low = bound_mg(model, studied.low, studied.unit, studied.salt, weight_kg)
    high = bound_mg(model, studied.high, studied.unit, studied.salt, weight_kg)
    source = _studied_text(model, studied, weight_kg)
    warnings = []
    for dose in regimen:
        if dose.duration_min == 0 and dose_mg(model, dose, weight_kg) > high * (1 + 1e-9):
            text = _dose_text(model, dose, studied.unit, studied.salt, weight_kg)
            warnings.append(
                f"{text} is above the highest dose studied for this model ({source}); "
                "the prediction is an extrapolation"
            )
    total = sum(dose_mg(model, d, weight_kg) for d in regimen)
    total_text = _amount_text(model, total, studied.unit, studied.salt, weight_kg)
    several = len(regimen) > 1 or any(d.duration_min > 0 for d in regimen)
    if total > high * (1 + 1e-9) and several and not warnings:
        warnings.append(
            f"The regimen's total, {total_text}, is above the highest dose studied for this "
            f"model ({source}); the prediction is an extrapolation"
        )
    if total < low * (1 - 1e-9):
        warnings.append(
            f"The regimen's total, {total_text}, is below the lowest dose studied for this "
            f"model ({source}); the prediction is an extrapolation"
        )
    if not warnings and not studied.infusions and any(d.duration_min > 0 for d in regimen):
        warnings.append(
            f"This model was built from {studied.administration} only ({source}); an infusion "
            "is outside its data, so the prediction is an extrapolation"
        )
    return warnings


@dataclass(frozen=True, slots=True)
class CeilingBreach:
    """A dose given at once (``dose_index``) or a regimen's total (``dose_index is None``)
    above the most openpat will simulate; ``amount`` and ``ceiling`` are written for people."""

    dose_index: int | None
    amount: str
    ceiling: str

    @property
    def message(self) -> str:
        what = (
            self.amount if self.dose_index is not None else f"the regimen's total, {self.amount},"
        )
        return f"{what} is above the most openpat will simulate: {self.ceiling}"

    def error(self, field: str, message: str | None = None) -> RuleViolation:
        """The refusal, naming ``field``."""
        text = message or self.message
        return RuleViolation(f"{field}: {text}", fields=[FieldProblem(field, text)])


def _ceiling_text(model: PKPDModel, ceiling: DoseCeiling, weight_kg: float | None) -> str:
    amount = _bound_text(model, ceiling.amount, ceiling.unit, ceiling.salt, weight_kg)
    where = "in one session" if ceiling.applies_to == "session" else "in one dose given at once"
    return f"{amount} {where}, which is {ceiling.basis}; {_refs(ceiling.refs)}"


def ceiling_breach(
    model: PKPDModel, regimen: Sequence[Dose], *, weight_kg: float | None = None
) -> CeilingBreach | None:
    """The first dose given at once above the highest ``bolus`` ceiling, else the regimen's
    total above the highest ``session`` (or ``bolus``) ceiling; ``None`` when within them."""
    by_mg = [(bound_mg(model, c.amount, c.unit, c.salt, weight_kg), c) for c in model.dose_ceilings]
    boluses = [pair for pair in by_mg if pair[1].applies_to == "bolus"]
    if boluses:
        limit_mg, ceiling = max(boluses, key=lambda pair: pair[0])
        for i, dose in enumerate(regimen):
            if dose.duration_min == 0 and dose_mg(model, dose, weight_kg) > limit_mg * (1 + 1e-9):
                amount = _dose_text(model, dose, ceiling.unit, ceiling.salt, weight_kg)
                return CeilingBreach(i, amount, _ceiling_text(model, ceiling, weight_kg))
    if any(c.applies_to == "session" for c in model.dose_ceilings):
        limit_mg, ceiling = max(by_mg, key=lambda pair: pair[0])
        total = sum(dose_mg(model, d, weight_kg) for d in regimen)
        if total > limit_mg * (1 + 1e-9):
            amount = _amount_text(model, total, ceiling.unit, ceiling.salt, weight_kg)
            return CeilingBreach(None, amount, _ceiling_text(model, ceiling, weight_kg))
    return None


def check_ceilings(
    model: PKPDModel, regimen: Sequence[Dose], *, weight_kg: float | None = None
) -> None:
    """Refuse a regimen above the model's cited ceilings, naming the dose
    (``regimen[i].amount``) or the regimen."""
    breach = ceiling_breach(model, regimen, weight_kg=weight_kg)
    if breach is not None:
        field = "regimen" if breach.dose_index is None else f"regimen[{breach.dose_index}].amount"
        raise breach.error(field)
