"""How long a dosing visit occupies its room and team, from the pharmacology engine.

A visit whose staffing says ``session: true`` lasts as long as the predicted dosing session
plus ``observation_min``. The session of an arm is the *typical subject's* session length
for the arm's regimen: the time from the first dose until the model's effect falls below the
model's own session threshold for good (:func:`openpat.pharmacology.simulate.simulate`; the
knowledge base says what each threshold means, e.g. 10 % of the scale maximum). A visit's
length is the longest arm's session, so that the calendar never shows a blinded team which
arm a participant is in, plus the observation time, rounded up to the booking grid.

The typical subject is not the longest subject: about half of participants stay above the
threshold longer than the figure used here, which is what ``observation_min`` is for.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Sequence

from openpat.errors import InvalidInput, NotFound
from openpat.knowledge import KnowledgeBase
from openpat.pharmacology import library, limits
from openpat.pharmacology.model import Dose, PKPDModel, check_regimen
from openpat.pharmacology.simulate import simulate
from openpat.trial.protocol import ArmSpec, DoseSpec, Protocol, VisitSpec

# (knowledge content hash, substance, route, doses) -> typical session minutes; the
# simulation is deterministic, so a result never goes stale for the same knowledge base
_CACHE: dict[tuple[str, str, str, tuple[DoseSpec, ...]], float] = {}
_CACHE_LIMIT = 512
_LOCK = threading.Lock()


def arm_session_minutes(arm: ArmSpec, kb: KnowledgeBase, *, place: str = "arm") -> float | None:
    """The typical subject's predicted session length (minutes from the first dose until
    the effect stays below the model's session threshold) for ``arm``'s regimen; None for
    an arm without a substance or doses (an inert placebo). 0.0 when the regimen never
    reaches the threshold.

    Problems are reported against ``place`` (``"arms.0"`` gives ``arms.0.substance``,
    ``arms.0.doses.1.salt``, ...): a substance or route without a simulation model, a model
    without an effect or session threshold, a salt the model does not know, and a session
    still going at the end of the simulated horizon."""
    if not arm.substance or not arm.doses:
        return None
    model = _model(arm, kb, place)
    route = library.route_name(arm.route) if arm.route else model.routes[0]
    key = (kb.content_hash, model.substance, route, tuple(arm.doses))
    with _LOCK:
        cached = _CACHE.get(key)
    if cached is not None:
        return cached
    regimen = _regimen(model, route, arm.doses, place)
    result = simulate(model, regimen)
    lengths = result.typical.session_length_min
    assert lengths is not None  # the model has an effect and a threshold (checked in _model)
    minutes = float(lengths[0])
    if math.isnan(minutes):
        raise InvalidInput.for_field(
            f"{place}.doses",
            f"the {model.id} model's effect is still at or above its session threshold "
            f"({result.threshold:g}) at the end of the simulated {result.times_min[-1]:.0f} "
            "minutes; the session length cannot be predicted for this regimen",
        )
    with _LOCK:
        if len(_CACHE) >= _CACHE_LIMIT:
            _CACHE.clear()
        _CACHE[key] = minutes
    return minutes


def dosing_minutes(
    protocol: Protocol, visit: VisitSpec | str, kb: KnowledgeBase, step_min: int = 15
) -> int:
    """The minutes a visit occupies its room and facilitators.

    With ``minutes:`` staffing, just that. With ``session: true``, the longest predicted
    session over all the protocol's arms (:func:`arm_session_minutes`; placebo arms add
    nothing), plus ``observation_min``, rounded up to a multiple of ``step_min``. Every arm
    counts whatever the visit, so that the length never reveals an allocation."""
    if step_min < 1:
        raise InvalidInput.for_field("step_min", "must be at least 1 minute")
    index, spec = _visit(protocol, visit)
    where = f"visits.{index}.staffing"
    if spec.staffing is None:
        raise InvalidInput.for_field(where, f"visit {spec.id} has no staffing to size")
    if spec.staffing.minutes is not None:
        return spec.staffing.minutes
    sessions = [
        m
        for k, arm in enumerate(protocol.arms)
        if (m := arm_session_minutes(arm, kb, place=f"arms.{k}")) is not None
    ]
    if not sessions:
        raise InvalidInput.for_field(
            f"{where}.session",
            "no arm has a substance and doses to predict a session from; give minutes instead",
        )
    total = max(sessions) + spec.staffing.observation_min
    # a hair of tolerance for floating-point noise: 30.0000000001 minutes books 30, not 45
    return max(step_min, math.ceil(total / step_min - 1e-9) * step_min)


def longest_arm(protocol: Protocol, kb: KnowledgeBase) -> tuple[ArmSpec, float] | None:
    """The arm whose predicted session is longest, with its minutes (None: no arm has one)."""
    best: tuple[ArmSpec, float] | None = None
    for k, arm in enumerate(protocol.arms):
        minutes = arm_session_minutes(arm, kb, place=f"arms.{k}")
        if minutes is not None and (best is None or minutes > best[1]):
            best = (arm, minutes)
    return best


def dose_label(arm: ArmSpec) -> str:
    """The arm's regimen in words: ``21.5 mg (base) IV over 10 min``, ``100 µg (base)``,
    ``120 mg + 60 mg at 150 min (hydrochloride)``; ``placebo`` without doses."""
    if not arm.doses:
        return arm.kind
    parts = []
    for d in arm.doses:
        text = _amount(d.amount_mg)
        if d.duration_min:
            text += f" over {d.duration_min:g} min"
        if d.time_min:
            text += f" at {d.time_min:g} min"
        parts.append(text)
    salts = sorted({d.salt for d in arm.doses if d.salt})
    route = f"{arm.route} " if arm.route else ""
    salt = f" ({', '.join(salts)})" if salts else ""
    return f"{arm.substance} {route}{' + '.join(parts)}{salt}"


def _amount(mg: float) -> str:
    return f"{mg * 1000:g} µg" if mg < 1 else f"{mg:g} mg"


def _visit(protocol: Protocol, visit: VisitSpec | str) -> tuple[int, VisitSpec]:
    wanted = visit if isinstance(visit, str) else visit.id
    for k, v in enumerate(protocol.visits):
        if v.id == wanted:
            return k, v
    raise InvalidInput.for_field("visit", f"protocol {protocol.id} has no visit {wanted!r}")


def _model(arm: ArmSpec, kb: KnowledgeBase, place: str) -> PKPDModel:
    substance = arm.substance or ""
    try:
        library.find(kb, substance)
    except NotFound as exc:
        raise InvalidInput.for_field(f"{place}.substance", str(exc)) from None
    try:
        entry = library.find(kb, substance, arm.route)
    except NotFound as exc:
        raise InvalidInput.for_field(f"{place}.route", str(exc)) from None
    model = library.build(entry)
    if model.effect is None or model.effect.session_threshold is None:
        raise InvalidInput.for_field(
            f"{place}.substance",
            f"the {model.id} model predicts concentrations only (no effect model with a "
            "session threshold), so it gives no session length; give the visit minutes",
        )
    return model


def _regimen(
    model: PKPDModel, route: str, doses: Sequence[DoseSpec], place: str
) -> tuple[Dose, ...]:
    for i, d in enumerate(doses):
        try:
            model.base_fraction(d.salt)
        except InvalidInput as exc:
            message = exc.fields[0].message if exc.fields else exc.message
            raise InvalidInput.for_field(f"{place}.doses.{i}.salt", message) from None
    regimen = [Dose(d.amount_mg, d.time_min, route, d.duration_min, d.salt) for d in doses]
    breach = limits.ceiling_breach(model, regimen)
    if breach is not None:  # above the most openpat simulates (cited ceilings)
        where = "" if breach.dose_index is None else f".{breach.dose_index}.amount_mg"
        raise breach.error(f"{place}.doses{where}")
    try:
        return check_regimen(model, regimen)
    except InvalidInput as exc:
        # "regimen[1].salt" / "salt" -> "arms.0.doses.1.salt"
        field = exc.fields[0].field if exc.fields else "regimen"
        message = exc.fields[0].message if exc.fields else exc.message
        match = re.fullmatch(r"regimen\[(\d+)\](?:\.(\w+))?", field)
        if match:
            field = f"{place}.doses.{match[1]}" + (f".{match[2]}" if match[2] else "")
        else:
            field = f"{place}.doses"
        raise InvalidInput.for_field(field, message) from None
