from fastapi.testclient import TestClient

from tests.conftest import login


def test_coordinator_sees_dashboard_counts(client: TestClient) -> None:
    login(client, "coordinator")
    board = client.get("/api/v1/studies/1/dashboard").json()
    assert board["total"] == 40
    assert sum(s["count"] for s in board["by_status"]) == 40
    page = client.get("/studies/1")
    assert page.status_code == 200
    assert "Participants by status" in page.text
