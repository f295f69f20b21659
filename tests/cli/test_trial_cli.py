"""`openpat schedule plan` and `openpat trial protocol` against a real database."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from openpat.cli.main import app
from openpat.services import studies
from tests.cli.test_cli import env  # noqa: F401  (the fixture)

runner = CliRunner()


def _plan(start: str, *extra: str) -> Result:
    args = ["schedule", "plan", "--study", "DMT-MDD-DEMO", "--from", start, "--weeks", "26"]
    return runner.invoke(app, [*args, "--time-limit", "5", *extra])


@pytest.mark.date_sensitive
def test_schedule_plan_books_the_waiting_visits(
    env: str,  # noqa: F811
    tmp_path: Path,
    clock_start: dt.datetime,
) -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(app, ["demo", "load"]).exit_code == 0
    today = studies.today_at_site("Europe/London", clock_start)
    start = (today + dt.timedelta(days=1)).isoformat()
    dry = _plan(start, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "would book" in dry.output
    # the demo's waiting participants need preparation, integration and dosing visits
    words = dry.output.split()
    would, of = int(words[words.index("book") + 1]), int(words[words.index("of") + 1])
    assert of > 0 and would > 0
    saved = _plan(start)
    assert saved.exit_code == 0, saved.output
    assert f"booked {would} of {of}" in saved.output
    # planned again: what was booked is not asked again; only the visits that could not be
    # placed (a window that closes on a weekend, when no facilitator works) are left, and
    # each is named
    again = _plan(start)
    left = of - would
    assert again.exit_code == 0 and f"booked 0 of {left}" in again.output, again.output
    assert again.output.count("not placed:") == left


def test_bad_input_is_named(env: str, tmp_path: Path) -> None:  # noqa: F811
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    bad_date = runner.invoke(app, ["schedule", "plan", "--study", "X", "--from", "2026-13-01"])
    assert bad_date.exit_code != 0 and "--from" in bad_date.output
    unknown = runner.invoke(app, ["schedule", "plan", "--study", "NOPE", "--from", "2027-01-04"])
    assert unknown.exit_code != 0 and "NOPE" in unknown.output
    broken = tmp_path / "p.yaml"
    broken.write_text("protocol: {id: x}\n", encoding="utf-8")
    assert runner.invoke(app, ["demo", "load"]).exit_code == 0
    result = runner.invoke(app, ["trial", "protocol", "--study", "DMT-MDD-DEMO", str(broken)])
    assert result.exit_code != 0 and "title" in result.output
