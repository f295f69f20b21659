"""Login sessions and login attempts (operational records, not study data)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from openpat.store.models import LoginAttempt, UserSession


class AuthRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add_session(self, user_session: UserSession) -> None:
        self.session.add(user_session)
        self.session.flush()

    def get_session(self, token_hash: str) -> UserSession | None:
        return self.session.get(UserSession, token_hash)

    def delete_session(self, token_hash: str) -> None:
        self.session.execute(delete(UserSession).where(UserSession.token_hash == token_hash))

    def delete_idle_sessions(self, *, idle_since: dt.datetime) -> None:
        self.session.execute(delete(UserSession).where(UserSession.last_seen_at < idle_since))

    def add_attempt(self, attempt: LoginAttempt) -> None:
        self.session.add(attempt)
        self.session.flush()

    def recent_failures(
        self, *, since: dt.datetime, remote_addr: str, username: str | None = None
    ) -> tuple[int, dt.datetime | None]:
        """(how many, the latest) failed logins from ``remote_addr`` (for ``username``, or
        for any account) since ``since`` and after the last success there."""
        where = [LoginAttempt.remote_addr == remote_addr, LoginAttempt.at >= since]
        if username is not None:
            where.append(LoginAttempt.username == username.strip().lower())
        last_ok = self.session.scalar(
            select(func.max(LoginAttempt.at)).where(*where, LoginAttempt.succeeded.is_(True))
        )
        if last_ok is not None:
            where.append(LoginAttempt.at > last_ok)
        count, latest = self.session.execute(
            select(func.count(LoginAttempt.id), func.max(LoginAttempt.at)).where(
                *where, LoginAttempt.succeeded.is_(False)
            )
        ).one()
        if latest is not None and latest.tzinfo is None:
            latest = latest.replace(tzinfo=dt.UTC)
        return int(count or 0), latest

    def failures_since(self, *, username: str, since: dt.datetime) -> int:
        stmt = select(func.count(LoginAttempt.id)).where(
            LoginAttempt.username == username.strip().lower(),
            LoginAttempt.at >= since,
            LoginAttempt.succeeded.is_(False),
        )
        return int(self.session.scalar(stmt) or 0)

    def oldest_failure_since(self, *, username: str, since: dt.datetime) -> dt.datetime | None:
        stmt = select(func.min(LoginAttempt.at)).where(
            LoginAttempt.username == username.strip().lower(),
            LoginAttempt.at >= since,
            LoginAttempt.succeeded.is_(False),
        )
        value = self.session.scalar(stmt)
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value
