"""A process killed (SIGKILL) in the middle of a write leaves no half-written record and no
audit gap, on SQLite and on PostgreSQL.

A real child Python process writes to the test database through the services and is killed
with SIGKILL, either deterministically in the middle of an open transaction (rows and audit
entries flushed but not committed) or at a random-ish moment during a stream of commits. The
parent then checks what is left: only whole, fully audited changes, and a chain that verifies.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.orm import Session

from openpat.security import Principal
from openpat.services import participants, studies
from openpat.services.participants import IdentityIn, ParticipantCreate, Sex
from openpat.services.runtime import Actor, Platform
from openpat.services.studies import SiteCreate, StudyCreate
from openpat.store.audit import verify_chain
from openpat.store.db import normalise_url
from openpat.store.models import AuditEvent, AuditHead, Base, Participant, ParticipantIdentity
from tests.conftest import TEST_AUDIT_KEY, TEST_SECRET

REPO = Path(__file__).resolve().parents[2]
CHILD_APP_NAME = "openpat-crash-child"
STATUS_RANK = {"prescreen": 0, "screened": 1, "screen_failed": 2}

# The child: "hold" flushes one participant (with identity and a status change) inside an
# open transaction, reports what its transaction sees, then sleeps until it is killed;
# "stream" creates participants and moves them along the pathway, committing every step and
# printing one line after each commit.
CHILD = r"""
import datetime as dt
import json, sys, time
from pathlib import Path

from sqlalchemy import func, select

from openpat.config import Settings
from openpat.security import Principal
from openpat.services import participants
from openpat.services.participants import IdentityIn, ParticipantCreate, StatusChange
from openpat.services.runtime import Actor, Platform
from openpat.store.models import AuditEvent, Participant, ParticipantIdentity
from openpat.trial.pathway import ParticipantStatus

args = json.loads(sys.argv[1])
plat = Platform.from_settings(
    Settings(
        env="test",
        database_url=args["url"],
        secret_key=args["secret"],
        audit_key=args["audit_key"],
        password_hash_profile="fast",
        data_dir=Path(args["data_dir"]),
        clock_start=dt.datetime.fromisoformat(args["clock_start"]),
    )
)
system = Principal.system("test")
actor = Actor("crash-child")
study_id, site_id = args["study_id"], args["site_id"]


def new_participant(uow, n):
    return participants.create_participant(
        uow=uow,
        principal=system,
        study_id=study_id,
        participant_in=ParticipantCreate(
            site_id=site_id,
            year_of_birth=1970 + n % 30,
            sex="female" if n % 2 else "male",
            identity=IdentityIn(full_name=f"Child Person {n}", email=f"person{n}@example.org"),
        ),
    )


if args["mode"] == "hold":
    with plat.uow(actor=actor) as uow:
        created = new_participant(uow, 0)
        participants.change_status(
            uow=uow,
            principal=system,
            participant_id=created.id,
            change=StatusChange(
                status=ParticipantStatus.SCREENED,
                on_date=created.status_date,
                reason="screening visit",
            ),
        )
        uow.flush()
        s = uow.session
        report = {
            "participant_id": created.id,
            "participant_rows": s.scalar(
                select(func.count()).select_from(Participant).where(Participant.id == created.id)
            ),
            "identity_rows": s.scalar(
                select(func.count())
                .select_from(ParticipantIdentity)
                .where(ParticipantIdentity.participant_id == created.id)
            ),
            "audit_entries": s.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.participant_id == created.id)
            ),
            "max_seq": s.scalar(select(func.max(AuditEvent.seq))),
        }
        print("FLUSHED " + json.dumps(report), flush=True)
        time.sleep(300)
    raise SystemExit("not killed")

n = 0
while True:
    with plat.uow(actor=actor) as uow:
        created = new_participant(uow, n)
        uow.commit()
    print(f"prescreen {created.id}", flush=True)
    for status in (ParticipantStatus.SCREENED, ParticipantStatus.SCREEN_FAILED):
        with plat.uow(actor=actor) as uow:
            participants.change_status(
                uow=uow,
                principal=system,
                participant_id=created.id,
                change=StatusChange(
                    status=status, on_date=created.status_date, reason=f"visit {n}"
                ),
            )
            uow.commit()
        print(f"{status.value} {created.id}", flush=True)
    n += 1
