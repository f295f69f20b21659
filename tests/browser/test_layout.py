"""Layout and navigation in a real browser: no page scrolls sideways on a 390 px phone, for
any role; Enter in the phone form moves forward; the navigation keeps the current study on
every page; the calendar marks today; a participant whose PHQ-9 raised an alert reads the
crisis text, and the dashboard lists the alert."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import ARTIFACTS, log_in

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True}
ROLES = (
    "coordinator",
    "investigator",
    "facilitator",
    "rater",
    "monitor",
    "participant",
    "statistician",
    "admin",
)
MAX_PAGES_PER_ROLE = 45
SKIP = ("/logout", "/api", "/static", "/f/")


def _kind(path: str) -> str:
    """One page of each kind: /participants/12 and /participants/7 are one kind."""
    return re.sub(r"/\d+", "/N", path.split("?")[0].split("#")[0])


def test_no_page_scrolls_sideways_at_390_px_for_any_role(
    demo_server: str, browser: Browser
) -> None:
    too_wide: list[str] = []
    checked = 0
    for role in ROLES:
        phone = browser.new_context(**PHONE)
        page = phone.new_page()
        log_in(page, demo_server, role)
        queue, kinds = ["/"], {"/"}
        while queue and checked < MAX_PAGES_PER_ROLE * len(ROLES):
            path = queue.pop(0)
            response = page.goto(demo_server + path)
            if response is None or response.status >= 400:
                continue
            checked += 1
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > 390:
                too_wide.append(f"{role} {path}: {width} px")
            for href in page.eval_on_selector_all(
                "a[href^='/']", "els => els.map(e => e.getAttribute('href'))"
            ):
                if href.startswith(SKIP) or href.endswith(".csv"):
                    continue
                if _kind(href) not in kinds and len(kinds) < MAX_PAGES_PER_ROLE:
                    kinds.add(_kind(href))
                    queue.append(href.split("#")[0])
        phone.close()
    assert checked > 100, checked
    assert too_wide == [], too_wide


def test_the_navigation_keeps_the_study_on_every_page(demo_server: str, page: Page) -> None:
    log_in(page, demo_server, "coordinator")
    nav = page.get_by_role("navigation", name="Domains")
    for path in ("/screening", "/alerts", "/knowledge", "/pharmacology", "/throughput"):
        page.goto(demo_server + path)
        expect(nav.get_by_role("link", name="Participants")).to_have_attribute(
            "href", "/studies/1/participants"
        )
        expect(nav.get_by_role("link", name="Calendar")).to_be_visible()
    log_in(page, demo_server, "monitor")
    page.goto(demo_server + "/admin/audit")
    expect(nav.get_by_role("link", name="Participants")).to_be_visible()


def test_the_calendar_marks_today_and_says_when_a_week_is_empty(
    demo_server: str, page: Page
) -> None:
    log_in(page, demo_server, "coordinator")
    page.goto(f"{demo_server}/studies/1/calendar")
    expect(page.get_by_test_id("today")).to_contain_text("today")
    page.goto(f"{demo_server}/studies/1/calendar?start=2031-01-06")
    expect(page.get_by_test_id("empty-week")).to_contain_text("Nothing is booked")


def test_enter_moves_the_phone_form_forward_and_a_risk_answer_shows_the_crisis_text(
    demo_server: str, browser: Browser, page: Page
) -> None:
    log_in(page, demo_server, "participant")
    pid = page.request.get(f"{demo_server}/api/v1/me/participation").json()[0]["participant"]["id"]
    # the team sends a PHQ-9 for the visit due now (the form's default)
    log_in(page, demo_server, "coordinator")
    page.goto(f"{demo_server}/participants/{pid}#outcomes")
    page.locator("#outcomes summary", has_text="Send a questionnaire").click()
    page.locator("#send-instrument").select_option("phq-9")
    visit = page.get_by_test_id("send-visit")
    if visit.input_value() != "-unscheduled-":
        visit.select_option("-unscheduled-")
    page.locator("#send-unscheduled").fill("safety check")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Questionnaire sent")

    phone = browser.new_context(**PHONE)
    p = phone.new_page()
    log_in(p, demo_server, "participant")
    p.goto(f"{demo_server}/me")
    p.get_by_role(
        "link", name=re.compile(r"Start: Patient Health Questionnaire-9 \(safety")
    ).click()
    expect(p.get_by_text("Question 1 of 10")).to_be_visible()
    p.get_by_role("radio", name="Not at all", exact=True).check()
    p.get_by_role("button", name="Next").click()
    expect(p.get_by_text("Question 2 of 10")).to_be_visible()
    # on question 2, Enter goes on to question 3, never back to 1
    p.get_by_role("radio", name="Not at all", exact=True).check()
    p.keyboard.press("Enter")
    expect(p.get_by_text("Question 3 of 10")).to_be_visible()
    for _ in range(6):  # items 3-8
        p.get_by_role("radio", name="Not at all", exact=True).check()
        p.get_by_role("button", name="Next").click()
    expect(p.get_by_text("Question 9 of 10")).to_be_visible()
    p.get_by_role("radio", name="Several days", exact=True).check()  # item 9
    p.get_by_role("button", name="Next").click()
    p.get_by_role("radio", name="Not difficult at all", exact=True).check()
    p.get_by_role("button", name="Next").click()
    p.get_by_role("button", name="Submit").click()
    crisis = p.get_by_test_id("crisis-text")
    expect(crisis).to_be_visible()
    expect(crisis).to_contain_text("emergency")
    assert p.evaluate("document.documentElement.scrollWidth") <= 390
    ARTIFACTS.mkdir(exist_ok=True)
    p.screenshot(path=str(ARTIFACTS / "crisis-text-phone.png"), full_page=True)
    phone.close()

    # the dashboard lists the open alert, highest level first, with its age
    log_in(page, demo_server, "investigator")
    page.goto(f"{demo_server}/studies/1")
    alerts = page.get_by_test_id("dashboard-alerts")
    expect(alerts.get_by_test_id("open-alert").first).to_have_attribute("data-level", "high")
    expect(alerts).to_contain_text("Thoughts of death or self-harm")
    alerts.screenshot(path=str(ARTIFACTS / "dashboard-alerts.png"))
    dashboard = browser.new_context(**PHONE)
    d = dashboard.new_page()
    log_in(d, demo_server, "coordinator")
    d.goto(f"{demo_server}/studies/1")
    d.screenshot(path=str(ARTIFACTS / "dashboard-390.png"), full_page=True)
    dashboard.close()
