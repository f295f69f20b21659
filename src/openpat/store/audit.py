"""The audit trail: field-level, hash-chained, written in the same transaction as the change.

Every flush of a session that touches an audited model appends one entry per changed field
(insert: new values; update: old and new; delete: old values) with who, when and why. Each
entry's ``hash`` is SHA-256 over its content and the previous entry's hash, so an edited,
deleted or reordered entry breaks the chain; the single ``audit_head`` row holds the last
hash, which also reveals entries cut from the end.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, inspect, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.attributes import get_history

from openpat.clock import SYSTEM
from openpat.errors import ConfigurationError, RuleViolation
from openpat.store.models import AuditEvent, AuditHead, Base, Participant

GENESIS_HASH = "0" * 64
REDACTED = "[changed]"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who makes the change: a user, or a named system process (``user_id`` None)."""

    name: str
    user_id: int | None = None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat(timespec="microseconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _canonical_at(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).replace(tzinfo=None).isoformat(timespec="microseconds")


def entry_hash(row: dict[str, Any], prev_hash: str) -> str:
    """SHA-256 over an entry's content and the previous hash (``seq`` is not hashed:
    order is carried by the chain itself, so a reordering shows as a broken link)."""
    content = {
        "at": _canonical_at(row["at"]),
        "actor_user_id": row["actor_user_id"],
        "actor": row["actor"],
        "action": row["action"],
        "table": row["table_name"],
        "record": row["record_id"],
        "field": row["field"],
        "old": row["old_value"],
        "new": row["new_value"],
        "reason": row["reason"],
        "study": row["study_id"],
        "participant": row["participant_id"],
        "sensitive": bool(row["sensitive"]),
        "prev": prev_hash,
    }
    blob = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _record_id(obj: Base) -> str:
    key = inspect(obj).mapper.primary_key_from_instance(obj)
    if any(part is None for part in key):  # pragma: no cover - after a flush every row has one
        raise ConfigurationError("audited row has no primary key after flush")
    return "/".join(str(part) for part in key)


def _changes(session: Session) -> Iterator[tuple[str, Base, str, str | None, str | None]]:
    """(action, object, field, old, new) for every audited change in this flush."""
    for obj in session.new:
        if not isinstance(obj, Base) or not obj.__audited__:
            continue
        mapper = inspect(obj).mapper
        for attr in mapper.column_attrs:
            value = getattr(obj, attr.key)
            if value is None:
                continue
            yield "insert", obj, attr.key, None, _text(value)
    for obj in session.dirty:
        if not isinstance(obj, Base) or not obj.__audited__ or not session.is_modified(obj):
            continue
        mapper = inspect(obj).mapper
        for attr in mapper.column_attrs:
            hist = get_history(obj, attr.key)
            if not hist.has_changes():
                continue
            old = hist.deleted[0] if hist.deleted else None
            new = hist.added[0] if hist.added else None
            if _text(old) == _text(new):
                continue
            yield "update", obj, attr.key, _text(old), _text(new)
    for obj in session.deleted:
        if not isinstance(obj, Base) or not obj.__audited__:
            continue
        mapper = inspect(obj).mapper
        for attr in mapper.column_attrs:
            hist = get_history(obj, attr.key)
            old = hist.deleted[0] if hist.deleted else getattr(obj, attr.key, None)
            if old is None and hist.unchanged:
                old = hist.unchanged[0]
            if old is None:
                continue
            yield "delete", obj, attr.key, _text(old), None


def _lock_head(connection: Connection) -> tuple[int, str]:
    """Lock the chain's head row (creating it on first use) and return (seq, hash)."""
    values = {"id": 1, "seq": 0, "hash": GENESIS_HASH}
    if connection.dialect.name == "postgresql":
        connection.execute(pg_insert(AuditHead).values(values).on_conflict_do_nothing())
    else:
        connection.execute(sqlite_insert(AuditHead).values(values).on_conflict_do_nothing())
    row = connection.execute(
        select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1).with_for_update()
    ).one()
    return int(row.seq), str(row.hash)


def append(connection: Connection, rows: Iterable[dict[str, Any]]) -> int:
    """Chain and insert audit rows (dicts of AuditEvent columns, without seq and hashes).

    Returns how many were written. Call inside the transaction of the change.
    """
    pending = list(rows)
    if not pending:
        return 0
    seq, prev = _lock_head(connection)
    for row in pending:
        seq += 1
        row["seq"] = seq
        row["prev_hash"] = prev
        row["hash"] = prev = entry_hash(row, prev)
    connection.execute(insert(AuditEvent), pending)
    connection.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=seq, hash=prev))
    return len(pending)


def event_row(
    *,
    actor: Actor,
    at: dt.datetime,
    action: str,
    table_name: str,
    record_id: str,
    reason: str,
    field: str | None = None,
    old_value: str | None = None,
    new_value: str | None = None,
    study_id: int | None = None,
    participant_id: int | None = None,
    sensitive: bool = False,
) -> dict[str, Any]:
    return {
        "at": at,
        "actor_user_id": actor.user_id,
        "actor": actor.name,
        "action": action,
        "table_name": table_name,
        "record_id": record_id,
        "field": field,
        "old_value": old_value,
        "new_value": new_value,
        "reason": reason,
        "study_id": study_id,
        "participant_id": participant_id,
        "sensitive": sensitive,
    }


