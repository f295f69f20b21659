"""The audit trail: read (filtered, newest first) and verify."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from openpat.services import audit
from openpat.services.audit import AuditPage, AuditVerifyRead
from openpat.services.ids import Id, Seq
from openpat.web.deps import AuditReader, UowDep

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("")
def list_events(
    active: AuditReader,
    uow: UowDep,
    participant_id: Id | None = None,
    user_id: Id | None = None,
    before_seq: Seq | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditPage:
    return audit.list_events(
        uow=uow,
        principal=active.principal,
        participant_id=participant_id,
        user_id=user_id,
        before_seq=before_seq,
        limit=limit,
    )


@router.get("/verify")
def verify(active: AuditReader, uow: UowDep) -> AuditVerifyRead:
    return audit.verify(uow=uow, principal=active.principal)
