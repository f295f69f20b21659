"""Outcomes belong to scheduled visits: a questionnaire is sent for a visit of the
participant's schedule (the one due now by default), the schedule counts it, a second send
for one visit needs confirmation, unscheduled assessments are labelled, and the migration
links the free-text visits of before."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from openpat.services.runtime import Platform
from openpat.store import migrate
from tests.conftest import load_demo, login, make_settings
from tests.web.test_outcomes_api import _as, _item_ids

pytestmark = pytest.mark.date_sensitive


def _post(client: TestClient, role: str, **body: Any) -> Any:
    return client.post("/api/v1/responses", json=body, headers=_as(client, role))


def _in_follow_up(client: TestClient) -> int:
    login(client, "coordinator")
    found: int = client.get("/api/v1/studies/1/participants?status=follow_up").json()["items"][0][
        "id"
    ]
    return found


def test_no_demo_participant_shows_an_overdue_visit_whose_ratings_exist(
    client: TestClient,
) -> None:
    login(client, "coordinator")
    checked = 0
    for status in ("randomised", "in_treatment", "follow_up", "completed"):
        for p in client.get(f"/api/v1/studies/1/participants?status={status}").json()["items"]:
            plan = client.get(f"/api/v1/participants/{p['id']}/schedule").json()
            done = {
                r["scheduled_visit"]
                for r in client.get(f"/api/v1/participants/{p['id']}/responses").json()
                if r["status"] == "submitted"
            }
            for v in plan["visits"]:
                if v["visit"] in done:
                    assert v["status"] in ("done", "done-out-of-window"), (p["code"], v)
                    checked += 1
    # the demo's assessed visits were all looked at: a test over none would pass on anything
    assert checked >= 20, checked


def test_a_questionnaire_for_a_scheduled_visit_is_linked_and_counted(client: TestClient) -> None:
    pid = _in_follow_up(client)
    plan = client.get(f"/api/v1/participants/{pid}/schedule").json()
    week12 = next(v for v in plan["visits"] if v["visit"] == "week-12")
    created = _post(
        client,
        "investigator",
        participant_id=pid,
        instrument="MADRS",
        visit="Week 12",
        source="rater",
        rater_blinded=False,
    )
    assert created.status_code == 201, created.text
    r = created.json()
    assert r["scheduled_visit"] == "week-12" and r["visit"] == "Week 12"
    assert r["unscheduled"] is False
    headers = _as(client, "investigator")
    answers = dict.fromkeys(_item_ids(client, "MADRS"), 1)
    url = f"/api/v1/responses/{r['id']}"
    client.put(f"{url}/answers", json={"answers": answers}, headers=headers)
    assert client.post(f"{url}/submit", headers=headers).status_code == 200
    after = client.get(f"/api/v1/participants/{pid}/schedule").json()
    counted = next(v for v in after["visits"] if v["visit"] == "week-12")
    assert counted["done_on"] is not None and counted["status"] in ("done", "done-out-of-window")
    assert week12["done_on"] is None


def test_a_visit_not_on_the_schedule_is_refused_naming_the_schedule(client: TestClient) -> None:
    pid = _in_follow_up(client)
    refused = _post(client, "coordinator", participant_id=pid, instrument="PHQ-9", visit="week 5")
    assert refused.status_code == 422
    message = refused.json()["error"]["fields"][0]["message"]
    assert "'week 5' is not a visit of" in message and "week-6 (Week 6)" in message
    unscheduled = _post(
        client,
        "coordinator",
        participant_id=pid,
        instrument="PHQ-9",
        visit="week 5",
        unscheduled=True,
    )
    assert unscheduled.status_code == 201
    assert unscheduled.json()["unscheduled"] is True
    assert unscheduled.json()["scheduled_visit"] is None


def test_sending_an_instrument_twice_for_one_visit_asks_for_confirmation(
    client: TestClient,
) -> None:
    pid = _in_follow_up(client)
    body = {"participant_id": pid, "instrument": "GAD-7", "visit": "week-12"}
    assert _post(client, "coordinator", **body).status_code == 201
    again = _post(client, "coordinator", **body)
    assert again.status_code == 409
    assert "GAD-7 was already sent for Week 12" in again.json()["error"]["message"]
    assert _post(client, "coordinator", **body, repeat=True).status_code == 201
    # the page brings the form back with the confirmation to tick
    csrf = login(client, "coordinator")
    page = client.post(
        f"/participants/{pid}/responses",
        data={"csrf_token": csrf, "instrument": "GAD-7", "visit": "week-12"},
        follow_redirects=True,
    )
    assert 'data-testid="send-repeat"' in page.text and "already sent" in page.text


def test_the_send_form_defaults_to_the_visit_due_now(client: TestClient) -> None:
    login(client, "coordinator")
    pid = client.get("/api/v1/studies/1/participants?status=in_treatment").json()["items"][0]["id"]
    plan = client.get(f"/api/v1/participants/{pid}/schedule").json()
    assessed = [v for v in plan["visits"] if v["instruments"]]
    due = next((v for v in assessed if v["status"] in ("due", "overdue")), None) or next(
        v for v in assessed if v["status"] == "upcoming"
    )
    page = client.get(f"/participants/{pid}").text
    menu = page.split('data-testid="send-visit"', 1)[1].split("</select>", 1)[0]
    assert f'<option value="{due["visit"]}" selected>' in menu
    assert "Unscheduled assessment" in menu


def test_the_migration_links_free_text_visits_and_reports_the_counts(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], clock_start: dt.datetime
) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    plat = Platform.from_settings(make_settings(url, tmp_path, clock_start))
    migrate.upgrade(plat.engine, "head")
    load_demo(plat)
    migrate.downgrade(plat.engine, "0006")
    engine = create_engine(url)
    with engine.begin() as conn:
        total = conn.execute(text("SELECT COUNT(*) FROM instrument_responses")).scalar()
        # as before 0007: free-text visits as people typed them, one matching no visit
        conn.execute(text("UPDATE instrument_responses SET visit = lower(visit)"))
        odd = conn.execute(text("SELECT MIN(id) FROM instrument_responses")).scalar()
        conn.execute(
            text("UPDATE instrument_responses SET visit = 'telephone check' WHERE id = :i"),
            {"i": odd},
        )
    capfd.readouterr()
    migrate.upgrade(plat.engine, "head")
    report = capfd.readouterr().err
    assert f"{total - 1} linked to a scheduled visit, 1 kept as unscheduled" in report
    with engine.begin() as conn:
        linked = dict(
            conn.execute(text("SELECT visit, scheduled_visit FROM instrument_responses")).all()
        )
    assert linked["week 3"] == "week-3" and linked["baseline"] == "baseline"
    assert linked["week 6"] == "week-6"
    assert linked["telephone check"] is None
    plat.dispose()
    engine.dispose()
