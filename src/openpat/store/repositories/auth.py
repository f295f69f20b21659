"""Login sessions and login attempts (operational records, not study data)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, joinedload

from openpat.store.models import LoginAttempt, User, UserSession


class AuthRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add_session(self, user_session: UserSession) -> None:
        self.session.add(user_session)
        self.session.flush()

    def get_session(self, token_hash: str) -> UserSession | None:
        return self.session.get(UserSession, token_hash)

    def session_with_user(self, token_hash: str) -> tuple[UserSession, User | None] | None:
        """The session and its user with their memberships, in one query (every request
        starts with this look-up)."""
        stmt = (
            select(UserSession, User)
            .outerjoin(User, User.id == UserSession.user_id)
            .where(UserSession.token_hash == token_hash)
            .options(joinedload(User.memberships))
        )
        row = self.session.execute(stmt).unique().first()
        return None if row is None else (row[0], row[1])

    def touch_session(self, token_hash: str, at: dt.datetime) -> None:
        """Note that the session was used at ``at`` (it is the idle timeout's starting point)."""
        self.session.execute(
            update(UserSession).where(UserSession.token_hash == token_hash).values(last_seen_at=at)
        )

    def delete_session(self, token_hash: str) -> None:
        self.session.execute(delete(UserSession).where(UserSession.token_hash == token_hash))

    def delete_user_sessions(self, user_id: int) -> int:
        """End every session of the user (deactivated, or their password was reset)."""
        result = self.session.execute(delete(UserSession).where(UserSession.user_id == user_id))
        return int(getattr(result, "rowcount", 0) or 0)

    def last_logins(self, usernames: Sequence[str]) -> dict[str, dt.datetime]:
        """Each user's latest successful login."""
        if not usernames:
            return {}
        stmt = (
            select(LoginAttempt.username, func.max(LoginAttempt.at))
            .where(LoginAttempt.username.in_(list(usernames)), LoginAttempt.succeeded.is_(True))
            .group_by(LoginAttempt.username)
        )
        found = {}
        for name, at in self.session.execute(stmt).tuples():
            if at is not None:
                found[name] = at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)
        return found

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
