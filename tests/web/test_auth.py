"""Login, sessions, idle expiry, rate limiting, CSRF and cookies, over HTTP."""

from __future__ import annotations

import datetime as dt
import re

from fastapi.testclient import TestClient
from sqlalchemy import text

from openpat.services.runtime import Platform
from tests.conftest import login


def test_session_cookie_is_httponly_samesite_and_signed(client: TestClient) -> None:
    response = client.post(
        "/api/v1/auth/login", json={"username": "coordinator", "password": "demo-coordinator"}
    )
    cookie = response.headers["set-cookie"]
    assert "openpat_session=" in cookie
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    value = client.cookies["openpat_session"]
    client.cookies.set("openpat_session", value[:-2] + ("AA" if value[-2:] != "AA" else "BB"))
    assert client.get("/api/v1/auth/me").status_code == 401


def test_database_keeps_only_a_hash_of_the_session_token(
    client: TestClient, demo_platform: Platform
) -> None:
    login(client, "coordinator")
    raw = client.cookies["openpat_session"]
    with demo_platform.engine.connect() as conn:
        stored = conn.execute(text("SELECT token_hash FROM user_sessions")).scalars().all()
    assert len(stored) == 1 and len(stored[0]) == 64
    assert stored[0] not in raw


def test_logout_ends_the_session_on_the_server(client: TestClient) -> None:
    csrf = login(client, "coordinator")
    cookie = client.cookies["openpat_session"]
    assert client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    client.cookies.set("openpat_session", cookie)  # a stolen copy is now worthless
    assert client.get("/api/v1/auth/me").status_code == 401


def test_idle_session_expires(client: TestClient, demo_platform: Platform) -> None:
    login(client, "coordinator")
    assert client.get("/api/v1/auth/me").status_code == 200
    idle = demo_platform.clock.now() - dt.timedelta(minutes=31)
    with demo_platform.engine.begin() as conn:
        conn.execute(
            text("UPDATE user_sessions SET last_seen_at = :t"),
            {
                "t": idle
                if demo_platform.engine.dialect.name != "sqlite"
                else idle.replace(tzinfo=None)
            },
        )
    assert client.get("/api/v1/auth/me").status_code == 401
    page = client.get("/studies/1", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/studies/1"


def test_failures_slow_that_address_but_never_lock_the_owner_out(
    client: TestClient, demo_platform: Platform
) -> None:
    """Five wrong passwords from one address are free; three more (written as the store
    records them, so the test does not wait out the 1 s and 2 s delays between them) make the
    next attempt there wait 8 s, even with the right password. The owner from another address
    logs in at once, and other accounts are unaffected."""
    for _ in range(5):
        bad = client.post("/api/v1/auth/login", json={"username": "monitor", "password": "nope"})
        assert bad.status_code == 401
    now = demo_platform.clock.now()
    with demo_platform.engine.begin() as conn:
        for _ in range(3):
            conn.execute(
                text(
                    "INSERT INTO login_attempts (username, remote_addr, at, succeeded) "
                    "VALUES ('monitor', 'testclient', :t, :f)"
                ),
                {
                    "t": now
                    if demo_platform.engine.dialect.name != "sqlite"
                    else now.replace(tzinfo=None),
                    "f": False,
                },
            )
    slowed = client.post(
        "/api/v1/auth/login", json={"username": "monitor", "password": "demo-monitor"}
    )
    assert slowed.status_code == 429
    assert 0 < int(slowed.headers["retry-after"]) <= 8
    assert "too many failed logins from this address" in slowed.json()["error"]["message"]
    owner = TestClient(client.app, client=("192.0.2.10", 40000))
    assert login(owner, "monitor")
    assert login(client, "coordinator")


def test_failed_and_successful_logins_are_audited(client: TestClient) -> None:
    client.post("/api/v1/auth/login", json={"username": "rater", "password": "nope"})
    login(client, "admin")
    events = client.get("/api/v1/audit?limit=5").json()["items"]
    actions = [(e["action"], e["record_id"]) for e in events]
    assert ("login", "admin") in actions
    assert ("login_failed", "rater") in actions


def test_login_form_needs_its_csrf_cookie(client: TestClient) -> None:
    form = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token
    ok = client.post(
        "/login",
        data={
            "username": "coordinator",
            "password": "demo-coordinator",
            "csrf_token": token.group(1),
            "next": "/studies/1",
        },
        follow_redirects=False,
    )
    assert ok.status_code == 303 and ok.headers["location"] == "/studies/1"
    client.cookies.clear()
    forged = client.post(
        "/login",
        data={"username": "coordinator", "password": "demo-coordinator", "csrf_token": "x"},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    assert "openpat_session" not in client.cookies


def test_login_never_redirects_to_another_site(client: TestClient) -> None:
    form = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token
    response = client.post(
        "/login",
        data={
            "username": "coordinator",
            "password": "demo-coordinator",
            "csrf_token": token.group(1),
            "next": "//evil.example/steal",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


def test_page_forms_without_csrf_token_are_refused(client: TestClient) -> None:
    login(client, "coordinator")
    response = client.post(
        "/participants/1/status",
        data={"status": "withdrawn", "on_date": "2026-01-01", "reason": "test"},
    )
    assert response.status_code == 403
    assert "CSRF" in response.text


def test_unexpected_errors_show_a_reference_not_a_traceback(demo_platform: Platform) -> None:
    from openpat.web.app import create_app

    app = create_app(platform=demo_platform)

    @app.get("/api/v1/boom", include_in_schema=False)
    def boom() -> None:
        raise RuntimeError("secret internals")

    with TestClient(app, raise_server_exceptions=False) as c:
        response = c.get("/api/v1/boom")
    assert response.status_code == 500
    body = response.json()["error"]
    assert body["code"] == "internal_error"
    assert "secret internals" not in response.text and "Traceback" not in response.text
    assert re.search(r"reference [0-9a-f]{8}", body["message"])


def test_security_headers_are_set(client: TestClient) -> None:
    response = client.get("/login")
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"


def test_healthz_reports_the_database(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json()["status"] == "ok"
