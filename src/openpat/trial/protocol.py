"""Study protocols as data: arms, randomisation, the visit schedule and its staffing.

A protocol is a YAML document (see ``docs/trial.md``) checked by the models below: arms
with their substance and doses (or placebo / active control) and allocation ratio; the
randomisation method with its stratification factors; visits of six types with day offsets
from randomisation or from a dosing visit, windows, the instruments due and the staffing a
visit needs (a room, facilitators, a fixed length or the predicted dosing session plus
observation); and the eligibility template of the safety engine.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from openpat.errors import FieldProblem, InvalidInput

_SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

VisitType = Literal["screening", "baseline", "preparation", "dosing", "integration", "follow-up"]
Ident = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,59}$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DoseSpec(_Model):
    """One administration, as :class:`openpat.pharmacology.model.Dose` takes it."""

    amount_mg: float = Field(gt=0)
    time_min: float = Field(default=0, ge=0)
    duration_min: float = Field(default=0, ge=0)
    salt: str | None = None


class ArmSpec(_Model):
    id: Ident
    label: str = Field(min_length=1, max_length=120)
    kind: Literal["active", "placebo", "active-control"]
    substance: str | None = None  # knowledge-base id; None for an inert placebo
    route: str | None = None
    doses: list[DoseSpec] = Field(default_factory=list)
    ratio: int = Field(default=1, ge=1, le=10)
    # knowledge-base reference ids (a trial's or a dose entry's) that the doses come from
    refs: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _doses_need_a_substance(self) -> ArmSpec:
        if self.doses and not self.substance:
            raise ValueError("doses need the arm's substance")
        if self.kind == "active" and not self.doses:
            raise ValueError("an active arm needs its doses")
        return self


class Staffing(_Model):
    """What a visit occupies. ``minutes`` fixes its length; ``session`` takes the predicted
    dosing session instead (the longest over the arms, so that the calendar never shows a
    blinded team which arm a participant is in), plus ``observation_min``."""

    room: bool = False
    facilitators: int = Field(default=0, ge=0, le=4)
    minutes: int | None = Field(default=None, ge=5, le=24 * 60)
    session: bool = False
    observation_min: int = Field(default=0, ge=0, le=24 * 60)

    @model_validator(mode="after")
    def _length(self) -> Staffing:
        if self.session == (self.minutes is not None):
            raise ValueError("give either minutes or session: true")
        return self


class VisitSpec(_Model):
    id: Ident
    label: str = Field(min_length=1, max_length=120)
    type: VisitType
    day: int = Field(ge=-365, le=3650)  # offset in days from the anchor
    anchor: Literal["randomisation", "dosing"] = "randomisation"
    dosing_visit: str | None = None  # with anchor "dosing": which one (default the first)
    window_before: int = Field(default=0, ge=0, le=365)
    window_after: int = Field(default=0, ge=0, le=365)
    instruments: list[str] = Field(default_factory=list)
    staffing: Staffing | None = None


class RandomisationSpec(_Model):
    method: Literal["blocks", "minimisation"] = "blocks"
    block_multiples: list[int] = Field(default_factory=lambda: [1, 2], min_length=1)
    strata: list[str] = Field(default_factory=list)  # stratification / minimisation factors
    weights: dict[str, float] = Field(default_factory=dict)
    measure: Literal["range", "variance", "sum"] = "range"
    p_preferred: float = Field(default=0.8, ge=0.5, le=1)


class Protocol(_Model):
    id: Ident
    title: str = Field(min_length=1, max_length=200)
    version: str = Field(min_length=1, max_length=40)
    indication: str | None = None
    eligibility: str | None = None  # a safety eligibility template (knowledge protocols)
    arms: list[ArmSpec] = Field(min_length=2)
    randomisation: RandomisationSpec = RandomisationSpec()
    visits: list[VisitSpec] = Field(min_length=1)
    note: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Protocol:
        # messages start with the place they are about ("visits.3.dosing_visit: ..."), which
        # parse_protocol turns into the problem's field
        for name, ids in (
            ("arms", [a.id for a in self.arms]),
            ("visits", [v.id for v in self.visits]),
        ):
            duplicates = sorted({i for i in ids if ids.count(i) > 1})
            if duplicates:
                raise ValueError(f"{name}: ids repeat: {', '.join(duplicates)}")
        dosing = [v.id for v in self.visits if v.type == "dosing"]
        by_id = {v.id: v for v in self.visits}
        for k, v in enumerate(self.visits):
            if v.anchor == "dosing":
                if not dosing:
                    raise ValueError(f"visits.{k}.anchor: no dosing visit is planned to anchor on")
                target = v.dosing_visit or dosing[0]
                if target not in dosing:
                    raise ValueError(f"visits.{k}.dosing_visit: {target!r} is not a dosing visit")
                if by_id[target].anchor != "randomisation":
                    raise ValueError(
                        f"visits.{k}.dosing_visit: dosing visit {target} must be anchored on "
                        "randomisation"
                    )
            elif v.dosing_visit is not None:
                raise ValueError(f"visits.{k}.dosing_visit: needs anchor: dosing")
        if self.randomisation.method == "minimisation" and not self.randomisation.strata:
            raise ValueError("randomisation.strata: minimisation needs at least one factor")
        return self

    def arm(self, arm_id: str) -> ArmSpec:
        return next(a for a in self.arms if a.id == arm_id)

    def dosing_visits(self) -> list[VisitSpec]:
        return [v for v in self.visits if v.type == "dosing"]


def parse_protocol(data: Mapping[str, Any] | str) -> Protocol:
    """A protocol from YAML text or a mapping (``{"protocol": {...}}`` or the body itself);
    every problem is reported with its place in the document."""
    if isinstance(data, str):
        # a stored protocol version is read on most requests: parse each text once (the
        # model is frozen, so the one object can be shared)
        return _parse_text(data)
    return _parse_mapping(data)


@functools.lru_cache(maxsize=64)
def _parse_text(text: str) -> Protocol:
    try:
        loaded = yaml.load(text, Loader=_SAFE_LOADER)  # noqa: S506 (a safe loader)
    except yaml.YAMLError as exc:
        raise InvalidInput.for_field("protocol", f"is not valid YAML: {exc}") from None
    except RecursionError:
        raise InvalidInput.for_field("protocol", "is nested too deeply to be a protocol") from None
    return _parse_mapping(loaded)


def _parse_mapping(loaded: Any) -> Protocol:
    if isinstance(loaded, Mapping) and "protocol" in loaded:
        loaded = loaded["protocol"]
    if not isinstance(loaded, Mapping):
        raise InvalidInput.for_field("protocol", "must be a mapping with id, title, arms, visits")
    try:
        return Protocol.model_validate(loaded)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"])
            message = err["msg"].removeprefix("Value error, ")
            place, sep, rest = message.partition(": ")
            if not field and sep and re.fullmatch(r"[a-z_]+(\.[\w-]+)*", place):
                field, message = place, rest
            problems.append(FieldProblem(field or "protocol", message))
        raise InvalidInput("the protocol is not valid", fields=problems) from None
