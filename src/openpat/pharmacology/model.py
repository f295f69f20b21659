"""PK/PD model definitions, dosing regimens and virtual subjects.

A :class:`PKPDModel` is a linear 1-, 2- or 3-compartment disposition model (clearances in
L/min, volumes in L) with optional first-order absorption per extravascular route, an effect
compartment (ke0) driving a sigmoid Emax or Imax model, log-normal between-subject
variability with a full omega matrix, allometric body-weight covariates, and explicit salt
forms: every dose is converted to milligrams of the modelled analyte before it enters the
model. Two model features have no closed form and send a model to the ODE path:
Michaelis–Menten elimination alongside the linear clearance, and acute tolerance.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from openpat.errors import InvalidInput

FloatArray = NDArray[np.float64]

INTRAVENOUS = "intravenous"
EXTRAVASCULAR_ROUTES = ("oral", "intramuscular", "intranasal", "sublingual", "subcutaneous")
ROUTES = (INTRAVENOUS, *EXTRAVASCULAR_ROUTES)

# Plausibility limits: not clinical facts but guards against unit slips (L vs mL, /h vs /min).
# A value outside them is almost certainly a typing error; the message says which limit.
LIMITS: dict[str, tuple[float, float, str]] = {
    "CL": (1e-4, 200.0, "L/min"),
    "V1": (0.1, 20000.0, "L"),
    "Q2": (0.0, 200.0, "L/min"),
    "V2": (0.1, 50000.0, "L"),
    "Q3": (0.0, 200.0, "L/min"),
    "V3": (0.1, 50000.0, "L"),
    "ka": (1e-5, 100.0, "1/min"),
    "F": (1e-3, 1.0, "fraction"),
    "lag": (0.0, 600.0, "min"),
    "ke0": (1e-5, 100.0, "1/min"),
    "EC50": (1e-9, 1e4, "mg/L"),
    "gamma": (0.05, 20.0, ""),
    "Emax": (1e-6, 1e6, "effect units"),
    "Vmax": (0.0, 1e3, "mg/min"),
    "Km": (1e-9, 1e4, "mg/L"),
    "weight": (2.0, 400.0, "kg"),
}
RANDOM_PARAMETERS = ("CL", "V1", "Q2", "V2", "Q3", "V3", "ka", "ke0", "EC50", "gamma", "Emax")


def check_range(name: str, value: float, *, field: str | None = None) -> float:
    """Refuse a parameter outside its plausibility limits, naming it and the limits."""
    low, high, unit = LIMITS[name]
    if not math.isfinite(value) or not low <= value <= high:
        raise InvalidInput.for_field(
            field or name,
            f"{value!r} is outside the plausible range {low:g}–{high:g} {unit}; "
            "check the unit (L vs mL, per minute vs per hour)",
        )
    return float(value)


@dataclass(frozen=True, slots=True)
class Absorption:
    """First-order absorption for one extravascular route."""

    ka_per_min: float
    bioavailability: float = 1.0
    lag_min: float = 0.0

    def __post_init__(self) -> None:
        check_range("ka", self.ka_per_min, field="absorption.ka_per_min")
        check_range("F", self.bioavailability, field="absorption.bioavailability")
        check_range("lag", self.lag_min, field="absorption.lag_min")


@dataclass(frozen=True, slots=True)
class Tolerance:
    """Acute tolerance: a tolerance compartment T follows the effect-site concentration with
    rate ``k_tol_per_min`` and raises the potency parameter, EC50(t) = EC50 · (1 + T/C50_tol).
    The model has no closed form for the effect and is solved on the ODE path."""

    k_tol_per_min: float
    c50_mg_per_l: float


@dataclass(frozen=True, slots=True)
class EffectModel:
    """Effect compartment and sigmoid Emax (or Imax) model.

    ``E = E0 + Emax · Ce^γ / (EC50^γ + Ce^γ)``; for ``kind="imax"`` the drug term is
    subtracted. ``scale`` names the effect scale and its bounds (e.g. 0–10 intensity).
    ``session_threshold`` is the level the effect must stay below for the session to be over.
    """

    name: str
    unit: str
    scale: tuple[float, float]
    ke0_per_min: float
    ec50_mg_per_l: float
    gamma: float
    emax: float
    e0: float = 0.0
    kind: Literal["emax", "imax"] = "emax"
    session_threshold: float | None = None
    threshold_basis: str = ""
    tolerance: Tolerance | None = None

    def __post_init__(self) -> None:
        check_range("ke0", self.ke0_per_min, field="effect.ke0_per_min")
        check_range("EC50", self.ec50_mg_per_l, field="effect.ec50_mg_per_l")
        check_range("gamma", self.gamma, field="effect.gamma")
        check_range("Emax", self.emax, field="effect.emax")


@dataclass(frozen=True, slots=True)
class Elimination:
    """Saturable (Michaelis–Menten) elimination added to the linear clearance."""

    vmax_mg_per_min: float
    km_mg_per_l: float

    def __post_init__(self) -> None:
        check_range("Vmax", self.vmax_mg_per_min, field="elimination.vmax_mg_per_min")
        check_range("Km", self.km_mg_per_l, field="elimination.km_mg_per_l")


#: Units a dose bound may be written in: mg per unit, and whether it is per kg of weight.
DOSE_UNITS: dict[str, tuple[float, bool]] = {
    "mg": (1.0, False),
    "µg": (1e-3, False),
    "g": (1000.0, False),
    "mg/kg": (1.0, True),
    "µg/kg": (1e-3, True),
}


@dataclass(frozen=True, slots=True)
class StudiedDoses:
    """The single doses given in the studies a model was built from: ``low``–``high``
    ``unit`` of ``salt`` (both ``None`` when the sources do not establish them), given as
    ``administration`` (e.g. "single IV boluses"); ``infusions`` when they included any."""

    low: float | None
    high: float | None
    unit: str
    salt: str
    administration: str
    refs: tuple[str, ...] = ()
    infusions: bool = False  # whether the sources gave IV infusions as well


@dataclass(frozen=True, slots=True)
class DoseCeiling:
    """The most openpat will simulate, from a cited source: ``amount`` ``unit`` of ``salt``
    for each dose given at once (``applies_to="bolus"``) or for a whole regimen
    (``"session"``); ``basis`` says what the figure is."""

    applies_to: Literal["bolus", "session"]
    amount: float
    unit: str
    salt: str
    basis: str
    refs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PKPDModel:
    """A population PK/PD model for one substance (and its analyte).

    ``salts`` maps each accepted salt form to the fraction of the dose's mass that is the
    analyte (e.g. DMT fumarate → 0.619 mg DMT base per mg); ``omega`` is the covariance of
    the log-normal random effects on ``omega_names``; ``weight_exponents`` scale a parameter
    by (weight/reference)^exponent.
    """

    id: str
    substance: str
    analyte: str
    cl_l_per_min: float
    v1_l: float
    q2_l_per_min: float = 0.0
    v2_l: float = 0.0
    q3_l_per_min: float = 0.0
    v3_l: float = 0.0
    absorption: Mapping[str, Absorption] = field(default_factory=dict)
    iv: bool = True
    salts: Mapping[str, float] = field(default_factory=lambda: {"base": 1.0})
    default_salt: str = "base"
    effect: EffectModel | None = None
    omega_names: tuple[str, ...] = ()
    omega: tuple[tuple[float, ...], ...] = ()
    weight_exponents: Mapping[str, float] = field(default_factory=dict)
    reference_weight_kg: float = 70.0
    elimination: Elimination | None = None
    title: str = ""
    refs: tuple[str, ...] = ()
    provenance: str = ""
    studied_doses: StudiedDoses | None = None
    dose_ceilings: tuple[DoseCeiling, ...] = ()

    def __post_init__(self) -> None:
        check_range("CL", self.cl_l_per_min, field="CL")
        check_range("V1", self.v1_l, field="V1")
        if self.q2_l_per_min:
            check_range("Q2", self.q2_l_per_min, field="Q2")
            check_range("V2", self.v2_l, field="V2")
        if self.q3_l_per_min:
            if not self.q2_l_per_min:
                raise InvalidInput.for_field("Q3", "a third compartment needs a second one")
            check_range("Q3", self.q3_l_per_min, field="Q3")
            check_range("V3", self.v3_l, field="V3")
        for route in self.absorption:
            if route not in EXTRAVASCULAR_ROUTES:
                raise InvalidInput.for_field(
                    "absorption",
                    f"{route!r} is not an extravascular route; use one of "
                    + ", ".join(EXTRAVASCULAR_ROUTES),
                )
        for salt, fraction in self.salts.items():
            if not 0 < fraction <= 1:
                raise InvalidInput.for_field(f"salts.{salt}", "must be a fraction in (0, 1]")
        if self.default_salt not in self.salts:
            raise InvalidInput.for_field("default_salt", "must be one of the model's salts")
        omega = np.asarray(self.omega, dtype=float)
        if omega.shape != (len(self.omega_names),) * 2 and (omega.size or self.omega_names):
            raise InvalidInput.for_field("omega", "must be a square matrix over omega_names")
        unknown = set(self.omega_names) - set(RANDOM_PARAMETERS)
        if unknown:
            raise InvalidInput.for_field(
                "omega_names",
                f"unknown parameter(s) {sorted(unknown)}; use {', '.join(RANDOM_PARAMETERS)}",
            )
        if omega.size:
            if not np.allclose(omega, omega.T):
                raise InvalidInput.for_field("omega", "must be symmetric")
            if np.linalg.eigvalsh(omega).min() < -1e-12:
                raise InvalidInput.for_field("omega", "must be positive semi-definite")
        bounds: list[tuple[str, str, str, tuple[float | None, ...]]] = []
        if self.studied_doses is not None:
            s = self.studied_doses
            bounds.append(("studied_doses", s.unit, s.salt, (s.low, s.high)))
        for i, c in enumerate(self.dose_ceilings):
            bounds.append((f"dose_ceilings[{i}]", c.unit, c.salt, (c.amount,)))
        for where, unit, salt, values in bounds:
            if unit not in DOSE_UNITS:
                raise InvalidInput.for_field(
                    f"{where}.unit", f"{unit!r} is not one of {', '.join(DOSE_UNITS)}"
                )
            if salt not in self.salts:
                raise InvalidInput.for_field(
                    f"{where}.salt", f"{salt!r} is not one of the model's salt forms"
                )
            if any(v is not None and not (math.isfinite(v) and v > 0) for v in values):
                raise InvalidInput.for_field(f"{where}.amount", "must be greater than zero")

    @property
    def compartments(self) -> int:
        return 1 + bool(self.q2_l_per_min) + bool(self.q3_l_per_min)

    @property
    def routes(self) -> tuple[str, ...]:
        return ((INTRAVENOUS,) if self.iv else ()) + tuple(self.absorption)

    @property
    def needs_ode(self) -> bool:
        """True when no closed form exists (saturable elimination or acute tolerance)."""
        return self.elimination is not None or (
            self.effect is not None and self.effect.tolerance is not None
        )

    def without_variability(self) -> PKPDModel:
        return replace(self, omega_names=(), omega=())

    def base_fraction(self, salt: str | None) -> float:
        """The mass fraction of a dose of ``salt`` that is the analyte."""
        salt = salt or self.default_salt
        try:
            return self.salts[salt]
        except KeyError:
            raise InvalidInput.for_field(
                "salt",
                f"{salt!r} is not a salt form this model knows; use one of "
                + ", ".join(sorted(self.salts)),
            ) from None


@dataclass(frozen=True, slots=True)
class Dose:
    """One administration: a bolus (``duration_min == 0``), a zero-order IV infusion of
    ``amount_mg`` over ``duration_min``, or an extravascular dose absorbed first-order.

    ``amount_mg`` is the mass of the salt form ``salt`` (per kg when ``per_kg``)."""

    amount_mg: float
    time_min: float = 0.0
    route: str = INTRAVENOUS
    duration_min: float = 0.0
    salt: str | None = None
    per_kg: bool = False

    @property
    def end_min(self) -> float:
        return self.time_min + self.duration_min


Regimen = Sequence[Dose]


def check_regimen(model: PKPDModel, regimen: Iterable[Dose]) -> tuple[Dose, ...]:
    """Refuse doses the model cannot give: non-positive amounts, negative times, unknown
    routes or salts, infusions by an extravascular route."""
    doses = tuple(regimen)
    if not doses:
        raise InvalidInput.for_field("regimen", "is empty; give at least one dose")
    for i, dose in enumerate(doses):
        where = f"regimen[{i}]"
        if not math.isfinite(dose.amount_mg) or dose.amount_mg <= 0:
            raise InvalidInput.for_field(f"{where}.amount", "must be greater than zero")
        if not math.isfinite(dose.time_min) or dose.time_min < 0:
            raise InvalidInput.for_field(f"{where}.time", "must be zero or later")
        if not math.isfinite(dose.duration_min) or dose.duration_min < 0:
            raise InvalidInput.for_field(f"{where}.duration", "must be zero or positive")
        if dose.route not in ROUTES:
            raise InvalidInput.for_field(
                f"{where}.route", f"{dose.route!r} is not a route; use one of {', '.join(ROUTES)}"
            )
        if dose.route not in model.routes:
            raise InvalidInput.for_field(
                f"{where}.route",
                f"the {model.id} model has no {dose.route} route; it has {', '.join(model.routes)}",
            )
        if dose.duration_min and dose.route != INTRAVENOUS:
            raise InvalidInput.for_field(
                f"{where}.duration", "only intravenous doses can be infused over a duration"
            )
        model.base_fraction(dose.salt)
    return doses


@dataclass(frozen=True, slots=True)
class Subjects:
    """Individual parameters of ``n`` virtual subjects, one array (n,) per parameter."""

    n: int
    params: Mapping[str, FloatArray]
    weight_kg: FloatArray

    def __getitem__(self, name: str) -> FloatArray:
        return self.params[name]


def sample_subjects(
    model: PKPDModel,
    n: int,
    rng: np.random.Generator | None = None,
    *,
    weight_kg: float | Sequence[float] | FloatArray | None = None,
) -> Subjects:
    """Draw ``n`` subjects: typical values × weight covariates × exp(η), η ~ N(0, Ω).

    With ``rng=None`` every subject is the typical subject (η = 0)."""
    if n < 1:
        raise InvalidInput.for_field("n_subjects", "must be at least 1")
    weights = np.broadcast_to(
        np.asarray(model.reference_weight_kg if weight_kg is None else weight_kg, dtype=float),
        (n,),
    ).copy()
    for w in np.unique(weights):
        check_range("weight", float(w), field="weight_kg")
    typical: dict[str, float] = {
        "CL": model.cl_l_per_min,
        "V1": model.v1_l,
        "Q2": model.q2_l_per_min,
        "V2": model.v2_l or 1.0,
        "Q3": model.q3_l_per_min,
        "V3": model.v3_l or 1.0,
    }
    if model.effect is not None:
        typical |= {
            "ke0": model.effect.ke0_per_min,
            "EC50": model.effect.ec50_mg_per_l,
            "gamma": model.effect.gamma,
            "Emax": model.effect.emax,
        }
    for route, absorption in model.absorption.items():
        typical[f"ka:{route}"] = absorption.ka_per_min
    params = {name: np.full(n, value) for name, value in typical.items()}
    ratio = weights / model.reference_weight_kg
    for name, exponent in model.weight_exponents.items():
        if name in params and exponent:
            params[name] = params[name] * ratio**exponent
    if rng is not None and model.omega_names:
        omega = np.asarray(model.omega, dtype=float)
        eta = rng.multivariate_normal(np.zeros(len(model.omega_names)), omega, size=n)
        for j, name in enumerate(model.omega_names):
            targets = [k for k in params if k == name or k.startswith(f"{name}:")]
            for key in targets:
                params[key] = params[key] * np.exp(eta[:, j])
    return Subjects(n=n, params=params, weight_kg=weights)
