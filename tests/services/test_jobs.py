"""Background jobs (issue 17, point 3): queued in the asking transaction, run once per attempt,
retried with back-off, idempotent, audited under the user who asked, visible with progress."""

from __future__ import annotations

import datetime as dt
import json
import threading
from typing import Any

import pytest
from sqlalchemy import select, text

from openpat.errors import PermissionDenied
from openpat.security import Principal
from openpat.services import jobs, studies
from openpat.services.runtime import Actor, Platform
from openpat.services.worker import LocalWorker, tick
from openpat.store.models import AuditEvent, Job, Notification, RoomBooking
from tests.conftest import TEST_NOW, ManualClock


@pytest.fixture
def clock(platform: Platform) -> ManualClock:
    manual = ManualClock(TEST_NOW)
    platform.clock = manual  # type: ignore[assignment]
    return manual


def _job(platform: Platform, job_id: int) -> Job:
    with platform.uow(actor=Actor("t"), read_only=True) as uow:
        found = uow.jobs.get(job_id)
        assert found is not None
        uow.session.expunge(found)
        return found


class Flaky:
    """A job kind that fails ``failures`` times, then succeeds; counts its runs."""

    def __init__(self, failures: int, error: type[Exception] = RuntimeError) -> None:
        self.failures = failures
        self.error = error
        self.runs = 0

    def __call__(self, ctx: jobs.JobContext) -> dict[str, Any]:
        self.runs += 1
        ctx.progress(0.5, f"run {self.runs}")
        if self.runs <= self.failures:
            raise self.error(f"failure {self.runs}")
        return {"runs": self.runs}


@pytest.fixture
def flaky_kind() -> Any:
    made: list[str] = []

    def make(failures: int, *, error: type[Exception] = RuntimeError, attempts: int = 5) -> Flaky:
        run = Flaky(failures, error)
        name = f"test.flaky{len(made)}"
        jobs.register(jobs.JobKind(name, "A flaky test job", run, max_attempts=attempts))
        made.append(name)
        run.kind = name  # type: ignore[attr-defined]
        return run

    yield make
    for name in made:
        jobs.KINDS.pop(name, None)


def _enqueue(platform: Platform, kind: str, **kw: Any) -> int:
    with platform.uow(actor=Actor("t")) as uow:
        job = jobs.enqueue(uow, kind=kind, **kw)
        uow.commit()
        return job.id


def test_retried_with_back_off_then_succeeds(
    platform: Platform, clock: ManualClock, flaky_kind: Any
) -> None:
    run = flaky_kind(2)
    job_id = _enqueue(platform, run.kind)
    worker = LocalWorker(platform)
    assert worker.run_due() == 1
    first = _job(platform, job_id)
    assert (first.status, first.attempts, first.error) == ("queued", 1, "RuntimeError: failure 1")
    assert first.run_after == TEST_NOW + dt.timedelta(seconds=30)
    # not due yet: nothing runs
    clock.at += dt.timedelta(seconds=29)
    assert worker.run_due() == 0 and run.runs == 1
    clock.at += dt.timedelta(seconds=1)
    assert worker.run_due() == 1
    second = _job(platform, job_id)
    assert second.attempts == 2 and second.run_after == clock.at + dt.timedelta(seconds=60)
    clock.at += dt.timedelta(seconds=60)
    assert worker.run_due() == 1
    done = _job(platform, job_id)
    assert (done.status, done.attempts, done.progress, done.error) == ("succeeded", 3, 1.0, None)
    assert json.loads(done.result or "") == {"runs": 3}
    assert jobs.backoff_s(1) == 30 and jobs.backoff_s(4) == 240 and jobs.backoff_s(20) == 3600


def test_gives_up_after_its_attempts_and_at_once_when_retrying_cannot_help(
    platform: Platform, clock: ManualClock, flaky_kind: Any
) -> None:
    always = flaky_kind(99, attempts=2)
    job_id = _enqueue(platform, always.kind)
    worker = LocalWorker(platform)
    worker.run_due()
    clock.at += dt.timedelta(seconds=30)
    worker.run_due()
    failed = _job(platform, job_id)
    assert (failed.status, failed.attempts, always.runs) == ("failed", 2, 2)
    assert failed.error == "RuntimeError: failure 2" and failed.finished_at == clock.at
    refused = flaky_kind(99, error=PermissionDenied)
    other = _enqueue(platform, refused.kind)
    worker.run_due()
    assert (_job(platform, other).status, refused.runs) == ("failed", 1)
    # an administrator runs the first one again: fresh attempts, queued now
    with platform.uow(actor=Actor("t")) as uow:
        read = jobs.retry_job(uow=uow, principal=Principal.system("t"), job_id=job_id)
        uow.commit()
    assert (read.status, read.attempts) == ("queued", 0)


