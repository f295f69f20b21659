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
