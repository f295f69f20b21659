"""Transactions and locking (issue 17, point 1; docs/operations.md states the same rules).

* A read-only unit of work reads the last committed state without waiting for a writer: on
  SQLite a deferred BEGIN on a WAL snapshot, on PostgreSQL a READ ONLY transaction.
* It cannot change data: an ORM change or an INSERT/UPDATE/DELETE statement raises
  ReadOnlyViolation, and nothing reaches the database or the audit trail.
* Write units of work still serialise: on SQLite the second writer waits for the first
  (BEGIN IMMEDIATE); on PostgreSQL the rows that order things (the audit chain's head, the
  study while numbering participants) are locked, and a second writer waits on them, at READ
  COMMITTED.
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select, text, update

from openpat.security import Principal
from openpat.services import participants, studies
from openpat.services.participants import ParticipantCreate
from openpat.services.runtime import Actor, Platform
from openpat.services.studies import SiteCreate, StudyCreate
from openpat.store.db import ReadOnlyViolation
from openpat.store.models import AuditEvent, Participant, Study
from openpat.store.uow import UnitOfWork

ACTOR = Actor(name="tester")
SYSTEM = Principal.system("tester")


def _study(platform: Platform) -> tuple[int, int]:
    with platform.uow(actor=ACTOR) as uow:
        site = studies.create_site(
            uow=uow,
            site_in=SiteCreate(code="LON", name="London", timezone="Europe/London", country="GB"),
        )
        study = studies.create_study(
            uow=uow,
            study_in=StudyCreate(
                code="TX-1",
                title="Transactions",
                substance="psilocybin",
                condition="TRD",
                phase="2",
            ),
            site_ids=[site.id],
        )
        uow.commit()
    return study.id, site.id


def _create(uow: UnitOfWork, study_id: int, site_id: int) -> str:
    return participants.create_participant(
        uow=uow,
        principal=SYSTEM,
        study_id=study_id,
        participant_in=ParticipantCreate(site_id=site_id, year_of_birth=1980),
    ).code


def _add_participant(platform: Platform, study_id: int, site_id: int) -> str:
    with platform.uow(actor=ACTOR) as uow:
        code = _create(uow, study_id, site_id)
        uow.commit()
    return code


def _count(platform: Platform) -> int:
    with platform.uow(actor=ACTOR, read_only=True) as uow:
        return int(uow.session.scalar(select(func.count()).select_from(Participant)) or 0)


def test_a_reader_does_not_wait_for_an_open_writer(platform: Platform) -> None:
    study_id, site_id = _study(platform)
    _add_participant(platform, study_id, site_id)
    writer_holds = threading.Event()
    release = threading.Event()

    def writer() -> None:
        with platform.uow(actor=ACTOR) as uow:
            _create(uow, study_id, site_id)
            uow.flush()  # the row and its audit entry are written, the lock is held
            writer_holds.set()
            release.wait(30)
            uow.commit()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert writer_holds.wait(30)
        t0 = time.perf_counter()
        seen = _count(platform)
        waited = time.perf_counter() - t0
    finally:
        release.set()
        thread.join(30)
    # the reader saw the committed state (1), not the open write, and did not wait for it
    assert seen == 1
    assert waited < 2.0, f"the read waited {waited:.2f} s for the writer"
    assert _count(platform) == 2


def test_a_second_writer_waits_for_the_first(platform: Platform) -> None:
    study_id, site_id = _study(platform)
    first_holds = threading.Event()
    order: list[str] = []

    def first() -> None:
        with platform.uow(actor=ACTOR) as uow:
            uow.studies.lock(study_id)
            _create(uow, study_id, site_id)
            uow.flush()
            first_holds.set()
            time.sleep(0.5)
            order.append("first commits")
            uow.commit()

    thread = threading.Thread(target=first)
    thread.start()
    assert first_holds.wait(30)
    code = _add_participant(platform, study_id, site_id)
    order.append("second commits")
    thread.join(30)
    assert order == ["first commits", "second commits"]
    # numbering was serialised: the second writer saw the first's participant
    assert code.endswith("2"), code


def test_a_read_only_unit_of_work_refuses_changes(platform: Platform) -> None:
    study_id, _site_id = _study(platform)
    with platform.uow(actor=ACTOR) as uow:
        audit_before = uow.session.scalar(select(func.count()).select_from(AuditEvent))

    with platform.uow(actor=ACTOR, read_only=True) as uow:
        study = uow.session.get(Study, study_id)
        assert study is not None
        study.title = "Changed in a read"
        with pytest.raises(ReadOnlyViolation, match="Study"):
            uow.flush()
    with platform.uow(actor=ACTOR, read_only=True) as uow:
        with pytest.raises(ReadOnlyViolation):
            uow.session.execute(update(Study).values(title="Changed by a statement"))

    with platform.uow(actor=ACTOR) as uow:
        study = uow.session.get(Study, study_id)
        assert study is not None and study.title == "Transactions"
        assert uow.session.scalar(select(func.count()).select_from(AuditEvent)) == audit_before


def test_postgres_transactions_are_read_committed_and_reads_are_read_only(
    platform: Platform, backend: str
) -> None:
    if backend != "postgres":
        pytest.skip("PostgreSQL's transaction settings")
    with platform.uow(actor=ACTOR) as uow:
        assert uow.session.scalar(text("SHOW transaction_isolation")) == "read committed"
        assert uow.session.scalar(text("SHOW transaction_read_only")) == "off"
    with platform.uow(actor=ACTOR, read_only=True) as uow:
        assert uow.session.scalar(text("SHOW transaction_isolation")) == "read committed"
        assert uow.session.scalar(text("SHOW transaction_read_only")) == "on"
