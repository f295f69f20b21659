"""Background jobs: long work that should not run inside a request.

A job is a row in the ``jobs`` table (kind, arguments, status, attempts, progress, outcome),
written in the same transaction as the change that asks for it, so a job exists exactly when
that change committed. Workers run it (see :mod:`openpat.services.worker`): on PostgreSQL
procrastinate delivers it to one of any number of ``openpat worker`` processes; on SQLite an
in-process worker inside ``openpat serve`` (or ``openpat worker``) runs it. Either way
:func:`run_job` does the work, so both behave the same:

- **One attempt at a time.** An attempt starts by an UPDATE guarded by the row's status, so two
  workers never run the same job at once.
- **Retried with back-off.** A failed attempt is queued again after 30 s, 1, 2, 4 ... minutes
  (at most an hour) until ``max_attempts``; an error that another attempt cannot mend (no
  permission, invalid arguments, a record gone) fails at once.
- **Idempotent.** Each kind's work may safely run twice: planning books only visits still
  unbooked, the audit check only reads, a reminder is sent once per key.
- **Audited.** Clinical changes a job makes are written to the audit trail under the user who
  asked for it, with the job's number in the reason.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from openpat.errors import InvalidInput, NotFound, OpenPatError, PermissionDenied
from openpat.security import Permission, Principal
from openpat.services.runtime import Platform
from openpat.store.audit import Actor
from openpat.store.models import Job
from openpat.store.uow import UnitOfWork

logger = logging.getLogger(__name__)

STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
BACKOFF_FIRST_S = 30
BACKOFF_MAX_S = 3600
# A running job whose worker has shown no sign of life for this long is given back to the
# queue (its worker was killed); progress reports count as signs of life.
STALLED_AFTER = dt.timedelta(minutes=15)


def backoff_s(attempts: int) -> int:
    """Seconds to wait before the next attempt, after ``attempts`` failed ones."""
    return int(min(BACKOFF_FIRST_S * 2 ** max(attempts - 1, 0), BACKOFF_MAX_S))


class RetryLater(Exception):
    """Raised by a job that could not do its work now but may later (e.g. SMTP is down)."""


class AuditTrailBroken(OpenPatError):
    """The audit trail did not verify: retrying does not mend it, an administrator must."""


# Errors that another attempt cannot mend: the job fails at once and says why.
PERMANENT = (PermissionDenied, InvalidInput, NotFound, AuditTrailBroken)


@dataclasses.dataclass(frozen=True)
class JobKind:
    name: str
    label: str
    run: Callable[[JobContext], dict[str, Any]]
    max_attempts: int = 5


KINDS: dict[str, JobKind] = {}


def register(kind: JobKind) -> JobKind:
    KINDS[kind.name] = kind
    return kind


# What this process's workers have done, by (kind, outcome), for /metrics.
RUNS: Counter[tuple[str, str]] = Counter()
RUNS_LOCK = threading.Lock()


@dataclasses.dataclass
class JobContext:
    """What a running job is given: its arguments, who asked, and a way to report progress."""

    platform: Platform
    job_id: int
    kind: str
    args: dict[str, Any]
    study_id: int | None
    requested_by: int | None
    attempt: int

    def now(self) -> dt.datetime:
        return self.platform.clock.now()

    def principal(self) -> Principal:
        """The requesting user as they are now (a role removed since stops the job); a job
        that no user asked for runs as the system."""
        if self.requested_by is None:
            return Principal.system(f"job {self.job_id}")
        from openpat.services.auth import principal_of

        with self.platform.uow(actor=self.actor(), read_only=True) as uow:
            user = uow.users.get_with_memberships(self.requested_by)
            if user is None or not user.is_active:
                raise PermissionDenied("the user who asked for this job no longer has an account")
            return principal_of(user)

    def actor(self) -> Actor:
        name = f"job {self.job_id} ({self.kind})"
        return Actor(name=name, user_id=self.requested_by)

    @contextmanager
    def uow(self, *, read_only: bool = False, reason: str | None = None) -> Iterator[UnitOfWork]:
        with self.platform.uow(actor=self.actor(), reason=reason, read_only=read_only) as uow:
            yield uow

    def progress(self, fraction: float | None, note: str | None = None) -> None:
        """Say how far the job has got (0 to 1), in a short transaction of its own. Never call
        it while holding a write unit of work (on SQLite that would wait for itself)."""
        if fraction is not None:
            fraction = max(0.0, min(1.0, float(fraction)))
        with self.platform.uow(actor=Actor(name="jobs")) as uow:
            uow.jobs.set_progress(
                self.job_id, now=self.now(), fraction=fraction, note=(note or None) and note[:300]
            )
            uow.commit()


# -- asking for a job --------------------------------------------------------------------------


def enqueue(
    uow: UnitOfWork,
    *,
    kind: str,
    args: Mapping[str, Any] | None = None,
    study_id: int | None = None,
    requested_by: int | None = None,
    key: str | None = None,
    run_after: dt.datetime | None = None,
) -> Job:
    """Queue a job in the caller's transaction; a worker is woken once it commits. With a
    ``key``, a job already queued under it is returned instead of a second one."""
    spec = KINDS.get(kind)
    if spec is None:
        raise InvalidInput.for_field("kind", f"there is no job kind {kind!r}")
    if key is not None:
        existing = uow.jobs.get_by_key(key)
        if existing is not None:
            return existing
    now = uow.now()
    job = uow.jobs.add(
        Job(
            kind=kind,
            args=json.dumps(dict(args or {}), sort_keys=True, default=str),
            key=key,
            status="queued",
            attempts=0,
            max_attempts=spec.max_attempts,
            run_after=run_after or now,
            study_id=study_id,
            requested_by=requested_by,
            created_at=now,
            updated_at=now,
        )
    )
    uow.wake_jobs(job.id, job.run_after)
    return job


# -- reading and managing jobs -----------------------------------------------------------------


class JobRead(BaseModel):
    id: int
    kind: str
    label: str
    status: str
    attempts: int
    max_attempts: int
    progress: float | None
    progress_note: str | None
    result: dict[str, Any] | None
    error: str | None
    study_id: int | None
    requested_by: str | None
    created_at: dt.datetime
    run_after: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


def _read(job: Job, usernames: Mapping[int, str]) -> JobRead:
    spec = KINDS.get(job.kind)
    return JobRead(
        id=job.id,
        kind=job.kind,
        label=spec.label if spec else job.kind,
        status=job.status,
        attempts=job.attempts,
        max_attempts=job.max_attempts,
        progress=job.progress,
        progress_note=job.progress_note,
        result=json.loads(job.result) if job.result else None,
        error=job.error,
        study_id=job.study_id,
        requested_by=usernames.get(job.requested_by) if job.requested_by else None,
        created_at=job.created_at,
        run_after=job.run_after,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


def _usernames(uow: UnitOfWork, jobs: list[Job]) -> dict[int, str]:
    ids = {j.requested_by for j in jobs if j.requested_by is not None}
    return {uid: u.username for uid in ids if (u := uow.users.get(uid)) is not None}


def _may_see(principal: Principal, job: Job) -> bool:
    if job.requested_by is not None and job.requested_by == principal.user_id:
        return True
    scope = principal.study_ids(Permission.USER_MANAGE)
    return scope is None or (job.study_id is not None and job.study_id in scope)


def list_jobs(
    *, uow: UnitOfWork, principal: Principal, status: str | None = None, limit: int = 200
) -> list[JobRead]:
    """Jobs an administrator oversees (every job, or their studies' jobs), or else the
    jobs the user asked for, newest first."""
    if status is not None and status not in STATUSES:
        raise InvalidInput.for_field("status", f"choose one of {', '.join(STATUSES)}")
    scope = principal.study_ids(Permission.USER_MANAGE)
    if principal.has(Permission.USER_MANAGE):
        rows = list(uow.jobs.recent(study_ids=scope, status=status, limit=limit))
    else:
        rows = list(uow.jobs.recent(requested_by=principal.user_id, status=status, limit=limit))
    return [_read(j, _usernames(uow, rows)) for j in rows]


def get_job(*, uow: UnitOfWork, principal: Principal, job_id: int) -> JobRead:
    job = uow.jobs.get(job_id)
    if job is None or not _may_see(principal, job):
        raise NotFound(f"there is no job {job_id} that you may see")
    return _read(job, _usernames(uow, [job]))


def retry_job(*, uow: UnitOfWork, principal: Principal, job_id: int) -> JobRead:
    """Queue a failed or cancelled job again, now, with a fresh set of attempts."""
    job = uow.jobs.get(job_id)
    if job is None or not _may_see(principal, job):
        raise NotFound(f"there is no job {job_id} that you may see")
    if not principal.has(Permission.USER_MANAGE):
        raise PermissionDenied("only an administrator may run a job again")
    if job.status not in ("failed", "cancelled"):
        raise InvalidInput.for_field(
            "status", f"job {job_id} is {job.status}; only a failed or cancelled job runs again"
        )
    now = uow.now()
    job.status, job.attempts, job.run_after, job.updated_at = "queued", 0, now, now
    job.finished_at = None
    uow.flush()
    uow.wake_jobs(job.id, now)
    return _read(job, _usernames(uow, [job]))


def cancel_job(*, uow: UnitOfWork, principal: Principal, job_id: int) -> JobRead:
    """Cancel a job that has not started (a running attempt is left to finish)."""
    job = uow.jobs.get(job_id)
    if job is None or not _may_see(principal, job):
        raise NotFound(f"there is no job {job_id} that you may see")
    if not uow.jobs.finish(job_id, now=uow.now(), status="cancelled", from_status="queued"):
        raise InvalidInput.for_field(
            "status", f"job {job_id} is {job.status}; only a queued job can be cancelled"
        )
    uow.session.refresh(job)
    return _read(job, _usernames(uow, [job]))


def counts(*, uow: UnitOfWork) -> dict[tuple[str, str], int]:
    """Jobs by (kind, status), for /metrics."""
    return uow.jobs.counts()


# -- running a job -----------------------------------------------------------------------------


def run_job(platform: Platform, job_id: int, *, worker: str) -> str:
    """Run one attempt of a job if it is queued and due; returns its status afterwards, or
    ``"skipped"`` when another worker has it or it is not due."""
    now = platform.clock.now()
    with platform.uow(actor=Actor(name="jobs")) as uow:
        if not uow.jobs.claim(job_id, now=now, worker=worker):
            return "skipped"
        job = uow.jobs.get(job_id)
        assert job is not None
        ctx = JobContext(
            platform=platform,
            job_id=job.id,
            kind=job.kind,
            args=json.loads(job.args or "{}"),
            study_id=job.study_id,
            requested_by=job.requested_by,
            attempt=job.attempts,
        )
        max_attempts = job.max_attempts
        uow.commit()
    spec = KINDS.get(ctx.kind)
    try:
        if spec is None:
            raise InvalidInput.for_field("kind", f"this openpat has no job kind {ctx.kind!r}")
        result = spec.run(ctx)
    except Exception as exc:  # every failure is recorded on the job, none is lost
        permanent = isinstance(exc, PERMANENT)
        message = (
            str(exc)
            if isinstance(exc, OpenPatError | RetryLater)
            else (f"{type(exc).__name__}: {exc}")
        )
        if not isinstance(exc, OpenPatError | RetryLater):
            logger.exception("job %s (%s) failed", job_id, ctx.kind)
        retry = not permanent and ctx.attempt < max_attempts
        later = platform.clock.now() + dt.timedelta(seconds=backoff_s(ctx.attempt))
        with platform.uow(actor=Actor(name="jobs")) as uow:
            uow.jobs.finish(
                job_id,
                now=platform.clock.now(),
                status="queued" if retry else "failed",
                error=message,
                run_after=later if retry else None,
            )
            if retry:
                uow.wake_jobs(job_id, later)
            uow.commit()
        outcome = "retrying" if retry else "failed"
    else:
        with platform.uow(actor=Actor(name="jobs")) as uow:
            uow.jobs.finish(
                job_id,
                now=platform.clock.now(),
                status="succeeded",
                result=json.dumps(result, sort_keys=True, default=str),
            )
            uow.commit()
        outcome = "succeeded"
    with RUNS_LOCK:
        RUNS[(ctx.kind, outcome)] += 1
    return "queued" if outcome == "retrying" else outcome


def requeue_stalled(platform: Platform) -> int:
    """Give the queue back the running jobs whose worker died (no sign of life for
    :data:`STALLED_AFTER`); the attempt counts as failed. Returns how many."""
    now = platform.clock.now()
    with platform.uow(actor=Actor(name="jobs")) as uow:
        ids = uow.jobs.stalled(now - STALLED_AFTER)
        for job_id in ids:
            uow.jobs.finish(
                job_id,
                now=now,
                status="queued",
                error="the worker running it stopped without finishing; queued again",
                run_after=now,
            )
        uow.commit()
    return len(ids)


# -- the kinds ---------------------------------------------------------------------------------


def _plan(ctx: JobContext) -> dict[str, Any]:
    from openpat.services import schedule

    a = ctx.args
    principal = ctx.principal()
    study_id = int(a["study_id"])
    ctx.progress(0.0, "planning")

    def on_site(done: int, total: int) -> None:
        ctx.progress(0.9 * done / max(total, 1), f"planning site {done + 1} of {total}")

    # Plan in a read-only snapshot (no write lock is held while the solver works), then
    # book in one short transaction that checks every booking again.
    with ctx.uow(read_only=True) as snapshot:
        plan = schedule.compute_plan(
            uow=snapshot,
            principal=principal,
            study_id=study_id,
            start=dt.date.fromisoformat(a["start"]),
            weeks=int(a["weeks"]),
            time_limit_s=float(a.get("time_limit_s", 20.0)),
            on_site=on_site,
        )
    ctx.progress(0.9, f"booking {len(plan.bookings)} visits")
    with ctx.uow() as uow:
        summary = schedule.book_plan(
            uow=uow, principal=principal, plan=plan, reason_suffix=f" (job {ctx.job_id})"
        )
        uow.commit()
    return summary.model_dump(mode="json")


PLAN = register(JobKind("schedule.plan", "Plan the calendar", _plan, max_attempts=3))


def checkpoint_file(platform: Platform) -> Path:
    return platform.settings.data_dir / "audit-checkpoints.jsonl"


def _audit_verify(ctx: JobContext) -> dict[str, Any]:
    """Check the whole audit trail against the checkpoints of earlier nights (kept in a file
    outside the database), then add tonight's head to that file."""
    from openpat.services import audit
    from openpat.store.audit import Checkpoint

    path = checkpoint_file(ctx.platform)
    checkpoints = []
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                checkpoints.append(Checkpoint.from_json(json.loads(line)))
    ctx.progress(0.1, f"verifying against {len(checkpoints)} checkpoints")
    principal = Principal.system(f"job {ctx.job_id}")
    with ctx.uow(read_only=True) as uow:
        report = audit.verify(uow=uow, principal=principal, checkpoints=checkpoints)
        head = audit.checkpoint(uow=uow, principal=principal) if report.ok else None
    if not report.ok:
        _tell_admins(ctx, f"The nightly audit-trail check failed: {report.message}")
        raise AuditTrailBroken(report.message)
    assert head is not None
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(head.to_json(), sort_keys=True) + "\n")
    return {
        "ok": True,
        "entries_checked": report.entries_checked,
        "checkpoints_checked": report.checkpoints_checked,
        "checkpoint_seq": head.seq,
        "message": report.message,
    }


