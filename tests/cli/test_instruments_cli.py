"""The `openpat instruments` contract for scripts: show JSON, score CSV/Parquet, errors."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from openpat.cli.main import app

runner = CliRunner()


def test_show_json_lists_items_with_options_and_the_scoring_rules() -> None:
    result = runner.invoke(app, ["instruments", "show", "PHQ-9", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [i["id"] for i in data["items"]][:2] == ["anhedonia", "depressed-mood"]
    assert data["items"][0]["options"][3] == {"value": 3.0, "label": "Nearly every day"}
    assert data["items"][9]["scored"] is False
    assert data["scoring"]["missing"]["max_missing"] == 2
    assert next(b["label"] for b in data["scoring"]["bands"]) == "minimal"


def test_list_says_which_instruments_can_be_scored() -> None:
    result = runner.invoke(app, ["instruments", "list", "--format", "json"])
    assert result.exit_code == 0, result.output
    found = {i["abbreviation"]: i for i in json.loads(result.output)}
    assert found["PCL-5"]["scorable"] is True
    assert (
        found["CEQ"]["scorable"] is False
        and "response scale" in found["CEQ"]["not_scorable_because"]
    )


def test_score_csv_keeps_id_columns_and_adds_scores(tmp_path: Path) -> None:
    src = tmp_path / "phq.csv"
    src.write_text(
        "participant,visit,1,2,3,4,5,6,7,8,9\n"
        "P1,baseline,3,3,2,2,2,2,2,1,0\n"
        "P1,week6,1,0,1,1,0,0,,0,0\n"
        "P2,baseline,3,3,3,3,,,,3,1\n",
        encoding="utf-8",
    )
    result = runner.invoke(
        app, ["instruments", "score", str(src), "--instrument", "PHQ-9", "--format", "csv"]
    )
    assert result.exit_code == 0, result.output
    out = pd.read_csv(io.StringIO(result.output))
    assert list(out["participant"]) == ["P1", "P1", "P2"]
    assert out["total"].tolist()[:2] == [17.0, 3.0]  # 3 = 3 answered of 8 x 9/8, rounded
    assert out["band"].tolist()[:2] == ["moderately severe", "minimal"]
    assert out["scored"].tolist() == [True, True, False]
    assert "3 items are missing" in out["reason"][2]


def test_score_to_parquet_by_item_keys(tmp_path: Path) -> None:
    src = tmp_path / "pcl.csv"
    keys = json.loads(
        runner.invoke(app, ["instruments", "show", "PCL-5", "--format", "json"]).output
    )
    columns = [i["id"] for i in keys["items"]]
    rows = [[2 if n in (0, 5, 7, 8, 14, 15) else 0 for n in range(20)], [1] * 20]
    pd.DataFrame(rows, columns=columns).assign(id=["a", "b"]).to_csv(src, index=False)
    out = tmp_path / "scores.parquet"
    result = runner.invoke(
        app,
        [
            "instruments",
            "score",
            str(src),
            "--instrument",
            "pcl5",
            "--format",
            "parquet",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    table = pd.read_parquet(out)
    assert table["total"].tolist() == [12.0, 20.0]
    assert table["dsm5-provisional"].tolist() == [True, False]
    assert table["cluster-d"].tolist() == [4.0, 7.0]


def test_a_bad_answer_stops_the_file_and_writes_nothing(tmp_path: Path) -> None:
    src = tmp_path / "bad.csv"
    src.write_text("id,1,2,3,4,5,6,7,8,9\nA,1,1,1,1,1,1,1,1,1\nB,1,1,1,1,1,1,1,1,4\n")
    out = tmp_path / "scores.csv"
    result = runner.invoke(
        app, ["instruments", "score", str(src), "--instrument", "PHQ-9", "--out", str(out)]
    )
    assert result.exit_code == 2
    assert "row 2, suicidal-thoughts: 4 is not an allowed answer" in result.output
    assert not out.exists() and not list(tmp_path.glob("*.partial"))


def test_an_unknown_instrument_is_refused_with_the_known_ones() -> None:
    result = runner.invoke(app, ["instruments", "score", "/nonexistent.csv", "--instrument", "X"])
    assert result.exit_code == 2 and "no instrument 'X'" in result.output
    assert "PHQ-9" in result.output


def test_a_missing_item_column_is_named(tmp_path: Path) -> None:
    src = tmp_path / "gad.csv"
    src.write_text("id,1,2,3,4,5,6\nA,1,1,1,1,1,1\n")
    result = runner.invoke(app, ["instruments", "score", str(src), "--instrument", "GAD-7"])
    assert result.exit_code == 2
    assert "no column for 1 GAD-7 item" in result.output
    definition = json.loads(
        runner.invoke(app, ["instruments", "show", "GAD-7", "--format", "json"]).output
    )
    assert definition["items"][6]["id"] in result.output
