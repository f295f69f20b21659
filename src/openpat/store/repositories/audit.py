"""Reading the audit trail."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from openpat.store.audit import (
    Actor,
    Checkpoint,
    VerifyResult,
    append,
    event_row,
    head_checkpoint,
    session_keys,
    verify_chain,
)
from openpat.store.db import READ_ONLY_OPTION, ReadOnlyViolation
from openpat.store.models import AuditEvent


class AuditRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def list(
        self,
        *,
        participant_id: int | None = None,
        actor_user_id: int | None = None,
        study_ids: Sequence[int] | None = None,
        before_seq: int | None = None,
        limit: int = 100,
    ) -> Sequence[AuditEvent]:
        stmt = select(AuditEvent)
        if participant_id is not None:
            stmt = stmt.where(AuditEvent.participant_id == participant_id)
        if actor_user_id is not None:
            stmt = stmt.where(AuditEvent.actor_user_id == actor_user_id)
        if study_ids is not None:
            stmt = stmt.where(AuditEvent.study_id.in_(list(study_ids)))
        if before_seq is not None:
            stmt = stmt.where(AuditEvent.seq < before_seq)
        stmt = stmt.order_by(AuditEvent.seq.desc()).limit(limit)
        return self.session.scalars(stmt).all()

    def inserts(self, table_name: str, record_ids: Sequence[str]) -> dict[str, AuditEvent]:
        """The entry that recorded each record's insertion (its first field), by record id."""
        if not record_ids:
            return {}
        stmt = (
            select(AuditEvent)
            .where(
                AuditEvent.table_name == table_name,
                AuditEvent.action == "insert",
                AuditEvent.record_id.in_(list(record_ids)),
            )
            .order_by(AuditEvent.seq)
        )
        found: dict[str, AuditEvent] = {}
        for event in self.session.scalars(stmt):
            found.setdefault(event.record_id, event)
        return found

    def _writable(self, action: str) -> None:
        if self.session.info.get(READ_ONLY_OPTION):
            raise ReadOnlyViolation(
                f"a read-only transaction tried to record {action!r} in the audit trail; "
                "a route whose reads are audited takes a writing unit of work"
            )

    def record_security_event(
        self,
        *,
        actor: Actor,
        action: str,
        username: str,
        reason: str,
        at: dt.datetime,
    ) -> None:
        """Append a login, logout or refused login (not a data change)."""
        self.record_event(
            actor=actor,
            action=action,
            table_name="users",
            record_id=username,
            reason=reason,
            at=at,
        )

    def record_event(
        self,
        *,
        actor: Actor,
        action: str,
        table_name: str,
        record_id: str,
        reason: str,
        at: dt.datetime,
        study_id: int | None = None,
        participant_id: int | None = None,
    ) -> None:
        """Append an event that changes no row (an export, an emergency unblinding)."""
        self._writable(action)
        append(
            self.session.connection(),
            [
                event_row(
                    actor=actor,
                    at=at,
                    action=action,
                    table_name=table_name,
                    record_id=record_id,
                    reason=reason,
                    study_id=study_id,
                    participant_id=participant_id,
                )
            ],
            session_keys(self.session),
        )

    def verify(self, checkpoints: Sequence[Checkpoint] = ()) -> VerifyResult:
        return verify_chain(self.session, checkpoints=checkpoints)

    def checkpoint(self) -> Checkpoint:
        return head_checkpoint(self.session)
