"""Backups you can restore (issue 17, point 5).

* **SQLite**: SQLite's online backup API copies the database page by page from one
  consistent snapshot, while the site goes on reading and writing.
* **PostgreSQL**: ``pg_dump --format=custom`` (one transaction's snapshot); ``pg_restore``
  brings it back.

A restore goes only into an empty database (it never overwrites one that holds tables), then
walks the whole audit chain with the site's audit keys and reports what it found. A backup is
written to a temporary file beside the target and renamed, so a failed backup leaves no
half-written file.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import inspect, select
from sqlalchemy.engine import URL

from openpat.errors import ConfigurationError, InvalidInput, RuleViolation
from openpat.services.runtime import Actor, Platform
from openpat.store import migrate
from openpat.store.audit import VerifyResult
from openpat.store.models import Participant


@dataclass(frozen=True, slots=True)
class BackupResult:
    path: Path
    backend: str
    size_bytes: int
    sha256: str
    seconds: float


@dataclass(frozen=True, slots=True)
class RestoreResult:
    backend: str
    revision: str | None
    participants: int
    audit: VerifyResult
    seconds: float


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _libpq_url(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _run(tool: str, url: URL, *args: str) -> str | None:
    """Run a PostgreSQL client tool on the site's database; its error text if it failed."""
    found = shutil.which(tool)
    if found is None:
        raise ConfigurationError(
            f"{tool} is not installed: on Debian, apt-get install postgresql-client "
            "(the same major version as the server, or newer)"
        )
    argv = [found, "--no-owner", "--no-privileges", f"--dbname={_libpq_url(url)}", *args]
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode == 0:
        return None
    return done.stderr.strip()[-500:] or f"{tool} exited with {done.returncode}"


def backup(platform: Platform, out: Path) -> BackupResult:
    """Take a consistent online backup of the site's database into ``out``."""
    if out.exists() and out.is_dir():
        raise InvalidInput.for_field("out", f"{out} is a directory; give a file name")
    if not out.parent.is_dir():
        raise InvalidInput.for_field("out", f"the directory {out.parent} does not exist")
    engine = platform.engine
    partial = out.with_name(f".{out.name}.partial-{os.getpid()}")
    started = time.perf_counter()
    try:
        if engine.dialect.name == "sqlite":
            with engine.connect() as conn:
                source = conn.connection.dbapi_connection
                assert isinstance(source, sqlite3.Connection)
                target = sqlite3.connect(partial)
                try:
                    source.backup(target)
                finally:
                    target.close()
        else:
            failed = _run("pg_dump", engine.url, "--format=custom", f"--file={partial}")
            if failed:
                raise ConfigurationError(f"pg_dump failed: {failed}")
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return BackupResult(
        path=out,
        backend=engine.dialect.name,
        size_bytes=out.stat().st_size,
        sha256=_sha256(out),
        seconds=time.perf_counter() - started,
    )


def restore(platform: Platform, source: Path) -> RestoreResult:
    """Bring a backup back into the site's (empty) database, then verify its audit chain."""
    if not source.is_file():
        raise InvalidInput.for_field("backup", f"{source} is not a file")
    engine = platform.engine
    tables = inspect(engine).get_table_names()
    if tables:
        raise RuleViolation(
            f"the database already holds {len(tables)} tables; a backup is restored only into "
            "an empty database (create a new one and point OPENPAT_DATABASE_URL at it)"
        )
    started = time.perf_counter()
    if engine.dialect.name == "sqlite":
        try:
            backup_db = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
            backup_db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as exc:
            raise InvalidInput.for_field(
                "backup", f"{source} is not an SQLite backup ({exc})"
            ) from None
        try:
            with engine.connect() as conn:
                target = conn.connection.dbapi_connection
                assert isinstance(target, sqlite3.Connection)
                backup_db.backup(target)
        finally:
            backup_db.close()
    else:
        failed = _run("pg_restore", engine.url, "--exit-on-error", str(source))
        if failed:
            raise InvalidInput.for_field("backup", f"pg_restore could not restore it: {failed}")
    engine.dispose()  # connections opened before the restore do not see its schema
    revision = migrate.current_revision(engine)
    with platform.uow(actor=Actor(name="restore"), read_only=True) as uow:
        audit = uow.audit.verify()
        participants = len(uow.session.scalars(select(Participant.id)).all())
    return RestoreResult(
        backend=engine.dialect.name,
        revision=revision,
        participants=participants,
        audit=audit,
        seconds=time.perf_counter() - started,
    )
