"""Background jobs: follow one's own, and (administrators) oversee, run again or cancel."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from openpat.services import jobs, messaging
from openpat.services.ids import Id
from openpat.services.jobs import JobRead
from openpat.services.messaging import MessageRead
from openpat.web.deps import Account, UowDep, UserManager

router = APIRouter(prefix="/jobs", tags=["jobs"])

Status = Literal["queued", "running", "succeeded", "failed", "cancelled"]


@router.get("")
def list_jobs(
    active: Account,
    uow: UowDep,
    status: Status | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[JobRead]:
    """Every job (administrators of the whole platform), their studies' jobs (a study's
    administrator), or else the jobs the user asked for; newest first."""
    return jobs.list_jobs(uow=uow, principal=active.principal, status=status, limit=limit)


@router.get("/{job_id}")
def get_job(job_id: Id, active: Account, uow: UowDep) -> JobRead:
    return jobs.get_job(uow=uow, principal=active.principal, job_id=job_id)


@router.post("/{job_id}/retry")
def retry_job(job_id: Id, active: UserManager, uow: UowDep) -> JobRead:
    """Run a failed or cancelled job again (administrators)."""
    found = jobs.retry_job(uow=uow, principal=active.principal, job_id=job_id)
    uow.commit()
    return found


@router.post("/{job_id}/cancel")
def cancel_job(job_id: Id, active: Account, uow: UowDep) -> JobRead:
    """Cancel a job that has not started."""
    found = jobs.cancel_job(uow=uow, principal=active.principal, job_id=job_id)
    uow.commit()
    return found


messages_router = APIRouter(prefix="/messages", tags=["jobs"])


@messages_router.get("")
def list_messages(
    active: UserManager, uow: UowDep, limit: Annotated[int, Query(ge=1, le=1000)] = 200
) -> list[MessageRead]:
    """The e-mail log, newest first: every e-mail sent, skipped (with the reason) or failed,
    with the recipient's address masked; never the body."""
    return messaging.list_messages(uow=uow, principal=active.principal, limit=limit)
