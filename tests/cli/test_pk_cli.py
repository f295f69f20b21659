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
