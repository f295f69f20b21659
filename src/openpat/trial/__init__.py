"""Trial operations: the participant's pathway (protocols and randomisation arrive later)."""

from openpat.trial.pathway import (
    ALLOWED_TRANSITIONS,
    ParticipantStatus,
    check_transition,
)

__all__ = ["ALLOWED_TRANSITIONS", "ParticipantStatus", "check_transition"]
