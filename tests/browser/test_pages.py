"""The acceptance path in a real browser: `make demo`, log in as the coordinator, dashboard."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ARTIFACTS, log_in

pytestmark = pytest.mark.browser


def test_coordinator_logs_in_and_sees_the_dashboard(demo_server: str, page: Page) -> None:
    page.goto(demo_server + "/")
    expect(page).to_have_url(re.compile(r"/login\?next=/$"))
    log_in(page, demo_server, "coordinator")
    expect(page).to_have_url(re.compile(r"/studies/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("IV DMT for major depressive")
    expect(page.get_by_test_id("total")).to_have_text("40")
    counts = [int(c) for c in page.locator("td[data-status]").all_inner_texts()]
    assert len(counts) == 11 and sum(counts) == 40
    expect(page.get_by_role("navigation", name="Domains")).to_contain_text("Participants")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)


def test_wrong_password_is_refused_with_a_message(demo_server: str, page: Page) -> None:
    page.goto(demo_server + "/login")
    page.get_by_label("Username").fill("facilitator")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("username or password is not right")
    expect(page).to_have_url(re.compile(r"/login$"))


def test_coordinator_registers_a_participant_and_changes_status(
    demo_server: str, page: Page
) -> None:
    log_in(page, demo_server, "coordinator")
    page.get_by_role("link", name="Participants").click()
    page.get_by_role("link", name="Register participant").click()
    page.get_by_label("Year of birth").fill("1990")
    page.get_by_label("Full name").fill("Test <script>alert(1)</script> Person")
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_role("status")).to_contain_text("Saved")
    code = page.get_by_role("heading", level=1).inner_text().removeprefix("Participant ")
    assert re.fullmatch(r"RCR-\d{4}", code)
    # Free text is escaped, not executed.
    expect(page.locator(".identity")).to_contain_text("<script>alert(1)</script>")
    page.get_by_label("New status").select_option("screened")
    page.get_by_label("Reason (recorded in the audit trail)").fill("screening visit done")
    page.get_by_role("button", name="Change status").click()
    expect(page.get_by_test_id("status")).to_have_text("Screened")


def test_status_change_without_reason_shows_the_field(demo_server: str, page: Page) -> None:
    log_in(page, demo_server, "investigator")
    page.goto(demo_server + "/studies/1/participants?status=follow_up")
    page.locator("table.data tbody a").first.click()
    page.get_by_label("Reason (recorded in the audit trail)").evaluate(
        "el => el.removeAttribute('required')"
    )
    page.get_by_label("Reason (recorded in the audit trail)").evaluate(
        "el => el.removeAttribute('minlength')"
    )
    page.get_by_role("button", name="Change status").click()
    # the field by its label
    expect(page.get_by_role("alert")).to_contain_text("Reason: String should have at least 3")


def test_blinded_rater_sees_no_identity_and_no_admin(demo_server: str, page: Page) -> None:
    log_in(page, demo_server, "rater")
    page.goto(demo_server + "/participants/1")
    expect(page.get_by_role("heading", name="Study record")).to_be_visible()
    expect(page.locator(".identity")).to_have_count(0)
    expect(page.get_by_role("navigation", name="Domains")).not_to_contain_text("Admin")
    response = page.goto(demo_server + "/admin/audit")
    assert response is not None and response.status == 403


def test_monitor_filters_the_audit_trail_and_verifies_it(demo_server: str, page: Page) -> None:
    log_in(page, demo_server, "monitor")
    # RCR-0002 was screened out: a short trail that still holds the identity record
    page.goto(demo_server + "/admin/audit?participant=RCR-0002")
    rows = page.locator("table.audit tbody tr")
    assert rows.count() > 5
    # the participant's own records: study record, identity, screenings, questionnaires
    tables = rows.locator("td:nth-child(5)").all_inner_texts()
    own = ("participant", "screening", "instrument_response", "safety_alert", "form_link")
    assert all(any(name in t for name in own) for t in tables), set(tables)
    # Identity values are masked for a role without identity access.
    expect(page.locator("table.audit")).to_contain_text("identity: restricted")
    page.get_by_role("button", name="Verify the hash chain").click()
    expect(page.get_by_test_id("verify-result")).to_contain_text("intact")


def test_dashboard_fits_a_tablet_without_sideways_scrolling(demo_server: str, page: Page) -> None:
    page.set_viewport_size({"width": 768, "height": 1024})
    log_in(page, demo_server, "coordinator")
    expect(page.get_by_role("heading", name="Participants by status")).to_be_visible()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-tablet.png"), full_page=True)


def test_api_documentation_renders_offline(demo_server: str, page: Page) -> None:
    log_in(page, demo_server, "coordinator")
    page.goto(demo_server + "/api/docs")
    expect(page.get_by_text("/api/v1/studies/{study_id}/participants").first).to_be_visible()
    expect(page.get_by_text("Unable to render this definition")).to_have_count(0)
