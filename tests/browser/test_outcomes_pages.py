"""Questionnaires in a real browser: on a phone, a participant starts the PHQ-9 their team
sent, leaves half-way, resumes where they left off and submits; the coordinator sees the
score and band; the investigator reviews and acknowledges a C-SSRS safety alert."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import ARTIFACTS, log_in

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True}
# PHQ-9 answers by screen (labels as on the form); items 1-9 sum to 8, item 10 is not scored
FIRST_HALF = ["More than half the days", "More than half the days", "Several days", "Several days"]
SECOND_HALF = ["Several days", "Several days", "Not at all", "Not at all", "Not at all"]


def _answer(page: Page, label: str) -> None:
    page.get_by_role("radio", name=label, exact=True).check()
    page.get_by_role("button", name="Next").click()


def test_participant_completes_a_phq9_on_a_phone_over_two_sittings(
    demo_server: str, browser: Browser, page: Page
) -> None:
    phone = browser.new_context(**PHONE)
    p = phone.new_page()
    log_in(p, demo_server, "participant")
    participant_id = p.request.get(f"{demo_server}/api/v1/me/participation").json()[0][
        "participant"
    ]["id"]
    p.goto(f"{demo_server}/me")
    p.get_by_role("link", name="Start: Patient Health Questionnaire-9 (week 12)").click()
    expect(p.get_by_text("Question 1 of 10")).to_be_visible()
    # large touch targets: every choice is at least 44 px high
    heights = p.locator("label.choice").evaluate_all("els => els.map(e => e.offsetHeight)")
    assert heights and min(heights) >= 44, heights
    p.screenshot(path=str(ARTIFACTS / "epro-phone-question.png"), full_page=True)
    # Next without an answer is refused with a message, nothing lost
    p.get_by_role("button", name="Next").click()
    expect(p.get_by_role("alert")).to_contain_text("please choose an answer")
    # the first question by keyboard only: focus the option, select it, submit
    p.get_by_role("radio", name=FIRST_HALF[0], exact=True).focus()
    p.keyboard.press("Space")
    p.get_by_role("button", name="Next").focus()
    p.keyboard.press("Enter")
    expect(p.get_by_text("Question 2 of 10")).to_be_visible()
    for label in FIRST_HALF[1:]:
        _answer(p, label)
    expect(p.get_by_text("Question 5 of 10")).to_be_visible()
    p.get_by_role("button", name="Save and finish later").click()
    expect(p.get_by_role("status")).to_contain_text("finish the questionnaire later")
    expect(p.locator("#my-forms")).to_contain_text("4 of 10 answered")

    # later: resume where they left off
    p.get_by_role("link", name="Continue: Patient Health Questionnaire-9 (week 12)").click()
    expect(p.get_by_text("Question 5 of 10")).to_be_visible()
    for label in SECOND_HALF:
        _answer(p, label)
    _answer(p, "Somewhat difficult")  # item 10, not scored
    expect(p.get_by_role("heading", name="Check your answers")).to_be_visible()
    expect(p.locator("dl.review")).to_contain_text("More than half the days")
    p.screenshot(path=str(ARTIFACTS / "epro-phone-review.png"), full_page=True)
    p.get_by_role("button", name="Submit").click()
    expect(p.get_by_role("status")).to_contain_text("Thank you")
    expect(p.locator("#my-forms")).to_have_count(0)
    phone.close()

    # the coordinator sees the score and band
    log_in(page, demo_server, "coordinator")
    page.goto(f"{demo_server}/participants/{participant_id}#outcomes")
    row = page.get_by_test_id("response-PHQ-9-Week 12")
    expect(row).to_contain_text("8")
    expect(row).to_contain_text("mild")
    expect(page.locator("figure.timeline")).not_to_have_count(0)
    page.locator("#outcomes").screenshot(path=str(ARTIFACTS / "outcomes-participant.png"))


def test_investigator_reviews_and_acknowledges_a_cssrs_alert(demo_server: str, page: Page) -> None:
    log_in(page, demo_server, "investigator")
    page.get_by_role("navigation", name="Domains").get_by_role("link", name="Alerts").click()
    high = page.get_by_test_id("alert").filter(has_text="High risk")
    expect(high).to_have_count(1)
    expect(high).to_contain_text("C-SSRS")
    page.screenshot(path=str(ARTIFACTS / "alerts.png"), full_page=True)
    high.get_by_label("What was done").fill("Seen by the study psychiatrist; safety plan updated.")
    high.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_role("status")).to_contain_text("acknowledged")
    expect(page.get_by_test_id("alert").filter(has_text="High risk")).to_have_count(0)
    page.get_by_role("link", name="Acknowledged").click()
    expect(page.get_by_test_id("alert").filter(has_text="High risk")).to_contain_text(
        "safety plan updated"
    )


def test_blinded_rater_sees_no_scores_or_self_reports(demo_server: str, page: Page) -> None:
    log_in(page, demo_server, "rater")
    expect(page.get_by_role("navigation", name="Domains")).not_to_contain_text("Alerts")
    log_in(page, demo_server, "participant")
    participant_id = page.request.get(f"{demo_server}/api/v1/me/participation").json()[0][
        "participant"
    ]["id"]
    log_in(page, demo_server, "rater")
    page.goto(f"{demo_server}/participants/{participant_id}")
    outcomes = page.locator("#outcomes")
    expect(outcomes).to_contain_text("MADRS")
    expect(outcomes).not_to_contain_text("PHQ-9")
    expect(outcomes.locator("figure.timeline")).to_have_count(0)
    expect(outcomes.locator("th", has_text="Total")).to_have_count(0)


def test_rater_fills_in_the_caps5_scoring_sheet(demo_server: str, page: Page) -> None:
    log_in(page, demo_server, "participant")
    participant_id = page.request.get(f"{demo_server}/api/v1/me/participation").json()[0][
        "participant"
    ]["id"]
    log_in(page, demo_server, "rater")
    page.goto(f"{demo_server}/participants/{participant_id}")
    page.locator("#outcomes summary", has_text="Enter a rating").click()
    page.locator("#rate-instrument").select_option("caps-5")
    page.locator("#rate-visit").select_option("-unscheduled-")
    page.locator("#rate-unscheduled").fill("week 18")
    page.get_by_role("button", name="Start rating").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Clinician-Administered PTSD")
    b1 = page.locator("fieldset.sheet-item").first
    # extreme intensity, but only once in the month: the sheet proposes 2, not 4
    b1.get_by_label("Frequency").select_option("1")
    b1.get_by_label("Intensity").select_option("4")
    expect(b1.get_by_label("Severity")).to_have_value("2")
    b1.get_by_label("Frequency").select_option("4")
    expect(b1.get_by_label("Severity")).to_have_value("4")
    page.screenshot(path=str(ARTIFACTS / "caps5-sheet.png"), full_page=False)
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("fieldset.sheet-item").first.get_by_label("Severity")).to_have_value("4")
