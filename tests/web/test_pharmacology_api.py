"""JSON API: models, simulations of overlaid regimens, designs; 422 naming the field."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import login


def test_simulation_api_overlays_regimens(client: TestClient) -> None:
    csrf = login(client, "facilitator")
    assert client.get("/api/v1/pk/models").status_code == 200
    body = {
        "regimens": [
            {"substance": "dmt", "doses": [{"amount": "20mg"}]},
            {
                "substance": "dmt",
                "doses": [{"amount": "16mg"}, {"rate": "1.4mg/min", "duration": "30min"}],
            },
        ],
        "subjects": 100,
    }
    response = client.post("/api/v1/pk/simulations", json=body, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 200, response.text
    data = response.json()
    bolus, infusion = data["regimens"]
    assert infusion["typical"]["session_length_min"] > bolus["typical"]["session_length_min"] + 20


def test_simulation_api_names_the_bad_field(client: TestClient) -> None:
    csrf = login(client, "facilitator")
    body = {"regimens": [{"substance": "dmt", "doses": [{"amount": "0mg"}]}]}
    response = client.post("/api/v1/pk/simulations", json=body, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "regimens[0].doses[0].amount"


def test_simulation_api_refuses_a_dose_above_the_cited_ceiling(client: TestClient) -> None:
    csrf = login(client, "facilitator")
    body = {"regimens": [{"substance": "mdma", "doses": [{"amount": "5000mg"}]}]}
    response = client.post("/api/v1/pk/simulations", json=body, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 422
    problem = response.json()["error"]["fields"][0]
    assert problem["field"] == "regimens[0].doses[0].amount"
    assert "above the most openpat will simulate: 150 mg (hydrochloride)" in problem["message"]
    assert "de-la-torre-2000" in problem["message"]


def test_simulation_api_carries_warnings_and_says_when_there_is_no_range(
    client: TestClient,
) -> None:
    csrf = login(client, "facilitator")
    body = {
        "regimens": [
            {"substance": "dmt", "salt": "fumarate", "doses": [{"amount": "25mg"}]},
            {"substance": "psilocybin", "doses": [{"amount": "25mg"}]},
        ],
        "subjects": 50,
    }
    response = client.post("/api/v1/pk/simulations", json=body, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 200, response.text
    dmt, psilocybin = response.json()["regimens"]
    assert dmt["warnings"] and "above the highest dose studied" in dmt["warnings"][0]
    assert "7–20 mg (fumarate)" in dmt["warnings"][0]
    assert dmt["variability"] is True and dmt["variability_note"] is None
    assert psilocybin["warnings"] == []
    assert psilocybin["variability"] is False
    assert "no between-subject variability, so no range" in psilocybin["variability_note"]


def test_design_api_says_when_few_subjects_stay_in_the_band(client: TestClient) -> None:
    csrf = login(client, "investigator")
    body = {"substance": "dmt", "target_intensity": 8, "duration": "30min", "subjects": 200}
    response = client.post("/api/v1/pk/designs", json=body, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["population_share_in_band"] < data["low_share_threshold"] == 0.5
    assert any(
        w.startswith("Only ") and "inside the target band 7–9" in w for w in data["warnings"]
    )
