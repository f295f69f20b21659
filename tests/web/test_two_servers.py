"""Two web servers, one PostgreSQL database (issue 17, point 2).

Two real ``openpat serve`` processes on different ports share one database (a private schema
of the test database). A user logs in on one and is served by the other, CSRF included; a
change made through one is seen by the other; login failures on one count on the other; and a
notification caused through one reaches the subscribers of both, through PostgreSQL
LISTEN/NOTIFY (the mechanism the live session console will use).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from openpat.store.db import normalise_url
from tests.conftest import PG_URL, TEST_AUDIT_KEY, TEST_NOW, TEST_SECRET, clock_env

pytestmark = pytest.mark.skipif(not PG_URL, reason="needs OPENPAT_TEST_POSTGRES_URL")

SCHEMA = f"openpat_two_servers_{os.getpid()}"
CLI = [sys.executable, "-c", "from openpat.cli.main import main; main()"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def shared_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    assert PG_URL
    admin = create_engine(normalise_url(PG_URL))
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{SCHEMA}"'))
    sep = "&" if "?" in PG_URL else "?"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENPAT_")}
    env.update(
        OPENPAT_ENV="test",
        OPENPAT_DATABASE_URL=f"{PG_URL}{sep}options=-csearch_path%3D{SCHEMA}",
        OPENPAT_DATA_DIR=str(tmp_path_factory.mktemp("two-servers")),
        OPENPAT_SECRET_KEY=TEST_SECRET,
        OPENPAT_AUDIT_KEY=TEST_AUDIT_KEY,
        OPENPAT_PASSWORD_HASH_PROFILE="fast",
        **clock_env(TEST_NOW),
    )
    for args in (("db", "upgrade"), ("demo", "load")):
        done = subprocess.run([*CLI, *args], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    yield env
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE'))
    admin.dispose()


@contextlib.contextmanager
def _server(env: dict[str, str], log: Path) -> Iterator[str]:
    port = _free_port()
    with log.open("w") as out:
        proc = subprocess.Popen(
            [*CLI, "serve", "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            time.sleep(0.2)
        else:
            pytest.fail(f"the server did not answer within 60 s:\n{log.read_text()}")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def servers(
    shared_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    logs = tmp_path_factory.mktemp("server-logs")
    with _server(shared_env, logs / "a.log") as a, _server(shared_env, logs / "b.log") as b:
        yield a, b


def _log_in(base: str, username: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=base, timeout=30)
    r = client.post(
        "/api/v1/auth/login", json={"username": username, "password": f"demo-{username}"}
    )
    assert r.status_code == 200, r.text
    return client, str(r.json()["csrf_token"])


def _same_session_on(base: str, client: httpx.Client) -> httpx.Client:
    other = httpx.Client(base_url=base, timeout=30)
    other.cookies = client.cookies
    return other


def test_a_session_made_on_one_server_is_served_by_the_other(servers: tuple[str, str]) -> None:
    a, b = servers
    on_a, csrf = _log_in(a, "coordinator")
    on_b = _same_session_on(b, on_a)
    me = on_b.get("/api/v1/auth/me")
    assert me.status_code == 200 and me.json()["username"] == "coordinator"

    # a write through B with the CSRF token A gave; A sees it at once
    made = on_b.post(
        "/api/v1/studies/1/participants", json={"site_id": 1}, headers={"X-CSRF-Token": csrf}
    )
    assert made.status_code == 201, made.text
    code = made.json()["code"]
    listed = on_a.get("/api/v1/studies/1/participants", params={"limit": 1000}).json()
    assert code in {p["code"] for p in listed["items"]}
    # a wrong token is refused on either server
    forged = on_a.post(
        "/api/v1/studies/1/participants", json={"site_id": 1}, headers={"X-CSRF-Token": "x"}
    )
    assert forged.status_code == 403

    # logging out on A ends the session on B too
    assert on_a.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert on_b.get("/api/v1/auth/me").status_code == 401


def test_login_failures_on_one_server_count_on_the_other(servers: tuple[str, str]) -> None:
    a, b = servers
    wrong = {"username": "rater", "password": "not-the-password"}
    for _ in range(5):  # OPENPAT_LOGIN_MAX_FAILURES, the default
        assert httpx.post(a + "/api/v1/auth/login", json=wrong, timeout=30).status_code == 401
    again = httpx.post(b + "/api/v1/auth/login", json=wrong, timeout=30)
    assert again.status_code == 429, again.text


def _collect(client: httpx.Client, found: list[str], ready: threading.Event) -> None:
    with client.stream("GET", "/api/v1/me/notifications/stream", params={"wait": 30}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("event: ready"):
                ready.set()
            if line.startswith("data: ") and "Emergency unblinding" in line:
                found.append(line)
                return


def test_a_notification_reaches_subscribers_on_both_servers(servers: tuple[str, str]) -> None:
    a, b = servers
    listeners = {name: _log_in(base, "monitor")[0] for name, base in (("a", a), ("b", b))}
    found: dict[str, list[str]] = {name: [] for name in listeners}
    ready = {name: threading.Event() for name in listeners}
    threads = [
        threading.Thread(target=_collect, args=(client, found[name], ready[name]), daemon=True)
        for name, client in listeners.items()
    ]
    for t in threads:
        t.start()
    assert all(r.wait(30) for r in ready.values())

    investigator, csrf = _log_in(a, "investigator")
    randomised = investigator.get("/api/v1/studies/1/participants", params={"limit": 1000})
    target = next(p for p in randomised.json()["items"] if p["status"] == "randomised")
    t0 = time.monotonic()
    r = investigator.post(
        f"/api/v1/participants/{target['id']}/unblind",
        json={"reason": "Serotonin toxicity suspected; treating team needs the arm."},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 200, r.text
    for t in threads:
        t.join(20)
    waited = time.monotonic() - t0
    assert found["a"] and found["b"], found
    assert target["code"] in found["a"][0] and target["code"] in found["b"][0]
    # LISTEN/NOTIFY delivers at commit: well before the streams' 15 s keep-alive re-read and
    # (barring chance) the listener's 30 s safety poll
    assert waited < 3, f"the notification took {waited:.1f} s"
