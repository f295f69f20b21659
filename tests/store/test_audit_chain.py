"""The audit trail: field-level entries in the same transaction as the change, and a hash
chain in which a tampered, deleted or reordered entry is found by ``openpat audit verify``.

Tampering is done the way someone with database access would do it: SQL through the engine,
bypassing the application (and so the session hooks that write the trail).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, create_engine, func, select, text, update
from sqlalchemy.orm import Session

from openpat.demo import DEMO_STUDY_CODE
from openpat.errors import RuleViolation
from openpat.security import Membership, Principal, Role
from openpat.services import audit, participants, studies
from openpat.services.audit import MASK
from openpat.services.participants import IdentityIn, ParticipantCreate, Sex, StatusChange
from openpat.services.runtime import Actor, Platform
from openpat.services.studies import SiteCreate, StudyCreate
from openpat.store.audit import VerifyResult, verify_chain
from openpat.store.db import normalise_url
from openpat.store.models import AuditEvent, AuditHead, Participant, ParticipantIdentity, User
from openpat.trial.pathway import ParticipantStatus
from tests.conftest import TEST_AUDIT_KEY, TEST_NOW, TEST_SECRET, clock_env

EVENTS = AuditEvent.__table__
SYSTEM = Principal.system("test")


# -- helpers --------------------------------------------------------------------------------


def _verify(plat: Platform) -> VerifyResult:
    with plat.uow(actor=Actor("auditor")) as uow:
        return uow.audit.verify()


def _sql(plat: Platform, statement: str, **params: Any) -> int:
    """Raw SQL through the engine, committed; returns the number of rows it touched."""
    with plat.engine.begin() as conn:
        return conn.execute(text(statement), params).rowcount


def _entry_count(plat: Platform) -> int:
    with plat.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(EVENTS)) or 0)


def _row(plat: Platform, seq: int) -> dict[str, Any]:
    with plat.engine.connect() as conn:
        return dict(conn.execute(select(EVENTS).where(EVENTS.c.seq == seq)).mappings().one())


def _status_update_seqs(plat: Platform) -> list[int]:
    with plat.engine.connect() as conn:
        return list(
            conn.scalars(
                select(EVENTS.c.seq)
                .where(EVENTS.c.action == "update", EVENTS.c.field == "status")
                .order_by(EVENTS.c.seq)
            )
        )


def _middle_status_update(plat: Platform) -> int:
    """The seq of a status change in the middle of the trail (not first, not last)."""
    seqs = _status_update_seqs(plat)
    seq = seqs[len(seqs) // 2]
    assert 1 < seq < _entry_count(plat) - 1
    return seq


def _assert_intact(plat: Platform, count: int) -> None:
    result = _verify(plat)
    assert result.problem is None, result.problem
    assert result.ok
    assert result.entries_checked == count
    assert result.last_seq == count


def _assert_problem(result: VerifyResult, *, seq: int, kind: str, checked: int) -> None:
    assert not result.ok
    assert result.problem is not None
    assert (result.problem.seq, result.problem.kind) == (seq, kind), result.problem
    assert result.entries_checked == checked


@pytest.fixture
def observer(database_url: str) -> Iterator[Engine]:
    """A plain engine (no BEGIN IMMEDIATE) that reads what others have committed."""
    engine = create_engine(normalise_url(database_url))
    yield engine
    engine.dispose()


def _committed_max_seq(observer: Engine) -> int:
    with observer.connect() as conn:
        return int(conn.scalar(select(func.max(AuditEvent.seq))) or 0)


def _setup_study(plat: Platform) -> tuple[int, int]:
    with plat.uow(actor=Actor("test-setup"), reason="setup") as uow:
        site = studies.create_site(
            uow=uow,
            site_in=SiteCreate(code="BER", name="Berlin", timezone="Europe/Berlin", country="DE"),
        )
        study = studies.create_study(
            uow=uow,
            study_in=StudyCreate(
                code="AUDIT-1", title="Audit", substance="MDMA", condition="PTSD", phase="3"
            ),
            site_ids=[site.id],
        )
        uow.commit()
    return study.id, site.id


def _new_participant(plat: Platform, *, prescreen_date: dt.date | None = None) -> int:
    """A participant in the demo study, pre-screened ``prescreen_date`` (default today)."""
    with plat.uow(actor=Actor("test-setup")) as uow:
        study = uow.studies.get_by_code(DEMO_STUDY_CODE)
        assert study is not None
        site = uow.studies.sites_of(study.id)[0]
        created = participants.create_participant(
            uow=uow,
            principal=SYSTEM,
            study_id=study.id,
            participant_in=ParticipantCreate(
                site_id=site.id,
                year_of_birth=1985,
                sex=Sex.FEMALE,
                prescreen_date=prescreen_date,
                identity=IdentityIn(
                    full_name="Ada Quarrington",
                    date_of_birth=dt.date(1985, 3, 14),
                    email="ada.quarrington@example.org",
                ),
            ),
        )
        uow.commit()
    return created.id


# -- verification: an intact chain, and each kind of tampering ------------------------------


def test_untouched_chain_verifies_with_the_right_count(demo_platform: Platform) -> None:
    count = _entry_count(demo_platform)
    assert count > 500  # the demo study: 40 participants, their identities, histories, users
    _assert_intact(demo_platform, count)
    with demo_platform.engine.connect() as conn:
        head = conn.execute(select(AuditHead.seq, AuditHead.hash)).one()
        last = conn.execute(select(EVENTS.c.seq, EVENTS.c.hash).where(EVENTS.c.seq == count)).one()
    assert tuple(head) == tuple(last)
    with demo_platform.uow(actor=Actor("auditor")) as uow:
        read = audit.verify(uow=uow, principal=SYSTEM)
    assert read.ok
    assert (read.entries_checked, read.last_seq, read.problem_seq) == (count, count, None)
    assert read.message == f"the audit trail is intact: {count} entries verified"


def test_an_edited_value_is_found_at_exactly_its_entry(demo_platform: Platform) -> None:
    count = _entry_count(demo_platform)
    seq = _middle_status_update(demo_platform)
    original = _row(demo_platform, seq)
    assert original["new_value"] != "completed"
    touched = _sql(
        demo_platform, "UPDATE audit_events SET new_value = 'completed' WHERE seq = :s", s=seq
    )
    assert touched == 1

    result = _verify(demo_platform)
    _assert_problem(result, seq=seq, kind="edited", checked=seq - 1)
    assert result.last_seq == seq - 1
    assert f"entry {seq} (participants {original['record_id']} status)" in result.problem.message

    # Putting the value back makes the chain whole again: the edit alone was the problem.
    _sql(
        demo_platform,
        "UPDATE audit_events SET new_value = :v WHERE seq = :s",
        v=original["new_value"],
        s=seq,
    )
    _assert_intact(demo_platform, count)


def _tampered(column: str, value: Any) -> Any:
    """A different value for ``column`` of an entry (a status change by the demo loader)."""
    if column == "at":
        return value + dt.timedelta(microseconds=1)  # even the smallest shift is caught
    if column == "actor_user_id":
        assert value is None
        return 1
    if column in {"study_id", "participant_id"}:
        return value + 1
    if column == "sensitive":
        return not value
    if column in {"hash", "prev_hash"}:
        return "f" * 64 if value != "f" * 64 else "e" * 64
    return f"{value}-tampered"


@pytest.mark.parametrize(
    "columns",
    [
        # what was said, by whom, when and why
        ("new_value", "old_value", "reason", "actor", "actor_user_id", "at"),
        # what it was about, and the chain itself
        ("action", "table_name", "record_id", "field", "study_id", "participant_id"),
        ("sensitive", "prev_hash", "hash"),
    ],
    ids=["content-who-when-why", "subject", "flags-and-links"],
)
def test_an_edit_of_any_column_is_found(demo_platform: Platform, columns: tuple[str, ...]) -> None:
    count = _entry_count(demo_platform)
    seq = _middle_status_update(demo_platform)
    original = _row(demo_platform, seq)
    assert original["reason"] and original["old_value"] and original["actor"] == "test-setup"
    for column in columns:
        forged = _tampered(column, original[column])
        with demo_platform.engine.begin() as conn:
            conn.execute(update(EVENTS).where(EVENTS.c.seq == seq).values({column: forged}))
        assert _row(demo_platform, seq)[column] == forged
        result = _verify(demo_platform)
        assert result.problem is not None, f"an edit of {column} went unnoticed"
        _assert_problem(result, seq=seq, kind="edited", checked=seq - 1)
        with demo_platform.engine.begin() as conn:
            conn.execute(
                update(EVENTS).where(EVENTS.c.seq == seq).values({column: original[column]})
            )
        _assert_intact(demo_platform, count)


def test_a_deleted_entry_is_found_at_its_seq(demo_platform: Platform) -> None:
    seq = _middle_status_update(demo_platform)
    assert _sql(demo_platform, "DELETE FROM audit_events WHERE seq = :s", s=seq) == 1
    result = _verify(demo_platform)
    _assert_problem(result, seq=seq, kind="deleted", checked=seq - 1)
    assert result.problem is not None
    assert result.problem.message.startswith(f"entry {seq} missing")


def test_several_deleted_entries_are_reported_as_a_range(demo_platform: Platform) -> None:
    seq = _middle_status_update(demo_platform)
    deleted = _sql(
        demo_platform, "DELETE FROM audit_events WHERE seq BETWEEN :a AND :b", a=seq, b=seq + 2
    )
    assert deleted == 3
    result = _verify(demo_platform)
    _assert_problem(result, seq=seq, kind="deleted", checked=seq - 1)
    assert result.problem is not None
    assert result.problem.message.startswith(f"entries {seq}-{seq + 2} missing")


def _swap(plat: Platform, a: int, b: int) -> None:
    """Swap the seq numbers of two entries (through a free seq: the primary key)."""
    with plat.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET seq = -1 WHERE seq = :a"), {"a": a})
        conn.execute(text("UPDATE audit_events SET seq = :a WHERE seq = :b"), {"a": a, "b": b})
        conn.execute(text("UPDATE audit_events SET seq = :b WHERE seq = -1"), {"b": b})


def test_reordered_entries_are_found_at_the_first_swapped_position(
    demo_platform: Platform,
) -> None:
    count = _entry_count(demo_platform)
    seq = _middle_status_update(demo_platform)
    first, second = _row(demo_platform, seq), _row(demo_platform, seq + 1)
    _swap(demo_platform, seq, seq + 1)
    assert _row(demo_platform, seq)["hash"] == second["hash"]
    assert _row(demo_platform, seq + 1)["hash"] == first["hash"]

    result = _verify(demo_platform)
    _assert_problem(result, seq=seq, kind="reordered", checked=seq - 1)
    assert _entry_count(demo_platform) == count  # nothing missing, nothing edited

    _swap(demo_platform, seq, seq + 1)
    _assert_intact(demo_platform, count)


def test_a_deletion_hidden_by_renumbering_is_found(demo_platform: Platform) -> None:
    seq = _middle_status_update(demo_platform)
    count = _entry_count(demo_platform)
    with demo_platform.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq = :s"), {"s": seq})
        # Close the gap (in two steps so the primary key never clashes) and move the head.
        conn.execute(text("UPDATE audit_events SET seq = -seq WHERE seq > :s"), {"s": seq})
        conn.execute(text("UPDATE audit_events SET seq = -seq - 1 WHERE seq < 0"))
        conn.execute(text("UPDATE audit_head SET seq = seq - 1"))
    with demo_platform.engine.connect() as conn:
        seqs = list(conn.scalars(select(EVENTS.c.seq).order_by(EVENTS.c.seq)))
    assert seqs == list(range(1, count))  # no gap left to see
    result = _verify(demo_platform)
    _assert_problem(result, seq=seq, kind="reordered", checked=seq - 1)


def test_a_truncated_tail_is_found(demo_platform: Platform) -> None:
    count = _entry_count(demo_platform)
    assert _sql(demo_platform, "DELETE FROM audit_events WHERE seq > :s", s=count - 3) == 3
    result = _verify(demo_platform)
    _assert_problem(result, seq=count - 2, kind="truncated", checked=count - 3)
    assert result.last_seq == count - 3
    assert result.problem is not None
    assert f"entries {count - 2}-{count} were deleted" in result.problem.message


# -- the real command line --------------------------------------------------------------


def _openpat_exe() -> str:
    beside = Path(sys.executable).parent / "openpat"
    if beside.exists():
        return str(beside)
    found = shutil.which("openpat")
    assert found, "the openpat console script is not installed"
    return found


def _run_verify(database_url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENPAT_")}
    env.update(
        OPENPAT_DATABASE_URL=database_url,
        OPENPAT_ENV="test",
        OPENPAT_DATA_DIR=str(tmp_path / "cli-data"),
        OPENPAT_SECRET_KEY=TEST_SECRET,
        OPENPAT_AUDIT_KEY=TEST_AUDIT_KEY,
        OPENPAT_PASSWORD_HASH_PROFILE="fast",
        **clock_env(TEST_NOW),
        COLUMNS="250",  # one line per message: rich wraps at the terminal width
        NO_COLOR="1",
    )
    return subprocess.run(
        [_openpat_exe(), "audit", "verify"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _tamper(plat: Platform, kind: str) -> int:
    """Tamper with the trail; returns the seq where the verifier must report ``kind``."""
    count = _entry_count(plat)
    seq = _middle_status_update(plat)
    if kind == "edited":
        _sql(plat, "UPDATE audit_events SET reason = 'nothing to see' WHERE seq = :s", s=seq)
    elif kind == "deleted":
        _sql(plat, "DELETE FROM audit_events WHERE seq = :s", s=seq)
    elif kind == "reordered":
        _swap(plat, seq, seq + 1)
    elif kind == "truncated":
        _sql(plat, "DELETE FROM audit_events WHERE seq > :s", s=count - 2)
        return count - 1
    return seq


@pytest.mark.parametrize("kind", ["edited", "deleted", "reordered", "truncated"])
def test_cli_verify_reports_the_seq_and_kind_and_fails(
    demo_platform: Platform, database_url: str, tmp_path: Path, kind: str
) -> None:
    seq = _tamper(demo_platform, kind)
    result = _run_verify(database_url, tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"audit trail broken at entry {seq} ({kind})" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert "intact" not in result.stdout


def test_cli_verify_passes_an_intact_chain(
    demo_platform: Platform, database_url: str, tmp_path: Path
) -> None:
    count = _entry_count(demo_platform)
    result = _run_verify(database_url, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"the audit trail is intact: {count} entries verified" in result.stdout
    assert result.stderr == ""


# -- field-level entries, written in the transaction of the change -------------------------


def _coordinator(plat: Platform) -> tuple[Principal, Actor]:
    with Session(plat.engine) as s:
        user = s.scalars(select(User).where(User.username == "coordinator")).one()
        study_id = s.scalars(select(Participant.study_id)).first()
    principal = Principal(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        memberships=(Membership(role=Role.COORDINATOR, study_id=study_id),),
    )
    return principal, Actor(name=user.username, user_id=user.id)


def test_a_status_change_writes_one_entry_per_changed_field_with_reason_and_actor(
    demo_platform: Platform, observer: Engine
) -> None:
    plat = demo_platform
    prescreened = plat.clock.today(dt.UTC) - dt.timedelta(days=10)
    pid = _new_participant(plat, prescreen_date=prescreened)
    principal, actor = _coordinator(plat)
    before = _committed_max_seq(observer)
    with plat.uow(actor=actor) as uow:
        on_date = uow.participants.get(pid).status_date + dt.timedelta(days=3)
        participants.change_status(
            uow=uow,
            principal=principal,
            participant_id=pid,
            change=StatusChange(
                status=ParticipantStatus.SCREENED, on_date=on_date, reason="screening visit done"
            ),
        )
        inside = uow.session.scalars(
            select(AuditEvent).where(AuditEvent.seq > before).order_by(AuditEvent.seq)
        ).all()
        # The entries exist inside the transaction, but nobody else sees them before commit.
        assert len(inside) == 2
        assert _committed_max_seq(observer) == before
        uow.commit()

    with Session(plat.engine) as s:
        entries = s.scalars(
            select(AuditEvent).where(AuditEvent.seq > before).order_by(AuditEvent.seq)
        ).all()
        study_id = s.get(Participant, pid).study_id
    # Only the changed fields, each once, with old and new values: nothing else of the row.
    assert {e.field: (e.old_value, e.new_value) for e in entries} == {
        "status": ("prescreen", "screened"),
        "status_date": (prescreened.isoformat(), on_date.isoformat()),
    }
    assert [e.seq for e in entries] == [before + 1, before + 2]
    status_entries = [e for e in entries if e.field == "status"]
    assert len(status_entries) == 1
    for e in entries:
        assert e.action == "update"
        assert (e.table_name, e.record_id) == ("participants", str(pid))
        assert (e.participant_id, e.study_id) == (pid, study_id)
        assert e.reason == "screening visit done"
        assert (e.actor, e.actor_user_id) == ("coordinator", actor.user_id)
        assert e.sensitive is False
    assert entries[0].at == entries[1].at  # one change, one moment
    assert _verify(plat).ok


def test_a_rolled_back_change_leaves_neither_the_change_nor_its_entries(
    demo_platform: Platform,
) -> None:
    plat = demo_platform
    pid = _new_participant(plat)
    count = _entry_count(plat)
    principal, actor = _coordinator(plat)
    with plat.uow(actor=actor) as uow:
        participants.change_status(
            uow=uow,
            principal=principal,
            participant_id=pid,
            change=StatusChange(
                status=ParticipantStatus.SCREENED,
                on_date=uow.participants.get(pid).status_date,
                reason="screening visit done",
            ),
        )
        written = uow.session.scalars(select(AuditEvent).where(AuditEvent.seq > count)).all()
        assert [(e.field, e.old_value, e.new_value) for e in written] == [
            ("status", "prescreen", "screened")
        ]
        uow.rollback()

    with Session(plat.engine) as s:
        assert s.get(Participant, pid).status == "prescreen"
        assert s.scalar(select(func.max(AuditEvent.seq))) == count
        assert s.get(AuditHead, 1).seq == count
    _assert_intact(plat, count)

    # The next committed change takes the next seq: the rollback left no gap.
    with plat.uow(actor=actor) as uow:
        participants.change_status(
            uow=uow,
            principal=principal,
            participant_id=pid,
            change=StatusChange(
                status=ParticipantStatus.SCREEN_FAILED,
                on_date=uow.participants.get(pid).status_date,
                reason="exclusion criterion met",
            ),
        )
        uow.commit()
    with Session(plat.engine) as s:
        entry = s.scalars(select(AuditEvent).where(AuditEvent.seq > count)).one()
    assert (entry.seq, entry.new_value, entry.reason) == (
        count + 1,
        "screen_failed",
        "exclusion criterion met",
    )
    _assert_intact(plat, count + 1)


def test_a_change_without_a_reason_is_refused_and_writes_nothing(
    demo_platform: Platform,
) -> None:
    plat = demo_platform
    pid = _new_participant(plat)
    count = _entry_count(plat)
    _principal, actor = _coordinator(plat)

    with plat.uow(actor=actor) as uow:  # no reason given
        participant = uow.participants.get(pid)
        participant.status = ParticipantStatus.SCREENED.value
        with pytest.raises(RuleViolation, match="needs a reason"):
            uow.flush()
    with plat.uow(actor=actor) as uow:
        uow.session.delete(uow.participants.get_identity(pid))
        with pytest.raises(RuleViolation, match="needs a reason"):
            uow.flush()
    # Through the service a reason is required input.
    with pytest.raises(ValidationError, match="reason"):
        StatusChange(status=ParticipantStatus.SCREENED, on_date=TEST_NOW.date(), reason="")

    with Session(plat.engine) as s:
        assert s.get(Participant, pid).status == "prescreen"
        assert s.get(ParticipantIdentity, pid) is not None
    _assert_intact(plat, count)


def test_identity_values_are_masked_for_readers_without_identity_access(
    demo_platform: Platform,
) -> None:
    plat = demo_platform
    pid = _new_participant(plat)
    with Session(plat.engine) as s:
        study_id = s.get(Participant, pid).study_id
    monitor = Principal(
        user_id=900,
        username="monitor-x",
        display_name="Monitor",
        memberships=(Membership(role=Role.MONITOR, study_id=study_id),),
    )
    admin = Principal(
        user_id=901,
        username="admin-x",
        display_name="Admin",
        memberships=(Membership(role=Role.ADMIN, study_id=None),),
    )
    secrets = {"Ada Quarrington", "1985-03-14", "ada.quarrington@example.org"}

    for reader in (monitor, admin):
        with plat.uow(actor=Actor(reader.username)) as uow:
            page = audit.list_events(uow=uow, principal=reader, participant_id=pid, limit=100)
        identity = [e for e in page.items if e.table_name == "participant_identities"]
        fields = {"participant_id", "full_name", "date_of_birth", "email"}
        assert {e.field for e in identity} == fields
        for e in identity:
            assert e.masked is True
            assert e.new_value == MASK
            assert e.study_id == study_id  # study-scoped readers see that it happened
        record = [e for e in page.items if e.table_name == "participants"]
        assert record and not any(e.masked for e in record)
        assert {e.field: e.new_value for e in record}["sex"] == "female"
        shown = {v for e in page.items for v in (e.old_value, e.new_value)}
        assert not shown & secrets, reader.username

    # A monitor of another study sees none of it; the system (all access) sees the values.
    other = Principal(
        user_id=902,
        username="monitor-y",
        display_name="Other monitor",
        memberships=(Membership(role=Role.MONITOR, study_id=study_id + 1000),),
    )
    with plat.uow(actor=Actor("reader")) as uow:
        assert audit.list_events(uow=uow, principal=other, participant_id=pid).items == []
        full = audit.list_events(uow=uow, principal=SYSTEM, participant_id=pid)
    unmasked = {
        e.field: e.new_value for e in full.items if e.table_name == "participant_identities"
    }
    assert not any(e.masked for e in full.items)
    assert unmasked["full_name"] == "Ada Quarrington"
    assert unmasked["email"] == "ada.quarrington@example.org"


# -- concurrent writers ---------------------------------------------------------------------


def test_concurrent_writers_leave_one_unbroken_chain(platform: Platform) -> None:
    # Two studies, so the per-study numbering lock does not serialise the writers: only the
    # audit trail's head (PostgreSQL) or the database write lock (SQLite) orders them.
    study_a, site_id = _setup_study(platform)
    with platform.uow(actor=Actor("test-setup")) as uow:
        study_b = studies.create_study(
            uow=uow,
            study_in=StudyCreate(
                code="AUDIT-2", title="Audit 2", substance="MDMA", condition="PTSD", phase="3"
            ),
            site_ids=[site_id],
        ).id
        uow.commit()
    start = _entry_count(platform)
    per_thread = 20
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def writer(name: str, study_id: int) -> None:
        try:
            barrier.wait(timeout=10)
            for n in range(per_thread):
                with platform.uow(actor=Actor(name)) as uow:
                    participants.create_participant(
                        uow=uow,
                        principal=SYSTEM,
                        study_id=study_id,
                        participant_in=ParticipantCreate(
                            site_id=site_id, identity=IdentityIn(full_name=f"{name} {n}")
                        ),
                    )
                    uow.commit()
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [
        threading.Thread(target=writer, args=(f"writer-{i}", study))
        for i, study in enumerate((study_a, study_b))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert errors == []

    with Session(platform.engine) as s:
        result = verify_chain(s, keys=platform.settings.resolved_audit_keys)
        assert result.ok, result.problem
        events = s.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
        codes = {
            study: sorted(s.scalars(select(Participant.code).where(Participant.study_id == study)))
            for study in (study_a, study_b)
        }
        head = s.get(AuditHead, 1)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert result.entries_checked == len(events)
    assert (head.seq, head.hash) == (events[-1].seq, events[-1].hash)
    expected_codes = [f"BER-{n:04d}" for n in range(1, per_thread + 1)]
    assert codes == {study_a: expected_codes, study_b: expected_codes}
    # Per participant: 7 participant columns (no year of birth, no sex) + 2 identity columns.
    new = events[start:]
    assert len(new) == 2 * per_thread * 9
    # Each transaction's entries are one unbroken block of the chain, by one writer.
    blocks: dict[int, list[AuditEvent]] = {}
    for e in new:
        blocks.setdefault(e.participant_id, []).append(e)
    assert len(blocks) == 2 * per_thread
    for block in blocks.values():
        first = block[0].seq
        assert [e.seq for e in block] == list(range(first, first + 9))
        assert len({e.actor for e in block}) == 1
    assert {e.actor for e in new} == {"writer-0", "writer-1"}
