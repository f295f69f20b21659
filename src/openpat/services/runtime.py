"""The platform's runtime: one engine, one session factory, one password hasher.

The web app and the CLI each build one :class:`Platform` from the settings and open units of
work from it; nothing is created at import time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from argon2 import PasswordHasher
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from openpat.clock import Clock
from openpat.config import Settings
from openpat.errors import ConfigurationError
from openpat.security.passwords import make_hasher
from openpat.store import migrate
from openpat.store.audit import Actor
from openpat.store.db import make_engine, make_session_factory
from openpat.store.uow import UnitOfWork

__all__ = ["Actor", "Platform", "UnitOfWork"]


@dataclass
class Platform:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    clock: Clock
    # Told (after commit) when a job becomes due; set by the job workers' dispatcher.
    job_waker: Callable[[int, dt.datetime], None] | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Platform:
        engine = make_engine(settings.resolved_database_url)
        return cls(
            settings=settings,
            engine=engine,
            session_factory=make_session_factory(engine, settings.resolved_audit_keys),
            clock=Clock(start=settings.clock_start),
        )

    @cached_property
    def hasher(self) -> PasswordHasher:
        return make_hasher(self.settings.password_hash_profile)

    def uow(
        self, *, actor: Actor, reason: str | None = None, read_only: bool = False
    ) -> UnitOfWork:
        """A unit of work; ``read_only`` ones read a snapshot and never wait for a writer."""
        return UnitOfWork(
            self.session_factory,
            actor=actor,
            reason=reason,
            clock=self.clock,
            read_only=read_only,
            waker=self.job_waker,
        )

    # -- schema -----------------------------------------------------------------------------
    def upgrade(self) -> tuple[str | None, str | None]:
        """Migrate to the newest schema; returns (revision before, revision after)."""
        before = migrate.current_revision(self.engine)
        migrate.upgrade(self.engine)
        self.seal_audit_trail()
        from openpat.services.worker import ensure_procrastinate_schema

        ensure_procrastinate_schema(self)
        return before, migrate.current_revision(self.engine)

    def seal_audit_trail(self) -> int:
        """Sign entries written before the audit chain was keyed (after checking them), so
        that every entry carries the site's audit key; returns how many were sealed."""
        from openpat.store.audit import seal_unkeyed

        with self.session_factory() as session, session.begin():
            return seal_unkeyed(session, self.settings.resolved_audit_keys)

    def require_current_schema(self) -> None:
        current = migrate.current_revision(self.engine)
        head = migrate.head_revision()
        if current != head:
            raise ConfigurationError(
                f"the database schema is at revision {current or 'none'} but this openpat "
                f"needs {head}; run `openpat db upgrade`"
            )

    def ping(self) -> bool:
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    def dispose(self) -> None:
        self.engine.dispose()
