"""Backups you can restore (issue 17, point 5): a backup taken while participants are being
registered, restored into an empty database, holds every write acknowledged before the backup
began, nothing half-written, and an audit chain that verifies.

SQLite: the backup API on the test's own database file. PostgreSQL: pg_dump of a database made
for the test (pg_dump copies a whole database, and the suite's other tests share ``test``),
restored with pg_restore into a second new database; skipped if the test role may not create
databases.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from openpat.errors import RuleViolation
from openpat.services import backup
from openpat.services.runtime import Actor, Platform
from openpat.store.db import normalise_url
from openpat.store.models import Participant
from tests.conftest import PG_URL, make_settings
from tests.store.test_transactions import ACTOR, _create, _study


def _under_load(source: Platform, out: Path) -> tuple[list[str], list[str]]:
    """Register participants continuously; back up in the middle. Returns (acknowledged
    before the backup began, acknowledged at all)."""
    study_id, site_id = _study(source)
    acked: list[str] = []
    stop = threading.Event()

    def writer() -> None:
        while not stop.is_set():
            with source.uow(actor=ACTOR) as uow:
                code = _create(uow, study_id, site_id)
                uow.commit()
            acked.append(code)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(acked) < 20:
            time.sleep(0.01)
        before = list(acked)
        result = backup.backup(source, out)
        assert result.size_bytes > 0 and len(result.sha256) == 64
        time.sleep(0.1)
    finally:
        stop.set()
        thread.join(30)
    assert len(acked) > len(before)  # writes went on during and after the backup
    return before, list(acked)


def _check(target: Platform, out: Path, before: list[str], acked: list[str]) -> None:
    restored = backup.restore(target, out)
    assert restored.audit.ok, restored.audit.problem
    assert restored.audit.entries_checked > 0
    with target.uow(actor=Actor("test"), read_only=True) as uow:
        codes = set(uow.session.scalars(select(Participant.code)))
    assert set(before) <= codes  # every write acknowledged before the backup
    assert codes <= set(acked)  # and nothing that was never committed
    assert restored.participants == len(codes)
    # a second restore into the now full database is refused, and changes nothing
    with pytest.raises(RuleViolation, match="empty database"):
        backup.restore(target, out)


def test_sqlite_backup_under_write_load_restores_every_acknowledged_write(
    tmp_path: Path, sqlite_template: Path
) -> None:
    source_db = tmp_path / "source.db"
    source_db.write_bytes(sqlite_template.read_bytes())
    source = Platform.from_settings(make_settings(f"sqlite:///{source_db}", tmp_path))
    target = Platform.from_settings(
        make_settings(f"sqlite:///{tmp_path / 'restored.db'}", tmp_path)
    )
    try:
        before, acked = _under_load(source, tmp_path / "openpat.backup")
        _check(target, tmp_path / "openpat.backup", before, acked)
    finally:
        source.dispose()
        target.dispose()


@pytest.fixture
def two_postgres_databases() -> Iterator[tuple[str, str]]:
    if not PG_URL:
        pytest.skip("needs OPENPAT_TEST_POSTGRES_URL")
    admin = create_engine(normalise_url(PG_URL), isolation_level="AUTOCOMMIT")
    names = [f"openpat_backup_{os.getpid()}_{n}" for n in ("source", "restored")]
    try:
        with admin.connect() as conn:
            for name in names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # the role may not create databases
        admin.dispose()
        pytest.skip(f"cannot create a database for the backup test: {exc}")
    base = make_url(normalise_url(PG_URL))
    source, restored = (base.set(database=n).render_as_string(hide_password=False) for n in names)
    yield source, restored
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_postgres_backup_under_write_load_restores_every_acknowledged_write(
    tmp_path: Path, two_postgres_databases: tuple[str, str]
) -> None:
    source_url, target_url = two_postgres_databases
    source = Platform.from_settings(make_settings(source_url, tmp_path))
    target = Platform.from_settings(make_settings(target_url, tmp_path))
    try:
        source.upgrade()
        before, acked = _under_load(source, tmp_path / "openpat.dump")
        _check(target, tmp_path / "openpat.dump", before, acked)
    finally:
        source.dispose()
        target.dispose()
