"""Segregation of duties through the API (issue 16, point 2): each refusal names its rule,
nothing is written, and granting the unblinded role or identity access is announced to the
study's investigators and listed on the study's access page."""

from __future__ import annotations

from fastapi.testclient import TestClient

from openpat.services.runtime import Actor, Platform
from tests.conftest import login


def _user_id(platform: Platform, username: str) -> int:
    with platform.uow(actor=Actor("test")) as uow:
        user = uow.users.get_by_username(username)
        assert user is not None
        return user.id


def _memberships(client: TestClient, username: str) -> list[dict[str, object]]:
    (user,) = [u for u in client.get("/api/v1/users").json() if u["username"] == username]
    found: list[dict[str, object]] = user["memberships"]
    return found


def test_an_administrator_cannot_grant_themselves_the_unblinded_role(
    client: TestClient, demo_platform: Platform
) -> None:
    csrf = login(client, "admin")
    before = _memberships(client, "admin")
    response = client.post(
        f"/api/v1/users/{_user_id(demo_platform, 'admin')}/memberships",
        json={"role": "unblinded_statistician", "study_id": 1},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] == "segregation_of_duties" and error["rule"] == "no-self-grant"
    assert "their own memberships" in error["message"]
    assert _memberships(client, "admin") == before


def test_a_rater_cannot_also_be_the_unblinded_statistician(
    client: TestClient, demo_platform: Platform
) -> None:
    csrf = login(client, "admin")
    before = _memberships(client, "rater")
    response = client.post(
        f"/api/v1/users/{_user_id(demo_platform, 'rater')}/memberships",
        json={"role": "unblinded_statistician", "study_id": 1},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["rule"] == "blind-vs-unblinded"
    assert "Unblinded statistician" in error["message"] and "blind" in error["message"]
    assert _memberships(client, "rater") == before
    # nor can the participant login become staff
    response = client.post(
        f"/api/v1/users/{_user_id(demo_platform, 'participant')}/memberships",
        json={"role": "coordinator", "study_id": 1},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code == 409 and response.json()["error"]["rule"] == (
        "participant-vs-staff"
    )


def test_granting_the_unblinded_role_is_announced_and_listed(
    client: TestClient, demo_platform: Platform
) -> None:
    csrf = login(client, "admin")
    created = client.post(
        "/api/v1/users",
        json={
            "username": "second-stat",
            "display_name": "Second Statistician",
            "password": "a-long-enough-pass-2026",
            "memberships": [{"role": "unblinded_statistician", "study_id": 1}],
        },
        headers={"X-CSRF-Token": csrf},
    )
    assert created.status_code == 201, created.text
    login(client, "investigator")
    notes = [
        n["message"]
        for n in client.get("/api/v1/me/notifications").json()
        if n["kind"] == "access-granted" and "Second Statistician" in n["message"]
    ]
    assert len(notes) == 1 and "Unblinded statistician" in notes[0], notes
    access = client.get("/api/v1/studies/1/access").json()
    (row,) = [m for m in access["members"] if m["username"] == "second-stat"]
    assert row["announced"] is True and row["role"] == "unblinded_statistician"
    assert row["granted_by"] == "admin" and row["granted_at"] is not None
    # the announced grants come first, and the rules are listed
    assert access["members"][0]["announced"] is True
    assert {r["rule"] for r in access["rules"]} == {"blind-vs-unblinded", "participant-vs-staff"}
    page = client.get("/studies/1/access")
    assert page.status_code == 200 and "Second Statistician" in page.text
    assert "blind-vs-unblinded" in page.text
