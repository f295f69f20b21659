"""The unit of work: one transaction, owned by the web request or the CLI command.

A unit of work opened with ``read_only=True`` never takes the write lock (SQLite) and runs
READ ONLY (PostgreSQL); changing data in it raises :class:`openpat.store.db.ReadOnlyViolation`.

Services receive a unit of work and never commit; the edge calls :meth:`UnitOfWork.commit`
when the whole use case has succeeded, and anything not committed is rolled back on exit.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from openpat.clock import SYSTEM, Clock
from openpat.errors import Conflict
from openpat.store.audit import Actor
from openpat.store.db import read_only_session
from openpat.store.repositories.audit import AuditRepository
from openpat.store.repositories.auth import AuthRepository
from openpat.store.repositories.jobs import JobRepository
from openpat.store.repositories.messages import MessageRepository
from openpat.store.repositories.outcomes import (
    AlertRepository,
    FormLinkRepository,
    ResponseRepository,
)
from openpat.store.repositories.participants import ParticipantRepository
from openpat.store.repositories.screenings import ScreeningRepository
from openpat.store.repositories.studies import SiteRepository, StudyRepository
from openpat.store.repositories.trial import ScheduleRepository, TrialRepository
from openpat.store.repositories.users import UserRepository

logger = logging.getLogger(__name__)


class UnitOfWork:
    studies: StudyRepository
    sites: SiteRepository
    users: UserRepository
    participants: ParticipantRepository
    screenings: ScreeningRepository
    responses: ResponseRepository
    alerts: AlertRepository
    form_links: FormLinkRepository
    trial: TrialRepository
    schedule: ScheduleRepository
    audit: AuditRepository
    auth: AuthRepository
    jobs: JobRepository
    messages: MessageRepository

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        actor: Actor,
        reason: str | None = None,
        now: dt.datetime | None = None,
        clock: Clock = SYSTEM,
        read_only: bool = False,
        waker: Callable[[int, dt.datetime], None] | None = None,
    ) -> None:
        self._factory = session_factory
        self._waker = waker
        self.read_only = read_only
        self._actor = actor
        self._reason = reason
        self._now = now
        self._clock = clock
        self._session: Session | None = None
        self.committed = False
        self._on_commit: list[Callable[[], None]] = []

    # -- lifecycle ------------------------------------------------------------------------
    def __enter__(self) -> UnitOfWork:
        session = read_only_session(self._factory) if self.read_only else self._factory()
        session.info["actor"] = self._actor
        session.info["reason"] = self._reason
        session.info["clock"] = self.now
        self._session = session
        self.studies = StudyRepository(session)
        self.sites = SiteRepository(session)
        self.users = UserRepository(session)
        self.participants = ParticipantRepository(session)
        self.screenings = ScreeningRepository(session)
        self.responses = ResponseRepository(session)
        self.alerts = AlertRepository(session)
        self.form_links = FormLinkRepository(session)
        self.trial = TrialRepository(session)
        self.schedule = ScheduleRepository(session)
        self.audit = AuditRepository(session)
        self.auth = AuthRepository(session)
        self.jobs = JobRepository(session)
        self.messages = MessageRepository(session)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session = self.session
        try:
            if not self.committed:
                session.rollback()
        finally:
            session.close()
            self._session = None

    @property
    def session(self) -> Session:
        if self._session is None:
            raise RuntimeError("the unit of work is not open: use it in a `with` block")
        return self._session

    @property
    def actor(self) -> Actor:
        return self._actor

    def set_actor(self, actor: Actor) -> None:
        self._actor = actor
        self.session.info["actor"] = actor

    def now(self) -> dt.datetime:
        return self._now or self._clock.now()

    @contextmanager
    def reason(self, text: str) -> Iterator[None]:
        """Give the reason recorded in the audit trail for the changes made in the block."""
        session = self.session
        before = session.info.get("reason")
        session.info["reason"] = text
        try:
            yield
            session.flush()
        finally:
            session.info["reason"] = before

    def flush(self) -> None:
        try:
            self.session.flush()
        except IntegrityError as exc:
            raise Conflict(f"the change clashes with existing data: {exc.orig}") from None

    def commit(self) -> None:
        try:
            self.session.commit()
        except IntegrityError as exc:
            self.session.rollback()
            raise Conflict(f"the change clashes with existing data: {exc.orig}") from None
        self.committed = True
        hooks, self._on_commit = self._on_commit, []
        for hook in hooks:
            try:
                hook()
            except Exception:  # the commit stands; the hook's own recovery takes over
                logger.exception("an after-commit action failed")

    def wake_jobs(self, job_id: int, when: dt.datetime) -> None:
        """Tell the job workers, once this commits, that job ``job_id`` is due at ``when``
        (workers also poll, so a lost wake-up only delays a job)."""
        waker = self._waker
        if waker is not None:
            self.after_commit(lambda: waker(job_id, when))

    def after_commit(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` once this unit of work has committed (never if it rolls back), e.g.
        to wake a job worker for a job that this transaction queued."""
        self._on_commit.append(hook)

    def rollback(self) -> None:
        self.session.rollback()
