"""The participant profile screened against a protocol.

A profile records what is known; a field left out (``None``) is *unknown*, and a criterion
that needs it is reported as missing. An empty list means "none": ``"personal_history": []``
states that there is no personal psychiatric history, whereas leaving the key out says it
was not asked. Impossible values (a blood pressure of 400/20, a QTc of 50 ms, a negative
dose, a medication started after the dosing date) are refused with the field named.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from openpat.knowledge.schema import PROFILE_FIELDS, PSYCHIATRIC_CONDITIONS

Condition = Literal[
    "psychosis",
    "schizophrenia",
    "schizoaffective-disorder",
    "delusional-disorder",
    "bipolar-i",
    "bipolar-ii",
    "mania",
    "borderline-personality-disorder",
    "dissociative-identity-disorder",
    "suicide-attempt",
]
assert set(Condition.__args__) == set(PSYCHIATRIC_CONDITIONS)  # type: ignore[attr-defined]

#: Plausible bounds of the numeric profile fields: a value outside is refused as impossible
#: (a typing slip such as a QTc of 50 ms or a blood pressure of 400/20), not screened.
LIMITS: dict[str, tuple[float, float]] = {
    "age_years": (0, 120),
    "weight_kg": (20, 400),
    "height_cm": (100, 250),
    "bmi": (10, 100),
    "systolic_bp_mmhg": (60, 280),
    "diastolic_bp_mmhg": (30, 180),
    "heart_rate_bpm": (20, 250),
    "qtc_ms": (250, 700),
    "alt_x_uln": (0, 500),
    "ast_x_uln": (0, 500),
    "egfr": (0, 200),
    "days_since_psychedelic_use": (0, math.inf),
}

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
_ICD10 = re.compile(r"^[A-Z][0-9]{2}(\.[0-9A-Z]{1,4})?$")


def _measure(value: Any, info: ValidationInfo) -> Any:
    """A number must be given as a number: true/false is never one, and text ("420") is read
    only from a candidate table, whose cells are all text (context ``cells_are_text``)."""
    if isinstance(value, bool):
        raise ValueError(f"give a number, not {str(value).lower()}")
    if isinstance(value, str) and not (info.context or {}).get("cells_are_text"):
        raise ValueError(f"give a number, not text ({value!r})")
    return value


Measure = Annotated[float, BeforeValidator(_measure)]
"""A measured quantity of a profile (age, weight, a lab value): a number, never true/false."""

Count = Annotated[int, BeforeValidator(_measure)]
"""A whole-number score of a profile (C-SSRS ideation level)."""


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Diagnosis(_Part):
    """A diagnosis as an ICD-10 code (``F43.1``) with an optional label."""

    code: str = Field(max_length=10)
    label: str | None = Field(default=None, max_length=200)

    @field_validator("code")
    @classmethod
    def _icd10(cls, code: str) -> str:
        code = code.strip().upper()
        if len(code) > 3 and "." not in code:
            code = f"{code[:3]}.{code[3:]}"
        if not _ICD10.match(code):
            raise ValueError(f"{code!r} is not an ICD-10 code; write it like F43.1 or F32")
        return code


class Vitals(_Part):
    """Seated vital signs at screening."""

    systolic_bp_mmhg: Measure | None = Field(
        default=None, ge=LIMITS["systolic_bp_mmhg"][0], le=LIMITS["systolic_bp_mmhg"][1]
    )
    diastolic_bp_mmhg: Measure | None = Field(
        default=None, ge=LIMITS["diastolic_bp_mmhg"][0], le=LIMITS["diastolic_bp_mmhg"][1]
    )
    heart_rate_bpm: Measure | None = Field(
        default=None, ge=LIMITS["heart_rate_bpm"][0], le=LIMITS["heart_rate_bpm"][1]
    )

    @model_validator(mode="after")
    def _pulse_pressure(self) -> Vitals:
        if (
            self.systolic_bp_mmhg is not None
            and self.diastolic_bp_mmhg is not None
            and self.diastolic_bp_mmhg >= self.systolic_bp_mmhg
        ):
            raise ValueError(
                f"diastolic_bp_mmhg ({self.diastolic_bp_mmhg:g}) must be lower than "
                f"systolic_bp_mmhg ({self.systolic_bp_mmhg:g}); were they swapped?"
            )
        return self


class Labs(_Part):
    """Liver and kidney labs, each with the laboratory's own upper limit of normal."""

    alt_u_per_l: Measure | None = Field(default=None, ge=0, le=20000)
    alt_uln_u_per_l: Measure | None = Field(default=None, gt=0, le=500)
    ast_u_per_l: Measure | None = Field(default=None, ge=0, le=20000)
    ast_uln_u_per_l: Measure | None = Field(default=None, gt=0, le=500)
    egfr: Measure | None = Field(
        default=None, ge=0, le=200, description="mL/min/1.73 m² (CKD-EPI or MDRD)"
    )


