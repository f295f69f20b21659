"""Participants through the services: codes, scope by site, identity kept apart, pathway."""

from __future__ import annotations

import datetime as dt

import pytest

from openpat.errors import NotFound, PermissionDenied, RuleViolation
from openpat.security import Membership, Principal, Role
from openpat.services import participants, studies
from openpat.services.participants import IdentityIn, ParticipantCreate, StatusChange
from openpat.services.runtime import Actor, Platform
from openpat.services.studies import SiteCreate, StudyCreate
from openpat.trial import ParticipantStatus

SYSTEM = Principal.system("test")


def _two_site_study(plat: Platform) -> tuple[int, int, int]:
    with plat.uow(actor=Actor("test")) as uow:
        a = studies.create_site(
            uow=uow,
            site_in=SiteCreate(code="LON", name="London", timezone="Europe/London", country="GB"),
        )
        b = studies.create_site(
            uow=uow,
            site_in=SiteCreate(
                code="SF", name="San Francisco", timezone="America/Los_Angeles", country="US"
            ),
        )
        study = studies.create_study(
            uow=uow,
            study_in=StudyCreate(
                code="PSI-TRD",
                title="Psilocybin for TRD",
                substance="psilocybin",
                condition="TRD",
                phase="2",
            ),
            site_ids=[a.id, b.id],
        )
        uow.commit()
    return study.id, a.id, b.id


def _coordinator(study_id: int, site_id: int | None) -> Principal:
    return Principal(
        user_id=99,
        username="c",
        display_name="C",
        memberships=(Membership(Role.COORDINATOR, study_id=study_id, site_id=site_id),),
    )


def test_codes_are_numbered_per_site(platform: Platform) -> None:
    study_id, lon, sf = _two_site_study(platform)
    codes = []
    with platform.uow(actor=Actor("test")) as uow:
        for site in (lon, lon, sf, lon):
            p = participants.create_participant(
                uow=uow,
                principal=SYSTEM,
                study_id=study_id,
                participant_in=ParticipantCreate(site_id=site),
            )
            codes.append(p.code)
        uow.commit()
    assert codes == ["LON-0001", "LON-0002", "SF-0001", "LON-0003"]


def test_site_coordinator_sees_and_registers_only_at_their_site(platform: Platform) -> None:
    study_id, lon, sf = _two_site_study(platform)
    with platform.uow(actor=Actor("test")) as uow:
        at_sf = participants.create_participant(
            uow=uow,
            principal=SYSTEM,
            study_id=study_id,
            participant_in=ParticipantCreate(site_id=sf),
        )
        participants.create_participant(
            uow=uow,
            principal=SYSTEM,
            study_id=study_id,
            participant_in=ParticipantCreate(site_id=lon),
        )
        uow.commit()
    london = _coordinator(study_id, lon)
    with platform.uow(actor=Actor("c", 99)) as uow:
        page = participants.list_participants(uow=uow, principal=london, study_id=study_id)
        assert [p.code for p in page.items] == ["LON-0001"] and page.total == 1
        with pytest.raises(NotFound):
            participants.get_participant(uow=uow, principal=london, participant_id=at_sf.id)
        with pytest.raises(PermissionDenied):
            participants.create_participant(
                uow=uow,
                principal=london,
                study_id=study_id,
                participant_in=ParticipantCreate(site_id=sf),
            )


def test_identity_is_readable_only_with_identity_access(platform: Platform) -> None:
    study_id, lon, _ = _two_site_study(platform)
    with platform.uow(actor=Actor("test")) as uow:
        p = participants.create_participant(
            uow=uow,
            principal=SYSTEM,
            study_id=study_id,
            participant_in=ParticipantCreate(
                site_id=lon,
                year_of_birth=1980,
                identity=IdentityIn(full_name="Ann Example", date_of_birth=dt.date(1980, 5, 1)),
            ),
        )
        uow.commit()
    rater = Principal(
        user_id=5,
        username="r",
        display_name="R",
        memberships=(Membership(Role.BLINDED_RATER, study_id=study_id),),
    )
    with platform.uow(actor=Actor("r", 5)) as uow:
        assert participants.get_participant(uow=uow, principal=rater, participant_id=p.id).code
        with pytest.raises(PermissionDenied):
            participants.get_identity(uow=uow, principal=rater, participant_id=p.id)
        ident = participants.get_identity(
            uow=uow, principal=_coordinator(study_id, None), participant_id=p.id
        )
        assert ident.full_name == "Ann Example"


@pytest.mark.date_sensitive
def test_status_change_follows_the_pathway_and_records_the_date(platform: Platform) -> None:
    study_id, lon, _ = _two_site_study(platform)
    start = platform.clock.today(dt.UTC) - dt.timedelta(days=10)
    with platform.uow(actor=Actor("test")) as uow:
        p = participants.create_participant(
            uow=uow,
            principal=SYSTEM,
            study_id=study_id,
            participant_in=ParticipantCreate(site_id=lon, prescreen_date=start),
        )
        changed = participants.change_status(
            uow=uow,
            principal=SYSTEM,
            participant_id=p.id,
            change=StatusChange(
                status=ParticipantStatus.SCREENED,
                on_date=start + dt.timedelta(days=2),
                reason="screening done",
            ),
        )
        assert changed.status is ParticipantStatus.SCREENED
        with pytest.raises(RuleViolation):
            participants.change_status(
                uow=uow,
                principal=SYSTEM,
                participant_id=p.id,
                change=StatusChange(
                    status=ParticipantStatus.RANDOMISED,
                    on_date=start + dt.timedelta(days=3),
                    reason="skip ahead",
                ),
            )
        uow.commit()
    with platform.uow(actor=Actor("test")) as uow:
        again = participants.get_participant(uow=uow, principal=SYSTEM, participant_id=p.id)
    assert again.status is ParticipantStatus.SCREENED
    assert again.status_date == start + dt.timedelta(days=2)


def test_dashboard_counts_every_status(demo_platform: Platform) -> None:
    with demo_platform.uow(actor=Actor("test")) as uow:
        board = studies.dashboard(uow=uow, principal=SYSTEM, study_id=1)
    counts = {c.status: c.count for c in board.by_status}
    assert board.total == 40 == sum(counts.values())
    assert counts[ParticipantStatus.FOLLOW_UP] == 7 and counts[ParticipantStatus.SCREEN_FAILED] == 5
    assert board.active == 40 - 5 - 2 - 1 - 5
