"""Request dependencies: the platform, the session, permissions, CSRF, the unit of work.

Every route declares what it needs with exactly one of :class:`Require` (a permission) or
:data:`PUBLIC`; ``tests/web/test_route_permissions.py`` fails on a route that declares neither.
"""

from __future__ import annotations

import datetime as dt
import hmac
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, Request
from itsdangerous import BadSignature, URLSafeSerializer
from starlette.concurrency import run_in_threadpool

from openpat.errors import NotAuthenticated, PasswordChangeRequired, PermissionDenied
from openpat.security import Permission
from openpat.services import auth
from openpat.services.runtime import Actor, Platform, UnitOfWork

SESSION_COOKIE = "openpat_session"
LOGIN_CSRF_COOKIE = "openpat_login_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def get_platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


PlatformDep = Annotated[Platform, Depends(get_platform)]


def policy_of(platform: Platform) -> auth.LoginPolicy:
    s = platform.settings
    return auth.LoginPolicy(
        max_failures=s.login_max_failures,
        window=dt.timedelta(minutes=s.login_window_minutes),
        idle_timeout=dt.timedelta(minutes=s.session_idle_minutes),
    )


def serializer(platform: Platform) -> URLSafeSerializer:
    return URLSafeSerializer(platform.settings.resolved_secret_key, salt="openpat.session")


READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def request_uow(request: Request, platform: PlatformDep) -> AsyncIterator[UnitOfWork]:
    """The request's one unit of work: the session look-up and the route share it.

    GET, HEAD and OPTIONS requests get a read-only one: they read a snapshot and never wait
    for (or block) a writer. Other methods get a writing one; routes that change data call
    ``uow.commit()``, and anything not committed is rolled back when the request ends.

    Opening a unit of work does no I/O (its connection is taken at the first query), so it is
    opened on the event loop rather than in a worker thread: one thread hop fewer per request.
    Closing it (a rollback of what was not committed) runs in a worker thread."""
    read_only = request.method in READ_METHODS
    async with _opened(platform.uow(actor=Actor(name="anonymous"), read_only=read_only)) as uow:
        yield uow


@asynccontextmanager
async def _opened(uow: UnitOfWork) -> AsyncIterator[UnitOfWork]:
    """Open ``uow`` on the event loop (no I/O) and close it in a worker thread."""
    uow.__enter__()
    try:
        yield uow
    except BaseException:
        await run_in_threadpool(uow.__exit__, *sys.exc_info())
        raise
    else:
        await run_in_threadpool(uow.__exit__, None, None, None)


RequestUow = Annotated[UnitOfWork, Depends(request_uow)]


def _resolve(platform: Platform, uow: UnitOfWork, token: str) -> auth.ActiveSession | None:
    if uow.read_only:
        lookup = auth.look_up(uow=uow, token=token, policy=policy_of(platform))
    else:
        # A writing request looks up its session in a snapshot of its own, so that its write
        # transaction (SQLite's one write lock) begins only when the route first needs data.
        with platform.uow(actor=Actor(name="session"), read_only=True) as snapshot:
            lookup = auth.look_up(uow=snapshot, token=token, policy=policy_of(platform))
    if lookup.drop or lookup.touch:
        # The upkeep (at most once a minute per session, or when it has ended) writes in a
        # short transaction of its own, before the route's transaction has begun.
        with platform.uow(actor=Actor(name="session")) as upkeep:
            auth.keep_up(uow=upkeep, lookup=lookup)
            upkeep.commit()
    return lookup.active


async def current_session(
    request: Request, platform: PlatformDep, uow: RequestUow
) -> auth.ActiveSession | None:
    """The logged-in session from the signed cookie, or None."""
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    try:
        token = serializer(platform).loads(raw)
    except BadSignature:
        return None
    if not isinstance(token, str):
        return None
    active = await run_in_threadpool(_resolve, platform, uow, token)
    request.state.active_session = active
    if active is not None:
        p = active.principal
        uow.set_actor(Actor(name=p.username, user_id=p.user_id))
    return active


SessionDep = Annotated[auth.ActiveSession | None, Depends(current_session)]


async def _check_csrf(request: Request, active: auth.ActiveSession) -> None:
    if request.method not in UNSAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent, active.csrf_token):
        raise PermissionDenied(
            "the form has expired or did not come from openpat (CSRF check failed); "
            "reload the page and try again"
        )


