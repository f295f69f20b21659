"""Trial operations through the services, on SQLite and PostgreSQL: concealed randomisation,
the unblinded list, emergency unblinding, guesses and indices, visit schedules, and double
booking refused under concurrent requests."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from dataclasses import dataclass

import pytest
from pydantic import ValidationError

from openpat.demo import demo_eligible_profile, demo_trial_protocol
from openpat.errors import Conflict, InvalidInput, PermissionDenied, RuleViolation
from openpat.security import Membership, Principal, Role
from openpat.services import participants, schedule, screening, studies, trial
from openpat.services.participants import ParticipantCreate, Sex, StatusChange
from openpat.services.runtime import Actor, Platform, UnitOfWork
from openpat.services.studies import SiteCreate, StudyCreate
from openpat.trial import ParticipantStatus

SYSTEM = Principal.system("test")

# schedules, windows and bookings count from today: each test runs on two different days
pytestmark = pytest.mark.date_sensitive


@dataclass
class Trial:
    study_id: int
    site_id: int
    participant_ids: list[int]
    room_ids: list[int]
    facilitator_ids: list[int]


def _role(role: Role, study_id: int, user_id: int = 0) -> Principal:
    return Principal(
        user_id=user_id,
        username=role.value,
        display_name=role.label,
        memberships=(Membership(role, study_id),),
    )


def screen_eligible(
    uow: UnitOfWork, participant_id: int, today: dt.date, profile: dict[str, object] | None = None
) -> str:
    """Screen against the demo protocol's eligibility template; returns the verdict."""
    with uow.reason("test screening"):
        made = screening.create_screening(
            uow=uow,
            principal=SYSTEM,
            screening_in=screening.ScreeningCreate(
                participant_id=participant_id,
                protocol="spl026-dmt-mdd",
                planned_dosing_date=today + dt.timedelta(days=42),
                profile=demo_eligible_profile() if profile is None else profile,
            ),
        )
    return made.verdict


def make_trial(
    platform: Platform, *, n: int, rooms: int = 2, facilitators: int = 4, seed: int = 7
) -> Trial:
    """A study with the demo protocol and ``n`` enrolled participants (not randomised)."""
    with platform.uow(actor=Actor("test"), reason="test set-up") as uow:
        site = studies.create_site(
            uow=uow,
            site_in=SiteCreate(code="LON", name="London", timezone="Europe/London", country="GB"),
        )
        study = studies.create_study(
            uow=uow,
            study_in=StudyCreate(
                code="T1", title="Test trial", substance="DMT", condition="MDD", phase="2"
            ),
            site_ids=[site.id],
        )
        trial.load_protocol(
            uow=uow,
            principal=SYSTEM,
            study_id=study.id,
            load=trial.ProtocolLoad(source=demo_trial_protocol(), seed=seed, reason="test"),
        )
        today = studies.today_at_site("Europe/London", uow.now())
        start = today - dt.timedelta(days=10)
        ids = []
        for k in range(n):
            p = participants.create_participant(
                uow=uow,
                principal=SYSTEM,
                study_id=study.id,
                participant_in=ParticipantCreate(
                    site_id=site.id, sex=Sex.FEMALE if k % 2 else Sex.MALE, prescreen_date=start
                ),
            )
            participants.change_status(
                uow=uow,
                principal=SYSTEM,
                participant_id=p.id,
                change=StatusChange(
                    status=ParticipantStatus.SCREENED, on_date=start, reason="test"
                ),
            )
            trial.record_consent(
                uow=uow,
                principal=SYSTEM,
                participant_id=p.id,
                consent=trial.ConsentIn(
                    form_version="1.0",
                    signature=f"Person {k}",
                    signed_at=dt.datetime.combine(start, dt.time(12), tzinfo=dt.UTC),
                ),
            )
            screen_eligible(uow, p.id, today)
            participants.change_status(
                uow=uow,
                principal=SYSTEM,
                participant_id=p.id,
                change=StatusChange(
                    status=ParticipantStatus.ENROLLED, on_date=start, reason="test"
                ),
            )
            ids.append(p.id)
        room_ids = [
            schedule.add_room(
                uow=uow,
                principal=SYSTEM,
                site_id=site.id,
                room=schedule.RoomIn(code=f"R{k}", name=f"Room {k}"),
            ).id
            for k in range(rooms)
        ]
        team = [
            schedule.add_facilitator(
                uow=uow,
                principal=SYSTEM,
                site_id=site.id,
                facilitator=schedule.FacilitatorIn(
                    code=f"F{k}", name=f"Facilitator {k}", max_sessions_per_day=3
                ),
            ).id
            for k in range(facilitators)
        ]
        uow.commit()
    return Trial(study.id, site.id, ids, room_ids, team)


