"""Interview scoring sheets: a severity proposed from a frequency and an intensity rating.

The CAPS-5 interviewer rates each symptom's frequency and intensity and combines them into
the 0-4 severity that is scored (:class:`~openpat.knowledge.schema.RatingSheet`). The rule,
from the VA CAPS-5 training: the same level gives that severity; otherwise the lower one,
except that an intensity two or more levels above the frequency gives the frequency plus one.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from openpat.errors import InvalidInput
from openpat.knowledge.schema import RatingSheet


def sheet_severity(
    sheet: RatingSheet, frequency: npt.ArrayLike, intensity: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """The severity for each (frequency, intensity) pair; NaN where either is missing.

    Levels outside the sheet's levels are refused, naming the first one."""
    f = np.asarray(frequency, dtype=np.float64)
    i = np.asarray(intensity, dtype=np.float64)
    for name, values, levels in (
        ("frequency", f, sheet.frequency),
        ("intensity", i, sheet.intensity),
    ):
        allowed = np.array([o.value for o in levels])
        bad = ~np.isnan(values) & ~np.isin(values, allowed)
        if bad.any():
            first = values[bad].flat[0]
            raise InvalidInput.for_field(
                name,
                f"{first:g} is not a {name} level; use one of "
                + ", ".join(f"{v:g}" for v in allowed),
            )
    # the only rule the schema allows: lower-unless-intensity-two-above
    severity = np.minimum(f, i)
    severity = np.where(i >= f + 2, f + 1, severity)
    return np.where((f == 0) | (i == 0), 0.0, severity)
