"""Loading the demo study through the same services a user would use (idempotent)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
from argon2 import PasswordHasher

from openpat.demo import (
    DEMO_ACCOUNTS,
    DEMO_FACILITATORS,
    DEMO_PROTOCOL,
    DEMO_ROOMS,
    DEMO_SEED,
    DEMO_SITE_TIMEZONE,
    DEMO_STUDY_CODE,
    DemoStep,
    DemoStudy,
    build_demo_study,
    demo_eligible_profile,
    demo_outcomes,
    demo_password,
    demo_screenings,
    demo_trial_protocol,
)
from openpat.errors import Conflict, RuleViolation
from openpat.security import Principal, Role
from openpat.services import outcomes, participants, schedule, screening, studies, trial, users
from openpat.services.participants import IdentityIn, ParticipantCreate, Sex, StatusChange
from openpat.services.studies import SiteCreate, StudyCreate, today_at_site
from openpat.services.users import MembershipIn, UserCreate
from openpat.store.uow import UnitOfWork
from openpat.trial.pathway import ParticipantStatus


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
    _load_protocol(uow, system, study.id, site_id)
    today = today_at_site(DEMO_SITE_TIMEZONE, uow.now())
    for pid, person in zip(participant_ids, spec.participants, strict=True):
        for k, step in enumerate(person.steps):
            final = k == len(person.steps) - 1
            _walk(uow, system, pid, person.full_name, step, today=today, final=final)
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
    _load_visits(uow, system, spec, participant_ids, rng=np.random.default_rng(seed + 2))
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


def _load_protocol(uow: UnitOfWork, system: Principal, study_id: int, site_id: int) -> None:
    """The demo protocol (seeded, so the demo's allocations are the same every time), two
    dosing rooms and four facilitators."""
    trial.load_protocol(
        uow=uow,
        principal=system,
        study_id=study_id,
        load=trial.ProtocolLoad(
            source=demo_trial_protocol(), seed=DEMO_SEED, reason="demo protocol loaded"
        ),
    )
    for code, name in DEMO_ROOMS:
        schedule.add_room(
            uow=uow, principal=system, site_id=site_id, room=schedule.RoomIn(code=code, name=name)
        )
    for code, name, per_day in DEMO_FACILITATORS:
        schedule.add_facilitator(
            uow=uow,
            principal=system,
            site_id=site_id,
            facilitator=schedule.FacilitatorIn(code=code, name=name, max_sessions_per_day=per_day),
        )


def _walk(
    uow: UnitOfWork,
    system: Principal,
    participant_id: int,
    name: str,
    step: DemoStep,
    *,
    today: dt.date,
    final: bool,
) -> None:
    """One step of a demo participant's pathway, through the service that owns it."""
    status = step.status
    if status is ParticipantStatus.CONSENTED:
        zone = ZoneInfo(DEMO_SITE_TIMEZONE)
        signed = dt.datetime.combine(step.on_date, dt.time(10, 30), tzinfo=zone)
        trial.record_consent(
            uow=uow,
            principal=system,
            participant_id=participant_id,
            consent=trial.ConsentIn(
                form_version="2.1",
                signature=name,
                signed_at=min(signed, uow.now() - dt.timedelta(minutes=1)),
                reason=step.reason,
            ),
        )
    elif status is ParticipantStatus.ENROLLED:
        # enrolment follows the evidence: an eligible screening, dated the day before
        with uow.reason("demo eligibility screening"):
            passed = screening.create_screening(
                uow=uow,
                principal=system,
                screening_in=screening.ScreeningCreate(
                    participant_id=participant_id,
                    protocol=DEMO_PROTOCOL,
                    planned_dosing_date=today + dt.timedelta(days=42),
                    profile=demo_eligible_profile(),
                ),
            )
            row = uow.screenings.get(passed.id)
            assert row is not None and row.verdict == "eligible", passed.verdict
            row.screened_on = step.on_date - dt.timedelta(days=1)
            row.created_at = dt.datetime.combine(row.screened_on, dt.time(9, 0), tzinfo=dt.UTC)
        participants.change_status(
            uow=uow,
            principal=system,
            participant_id=participant_id,
            change=StatusChange(status=status, on_date=step.on_date, reason=step.reason),
        )
    elif status is ParticipantStatus.RANDOMISED:
        # Those still waiting for their dosing session were randomised in the last few days,
        # so the demo calendar has sessions to come.
        on = max(step.on_date, today - dt.timedelta(days=3)) if final else step.on_date
        trial.randomise(
            uow=uow,
            principal=system,
            participant_id=participant_id,
            request=trial.RandomiseIn(on_date=on, reason=step.reason),
        )
    elif status is ParticipantStatus.IN_TREATMENT:
        schedule.update_visit(
            uow=uow,
            principal=system,
            participant_id=participant_id,
            update=schedule.VisitUpdate(visit="dosing", done_on=step.on_date, reason=step.reason),
        )
    else:
        participants.change_status(
            uow=uow,
            principal=system,
            participant_id=participant_id,
            change=StatusChange(status=status, on_date=step.on_date, reason=step.reason),
        )


def _load_visits(
    uow: UnitOfWork,
    system: Principal,
    spec: DemoStudy,
    participant_ids: list[int],
    *,
    rng: np.random.Generator,
) -> None:
    """Visits held so far, bookings for the sessions to come, and treatment guesses after
    dosing (participants and facilitators guess right more often than chance, as the
    psychedelic trials report)."""
    today = today_at_site(DEMO_SITE_TIMEZONE, uow.now())
    first = uow.participants.get(participant_ids[0])
    assert first is not None
    rooms = [r.id for r in uow.schedule.rooms(first.site_id)]
    team = [f.id for f in uow.schedule.facilitators(first.site_id)]
    booked = 0
    for pid, person in zip(participant_ids, spec.participants, strict=True):
        allocation = uow.trial.allocation(pid)
        if allocation is None:
            continue
        last = person.steps[-1]
        held_until = today - dt.timedelta(days=1)
        if last.status.is_final:
            held_until = last.on_date
        plan = schedule.participant_schedule(uow=uow, principal=system, participant_id=pid)
        for v in plan.visits:
            if v.done_on is None and v.type != "dosing" and v.target <= held_until:
                schedule.update_visit(
                    uow=uow,
                    principal=system,
                    participant_id=pid,
                    update=schedule.VisitUpdate(
                        visit=v.visit, done_on=v.target, reason="demo visit held"
                    ),
                )
        dosing = next(v for v in plan.visits if v.visit == "dosing")
        if dosing.done_on is not None:
            active = allocation.arm == "dmt"
            for guesser in ("participant", "facilitator"):
                draw = rng.random()
                right = draw < 0.75
                guess = "dont-know" if draw > 0.92 else ("dmt" if active == right else "placebo")
                trial.record_guess(
                    uow=uow,
                    principal=system,
                    participant_id=pid,
                    guess=trial.GuessIn(
                        visit="dosing",
                        guesser=guesser,
                        guess=guess,
                        confidence=int(rng.integers(5, 20)) * 5,
                    ),
                )
        elif last.status is ParticipantStatus.RANDOMISED and dosing.target > today:
            day = dosing.target
            while day.weekday() >= 5:
                day += dt.timedelta(days=1)
            _book_first_free(uow, system, pid, day, rooms, team, offset=booked)
            booked += 1


def _book_first_free(
    uow: UnitOfWork,
    system: Principal,
    participant_id: int,
    day: dt.date,
    rooms: list[int],
    team: list[int],
    *,
    offset: int,
) -> None:
    """Book the dosing visit at the first free morning or afternoon slot with a free room and
    two free facilitators (the service refuses a clash before writing anything)."""
    pairs = [(team[k], team[(k + 1) % len(team)]) for k in range(0, len(team), 2)]
    for start in (dt.time(9, 0), dt.time(13, 0)):
        for k in range(len(rooms) * len(pairs)):
            room = rooms[(k + offset) % len(rooms)]
            pair = pairs[(k + offset) % len(pairs)]
            try:
                schedule.book_visit(
                    uow=uow,
                    principal=system,
                    participant_id=participant_id,
                    booking=schedule.BookingIn(
                        visit="dosing",
                        date=day,
                        start=start,
                        room_id=room,
                        facilitator_ids=list(pair),
                    ),
                )
                return
            except Conflict:
                continue


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
