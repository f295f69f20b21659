"""Simulators built from the knowledge base's cited PK/PD models.

Every model whose knowledge entry says ``simulate: true`` becomes a :class:`PKPDModel`:
parameters are converted to L, L/min, 1/min and mg/L (an EC50 in nM through the analyte's
molecular weight), %CV between-subject variability becomes a diagonal omega (ω² = (CV/100)²,
the convention Eckernäs 2022 reports), and a per-kilogram model gets weight exponents of 1.
"""

from __future__ import annotations

from dataclasses import dataclass

from openpat.errors import InvalidInput, NotFound
from openpat.knowledge import KnowledgeBase
from openpat.knowledge.schema import PkModel, PkParameter
from openpat.pharmacology.model import (
    INTRAVENOUS,
    Absorption,
    DoseCeiling,
    EffectModel,
    Elimination,
    PKPDModel,
    StudiedDoses,
    Tolerance,
)

_PER_MIN = {"1/min": 1.0, "1/h": 1 / 60}
_CLEARANCE = {"L/min": 1.0, "L/h": 1 / 60}
_MINUTES = {"min": 1.0, "h": 60.0, "s": 1 / 60}
_MG_PER_L = {"ng/mL": 1e-3, "mg/L": 1.0}
_RANDOM = {
    "CL": "CL",
    "V1": "V1",
    "Q": "Q2",
    "V2": "V2",
    "Q3": "Q3",
    "V3": "V3",
    "ka": "ka",
    "ke0": "ke0",
    "EC50e": "EC50",
    "gamma": "gamma",
    "Emax": "Emax",
}


@dataclass(frozen=True, slots=True)
class ModelEntry:
    """A simulatable model: where it lives in the knowledge base and its source."""

    substance: str
    route: str
    model: PkModel


def entries(kb: KnowledgeBase) -> list[ModelEntry]:
    """Every simulatable model, by substance and route."""
    found = []
    for substance in sorted(kb.substances.values(), key=lambda s: s.id):
        for profile in substance.routes:
            for model in profile.pk_models:
                if model.simulate:
                    found.append(ModelEntry(substance.id, str(profile.route), model))
    return found


def find(kb: KnowledgeBase, substance: str, route: str | None = None) -> ModelEntry:
    """The model for ``substance`` (and ``route``); a clear error lists what exists."""
    known = entries(kb)
    matches = [e for e in known if e.substance == substance.lower()]
    if route:
        matches = [e for e in matches if e.route == route_name(route)]
    if not matches:
        listing = ", ".join(f"{e.substance} {e.route}" for e in known)
        raise NotFound(
            f"no simulation model for {substance}{' ' + route if route else ''}; "
            f"available: {listing} (see `openpat pk models`)"
        )
    return matches[0]


def route_name(route: str) -> str:
    """Accept the usual abbreviations (iv, po, im, in) for route names."""
    aliases = {"iv": INTRAVENOUS, "po": "oral", "im": "intramuscular", "in": "intranasal"}
    return aliases.get(route.lower(), route.lower())


def _value(model: PkModel, name: str, units: dict[str, float] | None = None) -> float | None:
    p: PkParameter | None = model.parameter(name)
    if p is None:
        return None
    if units is None:
        return p.value
    if p.unit not in units:
        raise InvalidInput.for_field(
            f"{model.id}.{name}", f"unit {p.unit!r} is not one of {', '.join(units)}"
        )
    return p.value * units[p.unit]


