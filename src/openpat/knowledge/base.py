"""The loaded knowledge base: indexes and look-ups over the validated data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from openpat.errors import InvalidInput, NotFound
from openpat.knowledge import schema as s
from openpat.knowledge.names import MatchKind, NameHit, NameIndex, normalise


@dataclass(frozen=True, slots=True)
class MedicationMatch:
    """A medication found by name: the entry, the name that matched, and how well."""

    medication: s.Medication
    matched: str
    kind: str  # generic | brand | synonym
    how: str  # exact | prefix | fuzzy
    score: float


@dataclass(frozen=True, slots=True)
class KnowledgeBase:
    """Everything in ``knowledge/data``, validated and cross-checked."""

    manifest: s.Manifest
    content_hash: str
    references: dict[str, s.Reference]
    medication_classes: dict[str, s.MedicationClass]
    substance_groups: dict[str, s.SubstanceGroup]
    substances: dict[str, s.Substance]
    medications: dict[str, s.Medication]
    interactions: dict[str, s.Interaction]
    instruments: dict[str, s.Instrument]
    trials: dict[str, s.Trial]
    combinations: dict[str, s.Combination]
    protocols: dict[str, s.Protocol]
    _medication_names: NameIndex = field(init=False, repr=False, compare=False)
    _substance_names: NameIndex = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        med_names: list[tuple[str, str, MatchKind]] = []
        for med in self.medications.values():
            med_names.append((med.id, med.generic, "generic"))
            med_names += [(med.id, brand, "brand") for brand in med.brands]
            med_names += [(med.id, syn, "synonym") for syn in med.synonyms]
        sub_names: list[tuple[str, str, MatchKind]] = []
        for sub in self.substances.values():
            sub_names.append((sub.id, sub.id, "generic"))
            sub_names.append((sub.id, sub.name, "generic"))
            sub_names += [(sub.id, syn, "synonym") for syn in sub.synonyms]
        object.__setattr__(self, "_medication_names", NameIndex(med_names))
        object.__setattr__(self, "_substance_names", NameIndex(sub_names))

    @property
    def version(self) -> str:
        return self.manifest.version

    # -- references ---------------------------------------------------------------------

    def reference(self, ref_id: str) -> s.Reference:
        found = self.references.get(ref_id.strip().lower())
        if found is None:
            close = [r for r in self.references if normalise(ref_id) in normalise(r)][:5]
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise NotFound(f"no reference {ref_id!r} in the knowledge base{hint}")
        return found

    # -- medications --------------------------------------------------------------------

    def find_medications(self, query: str, *, limit: int = 10) -> list[MedicationMatch]:
        """Medications whose generic name, brand or synonym matches ``query``, best first.

        Case, spaces, hyphens and accents are ignored; brands map to their generic; typos
        find close names ("sertralin" -> sertraline, "Prozak" -> Prozac -> fluoxetine).
        """
        if not query.strip():
            raise InvalidInput.for_field("name", "give a medication name to look up")
        hits = self._medication_names.search(query, limit=limit)
        return [self._med_match(hit) for hit in hits]

    def _med_match(self, hit: NameHit) -> MedicationMatch:
        return MedicationMatch(
            medication=self.medications[hit.owner],
            matched=hit.name,
            kind=hit.kind,
            how=hit.how,
            score=round(hit.score, 3),
        )

    def medication(self, name: str) -> s.Medication:
        """The medication ``name`` names exactly (id, generic, brand or synonym)."""
        owner, hits = _exact_owner(name, self.medications, self._medication_names)
        if owner is not None:
            return self.medications[owner]
        raise NotFound(f"no medication named {name!r}{_did_you_mean(hits)}")

    def classes_of(self, medication: s.Medication) -> set[str]:
        """The medication's classes and all their ancestors."""
        seen: set[str] = set()
        todo = list(medication.classes)
        while todo:
            cls = todo.pop()
            if cls in seen:
                continue
            seen.add(cls)
            known = self.medication_classes.get(cls)
            if known is not None:
                todo.extend(known.parents)
        return seen

    # -- substances ---------------------------------------------------------------------

    def substance(self, name: str) -> s.Substance:
        """The substance named by id, name or synonym (case-, space- and hyphen-blind)."""
        owner, hits = _exact_owner(name, self.substances, self._substance_names)
        if owner is not None:
            return self.substances[owner]
        known = ", ".join(sorted(sub.name for sub in self.substances.values()))
        suggestion = _did_you_mean(hits)
        raise NotFound(
            f"no substance named {name!r}{suggestion}" + ("" if suggestion else f"; known: {known}")
        )

    # -- interactions -------------------------------------------------------------------

    def rules(
        self, *, substance: s.Substance | None = None, medication: s.Medication | None = None
    ) -> list[s.Interaction]:
        """Interaction rules that apply to ``substance`` and/or ``medication`` (every rule when
        neither is given), most severe first. A rule applies to a medication through the
        medication's id or any of its classes and their ancestors, and to a substance through
        its id or any of its groups."""
        classes = self.classes_of(medication) if medication is not None else set()
        found = [
            rule
            for rule in self.interactions.values()
            if (substance is None or _covers_substance(rule, substance))
            and (
                medication is None
                or medication.id in rule.medications
                or bool(classes & set(rule.medication_classes))
            )
        ]
        return sorted(found, key=lambda r: (s.SEVERITY_ORDER[r.severity], r.id))

    def interactions_between(
        self, substance: s.Substance, medication: s.Medication
    ) -> list[s.Interaction]:
        """Every rule that applies to this substance and this medication, most severe first."""
        return self.rules(substance=substance, medication=medication)

    def combinations_for(self, substance: s.Substance) -> list[s.Combination]:
        """Co-medication rules that apply with ``substance``, most severe first."""
        found = [
            rule
            for rule in self.combinations.values()
            if not (rule.substances or rule.substance_groups) or _covers_substance(rule, substance)
        ]
        return sorted(found, key=lambda r: (s.SEVERITY_ORDER[r.severity], r.id))

    def discontinuation_risks(self, medication: s.Medication) -> list[s.DiscontinuationRisk]:
        """Risks of stopping ``medication``: its own, then its classes' (ancestors included)."""
        risks = list(medication.discontinuation)
        for cls in sorted(self.classes_of(medication)):
            known = self.medication_classes.get(cls)
            if known is not None:
                risks += [r for r in known.discontinuation if r not in risks]
        return risks

    # -- protocols ----------------------------------------------------------------------

    def protocol(self, name: str) -> s.Protocol:
        """The shipped protocol template ``name`` (its id, case-blind)."""
        key = normalise(name)
        for protocol in self.protocols.values():
            if normalise(protocol.id) == key:
                return protocol
        known = ", ".join(sorted(self.protocols))
        raise NotFound(f"no protocol named {name!r}; shipped protocols: {known}")

    def substances_of_rule(self, rule: s.Interaction) -> list[s.Substance]:
        return [sub for sub in self.substances.values() if _covers_substance(rule, sub)]

    def __repr__(self) -> str:
        counts = {
            "substances": len(self.substances),
            "medications": len(self.medications),
            "interactions": len(self.interactions),
            "instruments": len(self.instruments),
            "trials": len(self.trials),
            "references": len(self.references),
        }
        inner = ", ".join(f"{k}={v}" for k, v in counts.items())
        return f"KnowledgeBase(version={self.version!r}, {inner})"


def _covers_substance(rule: s.Interaction | s.Combination, substance: s.Substance) -> bool:
    return substance.id in rule.substances or bool(
        set(substance.groups) & set(rule.substance_groups)
    )


def _exact_owner(
    name: str, by_id: Mapping[str, object], names: NameIndex
) -> tuple[str | None, list[NameHit]]:
    """The id ``name`` names exactly (as an id, or a normalised name), and the close hits
    for suggestions when it names nothing."""
    if name in by_id:
        return name, []
    hits = names.search(name, limit=5)
    exact = [h for h in hits if h.how == "exact"]
    return (exact[0].owner if exact else None), hits


def _did_you_mean(hits: list[NameHit]) -> str:
    if not hits:
        return ""
    names = list(dict.fromkeys(h.name for h in hits))[:3]
    return "; did you mean " + " or ".join(repr(n) for n in names) + "?"