"""


class Child:
    """The child process, with its stdout read line by line in a thread."""

    def __init__(self, args: dict[str, Any], stderr_path: Path) -> None:
        self._stderr_path = stderr_path
        self._stderr = stderr_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, json.dumps(args)],
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            cwd=REPO,
            text=True,
            bufsize=1,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def next_line(self, timeout: float = 30.0) -> str:
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"the child printed nothing for {timeout} s; stderr:\n{self.stderr()}")

    def stderr(self) -> str:
        self._stderr.flush()
        return self._stderr_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL, wait for the process to be gone, and collect every line it printed."""
        assert self.proc.poll() is None, f"the child died by itself:\n{self.stderr()}"
        os.kill(self.proc.pid, signal.SIGKILL)
        assert self.proc.wait(timeout=10) == -signal.SIGKILL
        self._reader.join(timeout=10)
        self._stderr.close()

    def remaining_lines(self) -> list[str]:
        out = []
        while True:
            try:
                out.append(self.lines.get_nowait())
            except queue.Empty:
                return out

    def cleanup(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        if not self._stderr.closed:
            self._stderr.close()


def _child_url(database_url: str) -> str:
    if not database_url.startswith("postgresql"):
        return database_url
    sep = "&" if "?" in database_url else "?"
    return f"{database_url}{sep}application_name={CHILD_APP_NAME}"


@pytest.fixture
def observer(database_url: str) -> Iterator[Engine]:
    """A plain engine (no BEGIN IMMEDIATE): reads while the child holds the write lock."""
    engine = create_engine(normalise_url(database_url))
    yield engine
    engine.dispose()


def _child_backends(observer: Engine) -> int:
    with observer.connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :n"),
                {"n": CHILD_APP_NAME},
            ).scalar_one()
        )


def _wait_for_backend_gone(observer: Engine, backend: str) -> None:
    """On PostgreSQL, wait until the server has noticed the dead client and ended its
    backend (rolling back its transaction and releasing its locks)."""
    if backend != "postgres":
        return
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if _child_backends(observer) == 0:
            return
        time.sleep(0.05)
    pytest.fail("the killed child's PostgreSQL backend is still there after 10 s")


def _setup_study(plat: Platform) -> tuple[int, int]:
    with plat.uow(actor=Actor("test-setup"), reason="setup") as uow:
        site = studies.create_site(
            uow=uow,
            site_in=SiteCreate(code="LON", name="London", timezone="Europe/London", country="GB"),
        )
        study = studies.create_study(
            uow=uow,
            study_in=StudyCreate(
                code="CRASH-1", title="Crash", substance="psilocybin", condition="TRD", phase="2"
            ),
            site_ids=[site.id],
        )
        uow.commit()
    return study.id, site.id


def _child_args(plat: Platform, database_url: str, study_id: int, site_id: int, mode: str) -> dict:
    return {
        "url": _child_url(database_url),
        "secret": TEST_SECRET,
        "audit_key": TEST_AUDIT_KEY,
        "data_dir": str(plat.settings.data_dir),
        "study_id": study_id,
        "site_id": site_id,
        "mode": mode,
        "clock_start": plat.clock.now().isoformat(),
    }


