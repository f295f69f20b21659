"""A bounded, seeded schemathesis run over the whole API: no 5xx, every response as documented.

Every operation of the app's own OpenAPI schema (but logout, which would end the session, and
the notification stream, which stays open by design) is
fuzzed as two roles, coordinator and admin, who together hold most permissions. An operation
neither of them may call is fuzzed as a role that may as well, so every handler is reached; a
role without the permission still sends a few cases, because its 403 must be documented too.

The cases come from schemathesis's hypothesis strategies with a fixed seed, no example database
and a small budget, so the run is the same every time and takes well under a minute on one
backend: valid requests with the demo's ids in the path (so they reach real records), valid
requests with generated ids (mostly unknown), and invalid requests (negative mode). They go
through logged-in starlette TestClients with the CSRF header, and schemathesis checks each
response: not a server error, a documented status code and content type, the documented
headers, and a body matching the schema declared for that status (4xx bodies included).

Account operations (``/users/{user_id}/...``) only ever target a user made for this test:
a generated id could deactivate, reset or strip the very accounts the fuzzing runs as.

The summary line (operations, cases, 5xx, schema violations) is printed for quoting; the test
fails on any 5xx or violation and lists each kind once, with how often and a request that shows it.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core import NotSet
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from openpat.security import Role, roles_with
from openpat.services.runtime import Platform
from openpat.web.deps import Public
from tests.conftest import login
from tests.web.test_route_permissions import KNOWLEDGE_IDS, USERNAME_OF, app_endpoints, demo_ids

SEED = 20261204
# Cases per operation for a role that may call it, and for one that may not (403 every time).
EXAMPLES = 25
FORBIDDEN_EXAMPLES = 3
FUZZ_ROLES = (Role.COORDINATOR, Role.ADMIN)
# For an operation neither fuzzing role may call: the first of these that may.
STAND_INS = (Role.INVESTIGATOR, Role.UNBLINDED_STATISTICIAN, Role.PARTICIPANT, *Role)
# Ends the session the other cases need.
EXCLUDED = frozenset(
    {
        ("POST", "/api/v1/auth/logout"),
        # stays open for up to `wait` (0-300) seconds by design; test_notification_stream.py
        ("GET", "/api/v1/me/notifications/stream"),
    }
)
# Fuzzed last: failed logins slow down later logins from the same address.
LAST = frozenset({("POST", "/api/v1/auth/login")})
# Path parameters never generated: a generated user id may be a fuzzing role's own account.
PINNED_ONLY = frozenset({"user_id"})
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    # an invalid request (e.g. true for an id) is refused, never accepted
    negative_data_rejection,
]
HTTP_METHODS = ("get", "post", "put", "patch", "delete")
BASE_URL = "http://testserver"


@dataclass
class Tally:
    cases: int = 0
    negative: int = 0
    server_errors: list[str] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    # (operation, role, what failed, status) -> [count, one example]
    violations: dict[tuple[str, str, str, int], list[Any]] = field(default_factory=dict)
    lost_sessions: list[str] = field(default_factory=list)

    def record(self, key: tuple[str, str, str, int], example: str) -> None:
        self.violations.setdefault(key, [0, example])[0] += 1

    def report(self) -> list[str]:
        lines = [
            f"{op} as {role}: {what} (status {status}) x{count}; e.g. {example}"
            for (op, role, what, status), (count, example) in sorted(self.violations.items())
        ]
        return [*lines, *self.lost_sessions]


@dataclass(frozen=True)
class Run:
    """One operation fuzzed as one role."""

    operation: Any  # schemathesis APIOperation
    role: Role
    examples: int
    pinned: dict[str, Any]
    generated: bool  # also send generated path ids


def _request_kwargs(case: schemathesis.Case, csrf: str) -> dict[str, Any]:
    """The case as arguments for ``TestClient.request`` (httpx), serialised by schemathesis."""
    kwargs = case.as_transport_kwargs(base_url=BASE_URL, headers={"X-CSRF-Token": csrf})
    sent: dict[str, Any] = {
        "method": kwargs["method"],
        "url": kwargs["url"],
        "headers": kwargs["headers"],
    }
    params = kwargs.get("params")
    if isinstance(params, dict):
        params = {k: v for k, v in params.items() if v is not None}  # as requests does
    if params:
        sent["params"] = params
    if "json" in kwargs:
        sent["content"] = json.dumps(kwargs["json"]).encode()
    elif "data" in kwargs:
        data = kwargs["data"]
        sent["content" if isinstance(data, bytes | str) else "data"] = data
    if kwargs.get("cookies"):
        sent["cookies"] = kwargs["cookies"]
    return sent


def _describe(case: schemathesis.Case) -> str:
    mode = "negative" if case.meta and case.meta.generation.mode.is_negative else "positive"
    parts = [f"[{mode}] {case.method} {case.formatted_path}"]
    if case.query:
        parts.append(f"query={json.dumps(case.query, default=str)[:200]}")
    if not isinstance(case.body, NotSet):
        parts.append(f"body={json.dumps(case.body, default=str)[:300]}")
    return " ".join(parts)


def _one_line(text: str, limit: int = 300) -> str:
    return " ".join(text.split())[:limit]


def _fuzz(
    run: Run, strategy: st.SearchStrategy[schemathesis.Case], client: TestClient, csrf: str
) -> Tally:
    tally = Tally()

    @seed(SEED)
    @settings(
        max_examples=run.examples,
        database=None,
        deadline=None,
        phases=[Phase.generate],  # every failure is collected; nothing to shrink
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def send(case: schemathesis.Case) -> None:
        response = client.request(**_request_kwargs(case, csrf))
        tally.cases += 1
        if case.meta is not None and case.meta.generation.mode.is_negative:
            tally.negative += 1
        tally.statuses[response.status_code] += 1
        sent = _describe(case)
        if response.status_code >= 500:
            tally.server_errors.append(
                f"{run.operation.label} as {run.role.value}: {response.status_code} for {sent} "
                f"-> {_one_line(response.text)}"
            )
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as group:
            for failure in group.exceptions:
                assert isinstance(failure, Failure)
                what = f"{failure.title}: {_one_line(failure.message, 200)}"
                key = (run.operation.label, run.role.value, what, response.status_code)
                tally.record(key, f"{sent} -> {_one_line(response.text)}")

    send()
    return tally


def test_schemathesis_finds_no_server_error_and_no_undocumented_response(
    client: TestClient, demo_platform: Platform
) -> None:
    app = client.app
    raw = app.openapi()
    schema = schemathesis.openapi.from_dict(json.loads(json.dumps(raw)))
    requirements = {(e.method, e.path): e.requirement for e in app_endpoints(app)[0]}

    sessions: dict[Role, tuple[TestClient, str]] = {}

    def session(role: Role) -> tuple[TestClient, str]:
        if role not in sessions:
            c = TestClient(app, raise_server_exceptions=False)
            sessions[role] = (c, login(c, USERNAME_OF[role]))
        return sessions[role]

    # The account the /users/{user_id}/... operations act on, with one role to take away.
    admin, admin_csrf = session(Role.ADMIN)
    made = admin.post(
        "/api/v1/users",
        json={
            "username": "fuzz.target",
            "display_name": "Fuzz Target",
            "password": "a-long-enough-password",
            "memberships": [{"role": "monitor", "study_id": 1}],
        },
        headers={"X-CSRF-Token": admin_csrf},
    )
    assert made.status_code == 201, made.text
    target = made.json()

    # A background job for the /jobs/{job_id} operations.
    coordinator, coordinator_csrf = session(Role.COORDINATOR)
    job = coordinator.post(
        "/api/v1/studies/1/schedule/plan-job",
        json={"start": "2026-12-07", "weeks": 1},
        headers={"X-CSRF-Token": coordinator_csrf},
    )
    assert job.status_code == 202, job.text

    ids = demo_ids(demo_platform)
    demo_values: dict[str, Any] = {
        "job_id": job.json()["id"],
        "study_id": ids.study_id,
        "participant_id": ids.participant_id,
        "user_id": target["id"],
        "membership_id": target["memberships"][0]["id"],
        "screening_id": 1,
        "response_id": 1,
        "alert_id": 1,
        "site_id": 1,
        "booking_id": 1,
        "visit": "dosing",
        **KNOWLEDGE_IDS,
    }
    own_values = {**demo_values, "response_id": ids.own_response_id}

    runs: list[Run] = []
    labels: list[str] = []
    for path, item in raw["paths"].items():
        for method, spec in item.items():
            if method not in HTTP_METHODS or (method.upper(), path) in EXCLUDED:
                continue
            operation = schema[path][method]
            labels.append(operation.label)
            requirement = requirements[(method.upper(), path)]
            allowed = (
                set(Role) if isinstance(requirement, Public) else roles_with(requirement.permission)
            )
            roles = list(FUZZ_ROLES)
            if not allowed & set(FUZZ_ROLES):
                roles.append(next(r for r in STAND_INS if r in allowed))
            values = own_values if path.startswith("/api/v1/me/") else demo_values
            names = [p["name"] for p in spec.get("parameters", []) if p["in"] == "path"]
            missing = [n for n in names if n not in values]
            assert not missing, f"{operation.label}: no demo value for {missing}; add it above"
            pinned = {n: values[n] for n in names}
            for role in roles:
                runs.append(
                    Run(
                        operation=operation,
                        role=role,
                        examples=EXAMPLES if role in allowed else FORBIDDEN_EXAMPLES,
                        pinned=pinned,
                        generated=bool(set(names) - PINNED_ONLY),
                    )
                )
    runs.sort(key=lambda r: (r.operation.method.upper(), r.operation.path) in LAST)
    for run in runs:
        session(run.role)  # everyone logs in before the login endpoint is fuzzed

    total = Tally()
    started = time.perf_counter()
    for run in runs:
        c, csrf = session(run.role)
        strategies = [
            run.operation.as_strategy(path_parameters=run.pinned or None),
            run.operation.as_strategy(
                generation_mode=schemathesis.GenerationMode.NEGATIVE,
                path_parameters=run.pinned or None,
            ),
        ]
        if run.generated:
            keep = {k: v for k, v in run.pinned.items() if k in PINNED_ONLY}
            strategies.append(run.operation.as_strategy(path_parameters=keep or None))
        tally = _fuzz(run, st.one_of(strategies), c, csrf)
        total.cases += tally.cases
        total.negative += tally.negative
        total.statuses.update(tally.statuses)
        total.server_errors += tally.server_errors
        for key, (count, example) in tally.violations.items():
            total.violations.setdefault(key, [0, example])[0] += count
        # A case that ended the session would turn the rest of the run into 401s.
        if c.get("/api/v1/auth/me").status_code != 200:
            total.lost_sessions.append(
                f"{run.operation.label} as {run.role.value}: the session ended; logged in again"
            )
            del sessions[run.role]
    elapsed = time.perf_counter() - started

    report = total.report()
    n_violations = sum(count for count, _ in total.violations.values())
    print(
        f"\nschemathesis (seed {SEED}): {len(labels)} operations, {len(runs)} operation-role "
        f"runs, {total.cases} cases ({total.negative} negative), "
        f"{len(total.server_errors)} 5xx, {n_violations} schema violations "
        f"({len(total.violations)} kinds), {elapsed:.0f}s; "
        f"statuses {dict(sorted(total.statuses.items()))}"
    )
    if report:
        print("\n".join(report))
    assert total.server_errors == [], "\n".join(total.server_errors + report)
    assert report == [], f"{len(report)} kinds of violation:\n" + "\n".join(report)
