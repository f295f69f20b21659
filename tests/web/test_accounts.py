"""Account lifecycle (issue 16, point 6): deactivation ends sessions, accounts are never
deleted, an administrator's password reset forces a change at the next login, the last login
is shown, and roles are edited on the account's page."""

from __future__ import annotations

from fastapi.testclient import TestClient

from openpat.services.runtime import Actor, Platform
from tests.conftest import login


def _id(platform: Platform, username: str) -> int:
    with platform.uow(actor=Actor("test")) as uow:
        user = uow.users.get_by_username(username)
        assert user is not None
        return user.id


def test_deactivation_ends_the_sessions_and_reactivation_lets_them_back(
    client: TestClient, demo_platform: Platform
) -> None:
    monitor = TestClient(client.app)
    login(monitor, "monitor")
    assert monitor.get("/api/v1/auth/me").status_code == 200
    csrf = login(client, "admin")
    user_id = _id(demo_platform, "monitor")
    off = client.put(
        f"/api/v1/users/{user_id}/status",
        json={"active": False, "reason": "left the study team"},
        headers={"X-CSRF-Token": csrf},
    )
    assert off.status_code == 200 and off.json()["is_active"] is False
    assert monitor.get("/api/v1/auth/me").status_code == 401  # the open session ended
    refused = monitor.post(
        "/api/v1/auth/login", json={"username": "monitor", "password": "demo-monitor"}
    )
    assert refused.status_code == 401
    on = client.put(
        f"/api/v1/users/{user_id}/status",
        json={"active": True, "reason": "back on the team"},
        headers={"X-CSRF-Token": csrf},
    )
    assert on.json()["is_active"] is True
    assert login(monitor, "monitor")
    # never deleted: there is no route that deletes an account, and the row stays
    assert client.options(f"/api/v1/users/{user_id}").status_code == 404
    # and an administrator cannot deactivate themselves
    own = client.put(
        f"/api/v1/users/{_id(demo_platform, 'admin')}/status",
        json={"active": False, "reason": "testing"},
        headers={"X-CSRF-Token": csrf},
    )
    assert own.status_code == 409 and own.json()["error"]["rule"] == "no-self-grant"


def test_a_reset_password_must_be_changed_at_the_next_login(
    client: TestClient, demo_platform: Platform
) -> None:
    csrf = login(client, "admin")
    user_id = _id(demo_platform, "rater")
    reset = client.post(
        f"/api/v1/users/{user_id}/password-reset",
        json={"password": "temporary-pass-2026"},
        headers={"X-CSRF-Token": csrf},
    )
    assert reset.status_code == 200 and reset.json()["must_change_password"] is True
    rater = TestClient(client.app)
    assert (
        rater.post(
            "/api/v1/auth/login", json={"username": "rater", "password": "demo-rater"}
        ).status_code
        == 401
    )
    who = rater.post(
        "/api/v1/auth/login", json={"username": "rater", "password": "temporary-pass-2026"}
    ).json()
    assert who["must_change_password"] is True
    token = who["csrf_token"]
    blocked = rater.get("/api/v1/studies/1")
    assert blocked.status_code == 403 and "choose your own" in blocked.json()["error"]["message"]
    page = rater.get("/studies/1", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/account/password"
    wrong = rater.post(
        "/api/v1/auth/password",
        json={"current_password": "nope", "new_password": "my-own-pass-2026"},
        headers={"X-CSRF-Token": token},
    )
    assert wrong.status_code == 422 and wrong.json()["error"]["fields"][0]["field"] == (
        "current_password"
    )
    changed = rater.post(
        "/api/v1/auth/password",
        json={"current_password": "temporary-pass-2026", "new_password": "my-own-pass-2026"},
        headers={"X-CSRF-Token": token},
    )
    assert changed.status_code == 204
    assert rater.get("/api/v1/studies/1").status_code == 200


def test_last_login_is_shown_and_roles_are_edited_on_the_page(
    client: TestClient, demo_platform: Platform
) -> None:
    login(TestClient(client.app), "facilitator")
    csrf = login(client, "admin")
    listed = {u["username"]: u for u in client.get("/api/v1/users").json()}
    assert listed["facilitator"]["last_login_at"] is not None
    assert listed["investigator"]["last_login_at"] is None
    user_id = _id(demo_platform, "facilitator")
    page = client.get(f"/admin/users/{user_id}")
    assert page.status_code == 200 and "Last login" in page.text
    added = client.post(
        f"/admin/users/{user_id}/memberships",
        data={"csrf_token": csrf, "role": "monitor", "study_id": "1"},
        follow_redirects=False,
    )
    assert added.status_code == 303, added.text
    (monitor_role,) = [
        m
        for m in client.get("/api/v1/users").json()
        if m["username"] == "facilitator"
        for m in m["memberships"]
        if m["role"] == "monitor"
    ]
    removed = client.post(
        f"/admin/users/{user_id}/memberships/{monitor_role['id']}/remove",
        data={"csrf_token": csrf, "reason": "added by mistake"},
        follow_redirects=False,
    )
    assert removed.status_code == 303, removed.text
    roles = [
        m["role"]
        for u in client.get("/api/v1/users").json()
        if u["username"] == "facilitator"
        for m in u["memberships"]
    ]
    assert roles == ["facilitator"]
    # a role that breaks a rule comes back on the page with the rule named
    refused = client.post(
        f"/admin/users/{user_id}/memberships",
        data={"csrf_token": csrf, "role": "unblinded_statistician", "study_id": "1"},
    )
    assert refused.status_code == 409 and "must stay blind" in refused.text
