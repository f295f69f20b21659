"""Every check knows its study (issue 16, point 1).

A second study with its own site is set up beside the demo study, with one login per staff role
whose membership covers that whole study (no site: the widest grant a study member can hold).
Then every route of the app is called with the demo study's ids. Each route that names a
study-owned resource (study, site, participant, screening, response, alert, booking) must refuse
(403 or 404): reads show nothing and writes, sent with a body that passes validation so that only
the permission check can stop them, change nothing. Routes that name no resource must not show
the demo study's records.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from openpat.security import ROLE_PERMISSIONS, Principal, Role
from openpat.services import studies, users
from openpat.services.runtime import Actor, Platform
from openpat.services.studies import SiteCreate, StudyCreate
from openpat.services.users import MembershipIn, UserCreate
from tests.conftest import login
from tests.web.test_api_bad_input import Schemas, api_operations
from tests.web.test_route_permissions import (
    LOGOUT_PATHS,
    demo_ids,
    protected_endpoints,
    send,
)

# Path parameters that name a record owned by a study (directly or through its site).
OWNED = ("study_id", "site_id", "participant_id", "screening_id", "response_id", "alert_id")
OWNED_ALSO = ("booking_id",)
STAFF = [r for r in Role if r is not Role.PARTICIPANT]
PASSWORD = "second-study-pass-2026"


def _second_study(platform: Platform) -> dict[Role, str]:
    """Study OTHER-2 at site S2, and a study-wide login for each staff role in it."""
    system = Principal.system("test-setup")
    logins: dict[Role, str] = {}
    with platform.uow(actor=Actor("test-setup"), reason="a second study") as uow:
        site = studies.create_site(
            uow=uow,
            site_in=SiteCreate(
                code="S2", name="Second site", timezone="Europe/Berlin", country="DE"
            ),
        )
        study = studies.create_study(
            uow=uow,
            study_in=StudyCreate(
                code="OTHER-2",
                title="Another study",
                substance="psilocybin",
                condition="anxiety",
                phase="2",
            ),
            site_ids=[site.id],
        )
        for role in STAFF:
            username = f"other-{role.value.replace('_', '-')}"
            users.create_user(
                uow=uow,
                principal=system,
                user_in=UserCreate(
                    username=username,
                    display_name=f"Other {role.label}",
                    password=PASSWORD,
                    memberships=[MembershipIn(role=role, study_id=study.id)],
                ),
                hasher=platform.hasher,
            )
            logins[role] = username
        uow.commit()
    return logins


def _valid_bodies(app: Any) -> dict[tuple[str, str], Any]:
    """A body that passes validation for every API operation that takes one."""
    schemas = Schemas(app.openapi()["components"]["schemas"])
    bodies = {}
    for op in api_operations(app):
        schema = op.body_schema()
        if schema is not None:
            bodies[(op.method, op.path)] = schemas.valid(schema)
    return bodies


def _snapshot(platform: Platform) -> tuple[int, int, int]:
    """(audit entries other than logins and logouts, rooms, facilitators) of the database."""
    with platform.uow(actor=Actor("test")) as uow:
        result = uow.audit.verify()
        assert result.problem is None, result.problem
        events = uow.audit.list(
            participant_id=None, actor_user_id=None, study_ids=None, before_seq=None, limit=10**6
        )
        changes = sum(1 for e in events if not e.action.startswith(("login", "logout")))
        return changes, len(uow.schedule.rooms(1)), len(uow.schedule.facilitators(1))


def _refused(strict: bool, response: Any) -> bool:
    """A read, or an API write with a valid body, is refused with 403 or 404. A page's form
    (sent without its fields) may instead come back with its problems, as a 4xx page or a
    redirect to the form with an error; the snapshot shows that it changed nothing."""
    if response.status_code in (403, 404):
        return True
    if strict:
        return False
    if response.status_code == 303:
        return "error" in response.headers.get("location", "")
    return 400 <= response.status_code < 500


def _newest(platform: Platform, n: int) -> list[str]:
    with platform.uow(actor=Actor("test")) as uow:
        events = uow.audit.list(limit=n + 50)
        return [
            f"{e.action} {e.table_name}.{e.field} {e.new_value!r} by {e.actor}"
            for e in events
            if not e.action.startswith(("login", "logout"))
        ][: max(n, 0)]


@pytest.fixture
def second_study(demo_platform: Platform) -> dict[Role, str]:
    return _second_study(demo_platform)


@pytest.mark.parametrize("role", STAFF, ids=[r.value for r in STAFF])
def test_members_of_another_study_reach_nothing_of_this_one(
    role: Role, client: TestClient, demo_platform: Platform, second_study: dict[Role, str]
) -> None:
    ids = demo_ids(demo_platform)
    bodies = _valid_bodies(client.app)
    with demo_platform.uow(actor=Actor("test")) as uow:
        codes = [p.code for p in uow.participants.list(study_id=ids.study_id, site_ids=None)]
    # what would show that the demo study leaked: its code, its participants' codes
    leaks = re.compile("|".join(re.escape(c) for c in ["DMT-MDD-DEMO", *codes]))
    before = _snapshot(demo_platform)
    username = second_study[role]
    csrf = login(client, username, PASSWORD)
    granted = ROLE_PERMISSIONS[role]
    failures: list[str] = []
    owned = refused = 0
    for endpoint in protected_endpoints(client.app):
        if endpoint.permission not in granted:
            continue  # the route x role test covers routes the role may not use at all
        path = ids.fill(endpoint)
        body = bodies.get((endpoint.method, endpoint.path))
        if body is not None:
            response = client.request(
                endpoint.method,
                path,
                json=body,
                headers={"X-CSRF-Token": csrf},
                follow_redirects=False,
            )
        else:
            response = send(client, endpoint, path, csrf=csrf)
        where = f"{endpoint.label} ({path}) as {username}"
        names_a_record = any("{" + p + "}" in endpoint.path for p in (*OWNED, *OWNED_ALSO))
        if names_a_record:
            owned += 1
            if _refused(endpoint.is_api or endpoint.method == "GET", response):
                refused += 1
            else:
                failures.append(
                    f"{where}: {response.status_code} {response.headers.get('location', '')} "
                    f"{response.text[:200]}"
                )
        elif response.status_code >= 500:
            failures.append(f"{where}: {response.status_code} {response.text[:200]}")
        elif endpoint.method == "GET" and (found := leaks.search(response.text)):
            around = response.text[max(found.start() - 200, 0) : found.end() + 100]
            failures.append(f"{where}: shows {found.group(0)!r} of the demo study: {around}")
        if endpoint.path in LOGOUT_PATHS and response.status_code < 400:
            csrf = login(client, username, PASSWORD)
    print(f"\nsecond study, {role.value}: {refused} of {owned} record routes refused")
    assert owned > 0 and refused == owned, failures
    assert failures == [], f"{len(failures)} reached across studies:\n" + "\n".join(failures)
    after = _snapshot(demo_platform)
    assert after == before, (
        f"a refused request changed the data: {_newest(demo_platform, after[0] - before[0])}"
    )
