"""Safety screening: protocol eligibility, drug-interaction checks and dated washout plans.

>>> from openpat import safety
>>> report = safety.screen(profile, "comp360-psilocybin-trd", "psilocybin", date(2027, 1, 15))
>>> report.verdict, report.earliest_dosing_date
"""

from openpat.safety.profile import (
    Cssrs,
    Diagnosis,
    Labs,
    MedicationEntry,
    Profile,
    SubstanceUse,
    Vitals,
)
from openpat.safety.report import (
    VERDICT_ORDER,
    CombinationFinding,
    CriterionResult,
    InteractionFinding,
    MedicationResult,
    ScreeningReport,
    TaperWarning,
    Unresolved,
    Verdict,
    WashoutStep,
)
from openpat.safety.screen import MedicationPlan, Planner, plan_medication, screen

__all__ = [
    "VERDICT_ORDER",
    "CombinationFinding",
    "CriterionResult",
    "Cssrs",
    "Diagnosis",
    "InteractionFinding",
    "Labs",
    "MedicationEntry",
    "MedicationPlan",
    "MedicationResult",
    "Planner",
    "Profile",
    "ScreeningReport",
    "SubstanceUse",
    "TaperWarning",
    "Unresolved",
    "Verdict",
    "Vitals",
    "WashoutStep",
    "plan_medication",
    "screen",
]