def test_one_attempt_runs_once_however_many_workers_race(
    platform: Platform, clock: ManualClock, flaky_kind: Any
) -> None:
    run = flaky_kind(0)
    job_id = _enqueue(platform, run.kind)
    outcomes: list[str] = []

    def go() -> None:
        outcomes.append(jobs.run_job(platform, job_id, worker=threading.current_thread().name))

    threads = [threading.Thread(target=go) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["skipped", "skipped", "skipped", "succeeded"]
    assert run.runs == 1


def test_a_key_queues_one_job_and_a_rolled_back_request_queues_none(
    platform: Platform, clock: ManualClock, flaky_kind: Any
) -> None:
    run = flaky_kind(0)
    first = _enqueue(platform, run.kind, key="nightly:2026-12-04")
    assert _enqueue(platform, run.kind, key="nightly:2026-12-04") == first
    woken: list[int] = []
    platform.job_waker = lambda job_id, _when: woken.append(job_id)
    with platform.uow(actor=Actor("t")) as uow:
        jobs.enqueue(uow, kind=run.kind)
        uow.rollback()
    assert woken == []
    with platform.uow(actor=Actor("t"), read_only=True) as uow:
        assert [j.id for j in uow.jobs.recent()] == [first]
    second = _enqueue(platform, run.kind)
    assert woken == [second]


def test_a_stalled_job_goes_back_to_the_queue(
    platform: Platform, clock: ManualClock, flaky_kind: Any
) -> None:
    run = flaky_kind(0)
    job_id = _enqueue(platform, run.kind)
    with platform.uow(actor=Actor("t")) as uow:
        assert uow.jobs.claim(job_id, now=clock.at, worker="killed")
        uow.commit()
    clock.at += jobs.STALLED_AFTER - dt.timedelta(seconds=1)
    assert jobs.requeue_stalled(platform) == 0
    clock.at += dt.timedelta(seconds=2)
    assert jobs.requeue_stalled(platform) == 1
    assert LocalWorker(platform).run_due() == 1
    done = _job(platform, job_id)
    assert (done.status, done.attempts) == ("succeeded", 2)


def test_planning_job_books_as_the_user_who_asked_and_is_audited(
    demo_platform: Platform, clock: ManualClock
) -> None:
    platform = demo_platform
    with platform.uow(actor=Actor("t")) as uow:
        coordinator = uow.users.get_by_username("coordinator")
        assert coordinator is not None
        from openpat.services.auth import principal_of

        principal = principal_of(uow.users.get_with_memberships(coordinator.id))  # type: ignore[arg-type]
        study = uow.studies.get_by_code("DMT-MDD-DEMO")
        assert study is not None
        study_id = study.id
        start = studies.today_at_site("Europe/London", clock.at) + dt.timedelta(days=1)
        read = jobs.queue_plan(
            uow=uow,
            principal=principal,
            study_id=study_id,
            start=start,
            weeks=26,
            time_limit_s=5,
        )
        uow.commit()
    assert (read.status, read.label, read.requested_by) == (
        "queued",
        "Plan the calendar",
        "coordinator",
    )
    assert LocalWorker(platform).run_due() == 1
    done = _job(platform, read.id)
    assert done.status == "succeeded", done.error
    summary = json.loads(done.result or "")
    assert summary["booked"] > 0 and summary["saved"] is True
    with platform.uow(actor=Actor("t"), read_only=True) as uow:
        events = uow.session.scalars(
            select(AuditEvent).where(
                AuditEvent.table_name == "bookings",
                AuditEvent.actor == f"job {read.id} (schedule.plan)",
            )
        ).all()
        assert len({e.record_id for e in events}) == summary["booked"]
        assert all(e.actor_user_id == coordinator.id for e in events)
        assert all(f"(job {read.id})" in e.reason for e in events)
        rows = uow.session.scalars(
            select(RoomBooking).where(RoomBooking.id.in_([int(e.record_id) for e in events]))
        ).all()
        assert {r.source for r in rows} == {"planner"} and len(rows) == summary["booked"]
    # the same plan again books nothing twice
    again = _enqueue(
        platform,
        "schedule.plan",
        args={"study_id": study_id, "start": start.isoformat(), "weeks": 26, "time_limit_s": 5},
        study_id=study_id,
        requested_by=coordinator.id,
    )
    LocalWorker(platform).run_due()
    assert json.loads(_job(platform, again).result or "")["booked"] == 0


def test_planning_job_fails_when_the_user_lost_the_right(
    demo_platform: Platform, clock: ManualClock
) -> None:
    platform = demo_platform
    with platform.uow(actor=Actor("t"), read_only=True) as uow:
        rater = uow.users.get_by_username("rater")
        study = uow.studies.get_by_code("DMT-MDD-DEMO")
        assert rater is not None and study is not None
        study_id, rater_id = study.id, rater.id
    job_id = _enqueue(
        platform,
        "schedule.plan",
        args={"study_id": study_id, "start": "2026-12-07", "weeks": 4},
        study_id=study_id,
        requested_by=rater_id,
    )
    LocalWorker(platform).run_due()
    failed = _job(platform, job_id)
    assert failed.status == "failed" and failed.attempts == 1
    assert "planning the calendar" in (failed.error or "")


def test_nightly_audit_check_keeps_checkpoints_and_reports_a_broken_trail(
    demo_platform: Platform, clock: ManualClock
) -> None:
    platform = demo_platform
    clock.at = dt.datetime(2026, 12, 5, 1, 59, tzinfo=dt.UTC)
    tick(platform)
    with platform.uow(actor=Actor("t"), read_only=True) as uow:
        assert list(uow.jobs.recent()) == []
    clock.at = dt.datetime(2026, 12, 5, 2, 0, tzinfo=dt.UTC)
    tick(platform)
    tick(platform)  # once a night, however many ticks
    with platform.uow(actor=Actor("t"), read_only=True) as uow:
        nightly = [(j.id, j.key) for j in uow.jobs.recent()]
    assert [key for _id, key in nightly] == ["audit.verify:2026-12-05"]
    LocalWorker(platform).run_due()
    first = _job(platform, nightly[0][0])
    assert first.status == "succeeded", first.error
    result = json.loads(first.result or "")
    assert result["ok"] is True and result["entries_checked"] > 100
    lines = jobs.checkpoint_file(platform).read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["seq"] == result["checkpoint_seq"]
    # the next night checks against last night's checkpoint; someone edits an entry first
    with platform.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET new_value = 'forged' WHERE seq = :s"), {"s": 5})
    clock.at = dt.datetime(2026, 12, 6, 2, 5, tzinfo=dt.UTC)
    tick(platform)
    LocalWorker(platform).run_due()
    with platform.uow(actor=Actor("t"), read_only=True) as uow:
        second = uow.jobs.get_by_key("audit.verify:2026-12-06")
        assert second is not None
        assert (second.status, second.attempts) == ("failed", 1)
        assert "edited" in (second.error or "") or "entry 5" in (second.error or "")
        told = uow.session.scalars(
            select(Notification).where(Notification.kind == "audit_check_failed")
        ).all()
        assert told and all("audit-trail check failed" in n.message for n in told)
    assert len(jobs.checkpoint_file(platform).read_text().splitlines()) == 1


def test_on_postgresql_procrastinate_delivers_the_job(
    platform: Platform, backend: str, flaky_kind: Any
) -> None:
    if backend != "postgres":
        pytest.skip("procrastinate runs on PostgreSQL")
    from openpat.services import worker

    with platform.engine.begin() as conn:
        conn.execute(text("TRUNCATE procrastinate_jobs RESTART IDENTITY CASCADE"))
    dispatcher = worker.install_dispatcher(platform)
    assert dispatcher is not None
    run = flaky_kind(1)
    try:
        job_id = _enqueue(platform, run.kind)
        with platform.engine.connect() as conn:
            queued = conn.execute(
                text("SELECT args->>'job_id', status FROM procrastinate_jobs")
            ).all()
        assert queued == [(str(job_id), "todo")]
        app = worker.make_app(platform)
        # in a thread of its own, as `openpat worker` is a process of its own (and the suite's
        # main thread may hold a running event loop, e.g. Playwright's)
        runner = threading.Thread(
            target=app.run_worker,
            kwargs={"queues": [worker.TASK_QUEUE], "wait": False, "install_signal_handlers": False},
        )
        runner.start()
        runner.join(60)
        assert not runner.is_alive()
        # the first attempt failed and was deferred again for 30 s from now: not yet run
        retried = _job(platform, job_id)
        assert (retried.status, retried.attempts, run.runs) == ("queued", 1, 1)
        with platform.engine.connect() as conn:
            later = conn.execute(
                text(
                    "SELECT scheduled_at FROM procrastinate_jobs "
                    "WHERE status = 'todo' AND args->>'job_id' = :j"
                ),
                {"j": str(job_id)},
            ).scalar_one()
        with platform.engine.connect() as conn:
            db_now = conn.execute(text("SELECT now()")).scalar_one()
        assert 29 <= (later - db_now).total_seconds() <= 32
    finally:
        dispatcher.close()
        platform.job_waker = None
