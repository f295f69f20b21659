"""Reading and verifying the audit trail."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel

from openpat.errors import FieldProblem, PermissionDenied
from openpat.security import Permission, Principal
from openpat.services.ids import parse_id
from openpat.store.audit import Checkpoint, VerifyResult
from openpat.store.uow import UnitOfWork

MASK = "•••• (identity: restricted)"


class AuditEventRead(BaseModel):
    seq: int
    at: dt.datetime
    actor: str
    actor_user_id: int | None
    action: str
    table_name: str
    record_id: str
    field: str | None
    old_value: str | None
    new_value: str | None
    reason: str
    study_id: int | None
    participant_id: int | None
    masked: bool


class AuditPage(BaseModel):
    items: list[AuditEventRead]
    next_before_seq: int | None


class AuditVerifyRead(BaseModel):
    ok: bool
    entries_checked: int
    checkpoints_checked: int = 0
    last_seq: int
    problem_seq: int | None = None
    problem_kind: str | None = None
    message: str


def list_events(
    *,
    uow: UnitOfWork,
    principal: Principal,
    participant_id: int | None = None,
    user_id: int | None = None,
    before_seq: int | None = None,
    limit: int = 100,
) -> AuditPage:
    """Newest first. Identity values are masked unless the reader has identity access."""
    if not principal.has(Permission.AUDIT_READ):
        raise PermissionDenied("reading the audit trail needs the administrator or monitor role")
    study_ids = principal.study_ids(Permission.AUDIT_READ)
    events = uow.audit.list(
        participant_id=participant_id,
        actor_user_id=user_id,
        study_ids=sorted(study_ids) if study_ids is not None else None,
        before_seq=before_seq,
        limit=limit + 1,
    )
    items = []
    for e in events[:limit]:
        masked = e.sensitive and not principal.can(Permission.IDENTITY_READ, study_id=e.study_id)
        items.append(
            AuditEventRead(
                seq=e.seq,
                at=e.at,
                actor=e.actor,
                actor_user_id=e.actor_user_id,
                action=e.action,
                table_name=e.table_name,
                record_id=e.record_id,
                field=e.field,
                old_value=MASK if masked and e.old_value is not None else e.old_value,
                new_value=MASK if masked and e.new_value is not None else e.new_value,
                reason=e.reason,
                study_id=e.study_id,
                participant_id=e.participant_id,
                masked=masked,
            )
        )
    next_before = items[-1].seq if len(events) > limit else None
    return AuditPage(items=items, next_before_seq=next_before)


def _verify_read(result: VerifyResult) -> AuditVerifyRead:
    if result.problem is None:
        held = (
            f"; it extends {result.checkpoints_checked} checkpoint(s)"
            if result.checkpoints_checked
            else ""
        )
        return AuditVerifyRead(
            ok=True,
            entries_checked=result.entries_checked,
            checkpoints_checked=result.checkpoints_checked,
            last_seq=result.last_seq,
            message=f"the audit trail is intact: {result.entries_checked} entries verified{held}",
        )
    return AuditVerifyRead(
        ok=False,
        entries_checked=result.entries_checked,
        last_seq=result.last_seq,
        problem_seq=result.problem.seq,
        problem_kind=result.problem.kind,
        message=result.problem.message,
    )


def verify(
    *, uow: UnitOfWork, principal: Principal, checkpoints: list[Checkpoint] | None = None
) -> AuditVerifyRead:
    """Check every entry's keyed hash and link, and that the trail still holds each
    checkpoint taken earlier (kept outside the database)."""
    if not principal.has(Permission.AUDIT_READ):
        raise PermissionDenied("verifying the audit trail needs the administrator or monitor role")
    return _verify_read(uow.audit.verify(checkpoints or []))


def checkpoint(*, uow: UnitOfWork, principal: Principal) -> Checkpoint:
    """The trail's head now (sequence number, hash, time): keep it outside the database."""
    if not principal.has(Permission.AUDIT_READ):
        raise PermissionDenied(
            "a checkpoint of the audit trail needs the administrator or monitor role"
        )
    return uow.audit.checkpoint()


def resolve_filter(
    *, uow: UnitOfWork, principal: Principal, participant: str | None, user: str | None
) -> tuple[int | None, int | None, list[FieldProblem]]:
    """Read the audit page's filters as people type them: a participant by code (RCR-0001)
    or id, a user by username or id. Returns (participant_id, user_id, problems)."""
    problems: list[FieldProblem] = []
    participant_id = user_id = None
    text = (participant or "").strip()
    if text:
        if text.isdecimal():
            participant_id = parse_id(text)
        else:
            ids = principal.study_ids(Permission.AUDIT_READ)
            for study in uow.studies.list(ids):
                found = uow.participants.get_by_code(study.id, text.upper())
                if found is not None:
                    participant_id = found.id
                    break
        if participant_id is None:
            what = f"with id {text}" if text.isdecimal() else f"with code {text!r}"
            problems.append(FieldProblem("participant", f"no participant {what}"))
    text = (user or "").strip()
    if text:
        if text.isdecimal():
            user_id = parse_id(text)
        else:
            found_user = uow.users.get_by_username(text)
            user_id = found_user.id if found_user else None
        if user_id is None:
            what = f"with id {text}" if text.isdecimal() else f"called {text!r}"
            problems.append(FieldProblem("user", f"no user {what}"))
    return participant_id, user_id, problems
