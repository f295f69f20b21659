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
    # the field by its label, never its machine path
    assert "<strong>Date of birth</strong>" in response.text
    assert "identity.date_of_birth" not in response.text
    assert "does not match the year of birth 1990" in response.text
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


def test_the_screening_form_starts_with_every_history_unanswered(client: TestClient) -> None:
    login(client, "coordinator")
    page = client.get("/screening").text
    for box in (
        "diagnoses_recorded",
        "personal_history_recorded",
        "family_history_recorded",
        "medications_recorded",
    ):
        tag = page.split(f'name="{box}"', 1)[1].split(">", 1)[0]
        assert "checked" not in tag, box


def test_an_empty_screening_form_meets_nothing_and_needs_information(client: TestClient) -> None:
    csrf = login(client, "coordinator")
    pid = client.get("/api/v1/studies/1/participants?status=screened").json()["items"][0]["id"]
    response = client.post(
        "/screening",
        data={
            "csrf_token": csrf,
            "participant_id": str(pid),
            "protocol": "spl026-dmt-mdd",
            "planned_dosing_date": "2027-02-01",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    report = client.get(response.headers["location"]).text
    assert 'data-testid="verdict">needs-information<' in report
    shown = client.get(
        "/api/v1/screenings/" + response.headers["location"].rsplit("/", 1)[1]
    ).json()["report"]
    assert [c["id"] for c in shown["criteria"] if c["status"] == "met"] == []


def test_medications_typed_without_the_history_box_are_refused_and_kept(
    client: TestClient,
) -> None:
    csrf = login(client, "coordinator")
    pid = client.get("/api/v1/studies/1/participants?status=screened").json()["items"][0]["id"]
    response = client.post(
        "/screening",
        data={
            "csrf_token": csrf,
            "participant_id": str(pid),
            "protocol": "spl026-dmt-mdd",
            "planned_dosing_date": "2027-02-01",
            "med_name": "sertraline",
            "med_dose": "50",
            "med_unit": "mg",
            "family_history": "schizophrenia",
        },
    )
    assert response.status_code == 422
    assert "Medication history taken" in response.text
    assert "First-degree family history taken" in response.text
    assert 'value="sertraline"' in response.text and 'value="50"' in response.text
    assert 'value="schizophrenia" checked' in response.text


def test_an_empty_register_form_registers_nothing(client: TestClient) -> None:
    csrf = login(client, "coordinator")
    before = _count(client)
    response = client.post("/studies/1/participants/new", data={"csrf_token": csrf, "site_id": "1"})
    assert response.status_code == 422
    assert "the form is empty" in response.text
    assert _count(client) == before


def test_add_user_has_no_default_role(client: TestClient) -> None:
    login(client, "admin")
    page = client.get("/admin/users").text
    select = page.split('id="role"', 1)[1].split("</select>", 1)[0]
    assert '<option value="" selected>Choose a role' in select
    assert select.count("selected") == 1


def test_the_blinding_page_has_a_section_for_each_kind_of_guesser(client: TestClient) -> None:
    login(client, "statistician")
    page = client.get("/studies/1/blinding").text
    for guesser in ("participant", "facilitator", "rater"):
        assert f'data-testid="guesses-{guesser}"' in page
    assert "truncated to the index" in page


def _first(client: TestClient, status: str) -> int:
    found: int = client.get(f"/api/v1/studies/1/participants?status={status}").json()["items"][0][
        "id"
    ]
    return found


def test_the_status_menu_offers_only_the_moves_possible_and_links_to_their_forms(
    client: TestClient,
) -> None:
    login(client, "coordinator")
    pid = _first(client, "enrolled")
    page = client.get(f"/participants/{pid}").text
    menu = page.split('id="new-status"', 1)[1].split("</select>", 1)[0]
    assert 'value="randomised"' not in menu and 'value="withdrawn"' in menu
    assert 'value="completed"' not in menu
    assert 'data-testid="own-form-randomised"' in page
    assert f'href="/participants/{pid}/trial#randomise"' in page


def test_a_refused_move_keeps_what_the_user_typed(client: TestClient) -> None:
    csrf = login(client, "coordinator")
    pid = _first(client, "enrolled")
    response = client.post(
        f"/participants/{pid}/status",
        data={
            "csrf_token": csrf,
            "status": "withdrawn",
            "on_date": "2031-01-01",  # in the future: refused
            "reason": "Participant moved abroad and asked to stop",
        },
    )
    assert response.status_code == 422
    assert 'value="Participant moved abroad and asked to stop"' in response.text
    assert 'value="2031-01-01"' in response.text
    assert '<option value="withdrawn" selected>' in response.text


def test_randomisation_asks_for_confirmation(client: TestClient) -> None:
    csrf = login(client, "coordinator")
    pid = _first(client, "enrolled")
    page = client.get(f"/participants/{pid}/trial").text
    assert 'data-testid="confirm-randomise"' in page
    refused = client.post(f"/participants/{pid}/randomise", data={"csrf_token": csrf})
    assert refused.status_code == 422 and "tick the confirmation" in refused.text
    assert client.get(f"/api/v1/participants/{pid}").json()["status"] == "enrolled"


def test_the_participant_page_shows_the_eligibility_and_an_override(client: TestClient) -> None:
    from openpat.demo import demo_eligible_profile

    csrf = login(client, "investigator")
    pid = _first(client, "consented")
    page = client.get(f"/participants/{pid}").text
    assert "no screening against spl026-dmt-mdd" in page.lower()
    screened = client.post(
        "/api/v1/screenings",
        json={
            "participant_id": pid,
            "protocol": "spl026-dmt-mdd",
            "planned_dosing_date": "2027-02-01",
            "profile": {**demo_eligible_profile(), "medications": None},
        },
        headers={"X-CSRF-Token": csrf},
    )
    assert screened.status_code == 201, screened.text
    eligibility = client.get(f"/api/v1/participants/{pid}/eligibility").json()
    assert eligibility["verdict"] == "needs-information" and not eligibility["allowed"]
    response = client.post(
        f"/participants/{pid}/eligibility-override",
        data={"csrf_token": csrf, "reason": "Medication list confirmed with the GP today"},
        follow_redirects=True,
    )
    assert 'data-testid="override"' in response.text
    assert "Medication list confirmed with the GP today" in response.text
    assert client.get(f"/api/v1/participants/{pid}/eligibility").json()["allowed"] is True


def test_the_booking_form_keeps_the_date_in_the_window_and_asks_for_a_room_only_if_needed(
    client: TestClient,
) -> None:
    login(client, "coordinator")
    pid = _first(client, "randomised")
    plan = client.get(f"/api/v1/participants/{pid}/schedule").json()
    page = client.get(f"/participants/{pid}/trial").text
    form = page.split('id="booking"', 1)[1]
    bookable = [v for v in plan["visits"] if v["minutes"] and not v["booking"] and not v["done_on"]]
    first = bookable[0]
    date_input = form.split('id="book-date"', 1)[1].split(">", 1)[0]
    assert f'max="{first["latest"]}"' in date_input
    assert f'min="{max(first["earliest"], plan["today"])}"' in date_input
    for v in bookable:
        option = form.split(f'<option value="{v["visit"]}"', 1)[1].split(">", 1)[0]
        assert f'data-room="{"yes" if v["room"] else "no"}"' in option
    room_field = form.split('id="book-room-field"', 1)[1].split(">", 1)[0]
    assert ("hidden" in room_field) is (not first["room"])


def test_a_refused_status_names_the_field_once(client: TestClient) -> None:
    csrf = login(client, "coordinator")
    pid = _first(client, "follow_up")
    response = client.post(
        f"/participants/{pid}/status",
        data={
            "csrf_token": csrf,
            "status": "prescreen",
            "on_date": "2026-12-01",
            "reason": "x y z",
        },
    )
    assert response.status_code == 422
    assert "status: status:" not in response.text.lower()
    assert "<strong>New status</strong>" in response.text


def test_a_refusal_for_want_of_a_permission_names_no_permission_code(client: TestClient) -> None:
    login(client, "rater")
    response = client.get("/admin/users")
    assert response.status_code == 403
    assert "user.manage" not in response.text and "managing user accounts" in response.text