def _tell_admins(ctx: JobContext, message: str) -> None:
    from openpat.services import users

    with ctx.uow(reason=f"job {ctx.job_id}") as uow:
        users.notify_administrators(uow=uow, kind="audit_check_failed", message=message)
        uow.commit()


AUDIT_VERIFY = register(
    JobKind("audit.verify", "Nightly audit-trail check", _audit_verify, max_attempts=3)
)


def queue_nightly(uow: UnitOfWork, *, at_hour_utc: int) -> Job | None:
    """Queue tonight's audit check once (by its key, however many workers ask) when the hour
    has come; returns the job, or None before the hour."""
    now = uow.now()
    if now.hour < at_hour_utc:
        return None
    return enqueue(uow, kind=AUDIT_VERIFY.name, key=f"audit.verify:{now.date().isoformat()}")


def queue_plan(
    *,
    uow: UnitOfWork,
    principal: Principal,
    study_id: int,
    start: dt.date,
    weeks: int,
    time_limit_s: float = 20.0,
) -> JobRead:
    """Ask for the calendar to be planned in the background (checked now, as the user)."""
    from openpat.services import schedule

    schedule.check_may_plan(uow, principal, study_id)
    if not 1 <= weeks <= 104:
        raise InvalidInput.for_field("weeks", "plan between 1 and 104 weeks")
    job = enqueue(
        uow,
        kind=PLAN.name,
        args={
            "study_id": study_id,
            "start": start.isoformat(),
            "weeks": weeks,
            "time_limit_s": time_limit_s,
        },
        study_id=study_id,
        requested_by=principal.user_id or None,
    )
    return _read(job, _usernames(uow, [job]))


