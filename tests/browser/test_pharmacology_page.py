"""The pharmacology page in a real browser: overlay an IV DMT bolus and a bolus + infusion,
read the session lengths, see the chart, and get a field-named error for a bad dose."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ARTIFACTS, log_in

pytestmark = pytest.mark.browser


def test_facilitator_overlays_two_dmt_regimens_and_reads_session_lengths(
    demo_server: str, page: Page
) -> None:
    log_in(page, demo_server, "facilitator")
    page.get_by_role("navigation", name="Domains").get_by_role("link", name="Pharmacology").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Concentration, effect and session length"
    )
    page.get_by_label("Regimen 3 substance").select_option("psilocybin")
    page.get_by_label("Regimen 3 dose").fill("25mg")
    page.locator("input[name=subjects]").fill("300")
    page.get_by_role("button", name="Simulate").click()

    rows = page.locator("#pk-summary tbody tr")
    expect(rows.first).to_contain_text("dmt 20mg (fumarate)")
    expect(page.locator("#pk-summary")).to_contain_text("psilocybin 25mg")
    # two SVG panels (plasma and effect), three median lines on each
    expect(page.locator("#pk-chart svg")).to_have_count(2)
    expect(page.locator("#pk-chart svg").nth(1).locator("polyline.median")).to_have_count(3)
    expect(page.locator("#pk-chart svg").nth(1).locator("line.threshold").first).to_be_attached()
    page.locator("#pk-chart svg").first.hover()
    expect(page.locator("#pk-readout")).to_contain_text("ng/mL")
    page.screenshot(path=str(ARTIFACTS / "pharmacology-page.png"), full_page=True)


def test_a_negative_dose_is_refused_with_the_field_named(demo_server: str, page: Page) -> None:
    log_in(page, demo_server, "facilitator")
    page.goto(f"{demo_server}/pharmacology?r0_substance=dmt&r0_dose=-5mg&subjects=10")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("regimens[0].doses[0].amount")
    expect(page.get_by_label("Regimen 1 dose")).to_have_value("-5mg")
