"""The participant's pathway through a trial, from pre-screening to completion.

Withdrawal and loss to follow-up can happen at any stage after pre-screening; every other
step moves forward only. Each change needs a date and is audited by the store.
"""

from __future__ import annotations

from enum import StrEnum

from openpat.errors import RuleViolation


class ParticipantStatus(StrEnum):
    PRESCREEN = "prescreen"
    SCREENED = "screened"
    CONSENTED = "consented"
    ENROLLED = "enrolled"
    RANDOMISED = "randomised"
    IN_TREATMENT = "in_treatment"
    FOLLOW_UP = "follow_up"
    COMPLETED = "completed"
    WITHDRAWN = "withdrawn"
    LOST = "lost"
    SCREEN_FAILED = "screen_failed"

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def is_final(self) -> bool:
        return self in _FINAL


_LABELS = {
    ParticipantStatus.PRESCREEN: "Pre-screen",
    ParticipantStatus.SCREENED: "Screened",
    ParticipantStatus.CONSENTED: "Consented",
    ParticipantStatus.ENROLLED: "Enrolled",
    ParticipantStatus.RANDOMISED: "Randomised",
    ParticipantStatus.IN_TREATMENT: "In treatment",
    ParticipantStatus.FOLLOW_UP: "Follow-up",
    ParticipantStatus.COMPLETED: "Completed",
    ParticipantStatus.WITHDRAWN: "Withdrawn",
    ParticipantStatus.LOST: "Lost to follow-up",
    ParticipantStatus.SCREEN_FAILED: "Screen failure",
}

_FINAL = frozenset(
    {
        ParticipantStatus.COMPLETED,
        ParticipantStatus.WITHDRAWN,
        ParticipantStatus.LOST,
        ParticipantStatus.SCREEN_FAILED,
    }
)

_S = ParticipantStatus
_FORWARD: dict[ParticipantStatus, frozenset[ParticipantStatus]] = {
    _S.PRESCREEN: frozenset({_S.SCREENED, _S.SCREEN_FAILED}),
    _S.SCREENED: frozenset({_S.CONSENTED, _S.SCREEN_FAILED}),
    _S.CONSENTED: frozenset({_S.ENROLLED, _S.SCREEN_FAILED}),
    _S.ENROLLED: frozenset({_S.RANDOMISED}),
    _S.RANDOMISED: frozenset({_S.IN_TREATMENT}),
    _S.IN_TREATMENT: frozenset({_S.FOLLOW_UP}),
    _S.FOLLOW_UP: frozenset({_S.COMPLETED}),
}

ALLOWED_TRANSITIONS: dict[ParticipantStatus, frozenset[ParticipantStatus]] = {
    status: (
        frozenset()
        if status.is_final
        else _FORWARD.get(status, frozenset())
        | ({_S.WITHDRAWN, _S.LOST} if status is not _S.PRESCREEN else {_S.WITHDRAWN})
    )
    for status in ParticipantStatus
}

# The order the study dashboard shows the pathway in.
PATHWAY_ORDER: tuple[ParticipantStatus, ...] = tuple(ParticipantStatus)


def check_transition(current: ParticipantStatus, new: ParticipantStatus) -> None:
    """Raise :class:`RuleViolation` unless ``current -> new`` is a step of the pathway."""
    if new in ALLOWED_TRANSITIONS[current]:
        return
    allowed = ", ".join(sorted(s.label for s in ALLOWED_TRANSITIONS[current])) or "none (final)"
    raise RuleViolation(
        f"status: a participant who is '{current.label}' cannot move to '{new.label}'; "
        f"allowed next steps: {allowed}"
    )
