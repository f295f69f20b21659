"""Observability (issue 17, point 6): request ids, JSON access logs without personal data,
liveness and readiness, and Prometheus metrics for an administrator or a token only."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from openpat.security import Role
from openpat.services.runtime import Actor, Platform
from openpat.store.models import ParticipantIdentity, User
from openpat.web.app import create_app
from openpat.web.observe import JsonFormatter
from tests.conftest import login
from tests.web.test_route_permissions import (
    LOGOUT_PATHS,
    USERNAME_OF,
    demo_ids,
    protected_endpoints,
    send,
)


class _Capture(logging.Handler):
    """Every record of every logger, formatted as openpat writes it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith("httpx"):  # the test's own client, not the server
            self.lines.append(self.format(record))


@pytest.fixture
def captured() -> Iterator[_Capture]:
    handler = _Capture()
    root = logging.getLogger()
    before = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    loggers = [logging.getLogger(n) for n in ("openpat", "openpat.access", "openpat.web")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(before)
    for lg, level in zip(loggers, levels, strict=True):
        lg.setLevel(level)


def test_a_request_id_is_echoed_or_made(client: TestClient, captured: _Capture) -> None:
    given = client.get("/livez", headers={"X-Request-ID": "trace-42"})
    assert given.headers["x-request-id"] == "trace-42"
    made = client.get("/livez", headers={"X-Request-ID": "not a token; <x>"})
    assert made.headers["x-request-id"] != "not a token; <x>"
    assert len(made.headers["x-request-id"]) == 16
    lines = [json.loads(x) for x in captured.lines if '"openpat.access"' in x]
    assert [x["request_id"] for x in lines[-2:]] == ["trace-42", made.headers["x-request-id"]]
    assert lines[-1]["route"] == "/livez" and lines[-1]["status"] == 200


def test_liveness_and_readiness(client: TestClient) -> None:
    assert client.get("/livez").json()["status"] == "alive"
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "schema": "ok", "knowledge": "ok"}


def test_readiness_fails_while_the_schema_is_behind(demo_platform: Platform) -> None:
    with demo_platform.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0009'")
    with TestClient(create_app(platform=demo_platform)) as c:
        ready = c.get("/readyz")
    assert ready.status_code == 503
    assert "openpat db upgrade" in ready.json()["checks"]["schema"]


def test_metrics_only_for_an_administrator_or_the_token(
    demo_platform: Platform, client: TestClient
) -> None:
    assert client.get("/metrics", follow_redirects=False).status_code in (303, 401)
    login(client, "coordinator")
    client.get("/api/v1/studies/1/participants")
    assert client.get("/metrics").status_code == 403
    login(client, "admin")
    body = client.get("/metrics").text
    assert "# TYPE openpat_http_requests_total counter" in body
    assert 'route="/api/v1/studies/{study_id}/participants",status="200"' in body
    assert "openpat_http_request_duration_seconds_bucket" in body
    assert "# TYPE openpat_safety_alerts_open gauge" in body

    demo_platform.settings.metrics_token = "scrape-token-for-tests"
    anonymous = TestClient(client.app)
    good = anonymous.get("/metrics", headers={"Authorization": "Bearer scrape-token-for-tests"})
    assert good.status_code == 200
    assert good.headers["content-type"].startswith("text/plain; version=0.0.4")
    bad = anonymous.get(
        "/metrics", headers={"Authorization": "Bearer wrong"}, follow_redirects=False
    )
    assert bad.status_code in (303, 401)


def test_no_personal_data_in_the_log_of_a_full_demo_walk(
    client: TestClient, demo_platform: Platform, captured: _Capture
) -> None:
    secrets: set[str] = set()
    with demo_platform.uow(actor=Actor("test")) as uow:
        identities = list(uow.session.scalars(select(ParticipantIdentity)))
        secrets |= {u.display_name for u in uow.session.scalars(select(User))}
        for i in identities:
            secrets |= {i.full_name, i.email or i.full_name, i.phone or i.full_name}
            if i.date_of_birth:
                secrets.add(i.date_of_birth.isoformat())
    assert len(identities) >= 30 and len(secrets) > 100

    ids = demo_ids(demo_platform)
    for role in (Role.ADMIN, Role.COORDINATOR, Role.INVESTIGATOR, Role.BLINDED_RATER):
        csrf = login(client, USERNAME_OF[role])
        for endpoint in protected_endpoints(client.app):
            if endpoint.path not in LOGOUT_PATHS:
                send(client, endpoint, ids.fill(endpoint), csrf=csrf)
    # a registration with an identity, one accepted and one refused (a bad e-mail), and a
    # form link's secret path
    csrf = login(client, "coordinator")
    person = {"full_name": "Quentin Logscan", "date_of_birth": "1971-03-09"}
    ok = client.post(
        "/api/v1/studies/1/participants",
        json={"site_id": 1, "year_of_birth": 1971, "identity": person},
        headers={"X-CSRF-Token": csrf},
    )
    assert ok.status_code == 201, ok.text
    refused = client.post(
        "/api/v1/studies/1/participants",
        json={"site_id": 1, "identity": {**person, "email": "quentin.logscan@"}},
        headers={"X-CSRF-Token": csrf},
    )
    assert refused.status_code == 422
    client.get("/f/a-form-link-secret-token")
    secrets |= {"Quentin Logscan", "1971-03-09", "quentin.logscan@", "a-form-link-secret-token"}

    log = "\n".join(captured.lines)
    access = [json.loads(x) for x in captured.lines if '"openpat.access"' in x]
    assert len(access) > 200
    leaked = sorted(s for s in secrets if s in log)
    assert not leaked, leaked[:10]
