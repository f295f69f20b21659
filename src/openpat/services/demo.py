"""Loading the demo study through the same services a user would use (idempotent)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from argon2 import PasswordHasher

from openpat.demo import (
    DEMO_ACCOUNTS,
    DEMO_PROTOCOL,
    DEMO_SEED,
    DEMO_SITE_TIMEZONE,
    DEMO_STUDY_CODE,
    DemoStudy,
    build_demo_study,
    demo_outcomes,
    demo_password,
    demo_screenings,
)
from openpat.errors import RuleViolation
from openpat.security import Principal, Role
from openpat.services import outcomes, participants, screening, studies, users
from openpat.services.participants import IdentityIn, ParticipantCreate, Sex, StatusChange
from openpat.services.studies import SiteCreate, StudyCreate, today_at_site
from openpat.services.users import MembershipIn, UserCreate
from openpat.store.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class DemoLoadResult:
    created: bool
    study_id: int
    participants: int
    logins: tuple[tuple[str, str, str], ...]  # (username, password, role)


def _logins() -> tuple[tuple[str, str, str], ...]:
    return tuple((u, demo_password(u), role) for u, _name, role in DEMO_ACCOUNTS)


def load_demo(
    *, uow: UnitOfWork, hasher: PasswordHasher, environment: str, seed: int = DEMO_SEED
) -> DemoLoadResult:
    """Create the demo study, its participants and one login per role, unless present."""
    if environment == "production":
        raise RuleViolation("the demo study is not loaded into a production database")
    system = Principal.system("demo-loader")
    rng = np.random.default_rng(seed)
    existing = uow.studies.get_by_code(DEMO_STUDY_CODE)
    if existing is not None:
        total = uow.participants.count(study_id=existing.id, site_ids=None)
        return DemoLoadResult(False, existing.id, total, _logins())

    spec = build_demo_study(rng=rng, today=today_at_site(DEMO_SITE_TIMEZONE, uow.now()))
    site = uow.sites.get_by_code(spec.site_code)
    site_id = (
        site.id
        if site is not None
        else studies.create_site(
            uow=uow,
            site_in=SiteCreate(
                code=spec.site_code,
                name=spec.site_name,
                timezone=spec.site_timezone,
                country=spec.site_country,
            ),
        ).id
    )
    study = studies.create_study(
        uow=uow,
        study_in=StudyCreate(
            code=spec.code,
            title=spec.title,
            substance=spec.substance,
            condition=spec.condition,
            phase=spec.phase,
        ),
        site_ids=[site_id],
    )
    participant_ids = []
    for person in spec.participants:
        created = participants.create_participant(
            uow=uow,
            principal=system,
            study_id=study.id,
            participant_in=ParticipantCreate(
                site_id=site_id,
                year_of_birth=person.year_of_birth,
                sex=Sex(person.sex),
                prescreen_date=person.prescreen_date,
                identity=IdentityIn(
                    full_name=person.full_name,
                    date_of_birth=person.date_of_birth,
                    email=person.email,
                ),
            ),
        )
        participant_ids.append(created.id)
        for step in person.steps:
            participants.change_status(
                uow=uow,
                principal=system,
                participant_id=created.id,
                change=StatusChange(status=step.status, on_date=step.on_date, reason=step.reason),
            )
    today = today_at_site(DEMO_SITE_TIMEZONE, uow.now())
    for index, profile, dosing in demo_screenings(today):
        with uow.reason("demo eligibility screening"):
            screening.create_screening(
                uow=uow,
                principal=system,
                screening_in=screening.ScreeningCreate(
                    participant_id=participant_ids[index],
                    protocol=DEMO_PROTOCOL,
                    planned_dosing_date=dosing,
                    profile=profile,
                ),
            )
    # The participant login belongs to someone in follow-up, who has a record to look at.
    follow_up = next(
        pid
        for pid, person in zip(participant_ids, spec.participants, strict=True)
        if person.steps and person.steps[-1].status.value == "follow_up"
    )
    for username, display_name, role in DEMO_ACCOUNTS:
        if uow.users.get_by_username(username) is not None:
            continue
        r = Role(role)
        membership = MembershipIn(
            role=r,
            study_id=None if r is Role.ADMIN else study.id,
            participant_id=follow_up if r is Role.PARTICIPANT else None,
        )
        users.create_user(
            uow=uow,
            principal=system,
            user_in=UserCreate(
                username=username,
                display_name=display_name,
                email=f"{username}@example.org",
                password=demo_password(username),
                memberships=[membership],
            ),
            hasher=hasher,
        )
    _load_outcomes(uow, system, spec, participant_ids)
    # ... and has a PHQ-9 waiting to be filled in
    with uow.reason("demo questionnaire sent"):
        outcomes.create_response(
            uow=uow,
            principal=system,
            response_in=outcomes.ResponseCreate(
                participant_id=follow_up, instrument="PHQ-9", visit="week 12"
            ),
        )
    return DemoLoadResult(True, study.id, len(participant_ids), _logins())


def _load_outcomes(
    uow: UnitOfWork, system: Principal, spec: DemoStudy, participant_ids: list[int]
) -> None:
    """Ratings and questionnaires for the treated participants, dated at their visits and
    entered by the demo's rater (MADRS), investigator (C-SSRS) and coordinator (PHQ-9)."""
    today = today_at_site(DEMO_SITE_TIMEZONE, uow.now())
    entered_by = {
        "madrs": uow.users.get_by_username("rater"),
        "c-ssrs": uow.users.get_by_username("investigator"),
        "phq-9": uow.users.get_by_username("coordinator"),
    }
    for r in demo_outcomes(spec, today=today):
        with uow.reason("demo questionnaire"):
            created = outcomes.create_response(
                uow=uow,
                principal=system,
                response_in=outcomes.ResponseCreate(
                    participant_id=participant_ids[r.participant],
                    instrument=r.instrument,
                    visit=r.visit,
                    source=r.source,
                    rater_blinded=r.rater_blinded,
                ),
            )
            keys = outcomes.item_keys(r.instrument)
            outcomes.save_answers(
                uow=uow,
                principal=system,
                response_id=created.id,
                update=outcomes.AnswersUpdate(answers=dict(zip(keys, r.answers, strict=True))),
            )
            outcomes.submit(uow=uow, principal=system, response_id=created.id)
            row = uow.responses.get(created.id)
            assert row is not None
            at = dt.datetime.combine(r.day, dt.time(11, 0), tzinfo=dt.UTC)
            row.created_at = row.updated_at = row.submitted_at = at
            user = entered_by[r.instrument]
            row.created_by = row.submitted_by = user.id if user is not None else None
            for alert in uow.alerts.listing(study_ids=None, participant_id=row.participant_id):
                if alert.response_id == row.id:
                    alert.created_at = at
