"""Pydantic schemas of the knowledge-base files under ``knowledge/data/``.

Every model is frozen and forbids unknown fields, so a typo in a data file is an error, not a
silently ignored key. A model that states a clinical fact inherits :class:`Cited`: it must
name at least one reference id (``refs``) and may grade its ``evidence``. The loader
(``openpat.knowledge.loader``) checks that every cited id exists in ``references.yaml``.

Quantities carry their unit explicitly (``{low: 2, high: 5, unit: min}``); the known units
are listed in :data:`UNITS`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

# --- vocabularies -------------------------------------------------------------------------


class Evidence(StrEnum):
    """How strong the support for a fact is (issue 3's grading)."""

    RCT = "rct"
    META_ANALYSIS = "meta-analysis"
    COHORT = "cohort"
    CASE_REPORT = "case-report"
    PK_STUDY = "pk-study"
    LABEL = "label"
    GUIDELINE = "guideline"
    EXPERT = "expert"
    UNVERIFIED = "unverified"


class Severity(StrEnum):
    """Interaction severity, most to least serious."""

    CONTRAINDICATED = "contraindicated"
    MAJOR = "major"
    MODERATE = "moderate"
    MINOR = "minor"
    REDUCED_EFFECT = "reduced-effect"


SEVERITY_ORDER: dict[Severity, int] = {
    Severity.CONTRAINDICATED: 0,
    Severity.MAJOR: 1,
    Severity.MODERATE: 2,
    Severity.REDUCED_EFFECT: 3,
    Severity.MINOR: 4,
}


class Route(StrEnum):
    ORAL = "oral"
    INTRAVENOUS = "intravenous"
    INTRAMUSCULAR = "intramuscular"
    INHALED = "inhaled"
    INTRANASAL = "intranasal"
    SUBLINGUAL = "sublingual"
    INSUFFLATED = "insufflated"
    SUBCUTANEOUS = "subcutaneous"
    TRANSDERMAL = "transdermal"


class SourceKind(StrEnum):
    """Where a duration or dose figure comes from; shown beside the figure."""

    CONTROLLED_STUDY = "controlled-study"
    REVIEW = "review"
    LABEL = "label"
    NATURALISTIC = "naturalistic"  # user reports, community wikis
    POPULAR_CLAIM = "popular-claim"  # press, charts, widely repeated statements


class ReferenceKind(StrEnum):
    ARTICLE = "article"
    BOOK = "book"
    LABEL = "label"  # product labelling (USPI, SmPC, product monograph)
    REGISTRY = "registry"  # ClinicalTrials.gov, EudraCT
    GUIDELINE = "guideline"  # clinical guidelines and consensus criteria
    REGULATOR = "regulator"  # a regulator's or government page
    WEB = "web"  # any other web page
    DATASET = "dataset"


class Action(StrEnum):
    """What the safety engine does when an interaction rule fires."""

    EXCLUDE = "exclude"
    WASHOUT = "washout"
    MONITOR = "monitor"
    INFORM = "inform"
    CONTINUE = "continue"


#: Units a quantity may carry; the value is the dimension used to compare ranges.
UNITS: dict[str, str] = {
    "s": "time",
    "min": "time",
    "h": "time",
    "d": "time",
    "wk": "time",
    "mg": "mass",
    "µg": "mass",
    "g": "mass",
    "mg/kg": "mass-per-weight",
    "µg/kg": "mass-per-weight",
    "mg/70kg": "mass-per-weight",
    "mL/kg": "volume-per-weight",
    "L/kg": "volume-per-weight",
    "g/mol": "molar-mass",
    "mg/min": "rate",
    "mg/h": "rate",
    "µg/kg/min": "rate",
    "mg/kg/h": "rate",
    "ng/mL": "concentration",
    "pg/mL": "concentration",
    "nM": "concentration",
    "L": "volume",
    "mL": "volume",
    "L/min": "clearance",
    "L/h": "clearance",
    "1/min": "rate-constant",
    "1/h": "rate-constant",
    "%": "fraction",
    "ratio": "dimensionless",
    "score": "dimensionless",
    "mmHg": "pressure",
    "bpm": "frequency",
    "ms": "duration-ecg",
}

#: Time units in hours, for comparing and sorting durations.
HOURS_PER_UNIT: dict[str, float] = {"s": 1 / 3600, "min": 1 / 60, "h": 1.0, "d": 24.0, "wk": 168.0}

_ID_RE = r"^[a-z0-9][a-z0-9.+-]*[a-z0-9]$|^[a-z0-9]$"
Id = Annotated[str, StringConstraints(pattern=_ID_RE, max_length=80)]
RefId = Annotated[str, StringConstraints(pattern=_ID_RE, max_length=80)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]

_ATC_RE = re.compile(r"^[A-Z][0-9]{2}([A-Z]([A-Z]([0-9]{2})?)?)?$")
_DOI_RE = re.compile(r"^10\.\d{4,9}/\S+$")


def _check_unit(unit: str) -> str:
    if unit not in UNITS:
        known = ", ".join(UNITS)
        raise ValueError(f"unknown unit {unit!r}; use one of: {known}")
    return unit


Unit = Annotated[str, AfterValidator(_check_unit)]


def _check_atc(code: str) -> str:
    if not _ATC_RE.match(code):
        raise ValueError(
            f"{code!r} is not an ATC code; expected a letter, two digits and up to two letters"
            " and two digits, e.g. N06AB06"
        )
    return code


AtcCode = Annotated[str, AfterValidator(_check_atc)]


class Model(BaseModel):
    """Base of every knowledge model: frozen, unknown keys refused."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Cited(Model):
    """A statement of fact: it must cite at least one reference id."""

    refs: list[RefId] = Field(min_length=1, description="reference ids from references.yaml")
    evidence: Evidence | None = None
    note: Text | None = None

    @field_validator("refs")
    @classmethod
    def _unique_refs(cls, refs: list[str]) -> list[str]:
        if len(set(refs)) != len(refs):
            raise ValueError("lists the same reference twice")
        return refs


# --- quantities ---------------------------------------------------------------------------


class Range(Model):
    """A range ``low``–``high`` in one unit; a single figure has ``low == high``."""

    low: float
    high: float
    unit: Unit

    @model_validator(mode="before")
    @classmethod
    def _single_value(cls, data: object) -> object:
        if isinstance(data, dict) and "value" in data:
            data = dict(data)
            value = data.pop("value")
            data.setdefault("low", value)
            data.setdefault("high", value)
        return data

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.low > self.high:
            raise ValueError(f"low ({self.low:g}) is greater than high ({self.high:g})")
        return self

    def in_hours(self) -> tuple[float, float]:
        """(low, high) in hours; only for time units."""
        factor = HOURS_PER_UNIT.get(self.unit)
        if factor is None:
            raise ValueError(f"{self.unit} is not a time unit")
        return self.low * factor, self.high * factor

    def text(self) -> str:
        if self.low == self.high:
            return f"{self.low:g} {self.unit}"
        return f"{self.low:g}–{self.high:g} {self.unit}"


class Disagreement(Model):
    """Sources that disagree on one point; every position is cited and none is picked."""

    topic: ShortText
    positions: list[Position] = Field(min_length=2)


class Position(Cited):
    statement: Text
    source_kind: SourceKind | None = None


# --- references ---------------------------------------------------------------------------


class Reference(Model):
    """One entry of the bibliography. It resolves through its DOI, PMID or URL."""

    id: RefId
    kind: ReferenceKind
    authors: list[ShortText] = Field(default_factory=list)
    organisation: ShortText | None = None
    year: int = Field(ge=1900, le=2100)
    title: Text
    journal: ShortText | None = None
    publisher: ShortText | None = None
    volume: ShortText | None = None
    pages: ShortText | None = None
    doi: str | None = None
    pmid: str | None = None
    url: str | None = None
    accessed: dt.date | None = None
    note: Text | None = None

    @field_validator("doi")
    @classmethod
    def _doi(cls, doi: str | None) -> str | None:
        if doi is not None and not _DOI_RE.match(doi):
            raise ValueError(f"{doi!r} is not a DOI; expected 10.<registrant>/<suffix>")
        return doi

    @field_validator("pmid")
    @classmethod
    def _pmid(cls, pmid: str | int | None) -> str | None:
        if pmid is None:
            return None
        text = str(pmid)
        if not text.isdigit() or len(text) > 9:
            raise ValueError(f"{pmid!r} is not a PubMed id; expected up to 9 digits")
        return text

    @field_validator("url")
    @classmethod
    def _url(cls, url: str | None) -> str | None:
        if url is not None and not re.match(r"^https?://\S+$", url):
            raise ValueError(f"{url!r} is not a web address; expected http(s)://...")
        return url

    @model_validator(mode="after")
    def _resolvable(self) -> Reference:
        if not (self.doi or self.pmid or self.url):
            raise ValueError("a reference needs a doi, a pmid or a url so that it resolves")
        if not self.authors and not self.organisation:
            raise ValueError("a reference needs authors or an organisation")
        if not (self.journal or self.publisher or self.organisation):
            raise ValueError("a reference needs a journal, a publisher or an organisation")
        if self.url and not (self.doi or self.pmid) and self.accessed is None:
            raise ValueError("a web reference (url without doi or pmid) needs an accessed date")
        return self

    @property
    def link(self) -> str:
        if self.doi:
            return f"https://doi.org/{self.doi}"
        if self.pmid:
            return f"https://pubmed.ncbi.nlm.nih.gov/{self.pmid}/"
        assert self.url is not None  # guaranteed by _resolvable
        return self.url

    def short(self) -> str:
        """``Mitchell et al. 2021``, ``Bonson & Murphy 1996``, ``FDA 2024``."""
        people = [a for a in self.authors if a.rstrip(".").lower() != "et al"]
        truncated = len(people) != len(self.authors)
        if not people:
            return f"{self.organisation} {self.year}"
        first = people[0].split(" ")[0]
        if len(people) == 2 and not truncated:
            return f"{first} & {people[1].split(' ')[0]} {self.year}"
        if len(people) >= 2 or truncated:
            return f"{first} et al. {self.year}"
        return f"{first} {self.year}"


# --- vocabulary of classes and groups ------------------------------------------------------


class TaperRisk(StrEnum):
    """What stopping a medication can itself cause."""

    DISCONTINUATION_SYNDROME = "discontinuation-syndrome"
    RELAPSE = "relapse"
    WITHDRAWAL_SEIZURES = "withdrawal-seizures"
    REBOUND = "rebound"
    WITHDRAWAL = "withdrawal"


class DiscontinuationRisk(Cited):
    """A risk of stopping or tapering a medication (why a taper must be supervised)."""

    kind: TaperRisk
    text: Text


class MedicationClass(Model):
    """A class that medications belong to and interaction rules name."""

    id: Id
    label: ShortText
    description: Text | None = None
    parents: list[Id] = Field(default_factory=list)
    discontinuation: list[DiscontinuationRisk] = Field(default_factory=list)


class SubstanceGroup(Model):
    id: Id
    label: ShortText
    description: Text | None = None


# --- substances ---------------------------------------------------------------------------


class Target(Cited):
    receptor: ShortText
    action: Literal[
        "agonist",
        "partial-agonist",
        "antagonist",
        "releaser",
        "reuptake-inhibitor",
        "enzyme-inhibitor",
        "channel-blocker",
        "modulator",
        "substrate",
    ]
    primary: bool = False
    affinity: ShortText | None = None


class Mechanism(Model):
    summary: Text
    targets: list[Target] = Field(min_length=1)


class Duration(Cited):
    """Onset, peak and total duration for one route from one kind of source."""

    source_kind: SourceKind
    onset: Range | None = None
    peak: Range | None = None
    total: Range | None = None
    dose: ShortText | None = None

    @model_validator(mode="after")
    def _something(self) -> Duration:
        if self.onset is None and self.peak is None and self.total is None:
            raise ValueError("a duration needs at least one of onset, peak or total")
        for name in ("onset", "peak", "total"):
            value = getattr(self, name)
            if value is not None and value.unit not in HOURS_PER_UNIT:
                raise ValueError(f"{name} must be in a time unit (s, min, h, d, wk)")
        return self


SaltForm = Literal[
    "base",
    "fumarate",
    "hemifumarate",
    "hydrochloride",
    "tartrate",
    "phosphate-ester",  # psilocybin is itself the prodrug; doses are of psilocybin
    "brew",  # ayahuasca: doses of brew or of contained alkaloids
    "racemate-hydrochloride",
]


class Dose(Cited):
    label: ShortText
    amount: Range
    salt_form: SaltForm
    context: ShortText | None = None
    source_kind: SourceKind = SourceKind.CONTROLLED_STUDY


class PkParameter(Model):
    """One model parameter. A parameter with its own ``refs`` (a molecular weight, a value
    fitted by openpat to published summary figures) cites them; otherwise the model's refs."""

    name: ShortText
    value: float
    unit: Unit | None = None
    description: ShortText | None = None
    ci95: tuple[float, float] | None = None
    rse_pct: float | None = None
    bsv_cv_pct: float | None = None
    refs: list[RefId] = Field(default_factory=list)
    evidence: Evidence | None = None
    note: Text | None = None


class PkSalt(Cited):
    """The mass fraction of a dose of this salt form that is the modelled analyte, from the
    molecular weights (e.g. DMT fumarate 1:1: 188.27 / 304.35 = 0.619)."""

    salt_form: SaltForm
    analyte_fraction: Annotated[float, Field(gt=0, le=1)]


class PkEffectScale(Model):
    """The effect the PD model predicts and when a session counts as over."""

    name: ShortText
    unit: ShortText
    low: float
    high: float
    session_threshold: float | None = None
    threshold_note: Text | None = None


class PkTarget(Cited):
    """A published figure the model is checked against (docs/validation.md). ``held``
    targets must be reproduced by the typical subject within 20 %; the others are recorded
    disagreements, shown with the reason."""

    quantity: Literal[
        "cmax",
        "tmax",
        "half-life",
        "effect-duration",
        "peak-effect",
        "peak-effect-time",
        "concentration",
    ]
    dose: ShortText
    salt_form: SaltForm
    infusion: ShortText | None = None
    at: ShortText | None = None
    value: Range
    held: bool = True


#: Units a dose bound may be written in (a mass, or a mass per kg of body weight).
DOSE_UNITS = ("mg", "µg", "g", "mg/kg", "µg/kg")


class PkStudiedDoses(Cited):
    """The single doses in the data a model was built from (its source studies). A regimen
    outside them is simulated with a warning that the prediction is an extrapolation.
    ``amount`` is left out when the sources do not establish the range (the note says why);
    the engine then says that the studied range is not recorded."""

    amount: Range | None = None
    salt_form: SaltForm
    administration: ShortText  # e.g. "single IV boluses", "single oral doses"
    infusions: bool = False  # whether the sources gave IV infusions as well

    @model_validator(mode="after")
    def _dose_unit(self) -> PkStudiedDoses:
        if self.amount is not None and self.amount.unit not in DOSE_UNITS:
            raise ValueError(f"amount must be in a dose unit ({', '.join(DOSE_UNITS)})")
        return self


class PkDoseCeiling(Cited):
    """The most openpat will simulate: the highest dose given to people in a cited study, or
    a label's maximum. ``applies_to: bolus`` bounds each dose given at once (an IV bolus or
    an oral dose); ``session`` bounds everything a regimen gives. ``basis`` says what the
    figure is (e.g. "highest IV bolus given in a cited human study")."""

    applies_to: Literal["bolus", "session"]
    amount: Range
    salt_form: SaltForm
    basis: ShortText

    @model_validator(mode="after")
    def _single_dose_unit(self) -> PkDoseCeiling:
        if self.amount.unit not in DOSE_UNITS:
            raise ValueError(f"amount must be in a dose unit ({', '.join(DOSE_UNITS)})")
        if self.amount.low != self.amount.high:
            raise ValueError("a ceiling is one figure (value), not a range")
        return self


class PkModel(Cited):
    """A compartmental PK(/PD) model. ``simulate: true`` means openpat's pharmacology
    package builds a simulator from it (parameter names: CL, V1, Q, V2, Q3, V3 or k10, k12,
    k13, k21, k31 with V1 in L/kg; ka, F, tlag; ke0, EC50e, gamma, Emax; Vmax, Km; ktol,
    C50tol; MW of the analyte). ``studied_doses`` and ``dose_ceilings`` say when to distrust
    or refuse a simulation (docs/pharmacology.md)."""

    id: Id
    structure: ShortText
    population: ShortText
    dose_basis: SaltForm
    parameters: list[PkParameter] = Field(min_length=1)
    variability_convention: ShortText | None = None
    simulate: bool = False
    analyte: ShortText | None = None
    salts: list[PkSalt] = Field(default_factory=list)
    effect: PkEffectScale | None = None
    method: Literal["published", "fitted"] = "published"
    validation: list[PkTarget] = Field(default_factory=list)
    studied_doses: PkStudiedDoses | None = None
    dose_ceilings: list[PkDoseCeiling] = Field(default_factory=list)

    def parameter(self, name: str) -> PkParameter | None:
        return next((p for p in self.parameters if p.name == name), None)


class RouteProfile(Model):
    route: Route
    durations: list[Duration] = Field(default_factory=list)
    doses: list[Dose] = Field(default_factory=list)
    pk_models: list[PkModel] = Field(default_factory=list)
    pk_summary: list[PkFigure] = Field(default_factory=list)


class PkFigure(Cited):
    """A published non-compartmental figure (Cmax, Tmax, half-life...) for one dose."""

    quantity: ShortText
    value: Range
    dose: ShortText | None = None


class LegalStatus(Cited):
    jurisdiction: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")]
    status: ShortText
    detail: Text | None = None
    as_of: dt.date


class Milestone(Cited):
    date: dt.date
    jurisdiction: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")]
    event: Text


class TherapeuticTarget(Cited):
    indication: ShortText
    status: ShortText
    summary: Text | None = None


class Statement(Cited):
    text: Text


class Substance(Model):
    id: Id
    name: ShortText
    synonyms: list[ShortText] = Field(default_factory=list)
    groups: list[Id] = Field(default_factory=list)
    chemical_class: Statement
    mechanism: Mechanism
    routes: list[RouteProfile] = Field(min_length=1)
    legal_status: list[LegalStatus] = Field(default_factory=list)
    milestones: list[Milestone] = Field(default_factory=list)
    therapeutic_targets: list[TherapeuticTarget] = Field(default_factory=list)
    notable_effects: list[Statement] = Field(default_factory=list)
    safety: list[Statement] = Field(default_factory=list)
    contraindications: list[Statement] = Field(default_factory=list)
    disagreements: list[Disagreement] = Field(default_factory=list)
    updated: dt.date

    @model_validator(mode="after")
    def _unique_routes(self) -> Substance:
        routes = [r.route for r in self.routes]
        if len(set(routes)) != len(routes):
            raise ValueError("lists a route twice; put all of a route's facts under one entry")
        return self

    def route(self, route: Route | str) -> RouteProfile | None:
        return next((r for r in self.routes if r.route == route), None)


# --- medications --------------------------------------------------------------------------


class Metabolite(Model):
    name: ShortText
    active: bool
    half_life: Range


class HalfLife(Cited):
    """Elimination half-life of the parent and of any active metabolites."""

    parent: Range
    metabolites: list[Metabolite] = Field(default_factory=list)

    @model_validator(mode="after")
    def _time_units(self) -> HalfLife:
        for name, value in [("parent", self.parent)] + [
            (m.name, m.half_life) for m in self.metabolites
        ]:
            if value.unit not in HOURS_PER_UNIT:
                raise ValueError(f"half-life of {name} must be in a time unit (h, d, ...)")
        return self

    @property
    def effective_h(self) -> float:
        """Longest half-life (upper bound, hours) of the parent and its active metabolites;
        the figure washout planning must use (fluoxetine: norfluoxetine's)."""
        highs = [self.parent.in_hours()[1]]
        highs += [m.half_life.in_hours()[1] for m in self.metabolites if m.active]
        return max(highs)


class Medication(Model):
    generic: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9 ,'()./+-]*$")]
    id: Id
    brands: list[ShortText] = Field(default_factory=list)
    synonyms: list[ShortText] = Field(default_factory=list)
    atc: list[AtcCode] = Field(default_factory=list)
    classes: list[Id] = Field(min_length=1)
    half_life: HalfLife | None = None
    refs: list[RefId] = Field(min_length=1)
    note: Text | None = None
    evidence: Evidence | None = None
    disagreements: list[Disagreement] = Field(default_factory=list)
    discontinuation: list[DiscontinuationRisk] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _default_id(cls, data: object) -> object:
        if isinstance(data, dict) and "id" not in data and isinstance(data.get("generic"), str):
            data = dict(data)
            data["id"] = re.sub(r"[^a-z0-9]+", "-", data["generic"].lower()).strip("-")
        return data


# --- interactions -------------------------------------------------------------------------


class Management(Model):
    action: Action
    washout_half_lives: float | None = Field(default=None, gt=0)
    washout_days: int | None = Field(default=None, gt=0)
    text: Text

    @model_validator(mode="after")
    def _washout_needs_a_length(self) -> Management:
        if self.action == Action.WASHOUT and not (self.washout_half_lives or self.washout_days):
            raise ValueError("a washout needs washout_half_lives or washout_days")
        return self


class Interaction(Cited):
    id: Id
    substances: list[Id] = Field(default_factory=list)
    substance_groups: list[Id] = Field(default_factory=list)
    medication_classes: list[Id] = Field(default_factory=list)
    medications: list[Id] = Field(default_factory=list)
    severity: Severity
    mechanism: Text
    consequence: Text
    management: Management
    disagreements: list[Disagreement] = Field(default_factory=list)

    @model_validator(mode="after")
    def _both_sides(self) -> Interaction:
        if not (self.substances or self.substance_groups):
            raise ValueError("an interaction needs substances or substance_groups")
        if not (self.medication_classes or self.medications):
            raise ValueError("an interaction needs medication_classes or medications")
        return self


class MedicationSet(Model):
    """Medications matched by class (descendants included) or by id."""

    medication_classes: list[Id] = Field(default_factory=list)
    medications: list[Id] = Field(default_factory=list)
    at_least: int = Field(default=1, ge=1, le=10)

    @model_validator(mode="after")
    def _names_something(self) -> MedicationSet:
        if not (self.medication_classes or self.medications):
            raise ValueError("a medication set needs medication_classes or medications")
        return self


class Combination(Cited):
    """A rule over the participant's own medications taken together on the dosing day
    (two serotonergic drugs, an opioid with a benzodiazepine), optionally only with
    certain study substances.

    It fires when every set in ``requires`` is matched by at least ``at_least`` of the
    participant's medications and, in all, at least two different medications take part.
    """

    id: Id
    substances: list[Id] = Field(default_factory=list)
    substance_groups: list[Id] = Field(
        default_factory=list,
        description="study substances this rule applies to; both lists empty: any substance",
    )
    requires: list[MedicationSet] = Field(min_length=1)
    severity: Severity
    mechanism: Text
    consequence: Text
    management: Management


# --- protocols ----------------------------------------------------------------------------


class FieldKind(StrEnum):
    NUMBER = "number"
    BOOLEAN = "boolean"
    CATEGORY = "category"
    ORDINAL = "ordinal"
    CODES = "codes"


@dataclass(frozen=True, slots=True)
class ProfileField:
    """One field of the participant profile that protocol criteria may test."""

    kind: FieldKind
    label: str
    unit: str = ""
    values: tuple[str, ...] = ()


PSYCHIATRIC_CONDITIONS: tuple[str, ...] = (
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
)

#: The participant-profile vocabulary that protocol criteria test (the data dictionary
#: shared by protocol files, the profile model and the batch CSV columns).
PROFILE_FIELDS: dict[str, ProfileField] = {
    "age_years": ProfileField(FieldKind.NUMBER, "Age at the planned dosing date", "years"),
    "sex": ProfileField(FieldKind.CATEGORY, "Sex", values=("female", "male", "other")),
    "pregnant": ProfileField(FieldKind.BOOLEAN, "Pregnant"),
    "lactating": ProfileField(FieldKind.BOOLEAN, "Breastfeeding"),
    "weight_kg": ProfileField(FieldKind.NUMBER, "Weight", "kg"),
    "bmi": ProfileField(FieldKind.NUMBER, "Body-mass index", "kg/m²"),
    "systolic_bp_mmhg": ProfileField(FieldKind.NUMBER, "Systolic blood pressure", "mmHg"),
    "diastolic_bp_mmhg": ProfileField(FieldKind.NUMBER, "Diastolic blood pressure", "mmHg"),
    "heart_rate_bpm": ProfileField(FieldKind.NUMBER, "Resting heart rate", "bpm"),
    "qtc_ms": ProfileField(FieldKind.NUMBER, "QTc (Fridericia)", "ms"),
    "alt_x_uln": ProfileField(FieldKind.NUMBER, "ALT", "× upper limit of normal"),
    "ast_x_uln": ProfileField(FieldKind.NUMBER, "AST", "× upper limit of normal"),
    "egfr": ProfileField(FieldKind.NUMBER, "eGFR", "mL/min/1.73 m²"),
    "cssrs_ideation": ProfileField(
        FieldKind.ORDINAL,
        "C-SSRS worst suicidal ideation in the past 12 months (0 none to 5 with plan and intent)",
        values=("0", "1", "2", "3", "4", "5"),
    ),
    "cssrs_behaviour_past_year": ProfileField(
        FieldKind.BOOLEAN, "C-SSRS suicidal behaviour in the past 12 months"
    ),
    "substance_use_disorder": ProfileField(
        FieldKind.ORDINAL,
        "Most severe current (past 12 months) substance use disorder",
        values=("none", "mild", "moderate", "severe"),
    ),
    "days_since_psychedelic_use": ProfileField(
        FieldKind.NUMBER, "Days from the last psychedelic use to the planned dosing date", "d"
    ),
    "diagnoses": ProfileField(FieldKind.CODES, "Diagnoses (ICD-10 codes)"),
    "personal_history": ProfileField(
        FieldKind.CODES, "Personal psychiatric history", values=PSYCHIATRIC_CONDITIONS
    ),
    "family_history": ProfileField(
        FieldKind.CODES,
        "First-degree family psychiatric history",
        values=PSYCHIATRIC_CONDITIONS,
    ),
}

_ICD10_RE = re.compile(r"^[A-Z][0-9]{2}(\.[0-9A-Z]{1,4})?$")


class FieldTest(Model):
    """One test on one profile field; exactly one comparison is given.

    ``at_least``/``at_most``/``below``/``above`` compare numbers and ordinals; ``equals``
    compares booleans and categories; ``one_of`` a category; ``none_of``/``any_of`` a
    set of codes (an ICD-10 code matches itself and every code under it: F31 matches F31.4).
    """

    field: str
    at_least: float | str | None = None
    at_most: float | str | None = None
    below: float | str | None = None
    above: float | str | None = None
    equals: bool | str | None = None
    one_of: list[str] | None = None
    none_of: list[str] | None = None
    any_of: list[str] | None = None

    @property
    def op(self) -> str:
        return next(name for name in _TEST_OPS if getattr(self, name) is not None)

    @property
    def operand(self) -> Any:
        return getattr(self, self.op)

    @model_validator(mode="after")
    def _one_valid_comparison(self) -> FieldTest:
        spec = PROFILE_FIELDS.get(self.field)
        if spec is None:
            raise ValueError(
                f"unknown profile field {self.field!r}; use one of: {', '.join(PROFILE_FIELDS)}"
            )
        given = [name for name in _TEST_OPS if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of {', '.join(_TEST_OPS)} (got {len(given)})")
        op, operand = given[0], getattr(self, given[0])
        allowed = _OPS_BY_KIND[spec.kind]
        if op not in allowed:
            raise ValueError(
                f"{op} does not apply to {self.field} ({spec.kind.value}); use {', '.join(allowed)}"
            )
        if spec.kind is FieldKind.NUMBER and not isinstance(operand, int | float):
            raise ValueError(f"{op} on {self.field} needs a number")
        if spec.kind is FieldKind.ORDINAL and str(operand) not in spec.values:
            levels = ", ".join(spec.values)
            raise ValueError(f"{operand!r} is not a level of {self.field}: {levels}")
        if spec.kind is FieldKind.BOOLEAN and not isinstance(operand, bool):
            raise ValueError(f"{self.field} is true or false")
        values = operand if isinstance(operand, list) else [operand]
        if spec.kind is FieldKind.CATEGORY:
            bad = [v for v in values if v not in spec.values]
            if bad:
                raise ValueError(f"{bad[0]!r} is not one of {', '.join(spec.values)}")
        if spec.kind is FieldKind.CODES:
            for code in values:
                if spec.values and code not in spec.values:
                    raise ValueError(f"{code!r} is not one of {', '.join(spec.values)}")
                if not spec.values and not _ICD10_RE.match(code):
                    raise ValueError(f"{code!r} is not an ICD-10 code such as F43.1 or F31")
        return self


_TEST_OPS = ("at_least", "at_most", "below", "above", "equals", "one_of", "none_of", "any_of")
_OPS_BY_KIND: dict[FieldKind, tuple[str, ...]] = {
    FieldKind.NUMBER: ("at_least", "at_most", "below", "above"),
    FieldKind.ORDINAL: ("at_least", "at_most", "below", "above"),
    FieldKind.BOOLEAN: ("equals",),
    FieldKind.CATEGORY: ("equals", "one_of"),
    FieldKind.CODES: ("none_of", "any_of"),
}


class CriterionKind(StrEnum):
    INCLUSION = "inclusion"
    EXCLUSION = "exclusion"


class Criterion(Cited):
    """An eligibility criterion. ``tests`` state what must hold for the participant to
    pass (all of them); an exclusion criterion is written as the absence of the excluding
    condition. Where ``applies_when`` does not hold, the criterion is met (does not apply).
    """

    id: Id
    kind: CriterionKind
    text: Text
    tests: list[FieldTest] = Field(min_length=1)
    applies_when: FieldTest | None = None


class WashoutRule(Cited):
    """The protocol's own rule for medications that must be stopped before dosing."""

    id: Id
    medication_classes: list[Id] = Field(default_factory=list)
    medications: list[Id] = Field(default_factory=list)
    washout_days: int | None = Field(default=None, ge=0, le=3650)
    text: Text

    @model_validator(mode="after")
    def _names_something(self) -> WashoutRule:
        if not (self.medication_classes or self.medications):
            raise ValueError("a washout rule needs medication_classes or medications")
        return self


class HalfLifeMultiple(Cited):
    """How many elimination half-lives a washout lasts."""

    value: float = Field(gt=0, le=20)


class Protocol(Model):
    """A protocol's eligibility template, modelled on a published trial."""

    id: Id
    title: ShortText
    substance: Id
    indication: ShortText
    modelled_on: list[Id] = Field(default_factory=list, description="trial ids in trials/")
    description: Text
    criteria: list[Criterion] = Field(min_length=1)
    washout_half_lives: HalfLifeMultiple
    washout_rules: list[WashoutRule] = Field(default_factory=list)
    refs: list[RefId] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> Protocol:
        for what, ids in [
            ("criteria", [c.id for c in self.criteria]),
            ("washout_rules", [r.id for r in self.washout_rules]),
        ]:
            seen: set[str] = set()
            for item_id in ids:
                if item_id in seen:
                    raise ValueError(f"{what}: id {item_id!r} is used twice")
                seen.add(item_id)
        return self


# --- instruments --------------------------------------------------------------------------


class Option(Model):
    value: float
    label: ShortText


class Item(Model):
    number: int = Field(ge=1)
    key: Id
    label: ShortText
    text: Text | None = None
    options: Id | None = None
    min: float | None = None
    max: float | None = None
    scored: bool = True
    reverse: bool = False  # scored as (lowest + highest option) - answer
    ask_if: AskIf | None = None  # asked only when an earlier answer qualifies (skip logic)


class AskIf(Model):
    """Skip logic: the item is asked only when item ``item`` was answered ``at_least``; when
    it is not asked it is not missing, and counts as the lowest option."""

    item: int = Field(ge=1)
    at_least: float


class Band(Model):
    low: float
    high: float
    label: ShortText

    @model_validator(mode="after")
    def _ordered(self) -> Band:
        if self.low > self.high:
            raise ValueError(f"low ({self.low:g}) is greater than high ({self.high:g})")
        return self


class Subscale(Model):
    """``highest-endorsed``: the position (1, 2, ...) in ``items`` of the last item answered
    above its lowest option, 0 if none (e.g. the C-SSRS ideation severity level)."""

    key: Id
    label: ShortText
    items: list[int] = Field(min_length=1)
    method: Literal["sum", "mean", "max", "highest-endorsed"] = "sum"
    max: float | None = None


class MissingRule(Cited):
    """What the manual allows when items are missing. ``none``: every scored item must be
    answered, or there is no score. ``prorate``: with at most ``max_missing`` scored items
    missing, the total is the mean of the answered items times the number of items (and
    likewise each subscale with at most ``subscale_max_missing`` missing; None: subscales are
    not scored with any missing). ``round``: round prorated scores to the nearest integer."""

    kind: Literal["none", "prorate"]
    max_missing: int = Field(default=0, ge=0)
    subscale_max_missing: int | None = Field(default=None, ge=0)
    round: bool = False
    description: Text


class Classification(Cited):
    """A categorical result computed from the items or subscales of one response.

    ``cluster-count``: an item counts as endorsed when rated at least ``item_threshold``, and
    the classification holds when every subscale in ``minimum`` has at least that many
    endorsed items (PCL-5 DSM-5 provisional diagnosis). ``subscales-percent``: every subscale
    scores at least ``percent`` % of its maximum (MEQ-30 complete mystical experience).
    ``any-item``: any of ``items`` rated at least ``item_threshold``. With ``alert`` set, a
    response that meets it raises a safety alert of that level for the study team."""

    key: Id
    label: ShortText
    kind: Literal["cluster-count", "subscales-percent", "any-item"]
    item_threshold: float | None = None
    minimum: dict[Id, int] = Field(default_factory=dict)
    percent: float | None = Field(default=None, gt=0, le=100)
    items: list[int] = Field(default_factory=list)
    alert: Literal["low", "moderate", "high"] | None = None
    description: Text

    @model_validator(mode="after")
    def _complete(self) -> Classification:
        needs = {
            "cluster-count": ("item_threshold", "minimum"),
            "subscales-percent": ("percent",),
            "any-item": ("item_threshold", "items"),
        }[self.kind]
        for name in needs:
            if getattr(self, name) in (None, {}, []):
                raise ValueError(f"a {self.kind} classification needs {name}")
        return self


class Rule(Cited):
    """A response, remission or screening definition, machine-readable.

    ``percent-reduction`` / ``percent-increase``: a change of at least ``threshold`` % from
    baseline (``increase`` / ``reduction``: of at least ``threshold`` points);
    ``at-most`` / ``at-least``: score ≤ / ≥ ``threshold``; ``reduction``: a drop of at least
    ``threshold`` points; ``all``: every rule in ``all_of`` holds.
    """

    kind: Literal[
        "percent-reduction",
        "percent-increase",
        "at-most",
        "at-least",
        "reduction",
        "increase",
        "all",
    ]
    threshold: float | None = None
    strict: bool = False
    all_of: list[Rule] = Field(default_factory=list)
    description: Text


class Licence(Cited):
    summary: Text
    holder: ShortText | None = None
    items_redistributable: bool


class Instrument(Model):
    id: Id
    name: ShortText
    abbreviation: ShortText
    measures: ShortText
    administration: Literal["self-report", "clinician-rated", "interview"]
    recall_period: ShortText
    licence: Licence
    response_sets: dict[Id, list[Option]] = Field(default_factory=dict)
    items: list[Item] = Field(min_length=1)
    scoring: Scoring
    refs: list[RefId] = Field(min_length=1)
    note: Text | None = None
    disagreements: list[Disagreement] = Field(default_factory=list)
    updated: dt.date

    @model_validator(mode="after")
    def _consistent(self) -> Instrument:
        numbers = [i.number for i in self.items]
        if numbers != list(range(1, len(numbers) + 1)):
            raise ValueError("items must be numbered 1, 2, 3 ... in order")
        for item in self.items:
            if item.options is not None and item.options not in self.response_sets:
                raise ValueError(f"item {item.number} uses unknown response set {item.options!r}")
            if item.text is not None and not self.licence.items_redistributable:
                raise ValueError(
                    f"item {item.number} has text but the licence does not allow "
                    "redistributing item text; keep only its label"
                )
        for sub in self.scoring.subscales:
            unknown = sorted(set(sub.items) - set(numbers))
            if unknown:
                raise ValueError(f"subscale {sub.key!r} names items {unknown} that do not exist")
        for item in self.items:
            if item.ask_if is not None and not 1 <= item.ask_if.item < item.number:
                raise ValueError(f"item {item.number} asks after item {item.ask_if.item}")
        subscales = {sub.key for sub in self.scoring.subscales}
        for c in self.scoring.classifications:
            unknown_subs = sorted(set(c.minimum) - subscales)
            if unknown_subs:
                raise ValueError(f"classification {c.key!r} names subscales {unknown_subs}")
            if c.kind == "subscales-percent" and not all(sub.max for sub in self.scoring.subscales):
                raise ValueError(f"classification {c.key!r} needs every subscale's max")
            missing_items = sorted(set(c.items) - set(numbers))
            if missing_items:
                raise ValueError(f"classification {c.key!r} names items {missing_items}")
        return self


class RatingSheet(Cited):
    """How an interviewer turns two ratings of a symptom into its severity (the CAPS-5 scoring
    sheet): a frequency level and an intensity level per item, combined by ``rule``.

    ``lower-unless-intensity-two-above``: the severity is the lower of the two levels, except
    that an intensity two or more levels above the frequency gives the frequency plus one;
    either level 0 gives 0."""

    rule: Literal["lower-unless-intensity-two-above"]
    frequency: list[Option] = Field(min_length=2)
    intensity: list[Option] = Field(min_length=2)
    description: Text


class Scoring(Cited):
    method: Literal["sum", "mean", "sum-of-domain-max", "categorical", "sum-times-4"]
    total: Range | None = None
    subscales: list[Subscale] = Field(default_factory=list)
    bands: list[Band] = Field(default_factory=list)
    response: Rule | None = None
    remission: Rule | None = None
    screen_positive: Rule | None = None
    missing: MissingRule | None = None  # None: no cited rule, so no score with any missing
    classifications: list[Classification] = Field(default_factory=list)
    higher_is_better: bool = False
    rating_sheet: RatingSheet | None = None
    description: Text | None = None


# --- published trials ---------------------------------------------------------------------


class Arm(Model):
    id: Id
    label: ShortText
    n_randomized: int | None = Field(default=None, ge=0)
    n_analysed: int | None = Field(default=None, ge=0)
    intervention: Text


class Dispersion(Model):
    kind: Literal["sd", "se", "ci95"]
    value: float | None = Field(default=None, ge=0)
    low: float | None = None
    high: float | None = None

    @model_validator(mode="after")
    def _shape(self) -> Dispersion:
        if self.kind == "ci95":
            if self.low is None or self.high is None:
                raise ValueError("a ci95 needs low and high")
            if self.low > self.high:
                raise ValueError(f"ci95 low ({self.low:g}) is greater than high ({self.high:g})")
        elif self.value is None:
            raise ValueError(f"a {self.kind} needs a value")
        return self


class ArmResult(Cited):
    """One published number for one arm (or a between-arm comparison), exactly as given."""

    outcome: ShortText
    instrument: Id | None = None
    timepoint: ShortText
    arm: Id | None = None
    comparison: ShortText | None = None
    statistic: Literal[
        "mean-change",
        "ls-mean-change",
        "mean",
        "mean-baseline",
        "mean-endpoint",
        "difference",
        "ls-mean-difference",
        "responders",
        "remitters",
        "percent",
        "odds-ratio",
    ]
    value: float
    dispersion: Dispersion | None = None
    n: int | None = Field(default=None, ge=0)
    events: int | None = Field(default=None, ge=0)
    p_value: ShortText | None = None


class EffectSize(Cited):
    measure: Literal["cohen-d", "hedges-g", "odds-ratio", "risk-difference", "mean-difference"]
    value: float
    ci95: tuple[float, float] | None = None
    comparison: ShortText
    outcome: ShortText
    timepoint: ShortText


class Trial(Model):
    id: Id
    name: ShortText
    title: Text
    registry_ids: list[ShortText] = Field(default_factory=list)
    substance: Id
    indication: ShortText
    phase: ShortText
    design: Text
    population: Text
    arms: list[Arm] = Field(min_length=1)
    primary_outcome: PrimaryOutcome
    results: list[ArmResult] = Field(default_factory=list)
    effect_sizes: list[EffectSize] = Field(default_factory=list)
    refs: list[RefId] = Field(min_length=1)
    note: Text | None = None
    updated: dt.date

    @model_validator(mode="after")
    def _arms_exist(self) -> Trial:
        arm_ids = {a.id for a in self.arms}
        for result in self.results:
            if result.arm is not None and result.arm not in arm_ids:
                raise ValueError(f"result for unknown arm {result.arm!r}; arms are {arm_ids}")
        return self


class PrimaryOutcome(Cited):
    description: Text
    instrument: Id
    timepoint: ShortText


# --- manifest -----------------------------------------------------------------------------


class Manifest(Model):
    version: Annotated[str, StringConstraints(pattern=r"^\d{4}\.\d{1,2}\.\d+$")]
    released: dt.date
    changes: list[Change] = Field(min_length=1)


class Change(Model):
    version: ShortText
    date: dt.date
    summary: Text


for _model in (Disagreement, RouteProfile, Medication, Instrument, Trial, Manifest, Scoring, Rule):
    _model.model_rebuild()
