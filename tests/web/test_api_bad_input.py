"""Bad input anywhere in the API gives a 4xx naming the field; none gives a 500.

The sweep is driven by the app's own OpenAPI schema, so a new endpoint is covered the moment it
is added: wrong-typed and unknown path ids, out-of-range and wrong-typed query parameters, and
for JSON bodies every required field missing in turn, wrong types for every property (nested
ones too), unknown fields and malformed JSON. Nothing rejected may change the data or break
the audit chain.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from openpat.security import Role, roles_with
from openpat.services import studies
from openpat.services.runtime import Actor, Platform
from openpat.services.studies import SiteCreate
from openpat.web.deps import Public, Require
from tests.conftest import TEST_NOW, login
from tests.web.test_route_permissions import (
    KNOWLEDGE_IDS,
    USERNAME_OF,
    DemoIds,
    app_endpoints,
    demo_ids,
)

API_PREFIX = "/api/v1"
HTTP_METHODS = ("get", "post", "put", "patch", "delete")
# Who makes the requests: the first of these whose role has the operation's permission.
ROLE_PREFERENCE = (Role.COORDINATOR, Role.ADMIN, Role.PARTICIPANT, *Role)
UNKNOWN_ID = 999999
# Integers no database column holds (PostgreSQL INTEGER is 32-bit, SQLite and BIGINT 64-bit).
HUGE_INTS = (2**31, 2**63, -(2**63) - 1, 10**30)
BAD_PATH_IDS = ("abc", "1.5", "0x10", "-")
# Strings that satisfy the patterns used by request models (the sweep needs valid bases).
PATTERN_EXAMPLES = ("abc", "ABC", "AB12", "+44 20 7946 0000", "ab-12.x", "GB", "09:30")


# -- the OpenAPI schema ------------------------------------------------------------------


@dataclass
class Schemas:
    components: dict[str, Any]

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = self.components[schema["$ref"].rsplit("/", 1)[1]]
        return schema

    def nullable(self, schema: dict[str, Any]) -> bool:
        schema = self.resolve(schema)
        return any(o.get("type") == "null" for o in schema.get("anyOf", []))

    def concrete(self, schema: dict[str, Any]) -> dict[str, Any]:
        """The schema without its ``| None`` (an ``anyOf`` with one other option)."""
        schema = self.resolve(schema)
        if "anyOf" in schema:
            options = [self.resolve(o) for o in schema["anyOf"] if o.get("type") != "null"]
            assert len(options) == 1, f"the sweep does not handle unions yet: {schema}"
            return options[0]
        return schema

    def valid(self, schema: dict[str, Any]) -> Any:
        """A minimal value that passes validation (required object fields only)."""
        s = self.concrete(schema)
        if "enum" in s:
            return s["enum"][0]
        kind = s.get("type")
        if kind == "object":
            props = s.get("properties", {})
            return {name: self.valid(props[name]) for name in s.get("required", [])}
        if kind == "array":
            if "prefixItems" in s:  # a fixed-length tuple
                return [self.valid(item) for item in s["prefixItems"]]
            return [self.valid(s["items"])] if s.get("minItems") else []
        if kind in ("integer", "number"):
            value = int(s.get("minimum", 1))
            return value if kind == "integer" else float(value)
        if kind == "boolean":
            return True
        if kind == "string":
            return _valid_string(s)
        raise AssertionError(f"the sweep does not know how to fill {s}; teach Schemas.valid")

    def wrong(self, schema: dict[str, Any]) -> Iterator[tuple[str, Any]]:
        """Values of the wrong type or out of range for ``schema`` (labelled)."""
        if not self.nullable(schema):
            yield "null", None
        s = self.concrete(schema)
        kind = s.get("type")
        if "enum" in s:
            yield "unknown choice", "nonsense"
            yield "int for a choice", 7
            return
        if kind == "integer":
            yield "string for an int", "abc"
            yield "fraction for an int", 1.5
            yield "list for an int", [1]
            yield from _out_of_range(s)
        elif kind == "number":
            yield "string for a number", "abc"
            yield from _out_of_range(s)
        elif kind == "boolean":
            yield "string for a bool", "maybe"
        elif kind == "string":
            yield "int for a string", 123
            yield "object for a string", {"a": 1}
            if s.get("format") == "date":
                yield "impossible date", "2024-13-45"
                yield "not a date", "not-a-date"
            elif s.get("format") == "date-time":
                yield "impossible time", "2024-01-01T25:61:00"
            elif s.get("format") == "email":
                yield "not an email", "not-an-email"
            elif s.get("format") == "time":
                yield "impossible time of day", "25:61"
            if s.get("minLength", 0) > 0:
                yield "empty string", ""
            if "maxLength" in s:
                yield "too long", "x" * (s["maxLength"] + 1)
            if "pattern" in s:
                yield "not matching the pattern", "!!"
        elif kind == "object":
            yield "string for an object", "not-an-object"
            yield "list for an object", [1]
        elif kind == "array":
            yield "string for a list", "not-a-list"
            yield "object for a list", {"a": 1}
            if "prefixItems" in s:
                yield "too few items for a tuple", [self.valid(i) for i in s["prefixItems"][:-1]]
                yield (
                    "too many items for a tuple",
                    [*self.valid(s), self.valid(s["prefixItems"][0])],
                )

    def extremes(self, schema: dict[str, Any]) -> Iterator[tuple[str, Any]]:
        """Integers no database column holds: refused naming the field, or harmless; never 5xx."""
        if self.concrete(schema).get("type") == "integer":
            for huge in HUGE_INTS:
                yield f"huge int {huge}", huge


def _valid_string(s: dict[str, Any]) -> str:
    fmt = s.get("format")
    if fmt == "date":
        return "2024-01-15"
    if fmt == "date-time":
        return "2024-01-15T10:00:00Z"
    if fmt == "email":
        return "someone@example.org"
    if fmt == "time":
        return "09:00:00"
    low, high = s.get("minLength", 0), s.get("maxLength", 200)
    candidates = [c for c in PATTERN_EXAMPLES if low <= len(c) <= high]
    if "pattern" in s:
        candidates = [c for c in candidates if re.search(s["pattern"], c)]
        assert candidates, f"add an example matching {s['pattern']!r} to PATTERN_EXAMPLES"
        return candidates[0]
    return candidates[0] if candidates else "x" * max(low, 1)


def _out_of_range(s: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    if "minimum" in s:
        yield "below the minimum", int(s["minimum"]) - 1
    if "maximum" in s:
        yield "above the maximum", int(s["maximum"]) + 1


def _set(body: Any, loc: tuple[str | int, ...], value: Any) -> Any:
    body = copy.deepcopy(body)
    if not loc:
        return value
    target = body
    for key in loc[:-1]:
        target = target[key]
    target[loc[-1]] = value
    return body


def _get(body: Any, loc: tuple[str | int, ...]) -> Any:
    for key in loc:
        body = body[key]
    return body


def _join(prefix: str, name: str | int) -> str:
    if isinstance(name, int):
        return f"{prefix}[{name}]"
    return f"{prefix}.{name}" if prefix else name


@dataclass(frozen=True)
class BodyCase:
    label: str
    body: Any
    fields: tuple[str, ...]  # every one must be named in the error
    # Extreme values may also be accepted by the model and refused by the service (4xx).
    statuses: frozenset[int] = frozenset({422})


def body_cases(
    schemas: Schemas, schema: dict[str, Any], base: Any, loc: tuple[str | int, ...] = ()
) -> Iterator[BodyCase]:
    """Bad bodies for the object at ``loc`` of ``base``, recursing into nested objects."""
    s = schemas.concrete(schema)
    assert s.get("type") == "object", s
    prefix = ""
    for key in loc:
        prefix = _join(prefix, key)
    props: dict[str, Any] = s.get("properties", {})
    required: list[str] = s.get("required", [])
    here = prefix or "body"
    if required:
        yield BodyCase(
            f"{here}: empty object", _set(base, loc, {}), tuple(_join(prefix, r) for r in required)
        )
    for name in required:
        without = copy.deepcopy(base)
        del _get(without, loc)[name]
        yield BodyCase(f"{here}: missing {name}", without, (_join(prefix, name),))
    unknown = _join(prefix, "unexpected_field")
    yield BodyCase(f"{here}: unknown field", _set(base, (*loc, "unexpected_field"), 1), (unknown,))
    for name, prop in props.items():
        for label, value in schemas.wrong(prop):
            yield BodyCase(
                f"{_join(prefix, name)}: {label}",
                _set(base, (*loc, name), value),
                (_join(prefix, name),),
            )
        for label, value in schemas.extremes(prop):
            yield BodyCase(
                f"{_join(prefix, name)}: {label}",
                _set(base, (*loc, name), value),
                (_join(prefix, name),),
                frozenset({404, 409, 422}),
            )
        inner = schemas.concrete(prop)
        if inner.get("type") == "object":
            nested = _set(base, (*loc, name), schemas.valid(inner))
            yield from body_cases(schemas, inner, nested, (*loc, name))
        elif (
            inner.get("type") == "array"
            and "items" in inner
            and schemas.concrete(inner["items"]).get("type") == "object"
        ):
            item = schemas.concrete(inner["items"])
            nested = _set(base, (*loc, name), [schemas.valid(item)])
            yield from body_cases(schemas, item, nested, (*loc, name, 0))


# -- the sweep ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    spec: dict[str, Any]
    requirement: Require | Public

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    def params(self, where: str) -> list[dict[str, Any]]:
        return [p for p in self.spec.get("parameters", []) if p["in"] == where]

    def body_schema(self) -> dict[str, Any] | None:
        content = self.spec.get("requestBody", {}).get("content", {})
        if not content:
            return None
        assert "application/json" in content, f"{self.label}: only JSON bodies are swept"
        schema: dict[str, Any] = content["application/json"]["schema"]
        return schema


def api_operations(app: Any) -> list[Operation]:
    requirements = {(e.method, e.path): e.requirement for e in app_endpoints(app)[0]}
    ops = []
    for path, item in app.openapi()["paths"].items():
        if not path.startswith(API_PREFIX):
            continue
        for method, spec in item.items():
            if method not in HTTP_METHODS:
                continue
            requirement = requirements[(method.upper(), path)]
            assert requirement is not None, f"{method.upper()} {path} declares no requirement"
            ops.append(Operation(method.upper(), path, spec, requirement))
    return ops


def role_for(op: Operation) -> Role | None:
    if isinstance(op.requirement, Public):
        return None
    allowed = roles_with(op.requirement.permission)
    assert allowed, f"{op.label}: no role has {op.requirement.permission.value}"
    return next(r for r in ROLE_PREFERENCE if r in allowed)


@dataclass
class Sweep:
    """Sends the requests, logged in as the right role, and collects every problem."""

    app: Any
    ids: DemoIds
    clients: dict[Role | None, tuple[TestClient, str | None]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    sent: int = 0

    def client_for(self, role: Role | None) -> tuple[TestClient, str | None]:
        if role not in self.clients:
            client = TestClient(self.app, raise_server_exceptions=False)
            csrf = login(client, USERNAME_OF[role]) if role is not None else None
            self.clients[role] = (client, csrf)
        return self.clients[role]

    def path(self, op: Operation, **override: Any) -> str:
        values = {
            "study_id": self.ids.study_id,
            "participant_id": self.ids.participant_id,
            "user_id": self.ids.user_id,
            "response_id": (self.ids.own_response_id if op.path.startswith("/api/v1/me/") else 1),
            "alert_id": 1,
            "site_id": 1,
            "booking_id": 1,
            "membership_id": 1,
            "visit": "dosing",
            **KNOWLEDGE_IDS,
        }
        values.update(override)
        path = op.path
        for param in op.params("path"):
            name = param["name"]
            assert name in values, f"{op.label}: no demo value for path parameter {name!r}"
            path = path.replace("{" + name + "}", str(values[name]))
        return path

    def send(
        self,
        op: Operation,
        what: str,
        *,
        path: str,
        params: dict[str, str] | None = None,
        body: Any = None,
        content: str | None = None,
        content_type: str = "application/json",
    ) -> Response:
        client, csrf = self.client_for(role_for(op))
        headers = {"X-CSRF-Token": csrf} if csrf else {}
        kwargs: dict[str, Any] = {}
        if content is not None:
            kwargs["content"] = content
            headers["content-type"] = content_type
        elif body is not None:
            kwargs["json"] = body
        response = client.request(op.method, path, params=params, headers=headers, **kwargs)
        self.sent += 1
        if response.status_code >= 500:
            self.problems.append(f"{op.label} [{what}]: {response.status_code} {response.text}")
        return response

    def expect(
        self,
        op: Operation,
        what: str,
        response: Response,
        statuses: set[int],
        names: tuple[str, ...],
    ) -> None:
        """The status is one of ``statuses`` and the error names each of ``names``."""
        where = f"{op.label} [{what}]"
        if response.status_code not in statuses:
            self.problems.append(
                f"{where}: expected {sorted(statuses)}, got {response.status_code} "
                f"{response.text[:300]}"
            )
            return
        if response.status_code < 400:
            return
        try:
            error = response.json()["error"]
        except (ValueError, KeyError, TypeError):
            self.problems.append(f"{where}: not a JSON error: {response.text[:300]}")
            return
        if not error.get("message"):
            self.problems.append(f"{where}: the error has no message: {error}")
        fields = [f["field"] for f in error.get("fields", [])]
        for name in names:
            # the machine path names it ("band[1]" is band's second value); the message
            # names it in words
            named = any(
                f == name or f.startswith((f"{name} (", f"{name}[", f"{name}.")) for f in fields
            )
            if not named and name not in error["message"]:
                self.problems.append(f"{where}: the error does not name {name!r}: {error}")


def sweep_operation(sweep: Sweep, schemas: Schemas, op: Operation) -> None:
    body_schema = op.body_schema()
    base = schemas.valid(body_schema) if body_schema is not None else None
    path_params = op.params("path")
    # (a) path ids of the wrong type; (b) ids that exist nowhere.
    for param in path_params:
        name = param["name"]
        if schemas.concrete(param["schema"]).get("type") == "string":
            # Slugs (knowledge ids): unknown ones are a 404 naming the value; over-long a 422.
            for slug in ("no-such-entry", "NO SUCH ENTRY", "x" * 100):
                response = sweep.send(op, f"{name}={slug}", path=sweep.path(op, **{name: slug}))
                sweep.expect(op, f"{name}={slug}", response, {404}, (slug,))
            too_long = "y" * 101
            response = sweep.send(
                op, f"{name}=<101 chars>", path=sweep.path(op, **{name: too_long})
            )
            sweep.expect(op, f"{name}=<101 chars>", response, {422}, (name,))
            continue
        assert schemas.concrete(param["schema"]).get("type") == "integer", (
            f"{op.label}: the sweep only knows integer and string path ids ({name})"
        )
        for bad in BAD_PATH_IDS:
            response = sweep.send(
                op, f"{name}={bad}", path=sweep.path(op, **{name: bad}), body=base
            )
            sweep.expect(op, f"{name}={bad}", response, {422}, (name,))
        response = sweep.send(
            op, f"{name}={UNKNOWN_ID}", path=sweep.path(op, **{name: UNKNOWN_ID}), body=base
        )
        sweep.expect(op, f"{name}={UNKNOWN_ID}", response, {404}, (str(UNKNOWN_ID),))
        for value in (0, -1, *HUGE_INTS):
            response = sweep.send(
                op, f"{name}={value}", path=sweep.path(op, **{name: value}), body=base
            )
            # Not there (404) or not an id at all (422 naming the parameter).
            expected_name = str(value) if response.status_code == 404 else name
            sweep.expect(op, f"{name}={value}", response, {404, 422}, (expected_name,))
    # Query parameters of the wrong type or out of range.
    for param in op.params("query"):
        name = param["name"]
        kind = schemas.concrete(param["schema"]).get("type")
        for label, value in schemas.wrong(param["schema"]):
            if value is None or isinstance(value, (list, dict)):
                continue  # a query string has no null, list or object
            if kind == "string" and not isinstance(value, str):
                continue  # and every number is also text
            text = str(value).lower() if isinstance(value, bool) else str(value)
            what = f"{name}={text} ({label})"
            response = sweep.send(op, what, path=sweep.path(op), params={name: text}, body=base)
            sweep.expect(op, what, response, {422}, (name,))
        for label, value in schemas.extremes(param["schema"]):
            what = f"{name}={value} ({label})"
            response = sweep.send(
                op, what, path=sweep.path(op), params={name: str(value)}, body=base
            )
            # A filter may match nothing (2xx); a refusal names the parameter.
            sweep.expect(op, what, response, {200, 404, 422}, (name,))
    if body_schema is None:
        return
    # (c) bad bodies.
    path = sweep.path(op)
    for case in body_cases(schemas, body_schema, base):
        response = sweep.send(op, case.label, path=path, body=case.body)
        sweep.expect(op, case.label, response, set(case.statuses), case.fields)
    for label, text, content_type in (
        ("malformed JSON", '{"oops": 1,', "application/json"),
        ("truncated JSON", "{", "application/json"),
        ("JSON list", "[]", "application/json"),
        ("JSON string", '"text"', "application/json"),
        ("not JSON at all", "site_id=1", "application/json"),
        ("plain text", '{"a": 1}', "text/plain"),
        ("empty body", "", "application/json"),
    ):
        response = sweep.send(op, label, path=path, content=text, content_type=content_type)
        sweep.expect(op, label, response, {400, 415, 422}, ("body",))
        fields = [f["field"] for f in response.json()["error"]["fields"]]
        if response.status_code == 422 and fields != ["body"]:
            sweep.problems.append(f"{op.label} [{label}]: the problem is the body, not {fields}")
    response = sweep.send(op, "no body", path=path)
    sweep.expect(op, "no body", response, {422}, ("body",))


@dataclass(frozen=True)
class Snapshot:
    """What a rejected request must not change."""

    participants: int
    users: int
    audit_entries: int
    statuses: tuple[tuple[int, str], ...]
    identities: tuple[tuple[int, str, str | None], ...]


def snapshot(platform: Platform) -> Snapshot:
    with platform.uow(actor=Actor("test")) as uow:
        result = uow.audit.verify()
        assert result.problem is None, result.problem
        rows = uow.participants.list(study_id=1, site_ids=None, status=None, limit=1000, offset=0)
        identities = []
        for p in rows:
            identity = uow.participants.get_identity(p.id)
            assert identity is not None
            identities.append((p.id, identity.full_name, identity.email))
        return Snapshot(
            participants=len(rows),
            users=len(uow.users.list_with_memberships()),
            audit_entries=result.entries_checked,
            statuses=tuple((p.id, p.status) for p in rows),
            identities=tuple(identities),
        )


def test_bad_input_anywhere_in_the_api_is_a_4xx_naming_the_field(
    client: TestClient, demo_platform: Platform
) -> None:
    app = client.app
    schemas = Schemas(app.openapi()["components"]["schemas"])
    ops = api_operations(app)
    labels = {op.label for op in ops}
    # The schema really is the whole API, not a stub.
    assert {
        "POST /api/v1/studies/{study_id}/participants",
        "PUT /api/v1/participants/{participant_id}/identity",
        "POST /api/v1/users/{user_id}/memberships",
        "GET /api/v1/audit",
        "GET /api/v1/me/participation",
    } <= labels
    sweep = Sweep(app=app, ids=demo_ids(demo_platform))
    for op in ops:  # log everyone in first: logins are written to the audit trail
        sweep.client_for(role_for(op))
    before = snapshot(demo_platform)
    assert before.participants == 40
    for op in ops:
        sweep_operation(sweep, schemas, op)
    assert sweep.sent > 300, sweep.sent
    assert sweep.problems == [], f"{len(sweep.problems)} problems:\n" + "\n".join(sweep.problems)
    # Nothing rejected wrote anything, and the audit chain is intact.
    assert snapshot(demo_platform) == before
    admin, _ = sweep.client_for(Role.ADMIN)
    verified = admin.get("/api/v1/audit/verify")
    assert verified.status_code == 200
    assert verified.json()["ok"] is True
    assert verified.json()["entries_checked"] == before.audit_entries


# -- specific rules the services enforce -------------------------------------------------


@pytest.fixture
def coordinator(client: TestClient) -> tuple[TestClient, dict[str, str]]:
    csrf = login(client, "coordinator")
    return client, {"X-CSRF-Token": csrf}


def _error(response: Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    return error


def _fields(error: dict[str, Any]) -> dict[str, str]:
    return {f["field"]: f["message"] for f in error["fields"]}


def _site_of_demo_study(client: TestClient) -> int:
    (site,) = client.get("/api/v1/studies/1").json()["sites"]
    site_id: int = site["id"]
    return site_id


def _future(days: int = 400) -> str:
    return (TEST_NOW.date() + dt.timedelta(days=days)).isoformat()


def test_registration_dates_in_the_future_name_the_field(
    coordinator: tuple[TestClient, dict[str, str]], demo_platform: Platform
) -> None:
    client, headers = coordinator
    site_id = _site_of_demo_study(client)
    before = snapshot(demo_platform)
    url = "/api/v1/studies/1/participants"
    dob = client.post(
        url,
        json={
            "site_id": site_id,
            "identity": {"full_name": "Ann Example", "date_of_birth": _future()},
        },
        headers=headers,
    )
    error = _error(dob, 422)
    assert _fields(error) == {"identity.date_of_birth": "is in the future"}
    # the message in the reader's words; the path stays in "field" for scripts
    assert error["message"].startswith("Date of birth: ")
    assert error["fields"][0]["label"] == "Date of birth"
    mismatch = client.post(
        url,
        json={
            "site_id": site_id,
            "year_of_birth": 1980,
            "identity": {"full_name": "Ann Example", "date_of_birth": "1981-02-03"},
        },
        headers=headers,
    )
    assert (
        "does not match the year of birth 1980"
        in _fields(_error(mismatch, 422))["identity.date_of_birth"]
    )
    next_year = TEST_NOW.year + 1
    yob = client.post(url, json={"site_id": site_id, "year_of_birth": next_year}, headers=headers)
    assert _fields(_error(yob, 422)) == {"year_of_birth": "is in the future"}
    prescreen = client.post(
        url, json={"site_id": site_id, "prescreen_date": _future()}, headers=headers
    )
    assert list(_fields(_error(prescreen, 422))) == ["prescreen_date"]
    assert snapshot(demo_platform) == before


def test_a_site_outside_the_study_is_refused_naming_site_id(
    coordinator: tuple[TestClient, dict[str, str]], demo_platform: Platform
) -> None:
    client, headers = coordinator
    with demo_platform.uow(actor=Actor("test-setup"), reason="a site in no study") as uow:
        other = studies.create_site(
            uow=uow,
            site_in=SiteCreate(
                code="OTH", name="Other Clinic", timezone="Europe/Paris", country="FR"
            ),
        )
        uow.commit()
    before = snapshot(demo_platform)
    for site_id in (other.id, UNKNOWN_ID):
        response = client.post(
            "/api/v1/studies/1/participants", json={"site_id": site_id}, headers=headers
        )
        fields = _fields(_error(response, 422))
        assert fields == {"site_id": f"site {site_id} does not take part in this study"}
    assert snapshot(demo_platform) == before


def test_a_status_change_off_the_pathway_is_refused_with_a_message(
    coordinator: tuple[TestClient, dict[str, str]], demo_platform: Platform
) -> None:
    client, headers = coordinator
    pid = demo_ids(demo_platform).participant_id
    assert client.get(f"/api/v1/participants/{pid}").json()["status"] == "follow_up"
    before = snapshot(demo_platform)
    url = f"/api/v1/participants/{pid}/status"
    today = TEST_NOW.date().isoformat()
    backwards = client.post(
        url, json={"status": "prescreen", "on_date": today, "reason": "data entry"}, headers=headers
    )
    error = _error(backwards, 422)
    assert error["code"] == "rule_violation"
    assert error["message"].startswith("New status: ")
    assert "'Follow-up' cannot move to 'Pre-screen'" in error["message"]
    assert "Completed" in error["message"]  # says what is allowed instead
    future = client.post(
        url,
        json={"status": "completed", "on_date": _future(), "reason": "data entry"},
        headers=headers,
    )
    assert list(_fields(_error(future, 422))) == ["on_date"]
    too_early = client.post(
        url,
        json={"status": "completed", "on_date": "2000-01-01", "reason": "data entry"},
        headers=headers,
    )
    assert "before the current status date" in _fields(_error(too_early, 422))["on_date"]
    short = client.post(
        url, json={"status": "completed", "on_date": today, "reason": "x"}, headers=headers
    )
    assert list(_fields(_error(short, 422))) == ["reason"]
    assert client.get(f"/api/v1/participants/{pid}").json()["status"] == "follow_up"
    assert snapshot(demo_platform) == before


def test_an_identity_change_needs_a_reason(
    coordinator: tuple[TestClient, dict[str, str]], demo_platform: Platform
) -> None:
    client, headers = coordinator
    pid = demo_ids(demo_platform).participant_id
    url = f"/api/v1/participants/{pid}/identity"
    current = client.get(url).json()
    before = snapshot(demo_platform)
    identity = {"full_name": "Someone Else", "email": "someone@example.org"}
    missing = client.put(url, json={"identity": identity}, headers=headers)
    assert _fields(_error(missing, 422)) == {"reason": "is required"}
    blank = client.put(url, json={"identity": identity, "reason": ""}, headers=headers)
    assert list(_fields(_error(blank, 422))) == ["reason"]
    future = client.put(
        url,
        json={"identity": {**identity, "date_of_birth": _future()}, "reason": "corrected"},
        headers=headers,
    )
    assert _fields(_error(future, 422)) == {"identity.date_of_birth": "is in the future"}
    phone = client.put(
        url,
        json={"identity": {**identity, "phone": "call me"}, "reason": "corrected"},
        headers=headers,
    )
    assert list(_fields(_error(phone, 422))) == ["identity.phone"]
    assert client.get(url).json() == current
    assert snapshot(demo_platform) == before


def test_user_creation_problems_name_the_field(client: TestClient, demo_platform: Platform) -> None:
    headers = {"X-CSRF-Token": login(client, "admin")}
    before = snapshot(demo_platform)
    good = {"username": "new.person", "display_name": "New Person", "password": "long-enough-pw"}
    short = client.post("/api/v1/users", json={**good, "password": "short"}, headers=headers)
    error = _error(short, 422)
    assert _fields(error) == {"password": "must be at least 10 characters long"}
    same = client.post("/api/v1/users", json={**good, "password": "New.Person"}, headers=headers)
    assert _error(same, 422)["fields"][0]["field"] == "password"
    for taken in ("coordinator", "Coordinator"):
        duplicate = client.post("/api/v1/users", json={**good, "username": taken}, headers=headers)
        error = _error(duplicate, 409)
        assert error["code"] == "conflict"
        assert error["message"].startswith("Username: ")
        assert "'coordinator' already exists" in error["message"]
    bad_name = client.post(
        "/api/v1/users", json={**good, "username": "No Spaces!"}, headers=headers
    )
    assert list(_fields(_error(bad_name, 422))) == ["username"]
    no_study = client.post(
        "/api/v1/users",
        json={**good, "memberships": [{"role": "coordinator", "study_id": UNKNOWN_ID}]},
        headers=headers,
    )
    assert _fields(_error(no_study, 422)) == {
        "memberships[0].study_id": f"no study with id {UNKNOWN_ID}"
    }
    orphan = client.post(
        "/api/v1/users", json={**good, "memberships": [{"role": "participant"}]}, headers=headers
    )
    assert list(_fields(_error(orphan, 422))) == ["memberships[0].participant_id"]
    assert snapshot(demo_platform) == before


def test_pages_refuse_numbers_no_record_can_have(client: TestClient) -> None:
    """The pages share the API's ids: out-of-range or odd numbers are a 4xx page, never a 500."""
    login(client, "coordinator")
    for path in (
        f"/studies/{2**31}",
        f"/studies/{2**63}/participants",
        f"/participants/{10**30}",
        "/participants/-1",
        f"/studies/1/participants?page={10**12}",
    ):
        response = client.get(path)
        assert response.status_code == 422, (path, response.status_code)
        assert "Please check the input" in response.text
    headers = {"X-CSRF-Token": login(client, "admin")}
    for query, named in (
        (f"participant={2**31}", f"no participant with id {2**31}"),
        ("participant=%C2%B2", "no participant with code &#39;²&#39;"),  # a superscript two
        (f"user={2**63}", f"no user with id {2**63}"),
        ("user=%C2%B2", "no user called &#39;²&#39;"),
    ):
        response = client.get(f"/admin/audit?{query}")
        assert response.status_code == 422, (query, response.status_code)
        assert named in response.text, query
    assert client.get(f"/admin/audit?before_seq={2**63}").status_code == 422
    form = {
        "username": "new.person",
        "display_name": "New Person",
        "password": "long-enough-pw",
        "role": "coordinator",
    }
    for study_id, problem in (
        (str(2**31), "Input should be less than or equal to 2147483647"),
        ("²", "is not a whole number"),
    ):
        response = client.post("/admin/users", data={**form, "study_id": study_id}, headers=headers)
        assert response.status_code == 422, (study_id, response.status_code)
        assert "<strong>Study</strong>" in response.text
        assert problem in response.text
    assert "new.person" not in client.get("/api/v1/users").text
