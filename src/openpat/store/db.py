"""Engines: SQLite (WAL, foreign keys on, one writer at a time) or PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

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
    """Create an engine for ``url``; SQLite files get their directory made."""
    url = normalise_url(url)
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
        connect_args = {"timeout": 30, "check_same_thread": False}
        engine = create_engine(url, connect_args=connect_args, **kwargs)
        _configure_sqlite(engine)
        return engine
    if parsed.get_backend_name() == "postgresql":
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
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Take the write lock at the start: a transaction never has to upgrade from read to
        # write (which SQLite refuses under contention), and audit appends stay ordered.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_session_factory(engine: Engine, audit_keys: AuditKeys) -> sessionmaker[Session]:
    """Sessions that audit every change, signing the trail with ``audit_keys``."""
    from openpat.store.audit import install_audit_hooks

    factory = sessionmaker(
        bind=engine, expire_on_commit=False, autoflush=False, info={"audit_keys": audit_keys}
    )
    install_audit_hooks(factory)
    return factory
