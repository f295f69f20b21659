"""The audit trail: field-level, keyed hash chain, written in the same transaction as the change.

Every flush of a session that touches an audited model appends one entry per changed field
(insert: new values; update: old and new; delete: old values) with who, when and why. Each
entry's ``hash`` is an HMAC-SHA256, under the site's audit key, of its content and the previous
entry's hash, so an edited, deleted or reordered entry breaks the chain; the single
``audit_head`` row holds the last hash, which also reveals entries cut from the end.

The key is never in the database (settings or a key file; see :class:`AuditKeys`), so someone
with write access to the database cannot recompute the chain after an edit. Checkpoints
(sequence and hash of the head, kept outside the database) prove the trail still extends them
even against someone who holds the key.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import hmac
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, insert, inspect, select, update
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


@dataclass(frozen=True, slots=True)
class AuditKeys:
    """The site's audit keys: the first signs new entries, the others (older keys, kept after a
    rotation) still verify the entries they signed. A key's id is a fingerprint of it, stored
    with each entry; the key itself never is."""

    keys: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if not self.keys:
            raise ConfigurationError("no audit key: the audit trail needs one to sign entries")
        for key in self.keys:
            if len(key) < 32:
                raise ConfigurationError("an audit key must be at least 32 characters long")

    @classmethod
    def from_text(cls, text: str) -> AuditKeys:
        """One key per line, newest first; blank lines and ``#`` comments are ignored."""
        lines = [line.strip() for line in text.splitlines()]
        return cls(tuple(line.encode() for line in lines if line and not line.startswith("#")))

    @staticmethod
    def key_id(key: bytes) -> str:
        return hashlib.sha256(b"openpat audit key id\0" + key).hexdigest()[:16]

    @property
    def current_id(self) -> str:
        return self.key_id(self.keys[0])

    def get(self, key_id: str) -> bytes | None:
        return next((k for k in self.keys if self.key_id(k) == key_id), None)


def entry_hash(row: dict[str, Any], prev_hash: str, key: bytes | None = None) -> str:
    """HMAC-SHA256 under ``key`` (plain SHA-256 for entries written before the chain was
    keyed) over an entry's content, its key id and the previous hash. ``seq`` is not hashed:
    order is carried by the chain itself, so a reordering shows as a broken link."""
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
    if key is None:
        blob = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()
    content["key"] = row.get("key_id")
    blob = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hmac.new(key, blob.encode("utf-8"), hashlib.sha256).hexdigest()


def session_keys(session: Session) -> AuditKeys:
    keys = session.info.get("audit_keys")
    if not isinstance(keys, AuditKeys):
        raise ConfigurationError("the database session has no audit key to sign the trail with")
    return keys


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


def append(connection: Connection, rows: Iterable[dict[str, Any]], keys: AuditKeys) -> int:
    """Chain and insert audit rows (dicts of AuditEvent columns, without seq and hashes),
    each signed with the current audit key.

    Returns how many were written. Call inside the transaction of the change.
    """
    pending = list(rows)
    if not pending:
        return 0
    key, key_id = keys.keys[0], keys.current_id
    seq, prev = _lock_head(connection)
    for row in pending:
        seq += 1
        row["seq"] = seq
        row["key_id"] = key_id
        row["prev_hash"] = prev
        row["hash"] = prev = entry_hash(row, prev, key)
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
    append(session.connection(), rows, session_keys(session))


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
    # "edited" | "deleted" | "reordered" | "truncated" | "unkeyed" | "unknown-key" | "checkpoint"
    kind: str
    message: str


@dataclass(frozen=True, slots=True)
class VerifyResult:
    entries_checked: int
    last_seq: int
    problem: ChainProblem | None
    checkpoints_checked: int = 0

    @property
    def ok(self) -> bool:
        return self.problem is None


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The head of the trail at one moment (sequence number and hash of its last entry), to be
    kept outside the database: a later trail must still hold exactly this entry."""

    seq: int
    hash: str
    at: dt.datetime | None  # when that entry was written

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "hash": self.hash,
            "at": None if self.at is None else self.at.astimezone(dt.UTC).isoformat(),
        }

    @classmethod
    def from_json(cls, data: Any) -> Checkpoint:
        if not isinstance(data, dict) or not {"seq", "hash"} <= data.keys():
            raise ValueError("a checkpoint is a JSON object with 'seq' and 'hash'")
        seq, digest = data["seq"], data["hash"]
        if type(seq) is not int or seq < 0:
            raise ValueError("a checkpoint's 'seq' must be a whole number of 0 or more")
        if not isinstance(digest, str) or len(digest) != 64:
            raise ValueError("a checkpoint's 'hash' must be 64 hexadecimal characters")
        at = data.get("at")
        return cls(seq, digest, dt.datetime.fromisoformat(at) if isinstance(at, str) else None)


def head_checkpoint(session: Session) -> Checkpoint:
    """The current head: the last entry's sequence number, hash and time."""
    last = session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).first()
    if last is None:
        return Checkpoint(0, GENESIS_HASH, None)
    return Checkpoint(last.seq, last.hash, last.at)


def _row_dict(event: AuditEvent) -> dict[str, Any]:
    return {c.key: getattr(event, c.key) for c in inspect(AuditEvent).column_attrs}


