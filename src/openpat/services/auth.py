"""Logging in and out, login sessions with idle expiry, and login rate limiting."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher

from openpat.errors import TooManyRequests
from openpat.security import Membership, Principal, Role
from openpat.security.passwords import dummy_hash, verify_password
from openpat.security.throttle import Throttle
from openpat.store.audit import Actor
from openpat.store.models import LoginAttempt, User, UserSession
from openpat.store.uow import UnitOfWork

# Writing last_seen on every request would turn every page view into a write.
_TOUCH_EVERY = dt.timedelta(seconds=60)


# An address may fail this many times more, across all accounts, than for one account.
ADDRESS_ALLOWANCE = 4


@dataclass(frozen=True, slots=True)
class LoginPolicy:
    max_failures: int  # failures before the waits start (per account and address)
    window: dt.timedelta  # failures older than this are forgotten; also the longest wait
    idle_timeout: dt.timedelta

    def throttle(self, allowance: int = 1) -> Throttle:
        return Throttle(
            free_failures=self.max_failures * allowance,
            first_delay=dt.timedelta(seconds=1),
            cap=self.window,
        )


def _in_words(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


@dataclass(frozen=True, slots=True)
class LoginResult:
    token: str  # goes into the signed cookie; only its hash is stored
    csrf_token: str
    principal: Principal
    must_change_password: bool = False


@dataclass(frozen=True, slots=True)
class ActiveSession:
    principal: Principal
    csrf_token: str
    token_hash: str
    # an administrator set the password: nothing but choosing one's own is allowed until then
    must_change_password: bool = False


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def principal_of(user: User) -> Principal:
    """The principal for a user whose memberships are loaded."""
    return Principal(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        memberships=tuple(
            Membership(
                role=Role(m.role),
                study_id=m.study_id,
                site_id=m.site_id,
                participant_id=m.participant_id,
            )
            for m in user.memberships
        ),
    )


def login(
    *,
    uow: UnitOfWork,
    username: str,
    password: str,
    remote_addr: str,
    hasher: PasswordHasher,
    policy: LoginPolicy,
) -> LoginResult | None:
    """Check the password and open a session; ``None`` when the credentials are wrong.

    A failure is recorded (attempt and audit entry), so the caller commits in both cases.
    Raises :class:`TooManyRequests` while this address must wait after failures for the
    account (or for many accounts); such a refused attempt is not recorded as a failure, and
    the same account from an address without failures is not slowed (``security.throttle``).
    """
    now = uow.now()
    key = username.strip().lower()
    addr = remote_addr[:64]
    since = now - policy.window
    # per account and address, then per address across accounts (a larger allowance)
    for throttle, name in (
        (policy.throttle(), key),
        (policy.throttle(ADDRESS_ALLOWANCE), None),
    ):
        count, last = uow.auth.recent_failures(since=since, remote_addr=addr, username=name)
        wait = throttle.wait(count, last, now)
        if wait > dt.timedelta(0):
            wait_s = max(1, math.ceil(wait.total_seconds()))
            raise TooManyRequests(
                f"too many failed logins from this address; try again in {_in_words(wait_s)}, "
                "or ask an administrator to reset the password",
                retry_after_s=wait_s,
            )
    user = uow.users.get_by_username(key) if key else None
    if user is None:
        verify_password(hasher, dummy_hash(hasher), password)  # same time as a real check
        ok = False
    else:
        ok = user.is_active and verify_password(hasher, user.password_hash, password)
    uow.auth.add_attempt(LoginAttempt(username=key[:64], remote_addr=addr, at=now, succeeded=ok))
    if not ok or user is None:
        uow.audit.record_security_event(
            actor=Actor(name=key[:100] or "(blank)"),
            action="login_failed",
            username=key[:64] or "(blank)",
            reason=f"wrong username or password from {remote_addr}",
            at=now,
        )
        return None
    loaded = uow.users.get_with_memberships(user.id)
    assert loaded is not None
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    uow.auth.add_session(
        UserSession(
            token_hash=_token_hash(token),
            user_id=user.id,
            csrf_token=csrf,
            created_at=now,
            last_seen_at=now,
        )
    )
    uow.audit.record_security_event(
        actor=Actor(name=user.username, user_id=user.id),
        action="login",
        username=user.username,
        reason=f"login from {remote_addr}",
        at=now,
    )
    return LoginResult(
        token=token,
        csrf_token=csrf,
        principal=principal_of(loaded),
        must_change_password=bool(user.must_change_password),
    )


@dataclass(frozen=True, slots=True)
class SessionLookup:
    """What a cookie token names, read without writing, and the upkeep it calls for."""

    active: ActiveSession | None
    token_hash: str
    drop: bool = False  # idle too long, or the user was deactivated or removed
    touch: bool = False  # last_seen is over a minute old


def look_up(*, uow: UnitOfWork, token: str, policy: LoginPolicy) -> SessionLookup:
    """Read the session for a cookie token; works in a read-only unit of work."""
    now = uow.now()
    token_hash = _token_hash(token)
    found = uow.auth.session_with_user(token_hash)
    if found is None:
        return SessionLookup(None, token_hash)
    record, user = found
    if now - record.last_seen_at > policy.idle_timeout:
        return SessionLookup(None, token_hash, drop=True)
    if user is None or not user.is_active:
        return SessionLookup(None, token_hash, drop=True)
    active = ActiveSession(
        principal=principal_of(user),
        csrf_token=record.csrf_token,
        token_hash=token_hash,
        must_change_password=bool(user.must_change_password),
    )
    return SessionLookup(active, token_hash, touch=now - record.last_seen_at > _TOUCH_EVERY)


def keep_up(*, uow: UnitOfWork, lookup: SessionLookup) -> None:
    """The upkeep a look-up called for: end a dead session, or note that one was used."""
    if lookup.drop:
        uow.auth.delete_session(lookup.token_hash)
    elif lookup.touch:
        uow.auth.touch_session(lookup.token_hash, uow.now())


def resolve(*, uow: UnitOfWork, token: str, policy: LoginPolicy) -> ActiveSession | None:
    """The session for a cookie token, or None if unknown, idle too long, or user inactive
    (looked up and kept up in one writing unit of work)."""
    lookup = look_up(uow=uow, token=token, policy=policy)
    keep_up(uow=uow, lookup=lookup)
    return lookup.active


def logout(*, uow: UnitOfWork, session: ActiveSession) -> None:
    uow.auth.delete_session(session.token_hash)
    uow.audit.record_security_event(
        actor=Actor(name=session.principal.username, user_id=session.principal.user_id),
        action="logout",
        username=session.principal.username,
        reason="logout",
        at=uow.now(),
    )
