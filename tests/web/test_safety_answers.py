"""A suicide-risk answer is never missed: PHQ-9 item 9 raises an alert and the participant
reads the site's crisis text; the C-SSRS skip logic refuses, never drops, a contradicting
answer; a rater reads what submitting did; the dashboard lists open alerts by level."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from openpat.services.studies import DEFAULT_CRISIS_TEXT
from tests.conftest import login
from tests.web.test_outcomes_api import _as, _item_ids, _own_participant_id, _send

PHQ9_ITEM9_POSITIVE = [0, 1, 0, 1, 0, 0, 0, 0, 1, 0]  # "several days" to item 9


def _participant_fills(client: TestClient, rid: int, values: list[int]) -> dict[str, Any]:
    headers = _as(client, "participant")
    answers = dict(zip(_item_ids(client, "PHQ-9"), values, strict=True))
    url = f"/api/v1/me/responses/{rid}"
    saved = client.put(f"{url}/answers", json={"answers": answers}, headers=headers)
    assert saved.status_code == 200, saved.text
    done = client.post(f"{url}/submit", headers=headers)
    assert done.status_code == 200, done.text
    return dict(done.json())


def _rating(client: TestClient, pid: int, instrument: str, visit: str) -> int:
    headers = _as(client, "investigator")
    created = client.post(
        "/api/v1/responses",
        json={
            "participant_id": pid,
            "instrument": instrument,
            "visit": visit,
            "unscheduled": True,
            "source": "rater",
            "rater_blinded": False,
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


def test_phq9_item_9_above_not_at_all_raises_a_high_alert_citing_the_phq_instructions(
    client: TestClient,
) -> None:
    pid = _own_participant_id(client)
    sent = _send(client, pid, instrument="PHQ-9", visit="week 2")
    done = _participant_fills(client, sent["id"], PHQ9_ITEM9_POSITIVE)
    # the participant sees no score, but reads the crisis text at once
    assert done["total"] is None and done["crisis_text"] == DEFAULT_CRISIS_TEXT
    login(client, "investigator")
    alerts = [a for a in client.get("/api/v1/alerts").json() if a["response_id"] == sent["id"]]
    assert [a["level"] for a in alerts] == ["high"]
    assert alerts[0]["rule"].startswith("PHQ-9: Thoughts of death or self-harm")
    assert "needs further assessment for suicide risk" in alerts[0]["message"]
    reference = client.get("/api/v1/knowledge/references/phq-instruction-manual")
    assert reference.status_code == 200, reference.text
    assert "Question 9 is a single screening question on suicide risk" in reference.text


def test_phq9_with_item_9_not_at_all_raises_nothing_and_shows_no_crisis_text(
    client: TestClient,
) -> None:
    pid = _own_participant_id(client)
    sent = _send(client, pid, instrument="PHQ-9", visit="week 3")
    done = _participant_fills(client, sent["id"], [1, 1, 1, 1, 1, 1, 1, 1, 0, 0])
    assert done["crisis_text"] is None and done["alerts_raised"] == []
    login(client, "investigator")
    assert not [a for a in client.get("/api/v1/alerts").json() if a["response_id"] == sent["id"]]


def test_the_crisis_text_is_the_sites_own_once_set_and_only_alert_managers_set_it(
    client: TestClient,
) -> None:
    login(client, "coordinator")
    site_id = client.get("/api/v1/studies/1").json()["sites"][0]["id"]
    text = "Call the Clinic crisis line on 0000 000 000, or your local emergency number."
    # a facilitator reads alerts but does not manage them
    refused = client.put(
        f"/api/v1/sites/{site_id}/crisis-text",
        json={"text": text},
        headers=_as(client, "facilitator"),
    )
    assert refused.status_code == 403
    headers = _as(client, "investigator")
    saved = client.put(f"/api/v1/sites/{site_id}/crisis-text", json={"text": text}, headers=headers)
    assert saved.status_code == 200, saved.text
    assert saved.json()["crisis_text"] == text and saved.json()["crisis_text_is_default"] is False
    pid = _own_participant_id(client)
    sent = _send(client, pid, instrument="PHQ-9", visit="week 4")
    assert _participant_fills(client, sent["id"], PHQ9_ITEM9_POSITIVE)["crisis_text"] == text
    # cleared: back to the default, which names no telephone number
    headers = _as(client, "investigator")
    reset = client.put(f"/api/v1/sites/{site_id}/crisis-text", json={"text": " "}, headers=headers)
    assert reset.json()["crisis_text"] == DEFAULT_CRISIS_TEXT
    assert not any(ch.isdigit() for ch in DEFAULT_CRISIS_TEXT)


def test_the_participant_page_after_sending_shows_the_crisis_text(client: TestClient) -> None:
    pid = _own_participant_id(client)
    sent = _send(client, pid, instrument="PHQ-9", visit="week 5")
    _participant_fills(client, sent["id"], PHQ9_ITEM9_POSITIVE)
    login(client, "participant")
    page = client.get(f"/me/forms/{sent['id']}/sent")
    assert page.status_code == 200 and "If you need help now" in page.text
    assert "call your local emergency number" in page.text.lower()


def test_a_cssrs_yes_to_an_item_the_skip_logic_excludes_is_refused_naming_it(
    client: TestClient,
) -> None:
    pid = _own_participant_id(client)
    rid = _rating(client, pid, "C-SSRS", "week 1")
    keys = _item_ids(client, "C-SSRS")
    headers = _as(client, "investigator")
    # item 2 "no", item 4 "yes": today's silent discard would lose a high-risk answer
    answers = {keys[0]: 1, keys[1]: 0, keys[3]: 1, keys[5]: 0}
    put = client.put(f"/api/v1/responses/{rid}/answers", json={"answers": answers}, headers=headers)
    assert put.status_code == 422, put.text
    fields = {f["field"]: f["message"] for f in put.json()["error"]["fields"]}
    assert list(fields) == [f"answers.{keys[3]}"]
    assert (
        "item 4 (Suicidal intent without a specific plan) is answered"
        in fields[f"answers.{keys[3]}"]
    )
    assert (
        "only when item 2 (Non-specific active suicidal thoughts) is 'Yes'"
        in fields[f"answers.{keys[3]}"]
    )
    # nothing was kept: the rating is still empty
    assert client.get(f"/api/v1/responses/{rid}").json()["answered"] == 0
    # corrected gate: the answer is kept and raises the high alert
    answers[keys[1]] = 1
    answers.update({keys[2]: 0, keys[4]: 0})
    ok = client.put(f"/api/v1/responses/{rid}/answers", json={"answers": answers}, headers=headers)
    assert ok.status_code == 200, ok.text
    done = client.post(f"/api/v1/responses/{rid}/submit", headers=headers).json()
    assert done["scores"]["high-risk"] is True
    assert "safety alert raised" in done["outcome"]


def test_a_gate_changed_to_no_after_a_yes_is_refused_not_dropped(client: TestClient) -> None:
    pid = _own_participant_id(client)
    rid = _rating(client, pid, "C-SSRS", "week 2")
    keys = _item_ids(client, "C-SSRS")
    headers = _as(client, "investigator")
    first = {keys[0]: 1, keys[1]: 1, keys[2]: 0, keys[3]: 1, keys[4]: 0, keys[5]: 0}
    url = f"/api/v1/responses/{rid}/answers"
    assert client.put(url, json={"answers": first}, headers=headers).status_code == 200
    changed = client.put(url, json={"answers": {keys[1]: 0}}, headers=headers)
    assert changed.status_code == 422
    assert f"answers.{keys[3]}" in {f["field"] for f in changed.json()["error"]["fields"]}
    kept = client.get(f"/api/v1/responses/{rid}").json()["answers"]
    assert kept[keys[1]] == 1 and kept[keys[3]] == 1


def test_the_rater_reads_whether_the_form_was_scored(client: TestClient) -> None:
    pid = _own_participant_id(client)
    rid = _rating(client, pid, "MADRS", "week 6")
    keys = _item_ids(client, "MADRS")
    headers = _as(client, "investigator")
    half = dict.fromkeys(keys[:5], 2)
    client.put(f"/api/v1/responses/{rid}/answers", json={"answers": half}, headers=headers)
    done = client.post(f"/api/v1/responses/{rid}/submit", headers=headers).json()
    assert done["scored"] is False
    assert done["outcome"] == "saved, not scored: 5 of 10 items missing (MADRS allows none)"
    # and the page after submitting says the same, never "scored"
    page = client.get(f"/participants/{pid}?saved=submitted&response={rid}")
    assert "saved, not scored: 5 of 10 items missing (MADRS allows none)" in page.text
    assert "Submitted and scored" not in page.text


def test_the_enter_page_shows_only_the_items_the_skip_logic_asks(client: TestClient) -> None:
    pid = _own_participant_id(client)
    rid = _rating(client, pid, "C-SSRS", "week 3")
    page = client.get(f"/responses/{rid}/enter").text
    for number in (3, 4, 5):  # asked only after a yes to item 2
        tag = page.split(f'data-testid="item-{number}"', 1)[1].split(">", 1)[0]
        assert "hidden" in tag
    assert "hidden" not in page.split('data-testid="item-1"', 1)[1].split(">", 1)[0]


def test_the_dashboard_lists_open_alerts_highest_first_with_age_and_acknowledger(
    client: TestClient,
) -> None:
    pid = _own_participant_id(client)
    rid = _rating(client, pid, "C-SSRS", "week 4")
    keys = _item_ids(client, "C-SSRS")
    headers = _as(client, "investigator")
    answers = dict(zip(keys, [1, 1, 1, 0, 0, 1], strict=True))  # behaviour: high + moderate
    client.put(f"/api/v1/responses/{rid}/answers", json={"answers": answers}, headers=headers)
    client.post(f"/api/v1/responses/{rid}/submit", headers=headers)
    board = client.get("/api/v1/studies/1/alerts").json()
    levels = [a["level"] for a in board["open"]]
    assert levels == sorted(levels, key=["high", "moderate", "low"].index) and "high" in levels
    moderate = next(
        a for a in board["open"] if a["response_id"] == rid and a["level"] == "moderate"
    )
    ack = client.post(
        f"/api/v1/alerts/{moderate['id']}/acknowledge",
        json={"note": "Reviewed with the participant by phone the same day."},
        headers=headers,
    )
    assert ack.status_code == 200, ack.text
    board = client.get("/api/v1/studies/1/alerts").json()
    done = next(a for a in board["recently_acknowledged"] if a["id"] == moderate["id"])
    assert done["acknowledged_by"] and done["acknowledged_at"]
    page = client.get("/studies/1").text
    assert 'data-testid="dashboard-alerts"' in page and "Waiting" in page
    assert f"acknowledged by {done['acknowledged_by']}" in page
