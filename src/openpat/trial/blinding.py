"""Blinding integrity: Bang's and James's blinding indices from treatment guesses.

After dosing, participants, facilitators and raters guess the arm ("treatment", "control" or
"don't know"). The guesses are cross-tabulated against the actual arms as a 3 x 2 table of
counts: rows guess treatment / guess control / don't know; columns actual treatment /
actual control.

- **Bang's index**, one per arm: (correct - incorrect guesses) / everyone asked in the arm,
  from -1 (all guess the other arm) through 0 (random guessing) to 1 (all guess right).
  Bang et al. call -0.2 to 0.2 consistent with successful blinding; unblinding is suggested
  when the confidence interval excludes 0 on the side of correct guessing.
- **James's index**, one for the trial: 1 when everyone answers "don't know", 0 when
  everyone guesses right, 0.5 for random guessing; unblinding is suggested when the upper
  limit of the two-sided confidence interval is below 0.5. Weights: 0 for a correct guess,
  0.5 for an incorrect one, 1 for "don't know".

Confidence intervals are Wald intervals (estimate +/- z * SE) with the variance formulas of
the two papers as implemented in the R package BI (Mercaldo, Schwartz), truncated to the
index's range: [-1, 1] for Bang's index, [0, 1] for James's. Near the ends of the range (few
guesses, nearly all correct) the plain Wald interval runs past them (to 1.10, say), which no
value of the index can reach; the truncated limits say the same thing without the impossible
part. The truncation is openpat's presentation rule, not part of the papers.

References
----------
Bang H, Ni L, Davis CE. Assessment of blinding in clinical trials. Control Clin Trials
2004;25:143-156. doi:10.1016/j.cct.2003.10.016
James KE, Bloch DA, Lee KK, Kraemer HC, Fuller RK. An index for assessing blindness in a
multi-centre clinical trial: disulfiram for alcohol cessation. Stat Med 1996;15:1421-1434.
doi:10.1002/(SICI)1097-0258(19960715)15:13<1421::AID-SIM266>3.0.CO;2-H
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.stats import norm

from openpat.errors import InvalidInput

INTERVAL_METHOD = "Wald interval (estimate ± z·SE), truncated to the index's range"
JAMES_WEIGHTS = np.array([[0.0, 0.5], [0.5, 0.0]])  # guess rows x actual columns
BANG_SUCCESS = 0.2  # |Bang BI| <= 0.2: consistent with successful blinding (Bang 2004)


@dataclass(frozen=True, slots=True)
class IndexEstimate:
    estimate: float
    se: float
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class BlindingIndices:
    """Bang's index per arm and James's index for one group of respondents."""

    counts: npt.NDArray[np.int64]  # 3 x 2: guess treatment / control / don't know x arm
    arms: tuple[str, str]
    conf_level: float
    bang: tuple[IndexEstimate, IndexEstimate]
    james: IndexEstimate

    def bang_reading(self, arm: int) -> str:
        """Bang's index of one arm in words."""
        b = self.bang[arm]
        if np.isnan(b.estimate):
            return "no guesses recorded"
        if b.low > 0:
            return "more correct guesses than chance: blinding may be broken"
        if b.high < 0:
            return "more guesses of the other arm than chance (opposite guessing)"
        if abs(b.estimate) <= BANG_SUCCESS:
            return "consistent with random guessing"
        return "not distinguishable from random guessing with these numbers"

    def james_reading(self) -> str:
        j = self.james
        if np.isnan(j.estimate):
            return "no guesses recorded"
        if j.high < 0.5:
            return "upper limit below 0.5: lack of blinding suggested"
        return "no evidence of unblinding"


def blinding_indices(
    counts: npt.ArrayLike,
    *,
    arms: tuple[str, str] = ("treatment", "control"),
    conf_level: float = 0.95,
) -> BlindingIndices:
    """Bang's and James's indices from a 3 x 2 table of guesses by actual arm."""
    x = np.asarray(counts)
    if x.shape != (3, 2):
        raise InvalidInput.for_field(
            "counts",
            "give a 3 x 2 table: rows guess treatment, guess control, don't know; "
            f"columns the two arms (got shape {x.shape})",
        )
    if not np.all(np.isfinite(x)) or np.any(x < 0) or np.any(x != np.round(x)):
        raise InvalidInput.for_field("counts", "counts must be whole numbers >= 0")
    if not 0 < conf_level < 1:
        raise InvalidInput.for_field("conf_level", "must be between 0 and 1, e.g. 0.95")
    x = x.astype(np.int64)
    z = float(norm.ppf(0.5 + conf_level / 2))
    bang = tuple(_bang(x, arm, z) for arm in (0, 1))
    return BlindingIndices(
        counts=x,
        arms=arms,
        conf_level=conf_level,
        bang=(bang[0], bang[1]),
        james=_james(x, z),
    )


def _interval(estimate: float, se: float, z: float, bounds: tuple[float, float]) -> IndexEstimate:
    low, high = bounds
    return IndexEstimate(estimate, se, max(low, estimate - z * se), min(high, estimate + z * se))


def _bang(x: npt.NDArray[np.int64], arm: int, z: float) -> IndexEstimate:
    n = float(x[:, arm].sum())
    if n == 0:
        return IndexEstimate(np.nan, np.nan, np.nan, np.nan)
    correct, incorrect = x[arm, arm], x[1 - arm, arm]
    p_treatment, p_control = x[0, arm] / n, x[1, arm] / n
    estimate = float((correct - incorrect) / n)
    var = (
        p_treatment * (1 - p_treatment) + p_control * (1 - p_control) + 2 * p_treatment * p_control
    ) / n
    return _interval(estimate, float(np.sqrt(var)), z, (-1.0, 1.0))


def _james(x: npt.NDArray[np.int64], z: float) -> IndexEstimate:
    n = float(x.sum())
    if n == 0:
        return IndexEstimate(np.nan, np.nan, np.nan, np.nan)
    if not x[:2].any():  # only "don't know": the index is 1, with no uncertainty
        return IndexEstimate(1.0, 0.0, 1.0, 1.0)
    p = x / n
    w = JAMES_WEIGHTS
    guess = p[:2].sum(axis=1)  # share guessing each arm
    known = p.sum(axis=0) - p[2]  # share of each arm that guessed (not "don't know")
    dk = float(p[2].sum())
    observed = float((w * p[:2]).sum()) / (1 - dk)
    chance_sum = float((w * np.outer(guess, known)).sum())
    expected = chance_sum / (1 - dk) ** 2
    kappa = (observed - expected) / expected
    estimate = (1 + dk + (1 - dk) * kappa) / 2
    # delta-method variance (James 1996), written with the same margins
    spread = (w.T @ guess)[None, :] + (w @ known)[:, None]
    first = float((p[:2] * (1 - dk) ** 2 * ((1 - dk) * w - (1 + kappa) * spread) ** 2).sum()) / (
        4 * chance_sum**2
    )
    second = dk * (1 - dk) - (1 - dk) * (1 + kappa) * (dk + (1 - dk) * (1 + kappa) / 4)
    return _interval(estimate, float(np.sqrt((first + second) / n)), z, (0.0, 1.0))
