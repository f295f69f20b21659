"""Telling every web process that a user has a new notification.

Notifications are rows (``notifications``), written in the transaction that caused them, so a
notification is never announced for a change that was rolled back. What crosses processes is
only a wake-up naming the user:

* **PostgreSQL**: ``pg_notify('openpat_notifications', '<user id>')`` in the same transaction,
  delivered by PostgreSQL at commit to every process that LISTENs (any number of web
  processes on any number of machines).
* **SQLite**: the listener polls the highest notification id every POLL_S seconds (the file
  is on one machine; its processes share nothing else).

On a wake-up a listening process reads the user's new rows itself; a missed wake-up only
delays a notification until the next one or the next poll (``SAFETY_POLL_S`` on PostgreSQL).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from typing import Any

from sqlalchemy import Engine, event, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from openpat.store.models import Notification

CHANNEL = "openpat_notifications"
POLL_S = 0.5
SAFETY_POLL_S = 30.0
EVERYONE = 0  # a wake-up for every listener (the SQLite poll cannot tell whose row is new)

log = logging.getLogger("openpat.notify")


def install_notify_hooks(factory: sessionmaker[Session], engine: Engine) -> None:
    """On PostgreSQL, announce each new notification's user within its transaction."""
    if engine.dialect.name != "postgresql":
        return

    @event.listens_for(factory, "after_flush")
    def _announce(session: Session, _context: Any) -> None:
        users = sorted({o.user_id for o in session.new if isinstance(o, Notification)})
        for user_id in users:
            session.connection().execute(
                text("SELECT pg_notify(:channel, :payload)"),
                {"channel": CHANNEL, "payload": str(user_id)},
            )


class NotificationHub:
    """Per web process: wakes the streams waiting for a user's notifications."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._waiting: dict[int, set[asyncio.Event]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        listen = self._listen_postgres if self._engine.dialect.name == "postgresql" else None
        self._task = asyncio.create_task(listen() if listen else self._poll_sqlite())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def wait(self, user_id: int, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for a wake-up for ``user_id``; True if one came."""
        woken = asyncio.Event()
        self._waiting[user_id].add(woken)
        try:
            await asyncio.wait_for(woken.wait(), timeout_s)
            return True
        except TimeoutError:
            return False
        finally:
            self._waiting[user_id].discard(woken)
            if not self._waiting[user_id]:
                del self._waiting[user_id]

    def wake(self, user_id: int) -> None:
        targets = (
            [e for events in self._waiting.values() for e in events]
            if user_id == EVERYONE
            else list(self._waiting.get(user_id, ()))
        )
        for woken in targets:
            woken.set()

    # -- the listeners ----------------------------------------------------------------------
    def _highest_id(self) -> int:
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.max(Notification.id))).scalar() or 0)

    async def _poll_sqlite(self) -> None:
        seen = await asyncio.to_thread(self._highest_id)
        while True:
            await asyncio.sleep(POLL_S)
            try:
                highest = await asyncio.to_thread(self._highest_id)
            except Exception:  # the database is briefly unavailable: try again
                log.warning("notification poll failed", exc_info=True)
                continue
            if highest != seen:
                seen = highest
                self.wake(EVERYONE)

    async def _listen_postgres(self) -> None:
        import psycopg

        url = self._engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        delay = 1.0
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    delay = 1.0
                    self.wake(EVERYONE)  # anything sent while (re)connecting
                    gen = conn.notifies(timeout=SAFETY_POLL_S)
                    while True:
                        async for note in gen:
                            self.wake(_user_of(note.payload))
                        # the timeout passed with nothing: wake everyone, in case one was missed
                        self.wake(EVERYONE)
                        gen = conn.notifies(timeout=SAFETY_POLL_S)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("notification listener lost its connection; retrying", exc_info=True)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)


def _user_of(payload: str) -> int:
    try:
        return int(payload)
    except ValueError:
        return EVERYONE
