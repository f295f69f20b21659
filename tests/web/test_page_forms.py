"""Forms that fail validation come back with the problems beside them, and save nothing."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import login


def _count(client: TestClient) -> int:
    total: int = client.get("/api/v1/studies/1/dashboard").json()["total"]
    return total


def test_register_form_names_the_bad_field_and_keeps_the_input(client: TestClient) -> None:
    csrf = login(client, "coordinator")
    before = _count(client)
    response = client.post(
        "/studies/1/participants/new",
        data={
            "csrf_token": csrf,
            "site_id": "1",
            "year_of_birth": "1990",
            "full_name": "Kim Example",
            "date_of_birth": "1985-02-03",
        },
    )
    assert response.status_code == 422
    assert "identity.date_of_birth" in response.text
    assert "does not match year_of_birth 1990" in response.text
    assert 'value="Kim Example"' in response.text
    assert _count(client) == before


def test_register_form_saves_and_redirects(client: TestClient) -> None:
    csrf = login(client, "coordinator")
    response = client.post(
        "/studies/1/participants/new",
        data={"csrf_token": csrf, "site_id": "1", "year_of_birth": "1990", "sex": "female"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"].endswith("?saved=registered")
    assert client.get(response.headers["location"]).status_code == 200


def test_user_form_reports_a_short_password_and_a_duplicate(client: TestClient) -> None:
    csrf = login(client, "admin")
    short = client.post(
        "/admin/users",
        data={
            "csrf_token": csrf,
            "username": "newbie",
            "display_name": "New",
            "password": "short",
            "role": "coordinator",
            "study_id": "1",
        },
    )
    assert short.status_code == 422 and "password" in short.text
    assert "at least 10 characters" in short.text
    dup = client.post(
        "/admin/users",
        data={
            "csrf_token": csrf,
            "username": "coordinator",
            "display_name": "Again",
            "password": "long enough password",
            "role": "coordinator",
            "study_id": "1",
        },
    )
    assert dup.status_code == 409 and "already exists" in dup.text
    users = client.get("/api/v1/users").json()
    assert [u["username"] for u in users].count("coordinator") == 1
    assert "newbie" not in {u["username"] for u in users}
