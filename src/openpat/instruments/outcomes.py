"""Response and remission from baseline and follow-up totals, vectorised over participants.

The instrument's own cited rules are used (e.g. MADRS response ≥ 50 % reduction and
remission ≤ 10 in COMP360; PCL-5 clinically meaningful change of 10 points). Where an
instrument on which lower is better defines no response rule, response is the conventional
reduction of at least 50 % from baseline, and the result says so (``conventional``); this
applies to symptom-severity scales (those with severity bands), not to experience measures
such as the MEQ-30.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from openpat.instruments.definition import Definition, FloatArray
from openpat.knowledge.schema import Rule

Int8Array = npt.NDArray[np.int8]

CONVENTIONAL_RESPONSE = Rule(
    kind="percent-reduction",
    threshold=50.0,
    description=(
        "A reduction of at least 50 % from baseline: the definition of response used across "
        "PAT depression trials (e.g. MADRS in COMP360, GRID-HAMD in Davis 2021), applied "
        "because the instrument defines none"
    ),
    refs=["goodwin-2022-comp360", "davis-2021"],
)


@dataclass(frozen=True, slots=True)
class Change:
    """Per participant: change from baseline (follow-up − baseline), percent change, and
    response / remission as 1, 0 or -1 (unknown: a score is missing or baseline is 0)."""

    change: FloatArray
    percent_change: FloatArray
    response: Int8Array | None
    remission: Int8Array | None
    response_rule: Rule | None
    remission_rule: Rule | None
    conventional_response: bool


def evaluate(rule: Rule, baseline: FloatArray, followup: FloatArray) -> Int8Array:
    """1 where the rule holds, 0 where it does not, -1 where it cannot be decided."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if rule.kind == "all":
            parts = [evaluate(r, baseline, followup) for r in rule.all_of]
            stacked = np.stack(parts)
            return np.where(
                (stacked == 0).any(axis=0), 0, np.where((stacked == 1).all(axis=0), 1, -1)
            ).astype(np.int8)
        t = float(rule.threshold if rule.threshold is not None else np.nan)
        if rule.kind == "at-most":
            value, holds = followup, (followup < t) if rule.strict else (followup <= t)
        elif rule.kind == "at-least":
            value, holds = followup, (followup > t) if rule.strict else (followup >= t)
        else:
            drop = baseline - followup
            if rule.kind == "reduction":
                value = drop
            elif rule.kind == "increase":
                value = -drop
            elif rule.kind == "percent-reduction":
                value = np.where(baseline > 0, drop / baseline * 100.0, np.nan)
            else:  # percent-increase
                value = np.where(baseline > 0, -drop / baseline * 100.0, np.nan)
            holds = (value > t) if rule.strict else (value >= t)
        known = ~np.isnan(value)
        return np.where(known, holds.astype(np.int8), -1).astype(np.int8)


def change(defn: Definition, baseline: npt.ArrayLike, followup: npt.ArrayLike) -> Change:
    """Change, response and remission for paired baseline and follow-up totals."""
    b = np.asarray(baseline, dtype=np.float64)
    f = np.asarray(followup, dtype=np.float64)
    scoring = defn.scoring
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = np.where(b != 0, (f - b) / b * 100.0, np.nan)
    response_rule = scoring.response
    conventional = False
    if response_rule is None and scoring.bands and not scoring.higher_is_better:
        response_rule, conventional = CONVENTIONAL_RESPONSE, True
    return Change(
        change=f - b,
        percent_change=pct,
        response=evaluate(response_rule, b, f) if response_rule else None,
        remission=evaluate(scoring.remission, b, f) if scoring.remission else None,
        response_rule=response_rule,
        remission_rule=scoring.remission,
        conventional_response=conventional,
    )
