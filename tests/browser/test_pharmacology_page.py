"""The pharmacology page in a real browser: overlay an IV DMT bolus and a bolus + infusion,
read the session lengths, see the chart, and get a field-named error for a bad dose."""

from __future__ import annotations

import itertools

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
    # plasma for all three; DMT's 0-10 intensity and psilocybin's 0-100 % effect on panels
    # of their own, each with its threshold and session marker
    panels = page.locator("#pk-chart svg")
    expect(panels).to_have_count(3)
    expect(panels.nth(0).locator("polyline.median")).to_have_count(3)
    expect(panels.nth(1)).to_have_attribute("aria-label", "intensity (0-10 rating)")
    expect(panels.nth(1).locator("polyline.median")).to_have_count(2)
    expect(panels.nth(2).locator("polyline.median")).to_have_count(1)
    expect(panels.nth(1).locator("line.threshold")).to_have_count(1)
    expect(panels.nth(1).locator("line.session")).to_have_count(2)
    # psilocybin's long axis is labelled in whole hours, evenly spaced
    hour_ticks = panels.nth(2).locator("text.time").all_text_contents()
    hours = [int(label.removesuffix(" h")) for label in hour_ticks]
    assert hours[0] == 0 and 4 <= len(hours) <= 11, hour_ticks
    assert len({b - a for a, b in itertools.pairwise(hours)}) == 1, hour_ticks
    panels.first.hover()
    expect(page.locator("#pk-readout")).to_contain_text("ng/mL")
    page.screenshot(path=str(ARTIFACTS / "pharmacology-page.png"), full_page=True)


def test_investigator_designs_a_dmt_infusion_and_reads_the_schedule(
    demo_server: str, page: Page
) -> None:
    log_in(page, demo_server, "investigator")
    page.goto(f"{demo_server}/pharmacology")
    form = page.locator("#pk-design-form")
    form.get_by_label("Target intensity (0–10)").fill("8")
    form.get_by_label("for").fill("30min")
    form.get_by_label("Virtual subjects").fill("300")
    form.get_by_role("button", name="Design infusion").click()
    summary = page.locator("#pk-design-summary")
    expect(summary).to_contain_text("mg DMT fumarate")
    expect(summary).to_contain_text("typical subject")
    bolus = float(summary.locator("dd").nth(1).inner_text().split(" mg")[0])
    assert 5 < bolus <= 25  # within the default 25 mg limit
    # the effect panel with its target band, and the pump schedule
    expect(page.locator("#pk-design-chart svg")).to_have_count(2)
    expect(page.locator("#pk-design-chart rect.band")).to_have_count(1)
    page.locator("#pk-design-steps").evaluate("t => t.closest('details').open = true")
    rates = [
        float(v) for v in page.locator("#pk-design-steps tbody td:nth-child(3)").all_text_contents()
    ]
    assert rates and max(rates) <= 2.4 + 1e-9
    page.locator("#pk-design-chart svg").first.hover()
    expect(page.locator("#pk-design-readout")).to_contain_text("median intensity")
    page.locator("#design").screenshot(path=str(ARTIFACTS / "pharmacology-design.png"))


def test_an_unreachable_design_target_is_refused_with_the_field_named(
    demo_server: str, page: Page
) -> None:
    log_in(page, demo_server, "investigator")
    page.goto(f"{demo_server}/pharmacology?d_target_intensity=12&d_duration=30min#design")
    alert = page.locator("#design").get_by_role("alert")
    expect(alert).to_contain_text("Target intensity")
    expect(page.locator("#pk-design-form input[name=d_target_intensity]")).to_have_value("12")


def test_a_negative_dose_is_refused_with_the_field_named(demo_server: str, page: Page) -> None:
    log_in(page, demo_server, "facilitator")
    page.goto(f"{demo_server}/pharmacology?r0_substance=dmt&r0_dose=-5mg&subjects=10")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Regimen 1 dose")  # the field's label, not a request path
    expect(page.get_by_label("Regimen 1 dose")).to_have_value("-5mg")


def test_a_dose_above_the_cited_ceiling_is_refused_and_one_above_the_studied_range_flagged(
    demo_server: str, page: Page
) -> None:
    log_in(page, demo_server, "facilitator")
    page.goto(f"{demo_server}/pharmacology?r0_substance=mdma&r0_dose=5000mg&subjects=10")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Regimen 1 dose")
    expect(alert).to_contain_text("above the most openpat will simulate: 150 mg")
    page.goto(
        f"{demo_server}/pharmacology?r0_substance=dmt&r0_salt=fumarate&r0_dose=25mg"
        "&r1_substance=psilocybin&r1_dose=25mg&subjects=50"
    )
    expect(page.locator("#pk-warnings")).to_contain_text(
        "above the highest dose studied for this model (7–20 mg"
    )
    psilocybin = page.locator("#pk-summary tbody tr", has_text="psilocybin")
    expect(psilocybin).to_contain_text("typical subject only")


def test_axis_titles_stay_clear_of_wide_tick_numbers(demo_server: str, page: Page) -> None:
    log_in(page, demo_server, "facilitator")
    # an LSD microdose: plasma ticks such as 0.00625 are wide
    page.goto(f"{demo_server}/pharmacology?r0_substance=lsd&r0_dose=1.6ug&subjects=0")
    expect(page.locator("#pk-chart svg")).to_have_count(2)
    gaps = page.evaluate(
        """() => [...document.querySelectorAll('#pk-chart svg')].flatMap(svg => {
            const title = svg.querySelector('text.axis-title').getBoundingClientRect();
            return [...svg.querySelectorAll('text.tick:not(.time)')].map(
                t => t.getBoundingClientRect().left - title.right);
        })"""
    )
    assert gaps and min(gaps) >= 4, gaps
