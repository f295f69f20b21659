"""Pharmacology: list the simulation models, simulate regimens across a population, design
IV infusions. No database: requests in, plain results out (CLI, JSON API and web page share
these functions and their request schemas)."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from openpat import knowledge
from openpat.errors import InvalidInput, NotFound
from openpat.pharmacology import library, limits, tci
from openpat.pharmacology.model import INTRAVENOUS, Dose, PKPDModel
from openpat.pharmacology.simulate import SimulationResult, default_times, simulate
from openpat.pharmacology.units import (
    NG_PER_ML_PER_MG_PER_L,
    parse_amount,
    parse_duration,
    parse_rate,
    parse_time_point,
)
from openpat.services.knowledge import reference_read

MAX_SUBJECTS = 100_000
MAX_POINTS = 5_000
# Default infusion-design limits: the largest bolus and total dose given in the Basel DMT
# infusion study (25 mg bolus + 1 mg/min for 90 min; Vogt 2023) and the highest rate studied
# (2.4 mg/min; Ley 2025). A protocol should set its own.
DEFAULT_LIMITS = {"max_bolus": "25mg", "max_rate": "2.4mg/min", "max_total": "115mg"}
DEFAULT_LIMIT_REFS = ["vogt-2023", "ley-2025-dmt-infusion"]


class DoseIn(BaseModel):
    """One administration: ``amount`` (bolus or oral dose) or ``rate`` with ``duration``
    (IV infusion), given ``at`` a time after the start."""

    model_config = ConfigDict(extra="forbid")

    amount: str | None = Field(default=None, max_length=40, examples=["20mg", "0.2mg/kg"])
    rate: str | None = Field(default=None, max_length=40, examples=["1.2mg/min"])
    duration: str | None = Field(default=None, max_length=40, examples=["30min"])
    at: str = Field(default="0min", max_length=40)


class RegimenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    substance: str = Field(min_length=1, max_length=80)
    route: str | None = Field(default=None, max_length=40)
    salt: str | None = Field(default=None, max_length=40)
    label: str | None = Field(default=None, max_length=120)
    doses: list[DoseIn] = Field(min_length=1, max_length=200)


class SimulationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    regimens: list[RegimenIn] = Field(min_length=1, max_length=6)
    subjects: int = Field(default=1000, ge=0, le=MAX_SUBJECTS)
    seed: int = Field(default=2026, ge=0, le=2**31 - 1)
    hours: float | None = Field(default=None, gt=0, le=96)
    points: int = Field(default=481, ge=10, le=MAX_POINTS)
    threshold: float | None = None
    weight_kg: float | None = Field(default=None, gt=0)


class DesignCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    substance: str = Field(default="dmt", min_length=1, max_length=80)
    target_intensity: float | None = None
    target_ng_per_ml: float | None = Field(default=None, gt=0)
    duration: str = Field(default="30min", max_length=40)
    band: tuple[float, float] | None = None
    salt: str | None = Field(default=None, max_length=40)
    max_rate: str = Field(default=DEFAULT_LIMITS["max_rate"], max_length=40)
    max_total: str = Field(default=DEFAULT_LIMITS["max_total"], max_length=40)
    max_bolus: str | None = Field(default=DEFAULT_LIMITS["max_bolus"], max_length=40)
    subjects: int = Field(default=1000, ge=0, le=MAX_SUBJECTS)
    seed: int = Field(default=2026, ge=0, le=2**31 - 1)


def models(kb: knowledge.KnowledgeBase | None = None) -> list[dict[str, Any]]:
    """Every simulatable substance/route model with its references."""
    kb = kb or knowledge.default()
    found = []
    for entry in library.entries(kb):
        model = library.build(entry)
        m = entry.model
        found.append(
            {
                "id": m.id,
                "substance": entry.substance,
                "route": entry.route,
                "analyte": model.analyte,
                "structure": m.structure,
                "population": m.population,
                "method": m.method,
                "compartments": model.compartments,
                "solver": "ode" if model.needs_ode else "closed-form",
                "salts": dict(model.salts),
                "default_salt": model.default_salt,
                "effect": None
                if model.effect is None
                else {
                    "name": model.effect.name,
                    "unit": model.effect.unit,
                    "scale": list(model.effect.scale),
                    "session_threshold": model.effect.session_threshold,
                    "threshold_basis": model.effect.threshold_basis,
                },
                "between_subject_variability": {
                    name: round(float(np.sqrt(model.omega[i][i])) * 100, 1)
                    for i, name in enumerate(model.omega_names)
                },
                "studied_doses": _studied(model),
                "dose_ceilings": [
                    {
                        "applies_to": c.applies_to,
                        "amount": c.amount,
                        "unit": c.unit,
                        "salt": c.salt,
                        "basis": c.basis,
                        "refs": list(c.refs),
                    }
                    for c in model.dose_ceilings
                ],
                "note": m.note,
                "references": _references(kb, _all_refs(m)),
            }
        )
    return found


def _studied(model: PKPDModel) -> dict[str, Any] | None:
    """The doses the model was built from, or None when they are not recorded."""
    s = model.studied_doses
    if s is None or s.low is None or s.high is None:
        return None
    return {
        "low": s.low,
        "high": s.high,
        "unit": s.unit,
        "salt": s.salt,
        "administration": s.administration,
        "infusions": s.infusions,
        "refs": list(s.refs),
    }


def _references(kb: knowledge.KnowledgeBase, ids: list[str]) -> list[dict[str, Any]]:
    return [reference_read(kb.reference(i)).model_dump() for i in dict.fromkeys(ids)]


def _all_refs(m: Any) -> list[str]:
    refs = list(m.refs)
    for item in [*m.parameters, *m.salts, *m.validation]:
        refs += [r for r in item.refs if r not in refs]
    return refs


def regimen(model: PKPDModel, regimen_in: RegimenIn, where: str) -> list[Dose]:
    """Doses with units (``20mg``, ``1.2mg/min`` for ``30min`` ``at`` ``5min``) → Doses."""
    route = library.route_name(regimen_in.route) if regimen_in.route else model.routes[0]
    if route not in model.routes:
        raise InvalidInput.for_field(
            f"{where}.route",
            f"the {model.substance} model has no {route} route; it has {', '.join(model.routes)}",
        )
    model.base_fraction(regimen_in.salt)
    doses = []
    for i, d in enumerate(regimen_in.doses):
        field = f"{where}.doses[{i}]"
        at = parse_time_point(d.at, field=f"{field}.at")
        if d.rate is not None:
            if d.amount is not None:
                raise InvalidInput.for_field(field, "give an amount or a rate, not both")
            if d.duration is None:
                raise InvalidInput.for_field(
                    f"{field}.duration", "an infusion rate needs a duration"
                )
            rate = parse_rate(d.rate, field=f"{field}.rate")
            minutes = parse_duration(d.duration, field=f"{field}.duration")
            doses.append(Dose(rate.mg * minutes, at, route, minutes, regimen_in.salt, rate.per_kg))
        elif d.amount is not None:
            amount = parse_amount(d.amount, field=f"{field}.amount")
            minutes = parse_duration(d.duration, field=f"{field}.duration") if d.duration else 0.0
            doses.append(Dose(amount.mg, at, route, minutes, regimen_in.salt, amount.per_kg))
        else:
            raise InvalidInput.for_field(field, "give an amount (e.g. 20mg) or a rate and duration")
    return doses


def _percentile_block(result: SimulationResult) -> dict[str, dict[str, float]]:
    summary = result.population.summary(result.percentiles)
    return {
        f"p{p:g}": {name: values[i] for name, values in summary.items()}
        for i, p in enumerate(result.percentiles)
    }


def _clean_dict(value: dict[str, Any]) -> dict[str, Any]:
    cleaned: dict[str, Any] = _clean(value)
    return cleaned


def _clean(value: Any) -> Any:
    """NaN/inf → None for JSON."""
    if isinstance(value, float):
        return None if not np.isfinite(value) else round(value, 6)
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _series(values: np.ndarray | None, digits: int = 5) -> list[float | None] | None:
    if values is None:
        return None
    return [None if not np.isfinite(v) else float(f"{v:.{digits}g}") for v in values.tolist()]


def simulate_regimens(request: SimulationCreate) -> dict[str, Any]:
    """Simulate each regimen for the typical subject and ``subjects`` virtual subjects."""
    kb = knowledge.default()
    prepared = []
    for i, r in enumerate(request.regimens):
        where = f"regimens[{i}]"
        try:
            entry = library.find(kb, r.substance, r.route)
        except NotFound as exc:
            raise InvalidInput.for_field(f"{where}.substance", str(exc)) from None
        model = library.build(entry)
        doses = regimen(model, r, where)
        breach = limits.ceiling_breach(model, doses, weight_kg=request.weight_kg)
        if breach is not None:
            raise breach.error(_dose_field(r, where, breach.dose_index))
        prepared.append((r, entry, model, doses))
    # one grid for all regimens so they overlay
    if request.hours is not None:
        end = request.hours * 60
    else:
        end = max(float(default_times(m, doses)[-1]) for _, _, m, doses in prepared)
    times = np.linspace(0.0, end, request.points)
    results = []
    for i, (r, entry, model, doses) in enumerate(prepared):
        rng = np.random.default_rng([request.seed, i])
        res = simulate(
            model,
            doses,
            times,
            request.subjects,
            rng,
            threshold=request.threshold,
            weight_kg=request.weight_kg,
        )
        typical = {k: v[0] for k, v in res.typical.summary((50.0,)).items()}
        typical.setdefault("peak_effect", None)  # type: ignore[arg-type]
        typical.setdefault("session_length_min", None)  # type: ignore[arg-type]
        results.append(
            {
                "label": r.label or _label(r, model),
                "substance": entry.substance,
                "route": entry.route,
                "model": entry.model.id,
                "method": entry.model.method,
                "salt": r.salt or model.default_salt,
                "analyte": model.analyte,
                "doses": [
                    {
                        "amount_mg": d.amount_mg,
                        "per_kg": d.per_kg,
                        "time_min": d.time_min,
                        "duration_min": d.duration_min,
                        "route": d.route,
                    }
                    for d in doses
                ],
                "effect": None
                if model.effect is None
                else {
                    "name": model.effect.name,
                    "unit": model.effect.unit,
                    "scale": list(model.effect.scale),
                },
                "threshold": res.threshold,
                "typical": typical,
                "population": _percentile_block(res) if request.subjects else None,
                "variability": res.variability,
                "variability_note": res.variability_note,
                "warnings": res.warnings,
                "studied_doses": _studied(model),
                "censored": res.censored,
                "notes": res.notes
                + (
                    []
                    if model.effect
                    else [
                        "this model predicts concentrations only; "
                        "no published effect model, so no session length"
                    ]
                ),
                "grid": {
                    "median_cp_ng_per_ml": _series(res.cp_percentiles[1]),
                    "p5_cp_ng_per_ml": _series(res.cp_percentiles[0]),
                    "p95_cp_ng_per_ml": _series(res.cp_percentiles[2]),
                    "typical_cp_ng_per_ml": _series(res.typical_cp),
                    "median_effect": _series(
                        None if res.effect_percentiles is None else res.effect_percentiles[1]
                    ),
                    "p5_effect": _series(
                        None if res.effect_percentiles is None else res.effect_percentiles[0]
                    ),
                    "p95_effect": _series(
                        None if res.effect_percentiles is None else res.effect_percentiles[2]
                    ),
                    "typical_effect": _series(res.typical_effect),
                },
                "references": _references(kb, list(entry.model.refs)),
            }
        )
    return _clean_dict(
        {
            "subjects": request.subjects,
            "seed": request.seed,
            "percentiles": [5, 50, 95],
            "time_min": _series(times, 8),
            "regimens": results,
            "knowledge_version": kb.version,
        }
    )


def _dose_field(r: RegimenIn, where: str, index: int | None) -> str:
    """The request field a ceiling refusal names: the dose's amount (or rate), or the doses."""
    if index is None:
        return f"{where}.doses"
    part = "rate" if r.doses[index].rate is not None else "amount"
    return f"{where}.doses[{index}].{part}"


