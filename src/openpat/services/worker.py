"""Job workers: who runs the queued jobs of :mod:`openpat.services.jobs`.

- **PostgreSQL: procrastinate.** A job library that keeps its queue in PostgreSQL itself
  (tables, LISTEN/NOTIFY, row locks), so a site runs no broker: ``openpat worker`` processes
  on any machine take jobs from the same database. Every openpat job is delivered as one
  procrastinate task (``openpat.run_job``); a periodic task each minute queues the nightly
  audit check, gives back jobs whose worker died, and delivers any due job whose wake-up was
  lost.
- **SQLite: an in-process worker.** One thread in ``openpat serve`` (or ``openpat worker``)
  runs due jobs, woken at once when a job is queued in this process and polling otherwise
  (jobs queued by the CLI or another process are found within ``poll_s``).

Both call :func:`openpat.services.jobs.run_job`, which claims the job with a guarded UPDATE;
running it twice is harmless.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import socket
import threading
import time
from typing import Any

from openpat.services import jobs
from openpat.services.runtime import Platform
from openpat.store.audit import Actor

logger = logging.getLogger(__name__)

TASK_QUEUE = "openpat"


def worker_name(kind: str) -> str:
    return f"{kind}@{socket.gethostname()}:{os.getpid()}"


def tick(platform: Platform) -> int:
    """The periodic duties: queue tonight's audit check when its hour has come, this hour's
    reminder sweep (when e-mail is set up), and give back jobs whose worker died. Returns how
    many stalled jobs were queued again."""
    with platform.uow(actor=Actor(name="jobs")) as uow:
        jobs.queue_nightly(uow, at_hour_utc=platform.settings.audit_verify_hour_utc)
        if platform.settings.smtp_host:
            jobs.queue_reminders(uow)
        uow.commit()
    return jobs.requeue_stalled(platform)


class LocalWorker:
    """Runs due jobs in a thread of this process (SQLite, and tests on either engine)."""

    def __init__(self, platform: Platform, *, poll_s: float = 2.0, tick_s: float = 60.0) -> None:
        self.platform = platform
        self.poll_s = poll_s
        self.tick_s = tick_s
        self.name = worker_name("local")
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def wake(self, _job_id: int, _when: dt.datetime) -> None:
        self._wake.set()

    def run_due(self, *, limit: int = 100) -> int:
        """Run every job that is due now (one attempt each); returns how many ran."""
        ran = 0
        while ran < limit and not self._stop.is_set():
            with self.platform.uow(actor=Actor(name="jobs"), read_only=True) as uow:
                due = uow.jobs.due(self.platform.clock.now(), limit=10)
            if not due:
                break
            progressed = False
            for job_id in due:
                if jobs.run_job(self.platform, job_id, worker=self.name) != "skipped":
                    ran += 1
                    progressed = True
            if not progressed:
                break
        return ran

    def start(self) -> None:
        if self._thread is not None:
            return
        self.platform.job_waker = self.wake
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="openpat-jobs", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self.platform.job_waker == self.wake:
            self.platform.job_waker = None

    def _loop(self) -> None:
        last_tick = 0.0
        while not self._stop.is_set():
            self._wake.clear()
            try:
                if time.monotonic() - last_tick >= self.tick_s:
                    tick(self.platform)
                    last_tick = time.monotonic()
                self.run_due()
            except Exception:  # the worker keeps going; the job records its own failure
                logger.exception("the job worker's round failed")
            self._wake.wait(self.poll_s)


# -- PostgreSQL: procrastinate -----------------------------------------------------------------


def libpq_url(database_url: str) -> str:
    """SQLAlchemy's ``postgresql+psycopg://`` URL as libpq reads it."""
    scheme, sep, rest = database_url.partition("://")
    return "postgresql://" + rest if sep and scheme.startswith("postgresql") else database_url


