"""Screening in a real browser: fill the form (profile and medications with autocomplete),
read the verdict, the colour-coded interactions, the dated washout and the citations."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ARTIFACTS, log_in
from tests.conftest import TEST_NOW

pytestmark = pytest.mark.browser


def test_coordinator_fills_the_form_and_reads_a_dated_washout_verdict(
    demo_server: str, page: Page
) -> None:
    log_in(page, demo_server, "coordinator")
    page.get_by_role("navigation", name="Domains").get_by_role("link", name="Screening").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New screening")

    page.locator("#participant_id").select_option(index=1)
    page.locator("#protocol").select_option("spl026-dmt-mdd")
    dosing = TEST_NOW.date() + dt.timedelta(days=120)
    page.locator("#planned_dosing_date").fill(dosing.isoformat())
    page.locator("#age_years").fill("41")
    page.locator("#sex").select_option("female")
    page.locator("#pregnant").select_option("no")
    page.locator("#lactating").select_option("no")
    # every history starts unanswered: the coordinator says which were taken
    page.get_by_label("Diagnoses recorded").check()
    page.locator("#diagnoses").fill("F33.1")
    page.get_by_label("Personal history taken").check()
    page.get_by_label("First-degree family history taken").check()
    page.get_by_label("Medication history taken").check()
    page.locator("#systolic_bp_mmhg").fill("124")
    page.locator("#diastolic_bp_mmhg").fill("79")
    page.locator("#heart_rate_bpm").fill("70")
    page.locator("#qtc_ms").fill("415")
    page.locator("#alt_u_per_l").fill("25")
    page.locator("input[name=alt_uln_u_per_l]").fill("40")
    page.locator("#ast_u_per_l").fill("22")
    page.locator("input[name=ast_uln_u_per_l]").fill("40")
    page.locator("#egfr").fill("95")
    page.locator("#cssrs_ideation").select_option("1")
    page.locator("#cssrs_behaviour_past_year").select_option("no")
    page.locator("#substance_use_disorder").select_option("none")
    page.get_by_label("Never used psychedelics").check()

    # the medication name autocompletes from the knowledge API (brand -> generic)
    first = page.get_by_label("Medication 1", exact=True)
    first.fill("Proza")
    expect(page.locator("#med-options option[value=Prozac]")).to_have_count(1)
    first.fill("Prozac")
    page.get_by_label("Dose 1", exact=True).fill("20")
    page.get_by_label("Unit 1", exact=True).fill("mg")
    page.get_by_label("Taper allowed 1", exact=True).select_option("yes")
    page.get_by_label("Medication 2", exact=True).fill("metoprolol")
    page.get_by_role("button", name="Screen").click()

    expect(page).to_have_url(re.compile(r"/screenings/\d+$"))
    verdict = page.get_by_test_id("verdict")
    expect(verdict).to_have_text("eligible-after-washout")
    washout = page.locator("tr.wash-planned")
    expect(washout).to_contain_text("fluoxetine")
    expect(washout).to_contain_text("norfluoxetine")
    # fluoxetine is an SSRI: its interaction row is colour-coded and cited
    severity = page.locator(".sev").first
    expect(severity).to_be_visible()
    assert page.locator("a.cite").count() >= 3
    expect(page.locator(".refs li").first).to_contain_text(re.compile(r"doi:|PMID|https?://"))
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "screening-report.png"), full_page=True)


def test_an_impossible_value_is_shown_on_the_form_with_its_field(
    demo_server: str, page: Page
) -> None:
    log_in(page, demo_server, "investigator")
    page.goto(demo_server + "/screening")
    page.locator("#participant_id").select_option(index=1)
    page.locator("#planned_dosing_date").fill((TEST_NOW.date() + dt.timedelta(days=60)).isoformat())
    page.locator("#qtc_ms").fill("50")
    page.get_by_label("Medication history taken").check()
    page.get_by_label("Medication 1", exact=True).fill("sertraline")
    page.get_by_role("button", name="Screen").click()
    alert = page.get_by_role("alert")
    # the field by its label, not its machine path
    expect(alert).to_contain_text("QTc, Fridericia (ms)")
    expect(alert).not_to_contain_text("profile.qtc_ms")
    # what was typed is kept
    expect(page.get_by_label("Medication 1", exact=True)).to_have_value("sertraline")
    expect(page.locator("#qtc_ms")).to_have_value("50")
