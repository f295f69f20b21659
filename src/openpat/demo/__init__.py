"""A synthetic, realistic demo study, generated from an explicit seed (pure).

"IV DMT for major depressive disorder": one site, two arms (the arms and allocation arrive
with randomisation), ~40 participants spread along the pathway. Every name is invented.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from openpat.trial.pathway import ParticipantStatus

DEMO_SEED = 20261123
DEMO_STUDY_CODE = "DMT-MDD-DEMO"
DEMO_SITE_TIMEZONE = "Europe/London"

# (username, display name, role); password is "demo-<username>" (demo data only).
DEMO_ACCOUNTS: tuple[tuple[str, str, str], ...] = (
    ("admin", "Alex Admin", "admin"),
    ("investigator", "Dr Iris Investigator", "investigator"),
    ("coordinator", "Casey Coordinator", "coordinator"),
    ("facilitator", "Frances Facilitator", "facilitator"),
    ("rater", "Robin Rater", "blinded_rater"),
    ("monitor", "Morgan Monitor", "monitor"),
    ("participant", "Pat Participant", "participant"),
    ("statistician", "Sam Statistician", "unblinded_statistician"),
)


def demo_password(username: str) -> str:
    return f"demo-{username}"


# The path every participant walks, stopping at their current status.
_MAIN_PATH = (
    ParticipantStatus.PRESCREEN,
    ParticipantStatus.SCREENED,
    ParticipantStatus.CONSENTED,
    ParticipantStatus.ENROLLED,
    ParticipantStatus.RANDOMISED,
    ParticipantStatus.IN_TREATMENT,
    ParticipantStatus.FOLLOW_UP,
    ParticipantStatus.COMPLETED,
)

# Where the demo's 40 participants stand (a recruiting study about half-way through).
_TARGETS: tuple[tuple[ParticipantStatus, int], ...] = (
    (ParticipantStatus.PRESCREEN, 4),
    (ParticipantStatus.SCREENED, 3),
    (ParticipantStatus.SCREEN_FAILED, 5),
    (ParticipantStatus.CONSENTED, 2),
    (ParticipantStatus.ENROLLED, 2),
    (ParticipantStatus.RANDOMISED, 3),
    (ParticipantStatus.IN_TREATMENT, 6),
    (ParticipantStatus.FOLLOW_UP, 7),
    (ParticipantStatus.COMPLETED, 5),
    (ParticipantStatus.WITHDRAWN, 2),
    (ParticipantStatus.LOST, 1),
)

_FIRST = (
    "Ada",
    "Bea",
    "Cai",
    "Dara",
    "Eli",
    "Fen",
    "Gus",
    "Hana",
    "Ines",
    "Jun",
    "Kit",
    "Lior",
    "Mira",
    "Noor",
    "Oren",
    "Pia",
    "Quin",
    "Rae",
    "Sol",
    "Tam",
    "Uma",
    "Vik",
    "Wren",
    "Yara",
)
_LAST = (
    "Abbot",
    "Brisk",
    "Calder",
    "Dunmore",
    "Elwood",
    "Fairlie",
    "Garrow",
    "Hollis",
    "Ingram",
    "Jessop",
    "Kerrow",
    "Lathom",
    "Merridew",
    "Nettle",
    "Orchard",
    "Pellow",
    "Quarry",
    "Rook",
)

_REASONS = {
    ParticipantStatus.SCREENED: "screening visit completed",
    ParticipantStatus.CONSENTED: "informed consent signed",
    ParticipantStatus.ENROLLED: "eligibility confirmed by investigator",
    ParticipantStatus.RANDOMISED: "randomised",
    ParticipantStatus.IN_TREATMENT: "first dosing session held",
    ParticipantStatus.FOLLOW_UP: "treatment phase completed",
    ParticipantStatus.COMPLETED: "final follow-up visit completed",
    ParticipantStatus.SCREEN_FAILED: "did not meet eligibility criteria",
    ParticipantStatus.WITHDRAWN: "participant withdrew consent",
    ParticipantStatus.LOST: "no contact after three attempts",
}


@dataclass(frozen=True, slots=True)
class DemoStep:
    status: ParticipantStatus
    on_date: dt.date
    reason: str


@dataclass(frozen=True, slots=True)
class DemoParticipant:
    year_of_birth: int
    sex: str
    full_name: str
    date_of_birth: dt.date
    email: str
    prescreen_date: dt.date
    steps: tuple[DemoStep, ...]  # after pre-screening, in order


@dataclass(frozen=True, slots=True)
class DemoStudy:
    code: str
    title: str
    substance: str
    condition: str
    phase: str
    site_code: str
    site_name: str
    site_timezone: str
    site_country: str
    participants: tuple[DemoParticipant, ...]


def _path_to(target: ParticipantStatus, rng: np.random.Generator) -> list[ParticipantStatus]:
    if target in _MAIN_PATH:
        return list(_MAIN_PATH[1 : _MAIN_PATH.index(target) + 1])
    if target is ParticipantStatus.SCREEN_FAILED:
        stop = int(rng.integers(0, 3))  # failed at pre-screen, screening or consent
        return [*_MAIN_PATH[1 : stop + 1], target]
    stop = int(rng.integers(3, 7))  # withdrew or was lost after enrolment
    return [*_MAIN_PATH[1 : stop + 1], target]


def build_demo_study(*, rng: np.random.Generator, today: dt.date) -> DemoStudy:
    """The demo study; the same seed and date give the same study."""
    participants = []
    targets = [status for status, n in _TARGETS for _ in range(n)]
    order = rng.permutation(len(targets))
    for i in order:
        target = targets[int(i)]
        path = _path_to(target, rng)
        # Step dates walk backwards from today so every date is in the past.
        gaps = rng.integers(3, 21, size=len(path) + 1)
        start = today - dt.timedelta(days=int(gaps.sum()) + int(rng.integers(0, 30)))
        day = start
        steps = []
        for status, gap in zip(path, gaps[1:], strict=True):
            day = day + dt.timedelta(days=int(gap))
            steps.append(DemoStep(status=status, on_date=day, reason=_REASONS[status]))
        year = int(rng.integers(today.year - 65, today.year - 21))
        dob = dt.date(year, int(rng.integers(1, 13)), int(rng.integers(1, 29)))
        first = _FIRST[int(rng.integers(len(_FIRST)))]
        last = _LAST[int(rng.integers(len(_LAST)))]
        participants.append(
            DemoParticipant(
                year_of_birth=year,
                sex=str(rng.choice(["female", "male"], p=[0.55, 0.45])),
                full_name=f"{first} {last}",
                date_of_birth=dob,
                email=f"{first.lower()}.{last.lower()}@example.org",
                prescreen_date=start,
                steps=tuple(steps),
            )
        )
    return DemoStudy(
        code=DEMO_STUDY_CODE,
        title="IV DMT for major depressive disorder (demo)",
        substance="DMT (intravenous)",
        condition="Major depressive disorder",
        phase="2",
        site_code="RCR",
        site_name="Riverside Clinical Research Unit",
        site_timezone=DEMO_SITE_TIMEZONE,
        site_country="GB",
        participants=tuple(participants),
    )


DEMO_PROTOCOL = "spl026-dmt-mdd"  # the knowledge base's eligibility template


def demo_trial_protocol() -> str:
    """The demo study's trial protocol (YAML): arms, randomisation and visit schedule."""
    return (Path(__file__).parent / "protocol.yaml").read_text(encoding="utf-8")


