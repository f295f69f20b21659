"""The side-by-side comparison of substances the field asks for: duration per route, legal
status, primary targets and notable effects, every cell with its references."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from openpat.knowledge import schema as s
from openpat.knowledge.base import KnowledgeBase


class _Read(BaseModel):
    model_config = ConfigDict(frozen=True)


class RangeRead(_Read):
    low: float
    high: float
    unit: str
    text: str


class DurationRead(_Read):
    source_kind: str
    onset: RangeRead | None
    peak: RangeRead | None
    total: RangeRead | None
    dose: str | None
    evidence: str | None
    note: str | None
    references: list[str]


class LegalRead(_Read):
    jurisdiction: str
    status: str
    detail: str | None
    as_of: str
    references: list[str]


class TargetRead(_Read):
    receptor: str
    action: str
    references: list[str]


class EffectRead(_Read):
    text: str
    references: list[str]


class SubstanceComparison(_Read):
    """One substance's row of the comparison table."""

    id: str
    name: str
    duration: dict[str, list[DurationRead]]
    legal_status: list[LegalRead]
    primary_targets: list[TargetRead]
    notable_effects: list[EffectRead]
    disagreements: list[str]
    longest_total_h: float | None


def _range(value: s.Range | None) -> RangeRead | None:
    if value is None:
        return None
    return RangeRead(low=value.low, high=value.high, unit=value.unit, text=value.text())


def compare_substances(kb: KnowledgeBase, names: list[str]) -> list[SubstanceComparison]:
    """One row per substance named (id, name or synonym), in the order given.

    Durations are listed per route, one entry per kind of source (controlled studies,
    reviews, naturalistic reports, popular claims) so that disagreements stay visible.
    """
    rows: list[SubstanceComparison] = []
    seen: set[str] = set()
    for name in names:
        sub = kb.substance(name)
        if sub.id in seen:
            continue
        seen.add(sub.id)
        duration: dict[str, list[DurationRead]] = {}
        longest: float | None = None
        for profile in sub.routes:
            entries = []
            for d in profile.durations:
                entries.append(
                    DurationRead(
                        source_kind=d.source_kind.value,
                        onset=_range(d.onset),
                        peak=_range(d.peak),
                        total=_range(d.total),
                        dose=d.dose,
                        evidence=d.evidence.value if d.evidence else None,
                        note=d.note,
                        references=list(d.refs),
                    )
                )
                if d.total is not None and d.source_kind in (
                    s.SourceKind.CONTROLLED_STUDY,
                    s.SourceKind.REVIEW,
                    s.SourceKind.LABEL,
                ):
                    high = d.total.in_hours()[1]
                    longest = high if longest is None else max(longest, high)
            if entries:
                duration[profile.route.value] = entries
        rows.append(
            SubstanceComparison(
                id=sub.id,
                name=sub.name,
                duration=duration,
                legal_status=[
                    LegalRead(
                        jurisdiction=ls.jurisdiction,
                        status=ls.status,
                        detail=ls.detail,
                        as_of=ls.as_of.isoformat(),
                        references=list(ls.refs),
                    )
                    for ls in sub.legal_status
                ],
                primary_targets=[
                    TargetRead(receptor=t.receptor, action=t.action, references=list(t.refs))
                    for t in sub.mechanism.targets
                    # being metabolised by an enzyme is not a pharmacological target
                    if t.primary and t.action != "substrate"
                ],
                notable_effects=[
                    EffectRead(text=e.text, references=list(e.refs)) for e in sub.notable_effects
                ],
                disagreements=[d.topic for d in sub.disagreements],
                longest_total_h=longest,
            )
        )
    return rows