def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    needs_reason = any(
        isinstance(obj, Base) and obj.__audited__
        for obj in (*session.deleted, *(o for o in session.dirty if session.is_modified(o)))
    )
    if needs_reason and not session.info.get("reason"):
        raise RuleViolation(
            "reason: a change to study data needs a reason for the audit trail "
            "(e.g. 'data entry correction', 'participant request')"
        )


def _after_flush(session: Session, _context: Any) -> None:
    changes = list(_changes(session))
    if not changes:
        return
    actor = session.info.get("actor")
    if not isinstance(actor, Actor):
        raise ConfigurationError("a change to study data was flushed without an actor")
    clock = session.info.get("clock")
    now = clock() if callable(clock) else SYSTEM.now()
    reason = session.info.get("reason")
    rows = []
    for action, obj, field, old, new in changes:
        if field in obj.__audit_redacted__:
            old = REDACTED if old is not None else None
            new = REDACTED if new is not None else None
        rows.append(
            event_row(
                actor=actor,
                at=now,
                action=action,
                table_name=obj.__tablename__,
                record_id=_record_id(obj),
                field=field,
                old_value=old,
                new_value=new,
                reason=reason or ("created" if action == "insert" else ""),
                study_id=obj.audit_study_id(),
                participant_id=obj.audit_participant_id(),
                sensitive=obj.__audit_sensitive__,
            )
        )
    _fill_study_ids(session, rows)
    append(session.connection(), rows)


def _fill_study_ids(session: Session, rows: list[dict[str, Any]]) -> None:
    """Rows about a participant's satellite records (identity, ...) get the participant's
    study, so study-scoped readers (monitors) see them."""
    wanted = {r["participant_id"] for r in rows if r["study_id"] is None and r["participant_id"]}
    if not wanted:
        return
    result = session.connection().execute(
        select(Participant.id, Participant.study_id).where(Participant.id.in_(wanted))
    )
    found: dict[int, int] = {int(pid): int(study_id) for pid, study_id in result}
    for row in rows:
        if row["study_id"] is None and row["participant_id"] in found:
            row["study_id"] = found[row["participant_id"]]


def install_audit_hooks(factory: sessionmaker[Session]) -> None:
    from sqlalchemy import event

    event.listen(factory, "before_flush", _before_flush)
    event.listen(factory, "after_flush", _after_flush)


# -- verification -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChainProblem:
    """The first place where the chain does not hold, and what that means."""

    seq: int
    kind: str  # "edited" | "deleted" | "reordered" | "truncated"
    message: str


@dataclass(frozen=True, slots=True)
class VerifyResult:
    entries_checked: int
    last_seq: int
    problem: ChainProblem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def _row_dict(event: AuditEvent) -> dict[str, Any]:
    return {c.key: getattr(event, c.key) for c in inspect(AuditEvent).column_attrs}


def verify_chain(session: Session, *, batch_size: int = 5000) -> VerifyResult:
    """Walk the whole chain in ``seq`` order and report the first broken entry."""
    prev_hash = GENESIS_HASH
    expected_seq = 1
    checked = 0
    last_seq = 0
    stmt = select(AuditEvent).order_by(AuditEvent.seq).execution_options(yield_per=batch_size)
    for event in session.scalars(stmt):
        row = _row_dict(event)
        if event.seq != expected_seq:
            missing = (
                f"entry {expected_seq}"
                if event.seq == expected_seq + 1
                else f"entries {expected_seq}-{event.seq - 1}"
            )
            return VerifyResult(
                checked,
                last_seq,
                ChainProblem(expected_seq, "deleted", f"{missing} missing: deleted from the trail"),
            )
        if entry_hash(row, event.prev_hash) != event.hash:
            return VerifyResult(
                checked,
                last_seq,
                ChainProblem(
                    event.seq,
                    "edited",
                    f"entry {event.seq} ({event.table_name} {event.record_id} "
                    f"{event.field or event.action}) was edited after it was written",
                ),
            )
        if event.prev_hash != prev_hash:
            return VerifyResult(
                checked,
                last_seq,
                ChainProblem(
                    event.seq,
                    "reordered",
                    f"entry {event.seq} is out of order: it does not follow entry "
                    f"{event.seq - 1} (entries were reordered, or one before it was removed "
                    "and the rest renumbered)",
                ),
            )
        prev_hash = event.hash
        last_seq = event.seq
        expected_seq += 1
        checked += 1
    head = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).first()
    if head is not None and (head.seq != last_seq or head.hash != prev_hash):
        return VerifyResult(
            checked,
            last_seq,
            ChainProblem(
                last_seq + 1,
                "truncated",
                f"the trail ends at entry {last_seq} but entry {head.seq} was written: "
                f"entries {last_seq + 1}-{head.seq} were deleted",
            ),
        )
    return VerifyResult(checked, last_seq, None)
