"""Trial operations in a real browser: a coordinator randomises an enrolled participant,
reads the generated visit schedule (the arm is never shown), books the dosing session and
finds it in the calendar by room and by facilitator. (Named to run after the other browser
tests, because it changes the shared demo database.)"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ARTIFACTS, log_in
from tests.conftest import TEST_NOW

pytestmark = pytest.mark.browser


def test_coordinator_randomises_books_and_sees_the_calendar(demo_server: str, page: Page) -> None:
    log_in(page, demo_server, "coordinator")
    page.goto(f"{demo_server}/studies/1/participants?status=enrolled")
    page.locator("table.data tbody tr a").first.click()
    code = page.get_by_role("heading", level=1).inner_text().removeprefix("Participant ").strip()
    page.get_by_role("link", name=re.compile("Trial record")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Trial record · {code}")

    page.get_by_test_id("confirm-randomise").check()
    page.get_by_role("button", name="Randomise").click()
    expect(page.get_by_test_id("saved")).to_contain_text("the allocation is concealed")
    expect(page.get_by_test_id("status")).to_have_text("Randomised")
    schedule = page.get_by_test_id("schedule")
    expect(schedule.locator("tr[data-visit]")).to_have_count(7)
    dosing_row = schedule.locator("tr[data-visit=dosing]")
    today = TEST_NOW.astimezone(ZoneInfo("Europe/London")).date()
    target = today + dt.timedelta(days=7)
    expect(dosing_row).to_contain_text(target.isoformat())
    expect(dosing_row).to_contain_text("Upcoming")
    expect(dosing_row).to_contain_text("needs 30 min, a room, 2 facilitators")
    body = page.locator("main").inner_text()
    assert "DMT 21.5 mg" not in body and "Placebo" not in body  # no arm anywhere
    page.screenshot(path=str(ARTIFACTS / "trial-randomised-schedule.png"), full_page=True)

    day = target
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    page.locator("#book-visit").select_option("dosing")
    page.locator("#book-date").fill(day.isoformat())
    page.locator("#book-start").fill("15:30")
    page.locator("#book-room").select_option(label="Dosing room 2")
    page.get_by_label("Gale Guide").check()
    page.get_by_label("Ira Ives").check()
    page.get_by_role("button", name="Book", exact=True).click()
    expect(page.get_by_test_id("saved")).to_contain_text("the visit is booked")
    booking = page.get_by_test_id("schedule").locator("tr[data-visit=dosing]")
    expect(booking).to_contain_text(f"{day.isoformat()} 15:30")
    expect(booking).to_contain_text("16:00")  # the predicted 30-minute session
    expect(booking).to_contain_text("Dosing room 2")
    page.screenshot(path=str(ARTIFACTS / "trial-booked.png"), full_page=True)

    monday = day - dt.timedelta(days=day.weekday())
    page.get_by_role("link", name="Calendar").first.click()
    page.goto(f"{page.url.split('?')[0]}?site=1&start={monday.isoformat()}&view=room")
    calendar = page.get_by_test_id("calendar")
    room_row = calendar.locator("tr", has=page.get_by_role("rowheader", name="Dosing room 2"))
    column = (day - monday).days + 2  # the row header is the first cell
    cell = room_row.locator(f"td:nth-child({column})")
    expect(cell).to_contain_text(code)
    expect(cell).to_contain_text("15:30–16:00")
    page.screenshot(path=str(ARTIFACTS / "trial-calendar-rooms.png"), full_page=True)

    page.get_by_role("link", name="By facilitator").click()
    ira = page.get_by_test_id("calendar").locator(
        "tr", has=page.get_by_role("rowheader", name="Ira Ives")
    )
    expect(ira.locator(f"td:nth-child({column})")).to_contain_text(code)
    page.screenshot(path=str(ARTIFACTS / "trial-calendar-facilitators.png"), full_page=True)