def build(entry: ModelEntry) -> PKPDModel:
    """Convert a knowledge-base model to a simulator."""
    m = entry.model
    per_kg = m.parameter("V1") is not None and m.parameter("V1").unit == "L/kg"  # type: ignore[union-attr]
    if m.parameter("k10") is not None:
        v1 = m.parameter("V1").value  # type: ignore[union-attr]
        k = {n: _value(m, n, _PER_MIN) or 0.0 for n in ("k10", "k12", "k13", "k21", "k31")}
        cl, q2, q3 = k["k10"] * v1, k["k12"] * v1, k["k13"] * v1
        v2 = q2 / k["k21"] if k["k21"] else 0.0
        v3 = q3 / k["k31"] if k["k31"] else 0.0
    else:
        v1 = _value(m, "V1") or 0.0
        cl = _value(m, "CL", _CLEARANCE) or 0.0
        q2 = _value(m, "Q", _CLEARANCE) or 0.0
        v2 = _value(m, "V2") or 0.0
        q3 = _value(m, "Q3", _CLEARANCE) or 0.0
        v3 = _value(m, "V3") or 0.0
    reference_weight = 70.0
    if per_kg:  # a per-kg model: scale to the reference weight, exponent 1 on everything
        cl, v1, q2, v2, q3, v3 = (x * reference_weight for x in (cl, v1, q2, v2, q3, v3))
    absorption = {}
    if entry.route != INTRAVENOUS:
        absorption[entry.route] = Absorption(
            ka_per_min=_value(m, "ka", _PER_MIN) or 0.0,
            bioavailability=_value(m, "F") or 1.0,
            lag_min=_value(m, "tlag", _MINUTES) or 0.0,
        )
    mw = _value(m, "MW")
    effect = None
    if m.effect is not None and m.parameter("EC50e") is not None:
        ec50_param = m.parameter("EC50e")
        assert ec50_param is not None
        if ec50_param.unit == "nM":
            if mw is None:
                raise InvalidInput.for_field(f"{m.id}.MW", "an EC50 in nM needs the analyte's MW")
            ec50 = ec50_param.value * mw * 1e-6  # nmol/L × g/mol → µg/L → mg/L
        else:
            ec50 = _value(m, "EC50e", _MG_PER_L) or 0.0
        tolerance = None
        if m.parameter("ktol") is not None:
            tolerance = Tolerance(
                k_tol_per_min=_value(m, "ktol", _PER_MIN) or 0.0,
                c50_mg_per_l=_value(m, "C50tol", _MG_PER_L) or 0.0,
            )
        effect = EffectModel(
            name=m.effect.name,
            unit=m.effect.unit,
            scale=(m.effect.low, m.effect.high),
            ke0_per_min=_value(m, "ke0", _PER_MIN) or 0.0,
            ec50_mg_per_l=ec50,
            gamma=_value(m, "gamma") or 1.0,
            emax=_value(m, "Emax") or m.effect.high,
            e0=m.effect.low,
            session_threshold=m.effect.session_threshold,
            threshold_basis=m.effect.threshold_note or "",
            tolerance=tolerance,
        )
    elimination = None
    if m.parameter("Vmax") is not None:
        vmax = _value(m, "Vmax", {"mg/min": 1.0, "mg/h": 1 / 60}) or 0.0
        elimination = Elimination(vmax, _value(m, "Km", _MG_PER_L) or 0.0)
    names, variances = [], []
    for p in m.parameters:
        if p.bsv_cv_pct and p.name in _RANDOM:
            names.append(_RANDOM[p.name])
            variances.append((p.bsv_cv_pct / 100.0) ** 2)
    omega = tuple(
        tuple(variances[i] if i == j else 0.0 for j in range(len(names))) for i in range(len(names))
    )
    salts: dict[str, float] = {str(s.salt_form): s.analyte_fraction for s in m.salts} or {
        str(m.dose_basis): 1.0
    }
    return PKPDModel(
        id=m.id,
        substance=entry.substance,
        analyte=m.analyte or entry.substance,
        cl_l_per_min=cl,
        v1_l=v1,
        q2_l_per_min=q2,
        v2_l=v2,
        q3_l_per_min=q3,
        v3_l=v3,
        absorption=absorption,
        iv=entry.route == INTRAVENOUS,
        salts=salts,
        default_salt=m.dose_basis if m.dose_basis in salts else next(iter(salts)),
        effect=effect,
        omega_names=tuple(names),
        omega=omega,
        weight_exponents=(
            {"CL": 1.0, "V1": 1.0, "Q2": 1.0, "V2": 1.0, "Q3": 1.0, "V3": 1.0} if per_kg else {}
        ),
        reference_weight_kg=reference_weight,
        elimination=elimination,
        title=m.structure,
        refs=tuple(m.refs),
        provenance=m.method,
        studied_doses=_studied(m),
        dose_ceilings=tuple(
            DoseCeiling(
                applies_to=c.applies_to,
                amount=c.amount.high,
                unit=c.amount.unit,
                salt=str(c.salt_form),
                basis=c.basis,
                refs=tuple(c.refs),
            )
            for c in m.dose_ceilings
        ),
    )


def _studied(m: PkModel) -> StudiedDoses | None:
    s = m.studied_doses
    if s is None:
        return None
    return StudiedDoses(
        low=None if s.amount is None else s.amount.low,
        high=None if s.amount is None else s.amount.high,
        unit=(s.amount.unit if s.amount is not None else "mg"),
        salt=str(s.salt_form),
        administration=s.administration,
        refs=tuple(s.refs),
        infusions=s.infusions,
    )


def load(kb: KnowledgeBase, substance: str, route: str | None = None) -> PKPDModel:
    """The simulator for a substance (and route) from the knowledge base."""
    return build(find(kb, substance, route))