class Require:
    """Dependency: the request must come from a session whose role grants ``permission``."""

    def __init__(self, permission: Permission) -> None:
        self.permission = permission

    async def __call__(self, request: Request, active: SessionDep) -> auth.ActiveSession:
        if active is None:
            raise NotAuthenticated("log in to continue")
        if active.must_change_password and self.permission is not Permission.ACCOUNT:
            raise PasswordChangeRequired(
                "an administrator set your password: choose your own first "
                "(the Account page, or POST /api/v1/auth/password)",
                permission="password.change",
            )
        if not active.principal.has(self.permission):
            raise PermissionDenied(
                f"your role does not allow {self.permission.label}",
                permission=self.permission.value,
            )
        await _check_csrf(request, active)
        return active

    def __repr__(self) -> str:
        return f"Require({self.permission.value})"


class Public:
    """Dependency marker for the few routes anyone may call (login page, health check)."""

    async def __call__(self) -> None:
        return None


PUBLIC = Depends(Public())

Account = Annotated[auth.ActiveSession, Depends(Require(Permission.ACCOUNT))]
ApiDocsReader = Annotated[auth.ActiveSession, Depends(Require(Permission.API_DOCS))]
StudyReader = Annotated[auth.ActiveSession, Depends(Require(Permission.STUDY_READ))]
ParticipantReader = Annotated[auth.ActiveSession, Depends(Require(Permission.PARTICIPANT_READ))]
ParticipantWriter = Annotated[auth.ActiveSession, Depends(Require(Permission.PARTICIPANT_WRITE))]
IdentityReader = Annotated[auth.ActiveSession, Depends(Require(Permission.IDENTITY_READ))]
IdentityWriter = Annotated[auth.ActiveSession, Depends(Require(Permission.IDENTITY_WRITE))]
AuditReader = Annotated[auth.ActiveSession, Depends(Require(Permission.AUDIT_READ))]
UserManager = Annotated[auth.ActiveSession, Depends(Require(Permission.USER_MANAGE))]
KnowledgeReader = Annotated[auth.ActiveSession, Depends(Require(Permission.KNOWLEDGE_READ))]
ScreeningWriter = Annotated[auth.ActiveSession, Depends(Require(Permission.SCREENING_WRITE))]
SelfService = Annotated[auth.ActiveSession, Depends(Require(Permission.SELF_SERVICE))]
OutcomeReader = Annotated[auth.ActiveSession, Depends(Require(Permission.OUTCOME_READ))]
OutcomeEnterer = Annotated[auth.ActiveSession, Depends(Require(Permission.OUTCOME_ENTER))]
AlertReader = Annotated[auth.ActiveSession, Depends(Require(Permission.ALERT_READ))]
AlertManager = Annotated[auth.ActiveSession, Depends(Require(Permission.ALERT_MANAGE))]
ProtocolManager = Annotated[auth.ActiveSession, Depends(Require(Permission.PROTOCOL_MANAGE))]
Randomiser = Annotated[auth.ActiveSession, Depends(Require(Permission.RANDOMISE))]
AllocationReader = Annotated[auth.ActiveSession, Depends(Require(Permission.ALLOCATION_READ))]
Unblinder = Annotated[auth.ActiveSession, Depends(Require(Permission.EMERGENCY_UNBLIND))]
ScheduleReader = Annotated[auth.ActiveSession, Depends(Require(Permission.SCHEDULE_READ))]
ScheduleManager = Annotated[auth.ActiveSession, Depends(Require(Permission.SCHEDULE_MANAGE))]
GuessEnterer = Annotated[auth.ActiveSession, Depends(Require(Permission.GUESS_ENTER))]
EligibilityOverrider = Annotated[
    auth.ActiveSession, Depends(Require(Permission.ELIGIBILITY_OVERRIDE))
]


def get_uow(uow: RequestUow, _active: SessionDep) -> UnitOfWork:
    """The request's unit of work, acting as the logged-in user (or "anonymous")."""
    return uow


UowDep = Annotated[UnitOfWork, Depends(get_uow)]


async def audited_read_uow(platform: PlatformDep, active: SessionDep) -> AsyncIterator[UnitOfWork]:
    """A writing unit of work for a GET route whose every read is recorded in the audit trail
    (the allocation list): the request's own one is read-only."""
    principal = active.principal if active else None
    actor = (
        Actor(name=principal.username, user_id=principal.user_id)
        if principal
        else Actor(name="anonymous")
    )
    async with _opened(platform.uow(actor=actor)) as uow:
        yield uow


AuditedReadUow = Annotated[UnitOfWork, Depends(audited_read_uow)]