# Rooms and facilitators of the demo site: (code, name) and (code, name, max dosing per day).
DEMO_ROOMS = (("R1", "Dosing room 1"), ("R2", "Dosing room 2"))
DEMO_FACILITATORS = (
    ("F1", "Frances Facilitator", 2),
    ("F2", "Gale Guide", 2),
    ("F3", "Hollis Harbour", 2),
    ("F4", "Ira Ives", 2),
)


def demo_eligible_profile() -> dict[str, object]:
    """A synthetic candidate who meets every criterion of the demo's eligibility template
    and takes no medication: the screening each enrolled demo participant passed."""
    return {**_demo_base_profile(), "medications": []}


def _demo_base_profile() -> dict[str, object]:
    return {
        "age_years": 38,
        "sex": "female",
        "pregnant": False,
        "lactating": False,
        "weight_kg": 68,
        "height_cm": 170,
        "diagnoses": [{"code": "F33.1", "label": "Recurrent depressive disorder, moderate"}],
        "personal_history": [],
        "family_history": [],
        "vitals": {"systolic_bp_mmhg": 124, "diastolic_bp_mmhg": 78, "heart_rate_bpm": 68},
        "qtc_ms": 412,
        "labs": {
            "alt_u_per_l": 24,
            "alt_uln_u_per_l": 40,
            "ast_u_per_l": 22,
            "ast_uln_u_per_l": 40,
            "egfr": 96,
        },
        "cssrs": {"ideation": 1, "behaviour_past_year": False},
        "substance_use": {"disorder": "none", "never_used_psychedelics": True},
    }


