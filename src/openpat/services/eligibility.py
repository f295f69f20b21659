"""Whether the evidence allows a participant onto the trial: the latest screening against the
study protocol's eligibility template, and an investigator's recorded override.

Enrolment and randomisation ask :func:`require_eligible`. A participant whose latest
screening is "ineligible" or "needs information" (or who has none) is refused, unless an
investigator has overridden that screening with a reason; the override is audited and shown
on the participant's page. A study whose protocol names no eligibility template is not
gated: it screens outside openpat.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from openpat.errors import PermissionDenied, RuleViolation
from openpat.safety import Verdict
from openpat.security import Permission, Principal
from openpat.services.participants import visible_participant
from openpat.store.models import EligibilityOverride, Participant
from openpat.store.uow import UnitOfWork
from openpat.trial.protocol import parse_protocol

ALLOWING = frozenset({Verdict.ELIGIBLE.value, Verdict.ELIGIBLE_AFTER_WASHOUT.value})
VERDICT_WORDS = {
    Verdict.ELIGIBLE.value: "eligible",
    Verdict.ELIGIBLE_AFTER_WASHOUT.value: "eligible after washout",
    Verdict.NEEDS_INFORMATION.value: "needs information",
    Verdict.INELIGIBLE.value: "ineligible",
}


class OverrideIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(
        min_length=10,
        max_length=2000,
        description="why the participant may go on despite the screening (audited)",
    )


class OverrideRead(BaseModel):
    screening_id: int
    verdict: str
    reason: str
    by: str | None
    at: dt.datetime


class EligibilityRead(BaseModel):
    participant_id: int
    template: str | None = Field(description="the protocol's eligibility template, if any")
    screening_id: int | None
    screened_on: dt.date | None
    verdict: str | None
    allowed: bool = Field(description="may be enrolled and randomised on this evidence")
    message: str
    override: OverrideRead | None


def _template(uow: UnitOfWork, study_id: int) -> str | None:
    row = uow.trial.current_protocol(study_id)
    return None if row is None else parse_protocol(row.source_yaml).eligibility


def _assess(uow: UnitOfWork, participant: Participant) -> EligibilityRead:
    template = _template(uow, participant.study_id)
    if template is None:
        return EligibilityRead(
            participant_id=participant.id,
            template=None,
            screening_id=None,
            screened_on=None,
            verdict=None,
            allowed=True,
            message="the study protocol names no eligibility template, so enrolment is not "
            "checked against a screening",
            override=None,
        )
    latest = uow.screenings.latest_for(participant.id, template)
    if latest is None:
        return EligibilityRead(
            participant_id=participant.id,
            template=template,
            screening_id=None,
            screened_on=None,
            verdict=None,
            allowed=False,
            message=f"no screening against {template} is recorded: screen the participant first",
            override=None,
        )
    words = VERDICT_WORDS.get(latest.verdict, latest.verdict)
    override = uow.screenings.override_of(latest.id)
    read_override = None
    if override is not None:
        who = uow.users.get(override.created_by) if override.created_by is not None else None
        read_override = OverrideRead(
            screening_id=override.screening_id,
            verdict=override.verdict,
            reason=override.reason,
            by=who.display_name if who is not None else None,
            at=override.created_at,
        )
    allowed = latest.verdict in ALLOWING or override is not None
    if latest.verdict in ALLOWING:
        message = f"the latest screening ({latest.screened_on}) says {words}"
    elif override is not None:
        message = (
            f"the latest screening ({latest.screened_on}) says {words}; an investigator overrode it"
        )
    else:
        message = (
            f"the latest screening against {template} ({latest.screened_on}) says {words}: "
            "screen again with the missing or changed information, or an investigator may "
            "override with a reason"
        )
    return EligibilityRead(
        participant_id=participant.id,
        template=template,
        screening_id=latest.id,
        screened_on=latest.screened_on,
        verdict=latest.verdict,
        allowed=allowed,
        message=message,
        override=read_override,
    )


def eligibility(*, uow: UnitOfWork, principal: Principal, participant_id: int) -> EligibilityRead:
    """What the latest screening allows for this participant."""
    participant = visible_participant(uow, principal, participant_id, Permission.PARTICIPANT_READ)
    return _assess(uow, participant)


def require_eligible(uow: UnitOfWork, participant: Participant, step: str) -> None:
    """Refuse ``step`` ("enrol", "randomise") unless the evidence allows it."""
    found = _assess(uow, participant)
    if not found.allowed:
        raise RuleViolation(f"status: cannot {step} {participant.code}: {found.message}")


def override(
    *, uow: UnitOfWork, principal: Principal, participant_id: int, override_in: OverrideIn
) -> EligibilityRead:
    """An investigator lets the participant go on despite the latest screening; recorded
    with the reason, for that screening only."""
    participant = visible_participant(uow, principal, participant_id, Permission.PARTICIPANT_READ)
    if not principal.can(
        Permission.ELIGIBILITY_OVERRIDE,
        study_id=participant.study_id,
        site_id=participant.site_id,
    ):
        raise PermissionDenied("only an investigator may override a screening's verdict")
    found = _assess(uow, participant)
    if found.screening_id is None or found.verdict is None:
        raise RuleViolation(f"status: {found.message}; there is no verdict to override")
    if found.verdict in ALLOWING:
        raise RuleViolation("status: the latest screening already allows enrolment")
    if found.override is not None:
        raise RuleViolation("status: the latest screening has already been overridden")
    with uow.reason(override_in.reason):
        uow.screenings.add_override(
            EligibilityOverride(
                study_id=participant.study_id,
                participant_id=participant.id,
                screening_id=found.screening_id,
                verdict=found.verdict,
                reason=override_in.reason,
                created_by=uow.actor.user_id,
                created_at=uow.now(),
            )
        )
    return _assess(uow, participant)