class Cssrs(_Part):
    """The C-SSRS screen result for the past 12 months."""

    ideation: Count | None = Field(
        default=None,
        ge=0,
        le=5,
        description="most severe ideation item endorsed (0 none, 5 plan and intent)",
    )
    behaviour_past_year: bool | None = None


class SubstanceUse(_Part):
    """Substance use: the most severe current use disorder and the last psychedelic use."""

    disorder: Literal["none", "mild", "moderate", "severe"] | None = None
    last_psychedelic_use: dt.date | None = None
    never_used_psychedelics: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> SubstanceUse:
        if self.never_used_psychedelics and self.last_psychedelic_use is not None:
            raise ValueError(
                "never_used_psychedelics is true but last_psychedelic_use is given; keep one"
            )
        return self


class MedicationEntry(_Part):
    """A current (or recently stopped) medication as the participant or the record names it."""

    name: Name = Field(description="generic or brand name, any case")
    dose: Measure | None = Field(default=None, gt=0, le=100000)
    unit: str | None = Field(default=None, max_length=20)
    since: dt.date | None = Field(default=None, description="date the medication was started")
    last_dose: dt.date | None = Field(
        default=None, description="date of the last dose, if already stopped"
    )
    taper_allowed: bool | None = Field(
        default=None,
        description="whether the prescriber allows a supervised taper (unknown if left out)",
    )

    @model_validator(mode="after")
    def _dates_in_order(self) -> MedicationEntry:
        if self.since and self.last_dose and self.last_dose < self.since:
            raise ValueError(
                f"last_dose ({self.last_dose}) is before since ({self.since}) for {self.name}"
            )
        return self