def randomise_all(platform: Platform, t: Trial) -> None:
    for pid in t.participant_ids:
        with platform.uow(actor=Actor("coordinator")) as uow:
            made = trial.randomise(
                uow=uow,
                principal=_role(Role.COORDINATOR, t.study_id),
                participant_id=pid,
                request=trial.RandomiseIn(),
            )
            uow.commit()
        # what the coordinator is told carries no arm
        assert "dmt" not in made.model_dump_json().lower()
        assert "placebo" not in made.model_dump_json().lower()


def test_randomisation_is_concealed_balanced_and_replayable(platform: Platform) -> None:
    t = make_trial(platform, n=12)
    randomise_all(platform, t)
    with platform.uow(actor=Actor("test")) as uow:
        with pytest.raises(PermissionDenied):
            trial.allocation_list(
                uow=uow, principal=_role(Role.COORDINATOR, t.study_id), study_id=t.study_id
            )
        with pytest.raises(PermissionDenied):
            trial.blinding_report(
                uow=uow, principal=_role(Role.INVESTIGATOR, t.study_id), study_id=t.study_id
            )
        rows = trial.allocation_list(
            uow=uow,
            principal=_role(Role.UNBLINDED_STATISTICIAN, t.study_id),
            study_id=t.study_id,
        )
        uow.commit()
    assert len(rows) == 12
    # stratified by sex: each stratum's first six fill whole blocks (sizes 2 or 4) only when
    # the block ends there, so the imbalance within a stratum is at most half a block
    for sex in ("female", "male"):
        arms = Counter(r.arm for r in rows if r.stratum == f"sex={sex}")
        assert sum(arms.values()) == 6
        assert abs(arms["dmt"] - arms["placebo"]) <= 2
    # the same seed and strata give the same list: the stored replay text names each entry
    assert all(r.replay.startswith("permuted blocks, seed 7, stratum 'sex=") for r in rows)
    # a new protocol version cannot change the arms once anyone is randomised
    changed = demo_trial_protocol().replace('version: "1.0"', 'version: "1.1"')
    changed = changed.replace("id: placebo", "id: niacin")
    with platform.uow(actor=Actor("test")) as uow, pytest.raises(RuleViolation):
        trial.load_protocol(
            uow=uow,
            principal=SYSTEM,
            study_id=t.study_id,
            load=trial.ProtocolLoad(source=changed, reason="try"),
        )
    # the read of the list is in the audit trail
    with platform.uow(actor=Actor("test")) as uow:
        events = uow.audit.list(limit=5)
        assert any(e.table_name == "allocations" and e.action == "export" for e in events)


def test_randomising_needs_an_enrolled_participant_and_happens_once(platform: Platform) -> None:
    t = make_trial(platform, n=2)
    first, second = t.participant_ids
    with platform.uow(actor=Actor("test")) as uow:
        trial.randomise(
            uow=uow, principal=SYSTEM, participant_id=first, request=trial.RandomiseIn()
        )
        with pytest.raises(RuleViolation):  # randomised -> randomised is not a step
            trial.randomise(
                uow=uow, principal=SYSTEM, participant_id=first, request=trial.RandomiseIn()
            )
        # the pathway's bare status change cannot skip the draw
        with pytest.raises(RuleViolation, match="randomise the participant instead"):
            participants.change_status(
                uow=uow,
                principal=SYSTEM,
                participant_id=second,
                change=StatusChange(
                    status=ParticipantStatus.RANDOMISED,
                    on_date=studies.today_at_site("Europe/London", uow.now()),
                    reason="skip the draw",
                ),
            )
        with pytest.raises(InvalidInput, match=r"factors\.site"):
            trial.randomise(
                uow=uow,
                principal=SYSTEM,
                participant_id=second,
                request=trial.RandomiseIn(factors={"site": "LON"}),
            )
        assert uow.trial.allocation(second) is None


