"""The route x role test: it covers every route the app has.

Every route must declare exactly one of ``Require(permission)`` or ``PUBLIC`` (see
``openpat.web.deps``). The routes are read from the app itself, so a new route is covered the
moment it is added: anonymous callers are sent to log in, each role gets exactly what
``ROLE_PERMISSIONS`` grants it (403 otherwise), and state-changing requests without the CSRF
token are refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import fastapi.routing
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from httpx import Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from openpat.security import ROLE_PERMISSIONS, Permission, Role, roles_with
from openpat.services import jobs
from openpat.services.runtime import Actor, Platform
from openpat.web.app import create_app
from openpat.web.deps import UNSAFE_METHODS, Public, Require
from tests.conftest import login, make_settings

# The routes anyone may call; everything else needs a login and a permission.
PUBLIC_ROUTES = frozenset(
    {
        ("GET", "/healthz"),
        ("GET", "/livez"),
        ("GET", "/readyz"),
        # an administrator's session or the metrics token, checked in the route (a scraper
        # has no session); tests/web/test_observe.py
        ("GET", "/metrics"),
        ("GET", "/login"),
        ("POST", "/login"),
        ("POST", "/api/v1/auth/login"),
        # a participant's personal link to one form: the unguessable token is the credential
        ("GET", "/f/{token}"),
        ("POST", "/f/{token}"),
    }
)

# The demo login for each role.
USERNAME_OF: dict[Role, str] = {
    Role.ADMIN: "admin",
    Role.INVESTIGATOR: "investigator",
    Role.COORDINATOR: "coordinator",
    Role.FACILITATOR: "facilitator",
    Role.BLINDED_RATER: "rater",
    Role.MONITOR: "monitor",
    Role.PARTICIPANT: "participant",
    Role.UNBLINDED_STATISTICIAN: "statistician",
}

# Routes that end the session: run last, and log in again after them.
LOGOUT_PATHS = frozenset({"/logout", "/api/v1/auth/logout"})


@dataclass(frozen=True)
class Endpoint:
    """One (method, path) the app serves and what it declares it needs."""

    method: str
    path: str  # the template, e.g. /api/v1/studies/{study_id}
    declared: tuple[Require | Public, ...]

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def requirement(self) -> Require | Public | None:
        return self.declared[0] if len(self.declared) == 1 else None

    @property
    def permission(self) -> Permission | None:
        req = self.requirement
        return req.permission if isinstance(req, Require) else None

    @property
    def is_public(self) -> bool:
        return isinstance(self.requirement, Public)

    @property
    def is_api(self) -> bool:
        return self.path.startswith("/api/")

    @property
    def is_unsafe(self) -> bool:
        return self.method in UNSAFE_METHODS


def _declarations(dependant: Any) -> Iterator[Require | Public]:
    for dep in dependant.dependencies:
        if isinstance(dep.call, Require | Public):
            yield dep.call
        yield from _declarations(dep)


def _flat_routes(app: FastAPI) -> Iterator[tuple[Any, Any]]:
    """(the route as declared, the route as served with its prefix) for every route.

    Newer FastAPI keeps included routers as one entry of ``app.routes`` and resolves their
    routes lazily; ``iter_route_contexts`` flattens them. Older versions list every route.
    """
    iter_contexts = getattr(fastapi.routing, "iter_route_contexts", None)
    if iter_contexts is None:
        for route in app.routes:
            yield route, route
        return
    for context in iter_contexts(app.routes):
        yield context.original_route, context


def app_endpoints(app: FastAPI) -> tuple[list[Endpoint], list[str]]:
    """Every endpoint, and a description of every route that is neither API route nor static."""
    endpoints: list[Endpoint] = []
    unknown: list[str] = []
    for original, served in _flat_routes(app):
        if isinstance(original, Mount) and isinstance(original.app, StaticFiles):
            continue
        if not isinstance(original, APIRoute):
            unknown.append(f"{type(original).__name__} {getattr(original, 'path', '?')}")
            continue
        declared = tuple(dict.fromkeys(_declarations(served.dependant)))
        for method in sorted(served.methods):
            endpoints.append(Endpoint(method=method, path=served.path, declared=declared))
    return endpoints, unknown


# Knowledge-base entries every role-x-route request can open.
KNOWLEDGE_IDS = {
    "substance_id": "dmt",
    "medication_id": "sertraline",
    "reference_id": "eckernas-2022",
    "instrument_id": "madrs",
    "trial_id": "mapp1",
    "protocol_id": "spl026-dmt-mdd",
}


@dataclass(frozen=True)
class DemoIds:
    study_id: int
    participant_id: int
    user_id: int
    own_response_id: int = 0  # the participant login's own form (the demo sends a PHQ-9)

    def fill(self, endpoint: Endpoint) -> str:
        own = endpoint.path.startswith(("/api/v1/me/", "/me/"))
        values = {
            "study_id": self.study_id,
            "participant_id": self.participant_id,
            "user_id": self.user_id,
            "screening_id": 1,
            # the demo's first questionnaire (a MADRS rating), or the participant's own form
            "response_id": self.own_response_id if own else 1,
            "alert_id": 1,
            "site_id": 1,
            "booking_id": 1,
            "membership_id": 1,
            "job_id": 1,
            "visit": "dosing",
            **KNOWLEDGE_IDS,
        }
        path = endpoint.path
        for name, value in values.items():
            path = path.replace("{" + name + "}", str(value))
        assert "{" not in path, (
            f"{endpoint.label}: no demo value for a path parameter; add it to DemoIds.fill"
        )
        return path


def demo_ids(platform: Platform) -> DemoIds:
    """Real ids from the demo database: study 1, the participant login's own record, a user."""
    with platform.uow(actor=Actor("test")) as uow:
        study = uow.studies.get(1)
        assert study is not None and study.code == "DMT-MDD-DEMO"
        participant_user = uow.users.get_by_username("participant")
        assert participant_user is not None
        loaded = uow.users.get_with_memberships(participant_user.id)
        assert loaded is not None
        (membership,) = loaded.memberships
        participant = uow.participants.get(membership.participant_id)
        assert participant is not None and participant.study_id == study.id
        facilitator = uow.users.get_by_username("facilitator")
        assert facilitator is not None
        own = [
            r.id for r in uow.responses.for_participant(participant.id) if r.source == "participant"
        ]
        return DemoIds(
            study_id=study.id,
            participant_id=participant.id,
            user_id=facilitator.id,
            own_response_id=own[0],
        )


