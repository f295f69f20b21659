"""Knowledge look-ups shaped for the API, the CLI and the pages (one read schema family).

The knowledge base is read-only data shipped with the package, loaded and validated once per
process (``openpat.knowledge.default``); nothing here touches the database.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from openpat import knowledge
from openpat.errors import InvalidInput, NotFound
from openpat.knowledge import schema as s
from openpat.knowledge.base import KnowledgeBase, MedicationMatch
from openpat.knowledge.compare import SubstanceComparison, compare_substances

MAX_COMPARE = 8


def kb() -> KnowledgeBase:
    return knowledge.default()


class _Read(BaseModel):
    model_config = ConfigDict(frozen=True)


class VersionRead(_Read):
    version: str
    released: str
    content_hash: str
    counts: dict[str, int]


class ReferenceRead(_Read):
    id: str
    kind: str
    citation: str
    short: str
    authors: list[str]
    organisation: str | None
    year: int
    title: str
    journal: str | None
    publisher: str | None
    doi: str | None
    pmid: str | None
    url: str | None
    accessed: str | None
    link: str
    note: str | None


class MetaboliteRead(_Read):
    name: str
    active: bool
    low: float
    high: float
    unit: str


class HalfLifeRead(_Read):
    parent_low: float
    parent_high: float
    unit: str
    metabolites: list[MetaboliteRead]
    longest_h: float
    note: str | None
    evidence: str | None
    references: list[str]


class MedicationRead(_Read):
    id: str
    generic: str
    brands: list[str]
    synonyms: list[str]
    atc: list[str]
    classes: list[str]
    half_life_h: HalfLifeRead | None
    note: str | None
    references: list[str]


class MedicationMatchRead(MedicationRead):
    matched: str
    match: str  # exact-generic, exact-brand, prefix-brand, fuzzy-generic ...
    score: float


class InteractionRead(_Read):
    id: str
    severity: str
    substances: list[str]
    medication_classes: list[str]
    medications: list[str]
    mechanism: str
    consequence: str
    action: str
    washout_half_lives: float | None
    washout_days: int | None
    management: str
    evidence: str | None
    note: str | None
    disagreements: list[dict[str, Any]]
    references: list[str]


class MedicationDetail(_Read):
    medication: MedicationRead
    interactions: list[InteractionRead]


class SubstanceListItem(_Read):
    id: str
    name: str
    synonyms: list[str]
    chemical_class: str
    routes: list[str]
    groups: list[str]


def version() -> VersionRead:
    base = kb()
    return VersionRead(
        version=base.version,
        released=base.manifest.released.isoformat(),
        content_hash=base.content_hash,
        counts={
            "substances": len(base.substances),
            "medications": len(base.medications),
            "interactions": len(base.interactions),
            "instruments": len(base.instruments),
            "trials": len(base.trials),
            "references": len(base.references),
        },
    )


def citation(ref: s.Reference) -> str:
    """A one-line citation: authors, year, title, journal or publisher, identifiers."""
    people = ", ".join(ref.authors) if ref.authors else (ref.organisation or "")
    where = ref.journal or ref.publisher or ref.organisation or ""
    extra = ""
    if ref.volume:
        extra += f" {ref.volume}"
    if ref.pages:
        extra += f":{ref.pages}"
    ids = []
    if ref.doi:
        ids.append(f"doi:{ref.doi}")
    if ref.pmid:
        ids.append(f"PMID {ref.pmid}")
    if ref.url and not ids:
        ids.append(ref.url)
    if ref.accessed and not (ref.doi or ref.pmid):
        ids.append(f"accessed {ref.accessed.isoformat()}")
    return f"{people} ({ref.year}). {ref.title}. {where}{extra}. " + "; ".join(ids)


def reference_read(ref: s.Reference) -> ReferenceRead:
    return ReferenceRead(
        id=ref.id,
        kind=ref.kind.value,
        citation=citation(ref),
        short=ref.short(),
        authors=list(ref.authors),
        organisation=ref.organisation,
        year=ref.year,
        title=ref.title,
        journal=ref.journal,
        publisher=ref.publisher,
        doi=ref.doi,
        pmid=ref.pmid,
        url=ref.url,
        accessed=ref.accessed.isoformat() if ref.accessed else None,
        link=ref.link,
        note=ref.note,
    )


def reference(ref_id: str) -> ReferenceRead:
    return reference_read(kb().reference(ref_id))


def references(query: str | None = None) -> list[ReferenceRead]:
    """The bibliography sorted by first author and year, optionally filtered by text."""
    out = [reference_read(r) for r in kb().references.values()]
    if query:
        needle = query.casefold()
        out = [r for r in out if needle in r.citation.casefold() or needle in r.id]
    return sorted(out, key=lambda r: (r.short.casefold(), r.year, r.id))


def _half_life(med: s.Medication) -> HalfLifeRead | None:
    hl = med.half_life
    if hl is None:
        return None
    return HalfLifeRead(
        parent_low=hl.parent.in_hours()[0],
        parent_high=hl.parent.in_hours()[1],
        unit="h",
        metabolites=[
            MetaboliteRead(
                name=m.name,
                active=m.active,
                low=m.half_life.in_hours()[0],
                high=m.half_life.in_hours()[1],
                unit="h",
            )
            for m in hl.metabolites
        ],
        longest_h=hl.effective_h,
        note=hl.note,
        evidence=hl.evidence.value if hl.evidence else None,
        references=list(hl.refs),
    )


def medication_read(med: s.Medication) -> MedicationRead:
    return MedicationRead(
        id=med.id,
        generic=med.generic,
        brands=list(med.brands),
        synonyms=list(med.synonyms),
        atc=list(med.atc),
        classes=list(med.classes),
        half_life_h=_half_life(med),
        note=med.note,
        references=list(med.refs),
    )


def _match_read(match: MedicationMatch) -> MedicationMatchRead:
    base = medication_read(match.medication).model_dump()
    return MedicationMatchRead(
        **base, matched=match.matched, match=f"{match.how}-{match.kind}", score=match.score
    )


def find_medications(name: str, *, limit: int = 10) -> list[MedicationMatchRead]:
    """Matches for ``name``, best first (an exact or brand match first; typos after)."""
    if not name or not name.strip():
        raise InvalidInput.for_field("name", "give a medication name (generic or brand)")
    if len(name) > 100:
        raise InvalidInput.for_field("name", "is longer than 100 characters")
    return [_match_read(m) for m in kb().find_medications(name, limit=limit)]


def all_medications(*, limit: int = 500) -> list[MedicationRead]:
    meds = sorted(kb().medications.values(), key=lambda m: m.generic)
    return [medication_read(m) for m in meds[:limit]]


def interaction_read(rule: s.Interaction) -> InteractionRead:
    base = kb()
    return InteractionRead(
        id=rule.id,
        severity=rule.severity.value,
        substances=[sub.id for sub in base.substances_of_rule(rule)],
        medication_classes=list(rule.medication_classes),
        medications=list(rule.medications),
        mechanism=rule.mechanism,
        consequence=rule.consequence,
        action=rule.management.action.value,
        washout_half_lives=rule.management.washout_half_lives,
        washout_days=rule.management.washout_days,
        management=rule.management.text,
        evidence=rule.evidence.value if rule.evidence else None,
        note=rule.note,
        disagreements=[d.model_dump(mode="json") for d in rule.disagreements],
        references=list(rule.refs),
    )


def medication(name: str) -> MedicationDetail:
    """One medication (by id, generic, brand or synonym) with the interaction rules that
    apply to it."""
    base = kb()
    med = base.medication(name)
    rules = base.rules(medication=med)
    return MedicationDetail(
        medication=medication_read(med), interactions=[interaction_read(r) for r in rules]
    )


def substances() -> list[SubstanceListItem]:
    return [
        SubstanceListItem(
            id=sub.id,
            name=sub.name,
            synonyms=list(sub.synonyms),
            chemical_class=sub.chemical_class.text,
            routes=[r.route.value for r in sub.routes],
            groups=list(sub.groups),
        )
        for sub in sorted(kb().substances.values(), key=lambda x: x.name.casefold())
    ]


def substance(name: str) -> s.Substance:
    return kb().substance(name)


def substance_json(name: str) -> dict[str, Any]:
    sub = substance(name)
    data: dict[str, Any] = sub.model_dump(mode="json")
    return data


def compare(names: list[str]) -> list[SubstanceComparison]:
    cleaned = [n.strip() for name in names for n in name.split(",") if n.strip()]
    if len(cleaned) < 1:
        raise InvalidInput.for_field("ids", "name at least one substance to compare")
    if len(cleaned) > MAX_COMPARE:
        raise InvalidInput.for_field("ids", f"compare at most {MAX_COMPARE} substances at once")
    try:
        return compare_substances(kb(), cleaned)
    except NotFound as exc:  # a bad name in the list is bad input for `ids`
        raise InvalidInput.for_field("ids", exc.message) from exc


def interactions(
    substance_name: str | None = None, medication_name: str | None = None
) -> list[InteractionRead]:
    """Interaction rules, optionally narrowed to a substance and/or a medication."""
    base = kb()
    rules = base.rules(
        substance=base.substance(substance_name) if substance_name else None,
        medication=base.medication(medication_name) if medication_name else None,
    )
    return [interaction_read(r) for r in rules]


def instruments() -> list[s.Instrument]:
    return sorted(kb().instruments.values(), key=lambda i: i.abbreviation.casefold())


def trials() -> list[s.Trial]:
    return sorted(kb().trials.values(), key=lambda t: t.name.casefold())


def instrument(instrument_id: str) -> s.Instrument:
    found = kb().instruments.get(instrument_id.strip().lower())
    if found is None:
        known = ", ".join(sorted(kb().instruments))
        raise NotFound(f"no instrument {instrument_id!r}; known: {known}")
    return found


def trial(trial_id: str) -> s.Trial:
    found = kb().trials.get(trial_id.strip().lower())
    if found is None:
        known = ", ".join(sorted(kb().trials))
        raise NotFound(f"no published trial {trial_id!r}; known: {known}")
    return found


def cited_ids(*items: Any) -> list[str]:
    """Reference ids cited anywhere inside ``items`` (knowledge models cite with ``refs``,
    read models with ``references``; lists and plain id strings are taken too), in
    first-cited order."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, BaseModel):
            for name in type(value).model_fields:
                field_value = getattr(value, name)
                if name in ("refs", "references") and isinstance(field_value, list):
                    found.extend(field_value)
                elif isinstance(field_value, BaseModel | list | tuple | dict):
                    walk(field_value)
        elif isinstance(value, list | tuple):
            for item in value:
                if isinstance(item, BaseModel | list | tuple | dict):
                    walk(item)
        elif isinstance(value, dict):
            for item in value.values():
                if isinstance(item, BaseModel | list | tuple):
                    walk(item)

    for item in items:
        walk(item)
    return list(dict.fromkeys(found))
