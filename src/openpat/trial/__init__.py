"""Trial operations: the participant's pathway, protocols as data (``protocol``), visit
schedules (``schedule``), randomisation (``randomisation``) and blinding indices
(``blinding``)."""

from openpat.trial.pathway import (
    ALLOWED_TRANSITIONS,
    ParticipantStatus,
    check_transition,
)

__all__ = ["ALLOWED_TRANSITIONS", "ParticipantStatus", "check_transition"]