def send(client: TestClient, endpoint: Endpoint, path: str, *, csrf: str | None = None) -> Response:
    """The request for ``endpoint``: an empty JSON body (API) or form (pages) when unsafe."""
    headers = {"X-CSRF-Token": csrf} if csrf is not None else {}
    kwargs: dict[str, Any] = {}
    if endpoint.is_unsafe:
        if endpoint.is_api:
            kwargs["json"] = {}
        else:
            kwargs["data"] = {"unrelated": "1"}
    return client.request(endpoint.method, path, headers=headers, follow_redirects=False, **kwargs)


def protected_endpoints(app: FastAPI) -> list[Endpoint]:
    endpoints, _ = app_endpoints(app)
    protected = [e for e in endpoints if not e.is_public]
    # Logging out ends the session the other requests use: those go last.
    return sorted(protected, key=lambda e: e.path in LOGOUT_PATHS)


def _error(response: Response) -> dict[str, Any]:
    body = response.json()
    assert isinstance(body, dict) and "error" in body, response.text
    error: dict[str, Any] = body["error"]
    return error


# -- every route declares what it needs ---------------------------------------------------


@pytest.fixture
def bare_app(tmp_path: Path) -> Iterator[FastAPI]:
    """The app without a database behind it (only its routes are read)."""
    app = create_app(make_settings(f"sqlite:///{tmp_path / 'routes.db'}", tmp_path))
    yield app
    app.state.platform.dispose()


