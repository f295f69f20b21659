"""The pathway follows the evidence: enrolment and randomisation need an allowing latest
screening against the protocol's eligibility template, or an investigator's recorded
override (audited, for that screening only)."""

from __future__ import annotations

import datetime as dt

import pytest

from openpat.demo import demo_eligible_profile
from openpat.errors import PermissionDenied, RuleViolation
from openpat.security import Role
from openpat.services import eligibility, participants, studies, trial
from openpat.services.participants import StatusChange
from openpat.services.runtime import Actor, Platform
from openpat.store.models import AuditEvent
from openpat.trial import ParticipantStatus
from tests.services.test_trial_services import SYSTEM, _role, make_trial, screen_eligible

pytestmark = pytest.mark.date_sensitive


def _consented(platform: Platform) -> tuple[int, int]:
    """A participant of a fresh trial, moved back to "consented" (no screening yet)."""
    t = make_trial(platform, n=1)
    with platform.uow(actor=Actor("test"), reason="test set-up") as uow:
        p = participants.create_participant(
            uow=uow,
            principal=SYSTEM,
            study_id=t.study_id,
            participant_in=participants.ParticipantCreate(
                site_id=t.site_id,
                prescreen_date=studies.today_at_site("Europe/London", uow.now())
                - dt.timedelta(days=5),
            ),
        )
        start = p.status_date
        participants.change_status(
            uow=uow,
            principal=SYSTEM,
            participant_id=p.id,
            change=StatusChange(status=ParticipantStatus.SCREENED, on_date=start, reason="test"),
        )
        trial.record_consent(
            uow=uow,
            principal=SYSTEM,
            participant_id=p.id,
            consent=trial.ConsentIn(
                form_version="1.0",
                signature="Pat Example",
                signed_at=dt.datetime.combine(start, dt.time(12), tzinfo=dt.UTC),
            ),
        )
        uow.commit()
    return t.study_id, p.id


def _enrol(platform: Platform, pid: int) -> None:
    with platform.uow(actor=Actor("coordinator")) as uow:
        today = studies.today_at_site("Europe/London", uow.now())
        participants.change_status(
            uow=uow,
            principal=SYSTEM,
            participant_id=pid,
            change=StatusChange(status=ParticipantStatus.ENROLLED, on_date=today, reason="test"),
        )
        uow.commit()


def _screen(platform: Platform, pid: int, profile: dict[str, object] | None = None) -> str:
    with platform.uow(actor=Actor("coordinator")) as uow:
        verdict = screen_eligible(
            uow, pid, studies.today_at_site("Europe/London", uow.now()), profile
        )
        uow.commit()
    return verdict


def test_enrolment_without_a_screening_is_refused(platform: Platform) -> None:
    _, pid = _consented(platform)
    with pytest.raises(RuleViolation, match="no screening against spl026-dmt-mdd"):
        _enrol(platform, pid)


@pytest.mark.parametrize(
    ("change", "verdict"),
    [
        ({"medications": None}, "needs-information"),
        ({"personal_history": ["psychosis"]}, "ineligible"),
    ],
)
def test_a_screening_that_does_not_allow_it_refuses_enrolment(
    platform: Platform, change: dict[str, object], verdict: str
) -> None:
    _, pid = _consented(platform)
    assert _screen(platform, pid, {**demo_eligible_profile(), **change}) == verdict
    with pytest.raises(RuleViolation, match=verdict.replace("-", " ")):
        _enrol(platform, pid)
    # a newer, eligible screening allows it
    assert _screen(platform, pid) == "eligible"
    _enrol(platform, pid)


def test_an_investigator_override_with_a_reason_allows_enrolment_and_is_audited(
    platform: Platform,
) -> None:
    study_id, pid = _consented(platform)
    _screen(platform, pid, {**demo_eligible_profile(), "medications": None})
    coordinator = _role(Role.COORDINATOR, study_id)
    investigator = _role(Role.INVESTIGATOR, study_id)
    body = eligibility.OverrideIn(reason="Medication history confirmed with the GP by phone")
    with platform.uow(actor=Actor("coordinator")) as uow:
        with pytest.raises(PermissionDenied):
            eligibility.override(
                uow=uow, principal=coordinator, participant_id=pid, override_in=body
            )
    with platform.uow(actor=Actor("investigator")) as uow:
        done = eligibility.override(
            uow=uow, principal=investigator, participant_id=pid, override_in=body
        )
        uow.commit()
    assert done.allowed and done.override is not None
    assert done.override.reason == body.reason and done.override.verdict == "needs-information"
    with platform.uow(actor=Actor("test")) as uow:
        logged = uow.session.query(AuditEvent).filter(
            AuditEvent.table_name == "eligibility_overrides"
        )
        assert any(e.reason == body.reason for e in logged)
    _enrol(platform, pid)


def test_randomisation_is_refused_when_a_later_screening_says_ineligible(
    platform: Platform,
) -> None:
    t = make_trial(platform, n=1)
    (pid,) = t.participant_ids
    _screen(platform, pid, {**demo_eligible_profile(), "personal_history": ["bipolar-i"]})
    with platform.uow(actor=Actor("coordinator")) as uow:
        with pytest.raises(RuleViolation, match="cannot randomise"):
            trial.randomise(
                uow=uow,
                principal=_role(Role.COORDINATOR, t.study_id),
                participant_id=pid,
                request=trial.RandomiseIn(),
            )