def _entry_problem(
    event: AuditEvent, keys: AuditKeys | None, prev_hash: str
) -> ChainProblem | None:
    """What is wrong with one entry, read in order after ``prev_hash`` (None: nothing).
    ``keys`` None checks a trail written before keys, by its plain hashes."""
    row = _row_dict(event)
    key: bytes | None = None
    if keys is not None:
        if event.key_id is None:
            return ChainProblem(
                event.seq,
                "unkeyed",
                f"entry {event.seq} is not signed with an audit key: it was written or "
                "rewritten by someone without the key (a trail from before keyed audit is "
                "sealed by `openpat db upgrade`)",
            )
        key = keys.get(event.key_id)
        if key is None:
            return ChainProblem(
                event.seq,
                "unknown-key",
                f"entry {event.seq} was signed with audit key {event.key_id}, which is not "
                "among the configured keys (after a rotation keep the old keys in the key "
                "file, newest first)",
            )
    if entry_hash(row, event.prev_hash, key) != event.hash:
        return ChainProblem(
            event.seq,
            "edited",
            f"entry {event.seq} ({event.table_name} {event.record_id} "
            f"{event.field or event.action}) was edited after it was written",
        )
    if event.prev_hash != prev_hash:
        return ChainProblem(
            event.seq,
            "reordered",
            f"entry {event.seq} is out of order: it does not follow entry "
            f"{event.seq - 1} (entries were reordered, or one before it was removed "
            "and the rest renumbered)",
        )
    return None


def verify_chain(
    session: Session,
    *,
    checkpoints: Iterable[Checkpoint] = (),
    batch_size: int = 5000,
    keys: AuditKeys | None = None,
) -> VerifyResult:
    """Walk the whole chain in ``seq`` order and report the first broken entry: every entry
    must carry a valid HMAC under one of the site's audit keys, follow the one before it, and
    match every checkpoint taken earlier."""
    keys = keys or session_keys(session)
    held = {c.seq: c for c in checkpoints if c.seq > 0}
    prev_hash = GENESIS_HASH
    expected_seq = 1
    checked = 0
    last_seq = 0
    stmt = select(AuditEvent).order_by(AuditEvent.seq).execution_options(yield_per=batch_size)
    for event in session.scalars(stmt):
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
        problem = _entry_problem(event, keys, prev_hash)
        if problem is not None:
            return VerifyResult(checked, last_seq, problem)
        mark = held.get(event.seq)
        if mark is not None and mark.hash != event.hash:
            return VerifyResult(
                checked,
                last_seq,
                ChainProblem(
                    event.seq,
                    "checkpoint",
                    f"entry {event.seq} is not the entry the checkpoint of "
                    f"{_when(mark)} recorded: the trail was rewritten at or before entry "
                    f"{event.seq}",
                ),
            )
        prev_hash = event.hash
        last_seq = event.seq
        expected_seq += 1
        checked += 1
    beyond = [c for c in held.values() if c.seq > last_seq]
    if beyond:
        first = min(beyond, key=lambda c: c.seq)
        return VerifyResult(
            checked,
            last_seq,
            ChainProblem(
                last_seq + 1,
                "truncated",
                f"the trail ends at entry {last_seq} but the checkpoint of {_when(first)} "
                f"holds entry {first.seq}: entries {last_seq + 1}-{first.seq} were deleted",
            ),
        )
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
    return VerifyResult(checked, last_seq, None, checkpoints_checked=len(held))


def _when(mark: Checkpoint) -> str:
    if mark.at is None:
        return f"entry {mark.seq}"
    return f"{mark.at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC (entry {mark.seq})"


def seal_unkeyed(session: Session, keys: AuditKeys) -> int:
    """Sign a trail written before the chain was keyed: check every entry as it was written
    (plain hashes, or its key), then re-sign the whole chain with the current key, in order.
    Refuses (RuleViolation) a trail that does not verify. Returns how many entries were
    sealed (0 when every entry is already keyed)."""
    if session.scalar(select(AuditEvent.seq).where(AuditEvent.key_id.is_(None)).limit(1)) is None:
        return 0
    prev_hash = GENESIS_HASH
    expected = 1
    updates: list[dict[str, Any]] = []
    key, key_id = keys.keys[0], keys.current_id
    new_prev = GENESIS_HASH
    for event in session.scalars(select(AuditEvent).order_by(AuditEvent.seq)):
        problem = (
            ChainProblem(expected, "deleted", f"entry {expected} missing")
            if event.seq != expected
            else _entry_problem(event, None if event.key_id is None else keys, prev_hash)
        )
        if problem is not None:
            raise RuleViolation(
                f"the audit trail cannot be sealed with the audit key: {problem.message}"
            )
        prev_hash = event.hash
        expected += 1
        row = _row_dict(event)
        row["key_id"] = key_id
        digest = entry_hash(row, new_prev, key)
        updates.append({"s": event.seq, "k": key_id, "p": new_prev, "h": digest})
        new_prev = digest
    table = cast(Table, AuditEvent.__table__)
    session.connection().execute(
        update(table)
        .where(table.c.seq == bindparam("s"))
        .values(key_id=bindparam("k"), prev_hash=bindparam("p"), hash=bindparam("h")),
        updates,
    )
    session.connection().execute(
        update(AuditHead).where(AuditHead.id == 1).values(seq=expected - 1, hash=new_prev)
    )
    return len(updates)