def test_every_route_declares_exactly_one_requirement(bare_app: FastAPI) -> None:
    endpoints, unknown = app_endpoints(bare_app)
    assert unknown == [], f"routes that are neither API routes nor static files: {unknown}"
    # The enumeration must see the routers' routes, not just the top level.
    labels = {e.label for e in endpoints}
    assert len(endpoints) >= 30, sorted(labels)
    for expected in (
        "GET /api/v1/studies/{study_id}",
        "POST /api/v1/users/{user_id}/memberships",
        "POST /admin/users",
        "GET /me",
    ):
        assert expected in labels
    undeclared = sorted(e.label for e in endpoints if not e.declared)
    assert undeclared == [], f"routes declaring neither Require(...) nor PUBLIC: {undeclared}"
    several = sorted(f"{e.label}: {e.declared}" for e in endpoints if len(e.declared) > 1)
    assert several == [], f"routes declaring more than one requirement: {several}"


def test_public_routes_are_exactly_the_allow_list(bare_app: FastAPI) -> None:
    endpoints, _ = app_endpoints(bare_app)
    public = {(e.method, e.path) for e in endpoints if e.is_public}
    assert public == PUBLIC_ROUTES


def test_every_permission_guards_some_route(bare_app: FastAPI) -> None:
    """A permission no route uses is a sign the route x role test is looking in the wrong place."""
    endpoints, _ = app_endpoints(bare_app)
    used = {e.permission for e in endpoints if e.permission is not None}
    assert used == set(Permission)


# -- anonymous callers ---------------------------------------------------------------------


def test_anonymous_callers_must_log_in_everywhere(
    client: TestClient, demo_platform: Platform
) -> None:
    ids = demo_ids(demo_platform)
    failures: list[str] = []
    checked = 0
    for endpoint in protected_endpoints(client.app):
        path = ids.fill(endpoint)
        response = send(client, endpoint, path)
        checked += 1
        if endpoint.is_api:
            ok = (
                response.status_code == 401
                and response.headers["content-type"].startswith("application/json")
                and _error(response)["code"] == "not_authenticated"
            )
        else:
            ok = (
                response.status_code == 303
                and response.headers.get("location") == f"/login?next={quote(path)}"
            )
        if not ok:
            failures.append(
                f"{endpoint.label} ({path}): {response.status_code} "
                f"{response.headers.get('location', '')} {response.text[:200]}"
            )
    assert checked >= 30
    assert failures == [], "anonymous requests not refused:\n" + "\n".join(failures)


def test_public_routes_answer_anonymous_callers(platform: Platform) -> None:
    client = TestClient(create_app(platform=platform))
    assert client.get("/healthz").status_code == 200
    page = client.get("/login")
    assert page.status_code == 200
    assert 'name="csrf_token"' in page.text
    # The login POSTs answer with their own refusal, not a demand to log in first.
    assert client.post("/login", data={}, follow_redirects=False).status_code == 403
    bad = client.post("/api/v1/auth/login", json={"username": "admin", "password": "wrong"})
    assert bad.status_code == 401
    assert _error(bad)["code"] == "not_authenticated"


# -- each role gets exactly its permissions ----------------------------------------------


