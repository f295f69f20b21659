"""Questionnaires through the JSON API: a coordinator sends a PHQ-9, the participant fills it
in over two sittings and submits, the team sees the score; a blinded rater enters ratings
and sees nothing else; a C-SSRS answer raises an alert the investigator sees and closes."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import login


def _as(client: TestClient, role: str) -> dict[str, str]:
    return {"X-CSRF-Token": login(client, role)}


def _own_participant_id(client: TestClient) -> int:
    login(client, "participant")
    own = client.get("/api/v1/me/participation").json()
    return int(own[0]["participant"]["id"])


def _send(client: TestClient, participant_id: int, **body: Any) -> dict[str, Any]:
    headers = _as(client, "coordinator")
    response = client.post(
        "/api/v1/responses",
        json={"participant_id": participant_id, "unscheduled": True, **body},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_participant_fills_in_a_phq9_over_two_sittings_and_the_team_sees_the_score(
    client: TestClient,
) -> None:
    pid = _own_participant_id(client)
    sent = _send(client, pid, instrument="PHQ-9", visit="week 6")
    assert sent["status"] == "in-progress" and sent["items"] == 10

    headers = _as(client, "participant")
    url = f"/api/v1/me/responses/{sent['id']}"
    first = {"anhedonia": 2, "depressed-mood": 2, "sleep": 1, "fatigue": 1}
    saved = client.put(f"{url}/answers", json={"answers": first, "position": 4}, headers=headers)
    assert saved.status_code == 200, saved.text
    # too early: five questions still open
    early = client.post(f"{url}/submit", headers=headers)
    assert early.status_code == 422
    assert len(early.json()["error"]["fields"]) == 5

    # later: the form resumes where it was left, answers kept
    headers = _as(client, "participant")
    resumed = client.get(url).json()
    assert resumed["position"] == 4 and resumed["answers"]["sleep"] == 1
    rest = {
        "appetite": 1,
        "self-worth": 1,
        "concentration": 0,
        "psychomotor": 0,
        "suicidal-thoughts": 0,
        "functional-difficulty": 1,
    }
    assert client.put(f"{url}/answers", json={"answers": rest}, headers=headers).status_code == 200
    done = client.post(f"{url}/submit", headers=headers)
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "submitted"
    assert done.json()["total"] is None and done.json()["band"] is None  # no scores for them

    _as(client, "coordinator")
    listed = client.get(f"/api/v1/participants/{pid}/responses").json()
    phq = next(r for r in listed if r["id"] == sent["id"])
    assert phq["total"] == 8 and phq["band"] == "mild" and phq["scored"] is True
    assert phq["answers"]["anhedonia"] == 2


def test_a_bad_answer_is_refused_naming_the_item_and_nothing_is_kept(client: TestClient) -> None:
    pid = _own_participant_id(client)
    sent = _send(client, pid, instrument="PHQ-9", visit="baseline")
    headers = _as(client, "participant")
    url = f"/api/v1/me/responses/{sent['id']}/answers"
    bad = client.put(url, json={"answers": {"anhedonia": 1, "sleep": 7}}, headers=headers)
    assert bad.status_code == 422
    assert bad.json()["error"]["fields"][0]["field"] == "answers.sleep"
    assert client.get(f"/api/v1/me/responses/{sent['id']}").json()["answered"] == 0


def test_a_submitted_form_cannot_be_changed(client: TestClient) -> None:
    pid = _own_participant_id(client)
    sent = _send(client, pid, instrument="WHO-5", visit="baseline")
    headers = _as(client, "participant")
    url = f"/api/v1/me/responses/{sent['id']}"
    keys = ["cheerful", "calm", "active", "rested", "interest"]
    answers = dict.fromkeys(keys, 3)
    client.put(f"{url}/answers", json={"answers": answers}, headers=headers)
    r = client.get(url).json()
    assert r["answered"] == 5, r
    assert client.post(f"{url}/submit", headers=headers).status_code == 200
    again = client.put(f"{url}/answers", json={"answers": {"calm": 0}}, headers=headers)
    assert again.status_code == 422


def test_blinded_rater_enters_a_madrs_and_sees_only_their_ratings(client: TestClient) -> None:
    pid = _own_participant_id(client)
    _send(client, pid, instrument="PHQ-9", visit="week 1")  # the participant's self-report
    headers = _as(client, "rater")
    # a rater may not send self-reports, and must say whether they were blind
    assert (
        client.post(
            "/api/v1/responses",
            json={
                "participant_id": pid,
                "instrument": "PHQ-9",
                "visit": "w1",
                "unscheduled": True,
                "source": "rater",
            },
            headers=headers,
        ).status_code
        == 422
    )
    missing_blind = client.post(
        "/api/v1/responses",
        json={
            "participant_id": pid,
            "instrument": "MADRS",
            "visit": "week 1",
            "unscheduled": True,
            "source": "rater",
        },
        headers=headers,
    )
    assert missing_blind.status_code == 422
    created = client.post(
        "/api/v1/responses",
        json={
            "participant_id": pid,
            "instrument": "MADRS",
            "visit": "week 1",
            "unscheduled": True,
            "source": "rater",
            "rater_blinded": True,
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    rid = created.json()["id"]
    items = [3, 3, 2, 2, 2, 2, 2, 2, 2, 0]
    keys = client.get(f"/api/v1/responses/{rid}").json()["answers"]
    assert keys == {}
    madrs = client.get("/api/v1/instruments").json()
    assert any(i["abbreviation"] == "MADRS" and i["scorable"] for i in madrs)
    defn_keys = _item_ids(client, "MADRS")
    body = {"answers": dict(zip(defn_keys, items, strict=True))}
    assert (
        client.put(f"/api/v1/responses/{rid}/answers", json=body, headers=headers).status_code
        == 200
    )
    scored = client.post(f"/api/v1/responses/{rid}/submit", headers=headers).json()
    assert scored["total"] == 20 and scored["rater_blinded"] is True

    # the rater's list holds their rating only: no self-reports, no other data
    mine = client.get(f"/api/v1/participants/{pid}/responses").json()
    assert {r["instrument"] for r in mine} == {"madrs"}  # the demo's and this one
    assert rid in {r["id"] for r in mine}
    assert all(r["source"] == "rater" for r in mine)  # their own ratings, with answers
    # no timelines or alerts for a rater
    assert client.get(f"/api/v1/participants/{pid}/timelines/madrs").status_code == 403
    assert client.get("/api/v1/alerts").status_code == 403


def _item_ids(client: TestClient, name: str) -> list[str]:
    from openpat.services import instruments

    return [i["id"] for i in instruments.describe(name)["items"]]


def test_cssrs_intent_raises_a_high_alert_the_investigator_sees_and_acknowledges(
    client: TestClient,
) -> None:
    pid = _own_participant_id(client)
    headers = _as(client, "investigator")
    created = client.post(
        "/api/v1/responses",
        json={
            "participant_id": pid,
            "instrument": "C-SSRS",
            "visit": "dosing day 1",
            "unscheduled": True,
            "source": "rater",
            "rater_blinded": False,
        },
        headers=headers,
    ).json()
    keys = _item_ids(client, "C-SSRS")
    answers = dict(zip(keys, [1, 1, 1, 1, 0, 0], strict=True))
    client.put(
        f"/api/v1/responses/{created['id']}/answers", json={"answers": answers}, headers=headers
    )
    done = client.post(f"/api/v1/responses/{created['id']}/submit", headers=headers).json()
    assert done["scores"]["high-risk"] is True and done["scores"]["ideation"] == 4

    alerts = client.get("/api/v1/alerts").json()
    high = [a for a in alerts if a["response_id"] == created["id"] and a["level"] == "high"]
    assert len(high) == 1 and high[0]["instrument"] == "C-SSRS"
    assert {a["level"] for a in alerts if a["response_id"] == created["id"]} == {"high", "moderate"}
    # a facilitator sees the alert too but may not close it
    login(client, "facilitator")
    assert any(a["id"] == high[0]["id"] for a in client.get("/api/v1/alerts").json())
    headers = _as(client, "investigator")
    ack = client.post(
        f"/api/v1/alerts/{high[0]['id']}/acknowledge",
        json={"note": "Seen by the study psychiatrist the same day; safety plan reviewed."},
        headers=headers,
    )
    assert ack.status_code == 200 and ack.json()["status"] == "acknowledged"
    still_open = client.get("/api/v1/alerts").json()
    assert all(a["id"] != high[0]["id"] for a in still_open)


def test_timeline_marks_baseline_response_and_remission(client: TestClient) -> None:
    headers = _as(client, "investigator")
    enrolled = client.get("/api/v1/studies/1/participants?status=enrolled").json()["items"]
    pid = enrolled[0]["id"]  # enrolled, not yet treated: no demo outcomes
    assert client.get(f"/api/v1/participants/{pid}/responses").json() == []
    keys = _item_ids(client, "MADRS")
    for visit, score in (("baseline", [4, 4, 3, 3, 3, 3, 3, 3, 3, 1]), ("week 3", [1] * 10)):
        rid = client.post(
            "/api/v1/responses",
            json={
                "participant_id": pid,
                "instrument": "MADRS",
                "visit": visit,
                "unscheduled": True,
                "source": "rater",
                "rater_blinded": True,
            },
            headers=headers,
        ).json()["id"]
        client.put(
            f"/api/v1/responses/{rid}/answers",
            json={"answers": dict(zip(keys, score, strict=True))},
            headers=headers,
        )
        client.post(f"/api/v1/responses/{rid}/submit", headers=headers)
    timeline = client.get(f"/api/v1/participants/{pid}/timelines/madrs").json()
    base, week3 = timeline["points"]
    assert base["total"] == 30 and base["response"] is None
    assert week3["total"] == 10 and week3["change"] == -20
    assert week3["response"] is True and week3["remission"] is True  # >= 50 % drop; <= 10
    assert timeline["bands"][0]["label"]


def test_demo_timelines_agree_with_the_madrs_rules(client: TestClient) -> None:
    pid = _own_participant_id(client)
    login(client, "investigator")
    timeline = client.get(f"/api/v1/participants/{pid}/timelines/madrs").json()
    base, *later = timeline["points"]
    assert base["visit"].lower() == "baseline" and later
    for point in later:
        assert point["change"] == point["total"] - base["total"]
        assert point["response"] is (point["total"] <= base["total"] / 2)
        assert point["remission"] is (point["total"] <= 10)


def test_a_blinded_rater_cannot_open_self_reports_by_id(client: TestClient) -> None:
    pid = _own_participant_id(client)
    sent = _send(client, pid, instrument="PHQ-9", visit="week 2")
    headers = _as(client, "coordinator")
    staff = client.post(
        "/api/v1/responses",
        json={
            "participant_id": pid,
            "instrument": "GAD-7",
            "visit": "week 2",
            "unscheduled": True,
            "source": "staff",
        },
        headers=headers,
    ).json()
    client.put(
        f"/api/v1/responses/{staff['id']}/answers",
        json={"answers": {"anxious": 3}},
        headers=headers,
    )
    headers = _as(client, "rater")
    for rid in (sent["id"], staff["id"]):
        assert client.get(f"/api/v1/responses/{rid}").status_code == 404
        changed = client.put(
            f"/api/v1/responses/{rid}/answers", json={"answers": {}}, headers=headers
        )
        assert changed.status_code == 404
        assert client.get(f"/responses/{rid}/enter").status_code == 404


def test_a_non_finite_answer_is_refused(client: TestClient) -> None:
    pid = _own_participant_id(client)
    sent = _send(client, pid, instrument="PHQ-9", visit="week 4")
    headers = _as(client, "participant")
    body = '{"answers": {"anhedonia": NaN}}'
    bad = client.put(
        f"/api/v1/me/responses/{sent['id']}/answers",
        content=body,
        headers={**headers, "content-type": "application/json"},
    )
    assert bad.status_code == 422
    assert client.get(f"/api/v1/me/responses/{sent['id']}").json()["answered"] == 0


def test_an_incomplete_cssrs_raises_an_alert_it_cannot_rule_out(client: TestClient) -> None:
    pid = _own_participant_id(client)
    headers = _as(client, "investigator")
    created = client.post(
        "/api/v1/responses",
        json={
            "participant_id": pid,
            "instrument": "C-SSRS",
            "visit": "week 1",
            "unscheduled": True,
            "source": "rater",
            "rater_blinded": False,
        },
        headers=headers,
    ).json()
    keys = _item_ids(client, "C-SSRS")
    answers = {keys[0]: 0, keys[1]: 0}  # behaviour (item 6) left blank
    client.put(
        f"/api/v1/responses/{created['id']}/answers", json={"answers": answers}, headers=headers
    )
    done = client.post(f"/api/v1/responses/{created['id']}/submit", headers=headers).json()
    assert done["scores"]["high-risk"] is None
    alerts = [a for a in client.get("/api/v1/alerts").json() if a["response_id"] == created["id"]]
    assert any(a["level"] == "high" and "not ruled out" in a["rule"] for a in alerts)


def test_a_rater_fills_in_the_caps5_scoring_sheet(client: TestClient) -> None:
    pid = _own_participant_id(client)
    headers = _as(client, "rater")
    created = client.post(
        "/api/v1/responses",
        json={
            "participant_id": pid,
            "instrument": "CAPS-5",
            "visit": "baseline",
            "unscheduled": True,
            "source": "rater",
            "rater_blinded": True,
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    url = f"/api/v1/responses/{created.json()['id']}"
    keys = _item_ids(client, "CAPS-5")
    # B1: extreme intensity but only once a month: the rule proposes 2, not 4
    # B2: pronounced, twice a week: 3; C1: the rater overrides the proposal (2) with 1
    sheet = {
        keys[0]: {"frequency": 1, "intensity": 4},
        keys[1]: {"frequency": 3, "intensity": 3},
        keys[5]: {"frequency": 2, "intensity": 2},
    }
    saved = client.put(
        f"{url}/answers", json={"answers": {keys[5]: 1}, "sheet": sheet}, headers=headers
    )
    assert saved.status_code == 200, saved.text
    body = saved.json()
    assert body["answers"][keys[0]] == 2
    assert body["answers"][keys[1]] == 3
    assert body["answers"][keys[5]] == 1
    assert body["sheet"][keys[0]] == {"frequency": 1, "intensity": 4}

    # a level outside the sheet is refused, naming the item and the part; nothing kept
    bad = client.put(
        f"{url}/answers",
        json={"sheet": {keys[2]: {"frequency": 6, "intensity": 1}}},
        headers=headers,
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["fields"][0]["field"] == f"sheet.{keys[2]}.frequency"
    assert keys[2] not in (client.get(url, headers=headers).json()["sheet"] or {})

    # an instrument without a sheet refuses one
    madrs = client.post(
        "/api/v1/responses",
        json={
            "participant_id": pid,
            "instrument": "MADRS",
            "visit": "baseline",
            "unscheduled": True,
            "source": "rater",
            "rater_blinded": True,
        },
        headers=headers,
    ).json()
    first = _item_ids(client, "MADRS")[0]
    refused = client.put(
        f"/api/v1/responses/{madrs['id']}/answers",
        json={"sheet": {first: {"frequency": 1, "intensity": 1}}},
        headers=headers,
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["fields"][0]["field"] == "sheet"


def test_the_caps5_entry_page_proposes_severity_from_the_sheet(client: TestClient) -> None:
    pid = _own_participant_id(client)
    token = login(client, "rater")
    created = client.post(
        "/api/v1/responses",
        json={
            "participant_id": pid,
            "instrument": "CAPS-5",
            "visit": "week 8",
            "unscheduled": True,
            "source": "rater",
            "rater_blinded": True,
        },
        headers={"X-CSRF-Token": token},
    )
    rid = created.json()["id"]
    page = client.get(f"/responses/{rid}/enter")
    assert page.status_code == 200
    assert "Scoring sheet" in page.text and 'name="f_b1-intrusive-memories"' in page.text
    posted = client.post(
        f"/responses/{rid}/enter",
        data={
            "csrf_token": token,
            "f_b1-intrusive-memories": "4",
            "i_b1-intrusive-memories": "2",  # clearly present, daily: 2
            "a_b2-nightmares": "3",
            "action": "save",
        },
        follow_redirects=False,
    )
    assert posted.status_code == 303, posted.text
    kept = client.get(f"/api/v1/responses/{rid}").json()
    assert kept["answers"]["b1-intrusive-memories"] == 2
    assert kept["answers"]["b2-nightmares"] == 3
    assert kept["sheet"]["b1-intrusive-memories"] == {"frequency": 4, "intensity": 2}
    again = client.get(f"/responses/{rid}/enter").text
    assert 'value="4" selected' in again
