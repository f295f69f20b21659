"""The screening report: frozen values with a plain-text summary and a JSON form."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from typing import Any


class Verdict(StrEnum):
    """The answer to "can this person be dosed, and when?", best to worst."""

    ELIGIBLE = "eligible"
    ELIGIBLE_AFTER_WASHOUT = "eligible-after-washout"
    NEEDS_INFORMATION = "needs-information"
    INELIGIBLE = "ineligible"


#: Verdicts from best to worst; a report's verdict is the worst any finding calls for.
VERDICT_ORDER: dict[Verdict, int] = {v: i for i, v in enumerate(Verdict)}


@dataclass(frozen=True, slots=True)
class CriterionResult:
    id: str
    kind: str  # inclusion | exclusion
    text: str
    status: str  # met | not-met | missing
    reason: str
    rule: str
    values: tuple[tuple[str, str], ...]  # (field label, value as shown)
    references: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MedicationResult:
    as_entered: str
    medication: str | None  # generic name; None if unresolved
    medication_id: str | None
    dose: str | None
    since: dt.date | None
    last_dose: dt.date | None
    taper_allowed: bool | None
    suggestions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class InteractionFinding:
    rule: str
    medication: str
    as_entered: str
    severity: str
    mechanism: str
    consequence: str
    action: str
    management: str
    evidence: str | None
    references: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CombinationFinding:
    rule: str
    medications: tuple[str, ...]
    severity: str
    mechanism: str
    consequence: str
    action: str
    management: str
    evidence: str | None
    references: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class WashoutStep:
    """When the last dose of a medication must be taken, and why."""

    medication: str
    as_entered: str
    washout_days: int | None  # None: cannot be dated (no half-life and no fixed washout)
    last_dose_by: dt.date | None
    basis: str  # half-life | protocol | interaction | unknown
    detail: str
    required_by: tuple[str, ...]  # rule ids that ask for the washout
    status: str  # planned | too-soon | complete | cannot-date | taper-not-allowed | ask-prescriber
    completes_on: dt.date | None
    references: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TaperWarning:
    medication: str
    kind: str
    text: str
    references: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Unresolved:
    as_entered: str
    suggestions: tuple[str, ...]
    message: str


@dataclass(frozen=True, slots=True)
class ScreeningReport:
    """The result of :func:`openpat.safety.screen`."""

    verdict: Verdict
    reasons: tuple[str, ...]
    protocol: str
    protocol_title: str
    substance: str
    substance_name: str
    participant: str | None
    planned_dosing_date: dt.date
    screened_on: dt.date
    earliest_dosing_date: dt.date | None
    criteria: tuple[CriterionResult, ...]
    medications: tuple[MedicationResult, ...]
    interactions: tuple[InteractionFinding, ...]
    combinations: tuple[CombinationFinding, ...]
    washout: tuple[WashoutStep, ...]
    taper_warnings: tuple[TaperWarning, ...]
    unresolved: tuple[Unresolved, ...]
    knowledge_version: str
    knowledge_hash: str

    @property
    def references(self) -> tuple[str, ...]:
        """Every reference id the report cites, in order of first citation."""
        seen: dict[str, None] = {}
        for group in (
            self.criteria,
            self.interactions,
            self.combinations,
            self.washout,
            self.taper_warnings,
        ):
            for item in group:
                seen.update(dict.fromkeys(item.references))
        return tuple(seen)

    @property
    def worst_severity(self) -> str | None:
        order = ["contraindicated", "major", "moderate", "reduced-effect", "minor"]
        found = {f.severity for f in self.interactions} | {f.severity for f in self.combinations}
        return next((s for s in order if s in found), None)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (dates as ISO text)."""
        data: dict[str, Any] = _jsonable({f.name: getattr(self, f.name) for f in fields(self)})
        return data

    def summary(self) -> str:
        """The report as plain text, for a terminal or a printout."""
        lines = [
            f"Screening: {self.protocol_title} ({self.protocol}), substance {self.substance_name}",
            f"Participant: {self.participant or '(not given)'}   planned dosing "
            f"{self.planned_dosing_date}   screened {self.screened_on}",
            f"VERDICT: {self.verdict.value.upper()}",
        ]
        if self.earliest_dosing_date:
            lines.append(f"Earliest dosing date: {self.earliest_dosing_date}")
        lines += [f"  - {r}" for r in self.reasons]
        lines.append("")
        lines.append("Criteria")
        for c in self.criteria:
            lines.append(f"  [{c.status:>7}] {c.id}: {c.reason}")
        if self.unresolved:
            lines.append("")
            lines.append("Unresolved medications")
            lines += [f"  ! {u.message}" for u in self.unresolved]
        if self.interactions or self.combinations:
            lines.append("")
            lines.append("Interactions")
            for f in self.interactions:
                lines.append(
                    f"  [{f.severity}] {f.medication} ({f.as_entered}): {f.consequence} "
                    f"-> {f.action}: {f.management} [{', '.join(f.references)}]"
                )
            for k in self.combinations:
                lines.append(
                    f"  [{k.severity}] together: {', '.join(k.medications)}: {k.consequence} "
                    f"-> {k.action}: {k.management} [{', '.join(k.references)}]"
                )
        if self.washout:
            lines.append("")
            lines.append("Washout plan")
            for w in self.washout:
                by = f"last dose by {w.last_dose_by}" if w.last_dose_by else "cannot be dated"
                lines.append(f"  {w.medication}: {by} ({w.status}); {w.detail}")
        if self.taper_warnings:
            lines.append("")
            lines.append("Tapering risks (stop only under the prescriber's supervision)")
            for t in self.taper_warnings:
                lines.append(f"  {t.medication} [{t.kind}]: {t.text}")
        lines.append("")
        lines.append(f"Knowledge base {self.knowledge_version} ({self.knowledge_hash[:12]})")
        return "\n".join(lines)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if hasattr(value, "__dataclass_fields__"):
        return _jsonable(asdict(value))
    return value
