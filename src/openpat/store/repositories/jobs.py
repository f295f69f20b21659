"""Background jobs: adding, claiming (one worker only), progress and outcome.

Claiming and finishing are single UPDATE statements guarded by the row's status, so two
workers (threads, processes or machines) never run the same attempt of a job.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from openpat.store.models import Job

ACTIVE = ("queued", "running")


class JobRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, job: Job) -> Job:
        self.session.add(job)
        self.session.flush()
        return job

    def get(self, job_id: int) -> Job | None:
        return self.session.get(Job, job_id)

    def get_by_key(self, key: str) -> Job | None:
        return self.session.scalars(select(Job).where(Job.key == key)).first()

    def recent(
        self,
        *,
        study_ids: Collection[int] | None = None,
        requested_by: int | None = None,
        status: str | None = None,
        limit: int = 200,
    ) -> Sequence[Job]:
        """Newest first. ``study_ids`` None means every study (and jobs of none)."""
        stmt = select(Job).order_by(Job.id.desc()).limit(limit)
        if study_ids is not None:
            stmt = stmt.where(Job.study_id.in_(list(study_ids)))
        if requested_by is not None:
            stmt = stmt.where(Job.requested_by == requested_by)
        if status is not None:
            stmt = stmt.where(Job.status == status)
        return self.session.scalars(stmt).all()

    def counts(self) -> dict[tuple[str, str], int]:
        stmt = select(Job.kind, Job.status, func.count()).group_by(Job.kind, Job.status)
        return {(k, s): n for k, s, n in self.session.execute(stmt).tuples()}

    def due(self, now: dt.datetime, limit: int = 20) -> list[int]:
        stmt = (
            select(Job.id)
            .where(Job.status == "queued", Job.run_after <= now)
            .order_by(Job.run_after, Job.id)
            .limit(limit)
        )
        return list(self.session.scalars(stmt))

    def next_run_after(self) -> dt.datetime | None:
        stmt = select(func.min(Job.run_after)).where(Job.status == "queued")
        value = self.session.scalar(stmt)
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value

    def stalled(self, before: dt.datetime) -> list[int]:
        """Running jobs whose worker has given no sign of life since ``before``."""
        stmt = select(Job.id).where(Job.status == "running", Job.updated_at < before)
        return list(self.session.scalars(stmt))

    def claim(self, job_id: int, *, now: dt.datetime, worker: str) -> bool:
        """Start an attempt of a due, queued job; False if another worker has it (or it is
        not due, finished or cancelled)."""
        result = self.session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == "queued", Job.run_after <= now)
            .values(
                status="running",
                attempts=Job.attempts + 1,
                started_at=now,
                updated_at=now,
                worker=worker,
                error=None,
            )
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def set_progress(
        self, job_id: int, *, now: dt.datetime, fraction: float | None, note: str | None
    ) -> None:
        self.session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == "running")
            .values(progress=fraction, progress_note=note, updated_at=now)
            .execution_options(synchronize_session=False)
        )

    def finish(
        self,
        job_id: int,
        *,
        now: dt.datetime,
        status: str,
        result: str | None = None,
        error: str | None = None,
        run_after: dt.datetime | None = None,
        from_status: str = "running",
    ) -> bool:
        values: dict[str, object] = {"status": status, "updated_at": now, "error": error}
        if result is not None:
            values["result"] = result
        if status == "queued":
            values["run_after"] = run_after or now
        else:
            values["finished_at"] = now
        if status == "succeeded":
            values["progress"], values["progress_note"] = 1.0, "done"
        outcome = self.session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == from_status)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return bool(outcome.rowcount)  # type: ignore[attr-defined]