def _as_text(value: Any) -> str:
    """How the audit trail writes a column value (independent of the store's helper)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat(timespec="microseconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _column_values(row: Base) -> dict[str, str]:
    """Every non-null column of a row, as text."""
    values = {}
    for column in row.__table__.columns:
        value = getattr(row, column.key)
        if value is not None:
            values[column.key] = _as_text(value)
    return values


def _assert_store_consistent(plat: Platform) -> dict[str, Any]:
    """Everything that exists is whole and fully audited; the chain verifies with no gap.

    Returns a summary: participants by id with their status, and the audit entry count.
    """
    with Session(plat.engine) as s:
        result = verify_chain(s, keys=plat.settings.resolved_audit_keys)
        assert result.ok, result.problem
        events = s.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
        assert [e.seq for e in events] == list(range(1, len(events) + 1)), "gap in seq numbers"
        assert result.entries_checked == len(events)
        assert result.last_seq == len(events)
        head = s.get(AuditHead, 1)
        assert head is not None
        assert head.seq == events[-1].seq
        assert head.hash == events[-1].hash

        by_record: dict[tuple[str, str], list[AuditEvent]] = defaultdict(list)
        for e in events:
            by_record[(e.table_name, e.record_id)].append(e)

        people = s.scalars(select(Participant).order_by(Participant.id)).all()
        identities = {i.participant_id: i for i in s.scalars(select(ParticipantIdentity))}
        for p in people:
            trail = by_record[("participants", str(p.id))]
            inserted = {e.field: e.new_value for e in trail if e.action == "insert"}
            assert inserted["status"] == "prescreen"
            # The insert entries hold exactly the values the row was created with, except
            # status and status_date which later updates may have changed.
            current = _column_values(p)
            assert set(inserted) == set(current), f"participant {p.id}: half-audited insert"
            for key in set(current) - {"status", "status_date"}:
                assert inserted[key] == current[key], (p.id, key)
            status_trail = [e for e in trail if e.field == "status"]
            assert status_trail[-1].new_value == p.status, f"participant {p.id}: status drift"
            for before, after in itertools.pairwise(status_trail):
                assert after.action == "update"
                assert after.old_value == before.new_value
            # Every participant was created with an identity in the same transaction.
            identity = identities.get(p.id)
            assert identity is not None, f"participant {p.id} lost its identity"
            id_trail = by_record[("participant_identities", str(p.id))]
            assert {e.field: e.new_value for e in id_trail if e.action == "insert"} == (
                _column_values(identity)
            )
            assert all(e.participant_id == p.id for e in (*trail, *id_trail))
        assert set(identities) <= {p.id for p in people}

        # Every entry's record exists (nothing audited that did not happen), deletes aside.
        existing: dict[str, set[str]] = {}
        for e in events:
            if e.action == "delete":
                continue
            if e.table_name not in existing:
                table = Base.metadata.tables[e.table_name]
                existing[e.table_name] = {
                    "/".join(str(part) for part in row)
                    for row in s.execute(select(*table.primary_key.columns))
                }
            assert e.record_id in existing[e.table_name], f"entry {e.seq}: no such record"

        audited_people = {e.record_id for e in events if e.table_name == "participants"}
        assert len(people) == len(audited_people)
        return {"status": {p.id: p.status for p in people}, "entries": len(events)}


def test_kill_in_the_middle_of_a_transaction_leaves_nothing_behind(
    platform: Platform, database_url: str, backend: str, observer: Engine, tmp_path: Path
) -> None:
    study_id, site_id = _setup_study(platform)
    before = _assert_store_consistent(platform)
    assert before["status"] == {}
    committed_entries = before["entries"]
    assert committed_entries > 0  # the study and site

    child = Child(_child_args(platform, database_url, study_id, site_id, "hold"), tmp_path / "err")
    try:
        line = child.next_line()
        assert line.startswith("FLUSHED "), line + child.stderr()
        report = json.loads(line.removeprefix("FLUSHED "))
        pid = report["participant_id"]
        # Inside the child's open transaction the rows and their audit entries are written.
        assert report["participant_rows"] == 1
        assert report["identity_rows"] == 1
        # 9 participant columns and 3 identity columns inserted (the others are null), then
        # status updated and nothing else (the status date is unchanged): 13 entries.
        assert report["audit_entries"] == 13
        assert report["max_seq"] == committed_entries + 13
        # Nobody outside sees any of it.
        with observer.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(Participant)) == 0
            assert conn.scalar(select(func.max(AuditEvent.seq))) == committed_entries
        if backend == "postgres":  # the server side of the open transaction, found by name
            assert _child_backends(observer) == 1
        child.kill()
    finally:
        child.cleanup()
    _wait_for_backend_gone(observer, backend)

    with Session(platform.engine) as s:
        assert s.get(Participant, pid) is None
        assert s.get(ParticipantIdentity, pid) is None
        assert s.scalar(select(func.count()).select_from(ParticipantIdentity)) == 0
        about_it = select(func.count()).select_from(AuditEvent)
        assert s.scalar(about_it.where(AuditEvent.participant_id == pid)) == 0
        assert s.scalar(about_it.where(AuditEvent.table_name == "participants")) == 0
        assert s.scalar(about_it.where(AuditEvent.table_name == "participant_identities")) == 0
    after = _assert_store_consistent(platform)
    assert after == before

    # The locks died with the process: the next writer continues the chain with no gap.
    with platform.uow(actor=Actor("after-crash")) as uow:
        created = participants.create_participant(
            uow=uow,
            principal=Principal.system("test"),
            study_id=study_id,
            participant_in=ParticipantCreate(
                site_id=site_id, sex=Sex.MALE, identity=IdentityIn(full_name="After Crash")
            ),
        )
        uow.commit()
    final = _assert_store_consistent(platform)
    assert final["status"] == {created.id: "prescreen"}
    assert created.code == "LON-0001"  # the killed transaction's number was never taken
    with Session(platform.engine) as s:
        first_new = s.scalar(
            select(func.min(AuditEvent.seq)).where(AuditEvent.participant_id == created.id)
        )
    assert first_new == committed_entries + 1


def _steps(status: dict[int, str]) -> int:
    """Committed steps: one creation plus one per status change, for every participant."""
    return sum(1 + STATUS_RANK[s] for s in status.values())


def test_kill_during_a_stream_of_commits_keeps_every_commit_whole(
    platform: Platform, database_url: str, backend: str, observer: Engine, tmp_path: Path
) -> None:
    rng = np.random.default_rng(20240611)
    study_id, site_id = _setup_study(platform)
    state = _assert_store_consistent(platform)
    args = _child_args(platform, database_url, study_id, site_id, "stream")
    # Three children in turn, each killed at a different moment; each one after the first
    # writes to a database that a killed process has written to.
    for round_no in range(3):
        child = Child(args, tmp_path / f"err{round_no}")
        try:
            printed = [child.next_line() for _ in range(4)]  # a few commits happened
            time.sleep(float(rng.uniform(0.0, 0.3)))
            child.kill()
        finally:
            child.cleanup()
        printed += child.remaining_lines()
        _wait_for_backend_gone(observer, backend)

        new = _assert_store_consistent(platform)
        # Every acknowledged commit is there ...
        for line in printed:
            status, pid_text = line.split()
            assert STATUS_RANK[new["status"][int(pid_text)]] >= STATUS_RANK[status], line
        # ... and at most the one commit in flight when the process died on top of them.
        gained = _steps(new["status"]) - _steps(state["status"])
        assert len(printed) <= gained <= len(printed) + 1, (printed, gained)
        assert set(state["status"]) <= set(new["status"])
        assert new["entries"] > state["entries"]
        state = new
