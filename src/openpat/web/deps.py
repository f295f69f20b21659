"""Request dependencies: the platform, the session, permissions, CSRF, the unit of work.

Every route declares what it needs with exactly one of :class:`Require` (a permission) or
:data:`PUBLIC`; ``tests/web/test_route_permissions.py`` fails on a route that declares neither.
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from itsdangerous import BadSignature, URLSafeSerializer
from starlette.concurrency import run_in_threadpool

from openpat.errors import NotAuthenticated, PasswordChangeRequired, PermissionDenied
from openpat.security import Permission, Principal
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


def _resolve(platform: Platform, token: str) -> auth.ActiveSession | None:
    # Read without the write lock; write only when the session needs upkeep (at most once a
    # minute per session, or when it has ended), in a short transaction of its own.
    actor = Actor(name="session")
    with platform.uow(actor=actor, read_only=True) as uow:
        lookup = auth.look_up(uow=uow, token=token, policy=policy_of(platform))
    if lookup.drop or lookup.touch:
        with platform.uow(actor=actor) as uow:
            auth.keep_up(uow=uow, lookup=lookup)
            uow.commit()
    return lookup.active


async def current_session(request: Request, platform: PlatformDep) -> auth.ActiveSession | None:
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
    active = await run_in_threadpool(_resolve, platform, token)
    request.state.active_session = active
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


READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_uow(request: Request, platform: PlatformDep, active: SessionDep) -> Iterator[UnitOfWork]:
    """One unit of work per request; routes that change data call ``uow.commit()``.

    GET, HEAD and OPTIONS requests get a read-only unit of work: they read a snapshot and
    never wait for (or block) a writer. A read route that must write opens its own."""
    principal: Principal | None = active.principal if active else None
    actor = (
        Actor(name=principal.username, user_id=principal.user_id)
        if principal
        else Actor(name="anonymous")
    )
    with platform.uow(actor=actor, read_only=request.method in READ_METHODS) as uow:
        yield uow


UowDep = Annotated[UnitOfWork, Depends(get_uow)]