def _label(r: RegimenIn, model: PKPDModel) -> str:
    parts = []
    for d in r.doses:
        text = f"{d.rate} × {d.duration}" if d.rate else f"{d.amount}"
        if parse_time_point(d.at) > 0:
            text += f" at {d.at}"
        parts.append(text)
    salt = r.salt or model.default_salt
    return f"{model.substance} {'+'.join(parts)} ({salt})"


def design(request: DesignCreate) -> dict[str, Any]:
    """Design a bolus + stepwise infusion holding a target effect for a duration."""
    kb = knowledge.default()
    try:
        entry = library.find(kb, request.substance, INTRAVENOUS)
    except NotFound as exc:
        raise InvalidInput.for_field("substance", str(exc)) from None
    model = library.build(entry)
    if model.effect is None:
        raise InvalidInput.for_field("substance", f"{entry.substance} has no effect model")
    duration = parse_duration(request.duration, field="duration")
    limits = tci.InfusionLimits(
        max_rate_mg_per_min=parse_rate(request.max_rate, field="max_rate").mg,
        max_total_mg=parse_amount(request.max_total, field="max_total").mg,
        max_bolus_mg=parse_amount(request.max_bolus, field="max_bolus").mg
        if request.max_bolus
        else None,
    )
    if request.target_intensity is None and request.target_ng_per_ml is None:
        raise InvalidInput.for_field("target_intensity", "give a target intensity or concentration")
    band = request.band
    if band is None and request.target_intensity is not None:
        span = (model.effect.scale[1] - model.effect.scale[0]) / 10
        band = (request.target_intensity - span, request.target_intensity + span)
    result = tci.design_infusion(
        model,
        duration_min=duration,
        limits=limits,
        target_effect=request.target_intensity,
        target_ce_mg_per_l=None
        if request.target_ng_per_ml is None
        else request.target_ng_per_ml / NG_PER_ML_PER_MG_PER_L,
        band=band,
        salt=request.salt,
        n_subjects=request.subjects,
        rng=np.random.default_rng(request.seed),
    )
    pop = result.population
    return _clean_dict(
        {
            "substance": entry.substance,
            "model": entry.model.id,
            "salt": result.salt,
            "target_intensity": result.target_effect,
            "target_effect_site_ng_per_ml": result.target_ce_mg_per_l * NG_PER_ML_PER_MG_PER_L,
            "band": list(result.band) if result.band else None,
            "duration_min": result.duration_min,
            "bolus_mg": result.bolus_mg,
            "steps": [
                {
                    "start_min": s.start_min,
                    "end_min": s.end_min,
                    "rate_mg_per_min": s.rate_mg_per_min,
                }
                for s in result.steps
            ],
            "total_mg": result.total_mg,
            "mean_rate_mg_per_min": result.mean_rate_mg_per_min,
            "limits": {
                "max_rate": request.max_rate,
                "max_total": request.max_total,
                "max_bolus": request.max_bolus,
            },
            "limited_by": list(result.limited_by),
            "typical_share_in_band": result.typical_share_in_band,
            "population_share_in_band": result.population_share_in_band,
            "low_share_threshold": tci.LOW_SHARE_IN_BAND,
            "warnings": list(result.warnings),
            "subjects": request.subjects,
            "seed": request.seed,
            "time_min": _series(pop.times_min, 8) if pop else None,
            "median_effect": _series(pop.effect_percentiles[1])
            if pop and pop.effect_percentiles is not None
            else None,
            "p5_effect": _series(pop.effect_percentiles[0])
            if pop and pop.effect_percentiles is not None
            else None,
            "p95_effect": _series(pop.effect_percentiles[2])
            if pop and pop.effect_percentiles is not None
            else None,
            "method": "effect-site targeting (Shafer & Gregg 1992), 1-min pump steps",
            "references": _references(
                kb, [*entry.model.refs, "shafer-gregg-1992", *DEFAULT_LIMIT_REFS]
            ),
        }
    )