@pytest.mark.parametrize("role", list(Role), ids=[r.value for r in Role])
def test_each_role_gets_exactly_its_permissions(
    role: Role, client: TestClient, demo_platform: Platform
) -> None:
    ids = demo_ids(demo_platform)
    username = USERNAME_OF[role]
    # a background job this user asked for (job 1), for the /jobs/{job_id} routes
    with demo_platform.uow(actor=Actor("test")) as uow:
        user = uow.users.get_by_username(username)
        assert user is not None
        job = jobs.enqueue(
            uow, kind="schedule.plan", args={"study_id": 1}, study_id=1, requested_by=user.id
        )
        assert job.id == 1
        uow.commit()
    csrf = login(client, username)
    assert client.get("/api/v1/auth/me").json()["roles"] == [role.value]
    granted = ROLE_PERMISSIONS[role]
    failures: list[str] = []
    allowed = refused = 0
    for endpoint in protected_endpoints(client.app):
        assert endpoint.permission is not None, endpoint.label
        path = ids.fill(endpoint)
        response = send(client, endpoint, path, csrf=csrf)
        where = f"{endpoint.label} ({path}) as {role.value}"
        if endpoint.permission in granted:
            allowed += 1
            status = response.status_code
            # Reads of the demo study's real records succeed (or redirect, never to log in).
            if (
                status in (401, 403)
                or status >= 500
                or (endpoint.method == "GET" and status not in (200, 303))
                or (
                    endpoint.path not in LOGOUT_PATHS
                    and response.headers.get("location", "").startswith("/login")
                )
            ):
                failures.append(
                    f"{where}: has {endpoint.permission.value} but got {status} "
                    f"{response.headers.get('location', '')} {response.text[:300]}"
                )
        else:
            refused += 1
            if response.status_code != 403:
                failures.append(
                    f"{where}: lacks {endpoint.permission.value} but got "
                    f"{response.status_code}: {response.text[:300]}"
                )
            elif endpoint.is_api:
                error = _error(response)
                # the permission's code for scripts, beside a message in words without it
                if (
                    error["code"] != "permission_denied"
                    or error.get("permission") != endpoint.permission.value
                    or endpoint.permission.value in error["message"]
                    or endpoint.permission.label not in error["message"]
                ):
                    failures.append(f"{where}: 403 does not name the permission: {error}")
            elif "Not allowed" not in response.text:
                failures.append(f"{where}: 403 page does not say so: {response.text[:300]}")
        if endpoint.path in LOGOUT_PATHS and response.status_code < 400:
            csrf = login(client, username)
    assert allowed > 0 and refused > 0
    assert failures == [], f"{len(failures)} wrong answers:\n" + "\n".join(failures)


# -- CSRF ------------------------------------------------------------------------------------


def test_unsafe_requests_without_the_csrf_token_are_refused(
    client: TestClient, demo_platform: Platform
) -> None:
    ids = demo_ids(demo_platform)
    unsafe = [e for e in protected_endpoints(client.app) if e.is_unsafe]
    assert {e.label for e in unsafe} >= {
        "POST /api/v1/studies/{study_id}/participants",
        "PUT /api/v1/participants/{participant_id}/identity",
        "POST /logout",
    }
    with demo_platform.uow(actor=Actor("test")) as uow:
        audit_before = uow.audit.verify().entries_checked
    logins = 0
    failures: list[str] = []
    for endpoint in unsafe:
        assert endpoint.permission is not None
        # A role that has the permission, so only the missing token can be the reason.
        role = next(r for r in Role if r in roles_with(endpoint.permission))
        path = ids.fill(endpoint)
        for label, token in (("no token", None), ("wrong token", "not-the-token")):
            user_client = TestClient(client.app)
            login(user_client, USERNAME_OF[role])
            logins += 1
            response = send(user_client, endpoint, path, csrf=token)
            where = f"{endpoint.label} ({path}) as {role.value}, {label}"
            if response.status_code != 403 or "CSRF" not in response.text:
                failures.append(f"{where}: {response.status_code} {response.text[:300]}")
            # The refused request did nothing: the session (even for logout) is still there.
            if user_client.get("/api/v1/auth/me").status_code != 200:
                failures.append(f"{where}: the session did not survive the refused request")
    assert failures == [], "CSRF not enforced:\n" + "\n".join(failures)
    with demo_platform.uow(actor=Actor("test")) as uow:
        result = uow.audit.verify()
        # Only the logins were recorded; nothing the refused requests tried to change.
        assert result.problem is None
        assert result.entries_checked == audit_before + logins
        assert uow.participants.count(study_id=ids.study_id, site_ids=None) == 40