def test_emergency_unblinding_is_recorded_and_notified(demo_platform: Platform) -> None:
    with demo_platform.uow(actor=Actor("investigator")) as uow:
        investigator = uow.users.get_by_username("investigator")
        assert investigator is not None
        pid = next(p.id for p, _a in uow.trial.randomised(1, None))
        me = _role(Role.INVESTIGATOR, 1, investigator.id)
        with pytest.raises(ValidationError):
            trial.UnblindIn(reason="urgent")  # a reason says what the emergency is
        with pytest.raises(PermissionDenied):
            trial.emergency_unblind(
                uow=uow,
                principal=_role(Role.COORDINATOR, 1),
                participant_id=pid,
                request=trial.UnblindIn(reason="severe hypertension during session"),
            )
        revealed = trial.emergency_unblind(
            uow=uow,
            principal=me,
            participant_id=pid,
            request=trial.UnblindIn(reason="severe hypertension during session"),
        )
        uow.commit()
    allocation_arm = None
    with demo_platform.uow(actor=Actor("test")) as uow:
        row = uow.trial.allocation(pid)
        assert row is not None
        allocation_arm = row.arm
        assert revealed.arm == allocation_arm
        # investigator, monitor and statistician of the study are told; the message has no arm
        told = {
            uow.users.get_by_username(name).id  # type: ignore[union-attr]
            for name in ("investigator", "monitor", "statistician")
        }
        for user_id in told:
            notes = uow.trial.notifications(user_id)
            assert notes and notes[0].kind == "emergency-unblinding"
            assert "hypertension" in notes[0].message
            assert allocation_arm not in notes[0].message.lower()
        rater = uow.users.get_by_username("rater")
        assert rater is not None and not uow.trial.notifications(rater.id)
        listed = trial.list_unblindings(uow=uow, principal=SYSTEM, study_id=1)
        assert listed[0].reason == "severe hypertension during session"
        assert revealed.notified == 3


def test_guesses_feed_the_blinding_indices(platform: Platform) -> None:
    t = make_trial(platform, n=8)
    randomise_all(platform, t)
    with platform.uow(actor=Actor("test"), reason="held") as uow:
        arms = {pid: uow.trial.allocation(pid).arm for pid in t.participant_ids}  # type: ignore[union-attr]
        today = studies.today_at_site("Europe/London", uow.now())
        with pytest.raises(RuleViolation, match="after the dosing visit"):
            trial.record_guess(
                uow=uow,
                principal=SYSTEM,
                participant_id=t.participant_ids[0],
                guess=trial.GuessIn(
                    visit="dosing", guesser="participant", guess="dmt", confidence=80
                ),
            )
        for pid in t.participant_ids:
            schedule.update_visit(
                uow=uow,
                principal=SYSTEM,
                participant_id=pid,
                update=schedule.VisitUpdate(visit="dosing", done_on=today, reason="held"),
            )
            # every participant guesses right: Bang's index is 1 in both arms
            trial.record_guess(
                uow=uow,
                principal=SYSTEM,
                participant_id=pid,
                guess=trial.GuessIn(
                    visit="dosing", guesser="participant", guess=arms[pid], confidence=90
                ),
            )
        with pytest.raises(InvalidInput, match="guess"):
            trial.record_guess(
                uow=uow,
                principal=SYSTEM,
                participant_id=pid,
                guess=trial.GuessIn(visit="dosing", guesser="rater", guess="lsd", confidence=10),
            )
        status = participants.get_participant(uow=uow, principal=SYSTEM, participant_id=pid)
        assert status.status is ParticipantStatus.IN_TREATMENT
        report = trial.blinding_report(
            uow=uow,
            principal=_role(Role.UNBLINDED_STATISTICIAN, t.study_id),
            study_id=t.study_id,
        )
    # every kind of guesser has its group; only the participants guessed here
    assert [g.guesser for g in report.groups] == ["participant", "facilitator", "rater"]
    group, *others = report.groups
    assert [g.n for g in others] == [0, 0] and "No rater guesses" in others[1].reading
    n_active = sum(1 for a in arms.values() if a == "dmt")
    assert group.counts == [[n_active, 0], [0, 8 - n_active], [0, 0]]
    assert group.bang_active.estimate == 1.0 and group.bang_control.estimate == 1.0
    assert "blinding may be broken" in group.reading


def test_schedule_flags_and_reschedules_within_the_window(platform: Platform) -> None:
    t = make_trial(platform, n=1)
    pid = t.participant_ids[0]
    with platform.uow(actor=Actor("test")) as uow:
        today = studies.today_at_site("Europe/London", uow.now())
        trial.randomise(
            uow=uow,
            principal=SYSTEM,
            participant_id=pid,
            request=trial.RandomiseIn(on_date=today - dt.timedelta(days=8)),
        )
        plan = schedule.participant_schedule(uow=uow, principal=SYSTEM, participant_id=pid)
        by = {v.visit: v for v in plan.visits}
        # randomised 8 days ago: baseline (day 0) and preparation (day 3, window to day 5)
        # are overdue; dosing (day 7, -2/+5) is due; week 3 is upcoming
        assert by["baseline"].status == "overdue"
        assert by["preparation"].status == "overdue"
        assert by["dosing"].status == "due"
        assert by["week-3"].status == "upcoming"
        assert plan.overdue == 2
        assert by["dosing"].minutes == 30 and by["dosing"].facilitators == 2
        with pytest.raises(InvalidInput, match="outside the window"):
            schedule.update_visit(
                uow=uow,
                principal=SYSTEM,
                participant_id=pid,
                update=schedule.VisitUpdate(
                    visit="dosing", reschedule_to=today + dt.timedelta(days=30), reason="later"
                ),
            )
        moved = schedule.update_visit(
            uow=uow,
            principal=SYSTEM,
            participant_id=pid,
            update=schedule.VisitUpdate(
                visit="dosing", reschedule_to=today + dt.timedelta(days=2), reason="room"
            ),
        )
        dosing = next(v for v in moved.visits if v.visit == "dosing")
        assert dosing.target == today + dt.timedelta(days=2) and dosing.rescheduled


