"""Vital signs in a dosing session: what each one is (LOINC code, UCUM unit), which values are
physically impossible (refused), and how a batch of observations is checked against a
protocol's two tiers of thresholds (stored and flagged, never blocked).

Codes are those of the FHIR R4 vital-signs value set
(http://hl7.org/fhir/ValueSet/observation-vitalsignresult, v4.0.1) with the units of the R4
examples; the IEEE 11073-10101 (MDC) codes that bedside monitors send in IHE PCD-01 messages
are listed where a public PCD-01 message shows them (systolic, diastolic and SpO2; the others
are not yet confirmed and so are absent).

**Plausibility bounds are openpat's own rule, not clinical thresholds.** They refuse a value
that cannot be a reading of a living person's vital sign or that is outside what any bedside
device reports (a negative rate, SpO2 above 100 %, a temperature of 60 °C, a diastolic at or
above the systolic of the same reading), so that a typing slip or a unit mix-up (°F sent as
°C: any body temperature in °F is above the 50 °C bound) is caught at the door with a reason.
The bounds are deliberately wide: a value a monitor could truly show (an extreme but real
reading) must never be refused, only flagged by the protocol's thresholds. Alert thresholds
come only from the protocol, each with its source or marked site-defined.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from enum import IntEnum

import numpy as np
import numpy.typing as npt


@dataclasses.dataclass(frozen=True, slots=True)
class VitalSign:
    key: str
    label: str
    loinc: str
    ucum: str
    unit: str  # as people write it
    plausible: tuple[float, float]  # inclusive; outside is refused (see the module)
    mdc: str | None = None  # IEEE 11073-10101 term code, where confirmed


VITALS: dict[str, VitalSign] = {
    v.key: v
    for v in (
        VitalSign("sbp", "Systolic blood pressure", "8480-6", "mm[Hg]", "mmHg", (0, 400), "150021"),
        VitalSign(
            "dbp", "Diastolic blood pressure", "8462-4", "mm[Hg]", "mmHg", (0, 300), "150022"
        ),
        VitalSign("map", "Mean blood pressure", "8478-0", "mm[Hg]", "mmHg", (0, 350)),
        VitalSign("hr", "Heart rate", "8867-4", "/min", "/min", (0, 400)),
        VitalSign("rr", "Respiratory rate", "9279-1", "/min", "/min", (0, 150)),
        VitalSign(
            "spo2", "Oxygen saturation (pulse oximetry)", "59408-5", "%", "%", (0, 100), "150456"
        ),
        VitalSign("temp", "Body temperature", "8310-5", "Cel", "°C", (10, 50)),
    )
}
BY_LOINC = {v.loinc: v for v in VITALS.values()}
BY_MDC = {v.mdc: v for v in VITALS.values() if v.mdc}
# SpO2 also arrives as "oxygen saturation in arterial blood"
BY_LOINC["2708-6"] = VITALS["spo2"]


class Level(IntEnum):
    OK = 0
    WARNING = 1
    CRITICAL = 2


@dataclasses.dataclass(frozen=True, slots=True)
class Band:
    """One vital's two tiers for a protocol: a value below ``low`` or above ``high`` of a
    tier is at that tier (critical wins). A missing bound never fires. ``source`` cites where
    the numbers come from, or says "site-defined"."""

    vital: str
    warning_low: float | None = None
    warning_high: float | None = None
    critical_low: float | None = None
    critical_high: float | None = None
    source: str = "site-defined"

    def __post_init__(self) -> None:
        if self.vital not in VITALS:
            raise ValueError(f"there is no vital sign {self.vital!r}")
        if not self.source.strip():
            raise ValueError(f"{self.vital}: a band cites its source or says 'site-defined'")
        for low, high in (
            (self.warning_low, self.warning_high),
            (self.critical_low, self.critical_high),
        ):
            if low is not None and high is not None and low >= high:
                raise ValueError(f"{self.vital}: a tier's low bound must be below its high bound")
        if None not in (self.critical_low, self.warning_low) and (
            self.critical_low > self.warning_low  # type: ignore[operator]
        ):
            raise ValueError(f"{self.vital}: the critical low bound must not exceed the warning's")
        if None not in (self.critical_high, self.warning_high) and (
            self.critical_high < self.warning_high  # type: ignore[operator]
        ):
            raise ValueError(
                f"{self.vital}: the critical high bound must not be below the warning's"
            )


def implausible(vital: str, value: float) -> str | None:
    """Why ``value`` cannot be a reading of ``vital`` (in its UCUM unit), or None."""
    spec = VITALS.get(vital)
    if spec is None:
        return f"there is no vital sign {vital!r}"
    if not np.isfinite(value):
        return f"{spec.label}: {value} is not a number"
    low, high = spec.plausible
    if not low <= value <= high:
        return (
            f"{spec.label}: {value:g} {spec.unit} is outside what a reading can be "
            f"({low:g}-{high:g} {spec.unit}); check the value and its unit"
        )
    return None


def implausible_pair(sbp: float, dbp: float) -> str | None:
    """A blood-pressure reading whose diastolic is at or above its systolic cannot be right."""
    if dbp >= sbp:
        return f"diastolic {dbp:g} mmHg is not below systolic {sbp:g} mmHg in the same reading"
    return None


@dataclasses.dataclass(frozen=True)
class Checked:
    """Each observation's level (:class:`Level`) and the bound it crossed (NaN if none)."""

    level: npt.NDArray[np.int8]
    bound: npt.NDArray[np.float64]


def check(
    vitals: Sequence[str] | npt.NDArray[np.str_],
    values: Sequence[float] | npt.NDArray[np.float64],
    bands: Mapping[str, Band],
) -> Checked:
    """Check a batch of observations against the protocol's bands, all at once (NumPy over
    the batch). A vital with no band is never flagged."""
    keys = np.asarray(vitals, dtype=object)
    x = np.asarray(values, dtype=np.float64)
    if keys.shape != x.shape:
        raise ValueError("one vital per value")
    level = np.zeros(x.shape, dtype=np.int8)
    bound = np.full(x.shape, np.nan)
    for key, band in bands.items():
        mine = keys == key
        if not mine.any():
            continue
        # warning first, so that a critical crossing overwrites it
        for lvl, low, high in (
            (Level.WARNING, band.warning_low, band.warning_high),
            (Level.CRITICAL, band.critical_low, band.critical_high),
        ):
            if low is not None:
                hit = mine & (x < low)
                level[hit], bound[hit] = lvl, low
            if high is not None:
                hit = mine & (x > high)
                level[hit], bound[hit] = lvl, high
    return Checked(level=level, bound=bound)
