"""Engines: SQLite (WAL, foreign keys on, one writer at a time) or PostgreSQL.

Transactions come in two kinds (see docs/operations.md, "Transactions and locking"):

* **write** (the default): on SQLite ``BEGIN IMMEDIATE`` takes the single write lock at the
  start, so a transaction never has to upgrade from reading to writing (which SQLite refuses
  under contention) and audit appends stay ordered. On PostgreSQL, READ COMMITTED, with the
  rows that order things locked explicitly (the audit chain's head, a study while numbering
  participants, a site while booking its rooms and staff).
* **read-only** (:func:`read_only_session`): on SQLite a deferred ``BEGIN`` that reads a WAL
  snapshot and never waits for a writer; on PostgreSQL a ``READ ONLY`` transaction. Any attempt
  to change data in one raises :class:`ReadOnlyViolation` before it reaches the database.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

from openpat.errors import ConfigurationError

if TYPE_CHECKING:
    from openpat.store.audit import AuditKeys


def normalise_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whatever spelling the user gave."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine for ``url``; SQLite files get their directory made. A database error
    never carries the statement's parameters into a message or a log (they may be personal
    data)."""
    url = normalise_url(url)
    kwargs.setdefault("hide_parameters", True)
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise ConfigurationError(
            f"OPENPAT_DATABASE_URL {url!r} is not a database URL: {exc}; "
            "use e.g. sqlite:////path/to/openpat.db or postgresql://user@host/dbname"
        ) from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # Requests run in a thread pool; SQLite connections move between its threads.
        connect_args = {"timeout": BUSY_TIMEOUT_S, "check_same_thread": False}
        if parsed.database and parsed.database != ":memory:":
            # Keep a connection for every request thread (anyio's pool has 40): a connection
            # opened afresh has to read the schema again, which costs more than most queries.
            kwargs.setdefault("pool_size", 40)
            kwargs.setdefault("max_overflow", 10)
        engine = create_engine(url, connect_args=connect_args, **kwargs)
        _configure_sqlite(engine)
        return engine
    if parsed.get_backend_name() == "postgresql":
        kwargs.setdefault("isolation_level", "READ COMMITTED")
        return create_engine(url, pool_pre_ping=True, **kwargs)
    raise ConfigurationError(
        f"database backend {parsed.get_backend_name()!r} is not supported; use SQLite or PostgreSQL"
    )


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (see below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
        cursor.close()

    writers = _WriterQueue(timeout_s=BUSY_TIMEOUT_S)

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get(READ_ONLY_OPTION):
            # A snapshot of the last committed state; never waits for the writer.
            connection.exec_driver_sql("BEGIN")
            return
        # Take the write lock at the start: a transaction never has to upgrade from read to
        # write (which SQLite refuses under contention), and audit appends stay ordered.
        dbapi_connection = connection.connection.dbapi_connection
        writers.enter(dbapi_connection)
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            writers.leave(dbapi_connection)
            raise

    # The turn ends when the transaction does (after COMMIT or ROLLBACK has run), or when the
    # connection is closed or invalidated.
    dialect = engine.dialect
    do_commit, do_rollback = dialect.do_commit, dialect.do_rollback

    def _commit(dbapi_connection: Any) -> None:
        try:
            do_commit(dbapi_connection)
        finally:
            writers.leave(dbapi_connection)

    def _rollback(dbapi_connection: Any) -> None:
        try:
            do_rollback(dbapi_connection)
        finally:
            writers.leave(dbapi_connection)

    dialect.do_commit = _commit  # type: ignore[method-assign]
    dialect.do_rollback = _rollback  # type: ignore[method-assign]

    @event.listens_for(engine, "close")
    @event.listens_for(engine, "invalidate")
    def _on_gone(dbapi_connection: Any, _record: Any, *_args: Any) -> None:
        writers.leave(dbapi_connection)


BUSY_TIMEOUT_S = 30


class _WriterQueue:
    """SQLite allows one writer at a time. Within a process, writers wait their turn on a lock
    and start the moment the previous one ends, instead of polling SQLite's busy handler
    (which sleeps between tries, up to 100 ms each). Other processes on the same file still
    meet SQLite's own lock, with its busy timeout."""

    def __init__(self, *, timeout_s: float) -> None:
        self._lock = threading.Lock()
        self._holder: int | None = None
        self._timeout_s = timeout_s

    @staticmethod
    def _key(connection: Any) -> int:
        # SQLAlchemy passes either the pool's proxy or the DBAPI connection itself.
        return id(getattr(connection, "dbapi_connection", connection))

    def enter(self, dbapi_connection: Any) -> None:
        if not self._lock.acquire(timeout=self._timeout_s):
            raise sqlite3.OperationalError(
                f"database is locked: another write has been running for over "
                f"{self._timeout_s:.0f} s"
            )
        self._holder = self._key(dbapi_connection)

    def leave(self, dbapi_connection: Any) -> None:
        if self._holder is not None and self._holder == self._key(dbapi_connection):
            self._holder = None
            self._lock.release()


READ_ONLY_OPTION = "openpat_read_only"


class ReadOnlyViolation(RuntimeError):
    """Code running in a read-only transaction tried to change data (a programming error)."""


def read_only_session(factory: sessionmaker[Session]) -> Session:
    """A session whose transaction only reads (see the module docstring)."""
    bind = factory.kw["bind"]
    options: dict[str, Any] = {READ_ONLY_OPTION: True}
    if bind.dialect.name == "postgresql":
        options["postgresql_readonly"] = True
    session = factory(bind=bind.execution_options(**options))
    session.info[READ_ONLY_OPTION] = True
    return session


def _install_read_only_guard(factory: sessionmaker[Session]) -> None:
    @event.listens_for(factory, "before_flush", insert=True)
    def _no_changes(session: Session, _context: Any, _instances: Any) -> None:
        if session.info.get(READ_ONLY_OPTION) and (session.new or session.dirty or session.deleted):
            raise ReadOnlyViolation(_violation(session))

    @event.listens_for(factory, "do_orm_execute")
    def _no_statements(state: ORMExecuteState) -> None:
        if state.session.info.get(READ_ONLY_OPTION) and (
            state.is_insert or state.is_update or state.is_delete
        ):
            raise ReadOnlyViolation(
                "a read-only transaction tried to run an INSERT, UPDATE or DELETE"
            )


def _violation(session: Session) -> str:
    kinds = sorted({type(o).__name__ for o in (*session.new, *session.dirty, *session.deleted)})
    return "a read-only transaction tried to change " + ", ".join(kinds)


def make_session_factory(engine: Engine, audit_keys: AuditKeys) -> sessionmaker[Session]:
    """Sessions that audit every change, signing the trail with ``audit_keys``."""
    from openpat.store.audit import install_audit_hooks

    factory = sessionmaker(
        bind=engine, expire_on_commit=False, autoflush=False, info={"audit_keys": audit_keys}
    )
    install_audit_hooks(factory)
    _install_read_only_guard(factory)
    from openpat.store.notify import install_notify_hooks

    install_notify_hooks(factory, engine)
    return factory
