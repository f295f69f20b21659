"""The Knowledge section in a real browser: the sortable comparison table with its citations,
the medication search with autocomplete, and a substance page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ARTIFACTS, log_in

pytestmark = pytest.mark.browser


def _durations(page: Page) -> list[str]:
    cells = page.locator("#compare-table tbody td:nth-child(2)")
    return [c.get_attribute("data-sort") or "" for c in cells.all()]


def test_comparison_table_sorts_and_each_cell_cites_its_source(
    demo_server: str, page: Page
) -> None:
    log_in(page, demo_server, "facilitator")
    page.get_by_role("navigation", name="Domains").get_by_role("link", name="Knowledge").click()
    page.get_by_role("link", name="Compare", exact=True).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Compare substances")
    table = page.locator("#compare-table")
    expect(table.locator("tbody tr")).to_have_count(8)
    # at a glance: each substance's row fits on one screen; the rest is on demand
    heights = table.locator("tbody tr").evaluate_all(
        "rows => rows.map(r => r.getBoundingClientRect().height)"
    )
    assert max(heights) <= 900, heights
    assert page.evaluate("document.documentElement.scrollHeight") < 8 * 900

    # Sort by duration: ascending puts the shortest-acting (IV/inhaled DMT-like) first.
    page.get_by_role("button", name="Duration").click()
    expect(table.locator("th", has=page.get_by_role("button", name="Duration"))).to_have_attribute(
        "aria-sort", "ascending"
    )
    values = [float(v) for v in _durations(page) if v]
    assert values == sorted(values) and values[0] < 1 < values[-1]
    page.get_by_role("button", name="Duration").click()
    values = [float(v) for v in _durations(page) if v]
    assert values == sorted(values, reverse=True)

    # Every cell of the duration, legal and target columns has at least one citation.
    for col in (2, 3, 4):
        for cell in table.locator(f"tbody td:nth-child({col})").all():
            assert cell.locator("a.cite").count() >= 1, cell.inner_text()

    # One click on a citation shows its reference.
    first = table.locator("a.cite").first
    ref_id = first.get_attribute("data-ref")
    first.click()
    expect(page).to_have_url(re.compile(rf"#ref-{re.escape(ref_id or '')}$"))
    target = page.locator(f"li#ref-{ref_id}")
    expect(target).to_be_visible()
    expect(target).to_contain_text(re.compile(r"doi:|PMID|https?://"))
    ARTIFACTS.mkdir(exist_ok=True)
    page.goto(demo_server + "/knowledge/compare?ids=dmt&ids=psilocybin&ids=lsd&ids=mdma")
    page.get_by_role("button", name="Duration").click()
    page.screenshot(path=str(ARTIFACTS / "knowledge-compare.png"), full_page=True)


def test_medication_search_autocompletes_brands_and_typos(demo_server: str, page: Page) -> None:
    log_in(page, demo_server, "coordinator")
    page.goto(demo_server + "/knowledge/medications")
    box = page.get_by_label("Generic or brand name")
    box.press_sequentially("prozak", delay=30)
    options = page.locator("#med-suggestions option")
    expect(options.first).to_be_attached()
    values = [o.get_attribute("value") for o in options.all()]
    assert "Prozac" in values and "fluoxetine" in values
    page.get_by_role("button", name="Find").click()
    first_row = page.locator("#med-results tbody tr").first
    expect(first_row).to_contain_text("fluoxetine")
    expect(first_row).to_contain_text("Prozac")
    first_row.get_by_role("link", name="fluoxetine").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("fluoxetine")
    expect(page.locator("dl.facts")).to_contain_text("norfluoxetine")
    page.screenshot(path=str(ARTIFACTS / "knowledge-medication.png"), full_page=True)


def test_dmt_page_shows_routes_pk_model_and_disagreements(demo_server: str, page: Page) -> None:
    log_in(page, demo_server, "investigator")
    page.goto(demo_server + "/knowledge/substances/dmt")
    expect(page.get_by_role("heading", level=1)).to_have_text("DMT")
    expect(page.get_by_role("heading", name="Intravenous")).to_be_visible()
    expect(page.get_by_role("heading", name="Where sources disagree")).to_be_visible()
    expect(page.locator("body")).to_contain_text("Eckern")
    page.screenshot(path=str(ARTIFACTS / "knowledge-dmt.png"), full_page=True)