def demo_screenings(today: dt.date) -> list[tuple[int, dict[str, object], dt.date]]:
    """Synthetic screening profiles for the first demo participants: (participant index,
    profile, planned dosing date). One is fine after an SSRI washout, one takes lithium
    that may not be stopped, one has details still to collect."""
    dosing = today + dt.timedelta(days=42)
    base = _demo_base_profile()
    sertraline = {
        "name": "Zoloft",
        "dose": 100,
        "unit": "mg",
        "since": str(today - dt.timedelta(days=400)),
        "taper_allowed": True,
    }
    lithium = {"name": "lithium carbonate", "dose": 800, "unit": "mg", "taper_allowed": False}
    return [
        (0, {**base, "medications": [sertraline]}, dosing),
        (
            1,
            {
                **base,
                "sex": "male",
                "pregnant": None,
                "lactating": None,
                "medications": [lithium, {"name": "metoprolol", "dose": 50, "unit": "mg"}],
            },
            dosing,
        ),
        (2, {**base, "qtc_ms": None, "medications": [{"name": "sertralin"}]}, dosing),
    ]


@dataclass(frozen=True, slots=True)
class DemoResponse:
    """A synthetic questionnaire or rating: whose, which, when, and the answers."""

    participant: int  # index into the demo study's participants
    instrument: str
    visit: str
    source: Literal["staff", "rater"]
    rater_blinded: bool | None
    answers: tuple[float | None, ...]
    day: dt.date


_TREATED = (
    ParticipantStatus.IN_TREATMENT,
    ParticipantStatus.FOLLOW_UP,
    ParticipantStatus.COMPLETED,
)
_VISITS = (("baseline", 0), ("week 3", 21), ("week 6", 42))


def _spread(total: int, n_items: int, high: int, rng: np.random.Generator) -> tuple[float, ...]:
    """Item answers 0..high summing to ``total`` (random order)."""
    total = max(0, min(total, n_items * high))
    answers = np.full(n_items, total // n_items)
    answers[: total % n_items] += 1
    rng.shuffle(answers)
    return tuple(float(a) for a in answers)


def demo_outcomes(
    study: DemoStudy, *, today: dt.date, seed: int = DEMO_SEED + 1
) -> list[DemoResponse]:
    """MADRS ratings (blinded rater), transcribed PHQ-9s and a C-SSRS at baseline for the
    treated participants, improving over six weeks for most; two positive C-SSRS screens.
    A generator of its own, so the study itself is the same with or without outcomes."""
    rng = np.random.default_rng(seed)
    found: list[DemoResponse] = []
    treated = [
        (i, p)
        for i, p in enumerate(study.participants)
        if p.steps and p.steps[-1].status in _TREATED
    ]
    for n, (index, person) in enumerate(treated):
        start = next(s.on_date for s in person.steps if s.status is ParticipantStatus.IN_TREATMENT)
        # the schedule's baseline is the day of randomisation; the follow-up weeks count from
        # the dosing session
        randomised = next(
            s.on_date for s in person.steps if s.status is ParticipantStatus.RANDOMISED
        )
        baseline_madrs = int(rng.integers(26, 38))
        baseline_phq = int(rng.integers(14, 23))
        keep = float(rng.uniform(0.2, 0.95))  # share of symptoms left at week 6
        for visit, offset in _VISITS:
            day = randomised if visit == "baseline" else start + dt.timedelta(days=offset)
            if day > today:  # not yet
                continue
            fraction = 1.0 - (1.0 - keep) * offset / 42
            found.append(
                DemoResponse(
                    index,
                    "madrs",
                    visit,
                    "rater",
                    True,
                    _spread(round(baseline_madrs * fraction), 10, 6, rng),
                    day,
                )
            )
            found.append(
                DemoResponse(
                    index,
                    "phq-9",
                    visit,
                    "staff",
                    None,
                    # item 9 (thoughts of death or self-harm) "not at all": a yes raises a
                    # safety alert, and the demo's alerts come from its C-SSRS screens
                    (*_spread(round(baseline_phq * fraction), 8, 3, rng), 0.0, 1.0),
                    day,
                )
            )
        # items 3-5 are asked only after a yes to item 2; otherwise they stay unanswered
        cssrs: tuple[float | None, ...] = (0.0, 0.0, None, None, None, 0.0)
        if n == 1:
            cssrs = (1.0, 1.0, 0.0, 0.0, 0.0, 0.0)  # passive and non-specific thoughts
        elif n == 4:
            cssrs = (1.0, 1.0, 1.0, 1.0, 0.0, 0.0)  # intent: a high-level alert
        found.append(DemoResponse(index, "c-ssrs", "baseline", "rater", False, cssrs, randomised))
    return found
