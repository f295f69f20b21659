"""Background jobs on the web (issue 17, point 3): planning asked for on the calendar or the
API runs in the background; its page shows progress and outcome; administrators oversee all
jobs, others see only their own."""

from __future__ import annotations

from fastapi.testclient import TestClient

from openpat.services.runtime import Platform
from openpat.services.worker import LocalWorker
from tests.conftest import login


def test_planning_runs_in_the_background_and_is_followed_on_its_page(
    client: TestClient, demo_platform: Platform
) -> None:
    csrf = login(client, "coordinator")
    body = {"start": "2026-12-07", "weeks": 8, "time_limit_s": 5}
    asked = client.post(
        "/api/v1/studies/1/schedule/plan-job", json=body, headers={"X-CSRF-Token": csrf}
    )
    assert asked.status_code == 202, asked.text
    job = asked.json()
    assert (job["status"], job["kind"], job["requested_by"]) == (
        "queued",
        "schedule.plan",
        "coordinator",
    )
    page = client.get(f"/jobs/{job['id']}")
    assert page.status_code == 200 and 'http-equiv="refresh"' in page.text
    assert LocalWorker(demo_platform).run_due() == 1
    done = client.get(f"/api/v1/jobs/{job['id']}").json()
    assert done["status"] == "succeeded" and done["progress"] == 1.0, done
    assert (
        done["result"]["saved"] is True and done["result"]["requests"] >= done["result"]["booked"]
    )
    page = client.get(f"/jobs/{job['id']}")
    assert f"Booked {done['result']['booked']} of {done['result']['requests']} visits" in page.text
    assert 'http-equiv="refresh"' not in page.text
    # the calendar's form queues the same job and goes to its page
    form = client.post(
        "/studies/1/calendar/plan",
        data={"csrf_token": csrf, "start": "2026-12-07", "weeks": "4"},
        follow_redirects=False,
    )
    assert form.status_code == 303 and form.headers["location"].startswith("/jobs/")
    bad = client.post(
        "/studies/1/calendar/plan", data={"csrf_token": csrf, "start": "next week", "weeks": "4"}
    )
    assert bad.status_code == 422 and "give the first day to plan" in bad.text
    # /metrics counts jobs by kind and status, and this process's attempts by outcome
    login(client, "admin")
    metrics = client.get("/metrics").text
    assert 'openpat_jobs{kind="schedule.plan",status="succeeded"} 1' in metrics
    assert 'openpat_jobs{kind="schedule.plan",status="queued"} 1' in metrics
    assert 'openpat_job_attempts_total{kind="schedule.plan",outcome="succeeded"}' in metrics


def test_who_sees_which_job(client: TestClient, demo_platform: Platform) -> None:
    csrf = login(client, "coordinator")
    job = client.post(
        "/api/v1/studies/1/schedule/plan-job",
        json={"start": "2026-12-07", "weeks": 4},
        headers={"X-CSRF-Token": csrf},
    ).json()
    assert [j["id"] for j in client.get("/api/v1/jobs").json()] == [job["id"]]
    # another member of staff neither lists nor opens it, nor may plan
    csrf = login(client, "rater")
    assert client.get("/api/v1/jobs").json() == []
    assert client.get(f"/api/v1/jobs/{job['id']}").status_code == 404
    assert client.get(f"/jobs/{job['id']}").status_code == 404
    refused = client.post(
        "/api/v1/studies/1/schedule/plan-job",
        json={"start": "2026-12-07", "weeks": 4},
        headers={"X-CSRF-Token": csrf},
    )
    assert refused.status_code == 403
    assert (
        client.post(f"/api/v1/jobs/{job['id']}/cancel", headers={"X-CSRF-Token": csrf}).status_code
        == 404
    )
    # the administrator oversees every job and may cancel one not started
    csrf = login(client, "admin")
    page = client.get("/admin/jobs")
    assert page.status_code == 200 and f'href="/jobs/{job["id"]}"' in page.text
    assert "Plan the calendar" in page.text
    cancelled = client.post(f"/api/v1/jobs/{job['id']}/cancel", headers={"X-CSRF-Token": csrf})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert LocalWorker(demo_platform).run_due() == 0
    again = client.post(f"/api/v1/jobs/{job['id']}/retry", headers={"X-CSRF-Token": csrf})
    assert again.status_code == 200 and again.json()["status"] == "queued"
    twice = client.post(f"/api/v1/jobs/{job['id']}/retry", headers={"X-CSRF-Token": csrf})
    assert twice.status_code == 422 and "only a failed or cancelled job" in twice.text


def test_the_site_sets_its_e_mail_wording_and_the_admin_reads_the_log(
    client: TestClient, demo_platform: Platform
) -> None:
    csrf = login(client, "coordinator")
    calendar = client.get("/studies/1/calendar")
    assert 'data-testid="email-texts"' in calendar.text and "· openpat's default" in calendar.text
    bad = client.post(
        "/sites/1/email-texts",
        data={"csrf_token": csrf, "study": "1", "form_text": "Your {diagnosis} form: {link}"},
    )
    assert bad.status_code == 422 and "unknown placeholder {diagnosis}" in bad.text
    assert "Your {diagnosis} form: {link}</textarea>" in bad.text  # what was typed is kept
    good = client.post(
        "/sites/1/email-texts",
        data={"csrf_token": csrf, "study": "1", "form_text": "Hello from {site}: {link}"},
        follow_redirects=False,
    )
    assert good.status_code == 303 and "saved=email-texts" in good.headers["location"]
    api = client.get("/api/v1/sites/1/email-texts").json()
    assert api["form_text"] == "Hello from {site}: {link}" and api["visit_text_is_default"]
    assert "E-mail wording saved." in client.get(good.headers["location"]).text
    # the log is the administrator's
    assert client.get("/api/v1/messages").status_code == 403
    login(client, "admin")
    assert client.get("/api/v1/messages").status_code == 200
    page = client.get("/admin/messages")
    assert page.status_code == 200 and "E-mail log" in page.text