def _weekday_in_window(platform: Platform, pid: int) -> dt.date:
    with platform.uow(actor=Actor("test")) as uow:
        plan = schedule.participant_schedule(uow=uow, principal=SYSTEM, participant_id=pid)
    dosing = next(v for v in plan.visits if v.visit == "dosing")
    day = max(dosing.earliest, plan.today + dt.timedelta(days=1))
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    assert day <= dosing.latest
    return day


def _race(platform: Platform, bookings: list[tuple[int, schedule.BookingIn]]) -> list[object]:
    """Book concurrently, each in its own transaction, all released at once."""
    barrier = threading.Barrier(len(bookings))
    results: list[object] = [None] * len(bookings)

    def run(k: int, pid: int, booking: schedule.BookingIn) -> None:
        barrier.wait()
        try:
            with platform.uow(actor=Actor(f"coordinator-{k}")) as uow:
                results[k] = schedule.book_visit(
                    uow=uow, principal=SYSTEM, participant_id=pid, booking=booking
                )
                uow.commit()
        except Exception as exc:  # collected and checked below
            results[k] = exc

    threads = [threading.Thread(target=run, args=(k, *b)) for k, b in enumerate(bookings)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    return results


def test_concurrent_bookings_of_one_room_book_exactly_one(platform: Platform) -> None:
    t = make_trial(platform, n=4, rooms=1, facilitators=8)
    randomise_all(platform, t)
    day = _weekday_in_window(platform, t.participant_ids[0])
    bookings = [
        (
            pid,
            schedule.BookingIn(
                visit="dosing",
                date=day,
                start=dt.time(9, 0),
                room_id=t.room_ids[0],
                facilitator_ids=t.facilitator_ids[2 * k : 2 * k + 2],
            ),
        )
        for k, pid in enumerate(t.participant_ids)
    ]
    results = _race(platform, bookings)
    booked = [r for r in results if isinstance(r, schedule.BookingRead)]
    refused = [r for r in results if isinstance(r, Conflict)]
    assert len(booked) == 1 and len(refused) == 3, results
    assert all("Room 0 is already booked" in str(r) for r in refused)
    with platform.uow(actor=Actor("test")) as uow:
        cal = schedule.calendar(uow=uow, principal=SYSTEM, site_id=t.site_id, start=day, days=1)
    assert len(cal.bookings) == 1
    assert cal.bookings[0].local_start.startswith(f"{day} 09:00")


def test_concurrent_bookings_of_one_facilitator_book_exactly_one(platform: Platform) -> None:
    t = make_trial(platform, n=3, rooms=3, facilitators=4)
    randomise_all(platform, t)
    day = _weekday_in_window(platform, t.participant_ids[0])
    shared = t.facilitator_ids[0]
    bookings = [
        (
            pid,
            schedule.BookingIn(
                visit="dosing",
                date=day,
                start=dt.time(9, 15) if k else dt.time(9, 0),  # overlapping, not equal
                room_id=t.room_ids[k],
                facilitator_ids=[shared, t.facilitator_ids[k + 1]],
            ),
        )
        for k, pid in enumerate(t.participant_ids)
    ]
    results = _race(platform, bookings)
    assert sum(isinstance(r, schedule.BookingRead) for r in results) == 1, results
    assert sum(isinstance(r, Conflict) for r in results) == 2
    # back to back is fine: the session ends at 09:30
    with platform.uow(actor=Actor("test")) as uow:
        cal = schedule.calendar(uow=uow, principal=SYSTEM, site_id=t.site_id, start=day, days=1)
        first = cal.bookings[0]
        free = next(p for p in t.participant_ids if p != first.participant_id)
        later = dt.time.fromisoformat(first.local_end[11:16])
        again = schedule.book_visit(
            uow=uow,
            principal=SYSTEM,
            participant_id=free,
            booking=schedule.BookingIn(
                visit="dosing",
                date=day,
                start=later,
                room_id=first.room_id,
                facilitator_ids=[shared, t.facilitator_ids[3]],
            ),
        )
        assert again.local_start[11:16] == first.local_end[11:16]
