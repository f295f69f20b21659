"""The `openpat pk` contract for scripts: simulate JSON fields, models JSON, design, errors."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from openpat.cli.main import app

runner = CliRunner()


def test_pk_simulate_json_has_the_contract_fields(tmp_path: Path) -> None:
    png = tmp_path / "out.png"
    result = runner.invoke(
        app,
        [
            "pk",
            "simulate",
            "--substance",
            "dmt",
            "--route",
            "iv",
            "--dose",
            "20mg",
            "--salt",
            "fumarate",
            "--subjects",
            "200",
            "--plot",
            str(png),
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    typical = data["typical"]
    # 20 mg fumarate = 12.37 mg base into V1 221 L -> 56.0 ng/mL at the bolus
    assert typical["cmax_ng_per_ml"] == 55.9819
    assert 8 < typical["peak_effect"] <= 10
    assert 10 < typical["session_length_min"] < 25
    for p in ("p5", "p50", "p95"):
        assert set(data["population"][p]) >= {
            "cmax_ng_per_ml",
            "tmax_min",
            "peak_effect",
            "session_length_min",
        }
    assert data["population"]["p5"]["peak_effect"] < data["population"]["p95"]["peak_effect"]
    grid = data["grid"]
    assert len(grid["time_min"]) == len(grid["median_cp_ng_per_ml"]) == len(grid["median_effect"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_pk_models_lists_substances_with_references() -> None:
    result = runner.invoke(app, ["pk", "models", "--format", "json"])
    assert result.exit_code == 0, result.output
    models = json.loads(result.output)
    assert {(m["substance"], m["route"]) for m in models} >= {
        ("dmt", "intravenous"),
        ("psilocybin", "oral"),
        ("lsd", "oral"),
        ("mdma", "oral"),
        ("ketamine", "intravenous"),
    }
    assert all(m["references"] for m in models)


def test_pk_design_reports_population_share_in_band() -> None:
    result = runner.invoke(
        app,
        [
            "pk",
            "design",
            "--substance",
            "dmt",
            "--target-intensity",
            "8",
            "--duration",
            "30min",
            "--subjects",
            "200",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["band"] == [7.0, 9.0]
    assert data["typical_share_in_band"] > 0.9
    assert 0 < data["population_share_in_band"] < 1
    assert data["bolus_mg"] <= 25


def test_pk_simulate_refuses_an_unknown_salt_with_a_clear_error() -> None:
    result = runner.invoke(
        app, ["pk", "simulate", "--substance", "dmt", "--dose", "20mg", "--salt", "sulfate"]
    )
    assert result.exit_code != 0
    assert "sulfate" in result.output and "Traceback" not in result.output


def test_pk_validation_json_lists_every_row_and_exits_zero_when_held_rows_hold() -> None:
    result = runner.invoke(app, ["pk", "validation", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert {r["substance"] for r in rows} >= {"dmt", "psilocybin", "lsd", "mdma", "ketamine"}
    held = [r for r in rows if r["held"]]
    assert held and all(abs(r["relative_error"]) <= 0.2 for r in held)
    dmt_peak = next(
        r for r in rows if r["substance"] == "dmt" and r["quantity"] == "peak-effect-time"
    )
    assert 1.5 <= dmt_peak["simulated"] <= 2.0  # Strassman 1994: 90-120 s
    assert {r["status"] for r in rows} == {"held", "disagreement"}


def test_pk_validation_markdown_is_the_page_table() -> None:
    result = runner.invoke(app, ["pk", "validation", "--format", "markdown"])
    assert result.exit_code == 0, result.output
    page = (Path(__file__).parents[2] / "docs" / "validation.md").read_text(encoding="utf-8")
    assert result.output in page


def test_pk_simulate_refuses_a_dose_above_the_ceiling_naming_the_option() -> None:
    result = runner.invoke(app, ["pk", "simulate", "--substance", "mdma", "--dose", "5000mg"])
    assert result.exit_code != 0
    text = " ".join(result.output.split())
    assert "--dose 5000mg: 5,000 mg (hydrochloride) is above the most openpat will simulate" in text
    assert "150 mg (hydrochloride)" in text and "de-la-torre-2000" in text
    assert "Traceback" not in result.output


def test_pk_simulate_warns_outside_the_studied_range_and_says_when_there_is_no_range() -> None:
    above = runner.invoke(
        app, ["pk", "simulate", "--substance", "dmt", "--dose", "25mg", "--format", "json"]
    )
    assert above.exit_code == 0, above.output
    data = json.loads(above.output)
    assert data["variability"] is True
    assert "above the highest dose studied for this model (7–20 mg" in data["warnings"][0]
    text = runner.invoke(
        app, ["pk", "simulate", "--substance", "psilocybin", "--dose", "25mg", "--subjects", "50"]
    )
    assert text.exit_code == 0, text.output
    flat = " ".join(text.output.split())
    assert "population p50" not in flat  # no rows of identical percentiles
    assert "Population (50 subjects): typical subject only: this model has no" in flat


def test_pk_design_says_when_few_subjects_stay_in_the_band() -> None:
    result = runner.invoke(
        app, ["pk", "design", "--substance", "dmt", "--target-intensity", "8", "--subjects", "200"]
    )
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    assert "Read with care: Only" in flat and "no pump or dose limit binds" in flat


def test_pk_plot_labels_stay_clear_of_the_tick_numbers_and_line_up() -> None:
    from openpat.cli.pharmacology import _figure
    from openpat.services import pharmacology as service

    request = service.SimulationCreate(
        regimens=[service.RegimenIn(substance="lsd", doses=[service.DoseIn(amount="1.6ug")])],
        subjects=20,
    )
    fig = _figure(service.simulate_regimens(request))
    fig.canvas.draw()  # lay the figure out as it is saved
    renderer = fig.canvas.get_renderer()
    lefts = []
    for ax in fig.axes:
        label = ax.yaxis.label.get_window_extent(renderer)
        low, high = ax.get_ylim()
        shown = [t for t in ax.get_yticklabels() if low <= t.get_position()[1] <= high]
        assert shown
        for tick in shown:
            box = tick.get_window_extent(renderer)
            assert label.x1 + 2 <= box.x0, (ax.get_ylabel(), tick.get_text())
        lefts.append(round(label.x0))
    assert len(set(lefts)) == 1  # the panels' labels line up