class Profile(_Part):
    """What is known about a candidate at screening."""

    participant: str | None = Field(default=None, max_length=64, description="pseudonymous id")
    assessed_on: dt.date | None = Field(default=None, description="date the data was collected")
    age_years: Measure | None = Field(
        default=None, ge=LIMITS["age_years"][0], le=LIMITS["age_years"][1]
    )
    birth_date: dt.date | None = None
    sex: Literal["female", "male", "other"] | None = None
    pregnant: bool | None = None
    lactating: bool | None = None
    weight_kg: Measure | None = Field(
        default=None, ge=LIMITS["weight_kg"][0], le=LIMITS["weight_kg"][1]
    )
    height_cm: Measure | None = Field(
        default=None, ge=LIMITS["height_cm"][0], le=LIMITS["height_cm"][1]
    )
    bmi: Measure | None = Field(default=None, ge=LIMITS["bmi"][0], le=LIMITS["bmi"][1])
    diagnoses: list[Diagnosis] | None = Field(default=None, max_length=100)
    personal_history: list[Condition] | None = None
    family_history: list[Condition] | None = Field(
        default=None, description="first-degree relatives' psychiatric history"
    )
    vitals: Vitals | None = None
    qtc_ms: Measure | None = Field(
        default=None, ge=LIMITS["qtc_ms"][0], le=LIMITS["qtc_ms"][1], description="QTcF, ms"
    )
    labs: Labs | None = None
    cssrs: Cssrs | None = None
    substance_use: SubstanceUse | None = None
    medications: list[MedicationEntry] | None = Field(default=None, max_length=100)

    @model_validator(mode="after")
    def _consistent(self) -> Profile:
        if self.age_years is not None and self.birth_date is not None:
            raise ValueError("give age_years or birth_date, not both")
        if self.sex == "male" and (self.pregnant or self.lactating):
            raise ValueError("pregnant or lactating is true for a participant of sex male")
        if self.bmi is not None and self.weight_kg is not None and self.height_cm is not None:
            derived = self.weight_kg / (self.height_cm / 100) ** 2
            if abs(derived - self.bmi) > 1.0:
                raise ValueError(
                    f"bmi {self.bmi:g} does not match weight and height ({derived:.1f}); "
                    "give bmi or weight and height"
                )
        return self

    def check_dates(self, planned_dosing_date: dt.date) -> None:
        """Refuse dates that cannot be right for this dosing date (raises ``ValueError``
        naming the field)."""
        for i, med in enumerate(self.medications or []):
            if med.since and med.since > planned_dosing_date:
                raise _DateError(
                    f"medications[{i}].since",
                    f"{med.name} start date {med.since} is after the planned dosing date "
                    f"{planned_dosing_date}",
                )
            if med.last_dose and med.last_dose > planned_dosing_date:
                raise _DateError(
                    f"medications[{i}].last_dose",
                    f"{med.name} last dose {med.last_dose} is after the planned dosing date "
                    f"{planned_dosing_date}; leave last_dose out for a medication still taken",
                )
        if self.birth_date and self.birth_date > planned_dosing_date:
            raise _DateError("birth_date", "is after the planned dosing date")
        use = self.substance_use
        if use and use.last_psychedelic_use and use.last_psychedelic_use > planned_dosing_date:
            raise _DateError(
                "substance_use.last_psychedelic_use", "is after the planned dosing date"
            )

    def facts(self, planned_dosing_date: dt.date) -> dict[str, Any]:
        """The flat fields protocol criteria test (:data:`PROFILE_FIELDS`), as of the dosing
        date: numbers as ``float`` (``nan`` unknown), booleans as 1.0/0.0/``nan``, categories
        and ordinals as text or ``None``, code sets as ``;``-joined sorted text or ``None``."""
        age = self.age_years
        if self.birth_date is not None:
            born = self.birth_date
            had_birthday = (planned_dosing_date.month, planned_dosing_date.day) >= (
                born.month,
                born.day,
            )
            age = planned_dosing_date.year - born.year - (0 if had_birthday else 1)
        bmi = self.bmi
        if bmi is None and self.weight_kg is not None and self.height_cm is not None:
            bmi = self.weight_kg / (self.height_cm / 100) ** 2
        vitals = self.vitals or Vitals()
        labs = self.labs or Labs()
        use = self.substance_use or SubstanceUse()
        cssrs = self.cssrs or Cssrs()
        days_since: float | None = None
        if use.never_used_psychedelics:
            days_since = math.inf
        elif use.last_psychedelic_use is not None:
            days_since = float((planned_dosing_date - use.last_psychedelic_use).days)
        out: dict[str, Any] = {
            "age_years": age,
            "sex": self.sex,
            "pregnant": self.pregnant,
            "lactating": self.lactating,
            "weight_kg": self.weight_kg,
            "bmi": bmi,
            "systolic_bp_mmhg": vitals.systolic_bp_mmhg,
            "diastolic_bp_mmhg": vitals.diastolic_bp_mmhg,
            "heart_rate_bpm": vitals.heart_rate_bpm,
            "qtc_ms": self.qtc_ms,
            "alt_x_uln": _ratio(labs.alt_u_per_l, labs.alt_uln_u_per_l),
            "ast_x_uln": _ratio(labs.ast_u_per_l, labs.ast_uln_u_per_l),
            "egfr": labs.egfr,
            "cssrs_ideation": None if cssrs.ideation is None else str(cssrs.ideation),
            "cssrs_behaviour_past_year": cssrs.behaviour_past_year,
            "substance_use_disorder": use.disorder,
            "days_since_psychedelic_use": days_since,
            "diagnoses": _codes([d.code for d in self.diagnoses])
            if self.diagnoses is not None
            else None,
            "personal_history": _codes(self.personal_history)
            if self.personal_history is not None
            else None,
            "family_history": _codes(self.family_history)
            if self.family_history is not None
            else None,
        }
        assert set(out) == set(PROFILE_FIELDS)
        return out


class _DateError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _ratio(value: float | None, uln: float | None) -> float | None:
    if value is None or uln is None:
        return None
    return value / uln


def _codes(values: Sequence[str]) -> str:
    """A code set as canonical text: sorted, unique, ``;``-joined (empty set: ``""``)."""
    return ";".join(sorted(set(values)))