def _own_pool_jitter() -> None:
    """psycopg_pool spreads reconnections with Python's global random generator; give it one
    of its own, so that jobs leave the global stream (which tests guard) untouched."""
    import random

    import psycopg_pool.base

    if not getattr(psycopg_pool.base, "_openpat_own_random", False):
        psycopg_pool.base.random = random.Random().random  # type: ignore[attr-defined]  # noqa: S311
        psycopg_pool.base._openpat_own_random = True  # type: ignore[attr-defined]


def make_app(platform: Platform) -> Any:
    """The procrastinate app for this platform, with openpat's two tasks."""
    import procrastinate

    _own_pool_jitter()

    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(
            conninfo=libpq_url(platform.settings.resolved_database_url),
            min_size=1,
            max_size=4,
        )
    )
    name = worker_name("procrastinate")

    @app.task(name="openpat.run_job", queue=TASK_QUEUE)
    def run_job(job_id: int) -> str:
        return jobs.run_job(platform, job_id, worker=name)

    @app.periodic(cron="* * * * *", periodic_id="openpat-tick")
    @app.task(name="openpat.tick", queue=TASK_QUEUE, queueing_lock="openpat-tick")
    def periodic_tick(timestamp: int) -> int:
        tick(platform)
        with platform.uow(actor=Actor(name="jobs"), read_only=True) as uow:
            due = uow.jobs.due(platform.clock.now(), limit=500)
        for job_id in due:
            _defer(run_job, job_id, None)
        return len(due)

    app.openpat_run_job = run_job  # type: ignore[attr-defined]
    return app


def _defer(task: Any, job_id: int, delay_s: float | None) -> None:
    import procrastinate.exceptions

    options: dict[str, Any] = {"queueing_lock": f"openpat-job-{job_id}"}
    if delay_s is not None and delay_s > 0:
        # relative to the database's clock: openpat's own clock may be set (demo, tests)
        options["schedule_in"] = {"seconds": int(delay_s) + 1}
    # a job already waiting under the same lock is on its way
    with contextlib.suppress(procrastinate.exceptions.AlreadyEnqueued):
        task.configure(**options).defer(job_id=job_id)


class ProcrastinateDispatcher:
    """Hands jobs queued in this process to procrastinate (opened on first use)."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self._app: Any = None
        self._lock = threading.Lock()

    def wake(self, job_id: int, when: dt.datetime) -> None:
        with self._lock:
            if self._app is None:
                self._app = make_app(self.platform)
                self._app.open()
        delay = (when - self.platform.clock.now()).total_seconds()
        _defer(self._app.openpat_run_job, job_id, delay)

    def close(self) -> None:
        if self.platform.job_waker == self.wake:
            self.platform.job_waker = None
        with self._lock:
            if self._app is not None:
                self._app.close()
                self._app = None


def ensure_procrastinate_schema(platform: Platform) -> bool:
    """Create procrastinate's tables in a PostgreSQL database that lacks them; True if it
    did. (procrastinate's own schema is pinned with its version in pyproject.toml.)"""
    if platform.engine.dialect.name != "postgresql":
        return False
    from sqlalchemy import text

    with platform.engine.connect() as conn:
        present = conn.execute(text("SELECT to_regclass('procrastinate_jobs')")).scalar()
    if present is not None:
        return False
    from procrastinate.schema import SchemaManager

    sql = SchemaManager.get_schema()
    with platform.engine.begin() as conn:
        # straight to psycopg: the schema's own '%' signs are not parameters
        raw = conn.connection.dbapi_connection
        assert raw is not None
        raw.cursor().execute(sql)
    return True


def install_dispatcher(platform: Platform) -> ProcrastinateDispatcher | None:
    """On PostgreSQL, jobs queued in this process go to procrastinate."""
    if platform.engine.dialect.name != "postgresql":
        return None
    dispatcher = ProcrastinateDispatcher(platform)
    platform.job_waker = dispatcher.wake
    return dispatcher


def run_procrastinate_worker(platform: Platform, *, concurrency: int = 2) -> None:
    """``openpat worker`` on PostgreSQL: run until SIGINT or SIGTERM."""
    app = make_app(platform)
    install_dispatcher(platform)
    app.run_worker(queues=[TASK_QUEUE], concurrency=concurrency, name=worker_name("worker"))