def _send(ctx: JobContext) -> dict[str, Any]:
    from openpat.services import messaging

    counts = messaging.send_queued(ctx.platform, messaging.mailer_for(ctx.platform.settings))
    if counts["failed"]:
        raise RetryLater(f"{counts['failed']} e-mail(s) could not be sent; trying again")
    return counts


SEND = register(JobKind("messages.send", "Send e-mail", _send, max_attempts=3))


def _reminders(ctx: JobContext) -> dict[str, Any]:
    """Queue the form e-mails and visit reminders now due, then send what is queued."""
    from openpat.services import messaging

    with ctx.uow(reason="reminders") as uow:
        queued = messaging.queue_due(uow)
        uow.commit()
    ctx.progress(0.2, f"{queued} queued")
    counts = messaging.send_queued(ctx.platform, messaging.mailer_for(ctx.platform.settings))
    if counts["failed"]:
        raise RetryLater(f"{counts['failed']} e-mail(s) could not be sent; trying again")
    return {"queued": queued, **counts}


REMINDERS = register(JobKind("reminders.sweep", "E-mail reminders", _reminders, max_attempts=3))


def queue_reminders(uow: UnitOfWork) -> Job:
    """Queue this hour's reminder sweep once (by its key, however many workers ask)."""
    now = uow.now()
    return enqueue(uow, kind=REMINDERS.name, key=f"reminders:{now:%Y-%m-%dT%H}")
