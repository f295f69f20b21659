"""OPTIONS and 405 name every method an address accepts (issue 16, point 7); malformed JSON
gets the documented error."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from openpat.web.app import create_app
from tests.conftest import make_settings


def _client(tmp_path: Path) -> TestClient:
    app = create_app(make_settings(f"sqlite:///{tmp_path / 'm.db'}", tmp_path))
    return TestClient(app, raise_server_exceptions=False)


def test_options_lists_every_method_of_the_address(tmp_path: Path) -> None:
    client = _client(tmp_path)
    # /login is served by two routes (the form and its submission): both are named
    for path, allow in (
        ("/login", "GET, OPTIONS, POST"),
        ("/api/v1/studies/1", "GET, OPTIONS"),
        ("/api/v1/auth/login", "OPTIONS, POST"),
        ("/api/v1/users", "GET, OPTIONS, POST"),
    ):
        response = client.options(path)
        assert response.status_code == 204, path
        assert response.headers["allow"] == allow, path
    assert client.options("/api/v1/no-such-thing").status_code == 404


def test_a_method_the_address_does_not_accept_is_a_405_naming_them_all(tmp_path: Path) -> None:
    client = _client(tmp_path)
    response = client.put("/login")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, OPTIONS, POST"
    api = client.delete("/api/v1/users")
    assert api.status_code == 405 and api.headers["allow"] == "GET, OPTIONS, POST"
    assert "it accepts GET, OPTIONS, POST" in api.json()["error"]["message"]


def test_malformed_json_is_the_documented_invalid_input_error(tmp_path: Path) -> None:
    client = _client(tmp_path)
    for body in (
        b'{"username": ',
        b"\xff\xfe",
        b"[1, 2",
        b'{"username": ' + b"9" * 5001 + b"}",
        b"[" * 100_000 + b"]" * 100_000,
    ):
        response = client.post(
            "/api/v1/auth/login", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 422
        error = response.json()["error"]
        assert error["code"] == "invalid_input"
        assert error["fields"][0]["field"] == "body"
        assert "JSON" in error["message"]


def test_a_nul_character_in_any_text_is_refused_naming_the_field(tmp_path: Path) -> None:
    """PostgreSQL cannot store U+0000 in text: refused at the door on every backend."""
    client = _client(tmp_path)
    body = client.post("/api/v1/auth/login", json={"username": "ad\u0000min", "password": "x"})
    assert body.status_code == 422
    assert body.json()["error"]["fields"][0]["field"] == "username"
    form = client.post(
        "/login",
        content=b"username=a%00b&password=x",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert form.status_code == 422 and "NUL character" in form.text
    query = client.get("/api/v1/knowledge/medications?q=a%00b")
    assert query.status_code == 422 and query.json()["error"]["fields"][0]["field"] == "q"
    # ordinary text passes through untouched
    assert client.get("/healthz?q=plain").status_code == 200
