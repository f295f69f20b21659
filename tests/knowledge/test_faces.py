"""The knowledge base's CLI and JSON API faces, including the scripts' contract."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from openpat.cli.main import app
from tests.conftest import login

runner = CliRunner()


def run_json(*args: str) -> object:
    result = runner.invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# -- CLI ----------------------------------------------------------------------------------


def test_meds_find_json_contract_exact_brand_first() -> None:
    matches = run_json("meds", "find", "Prozac")
    assert isinstance(matches, list) and matches
    best = matches[0]
    assert set(best) >= {
        "generic",
        "brands",
        "atc",
        "classes",
        "half_life_h",
        "score",
        "references",
    }
    assert best["generic"] == "fluoxetine" and best["score"] == 1.0
    assert "Prozac" in best["brands"] and "N06AB03" in best["atc"]
    hl = best["half_life_h"]
    assert any(m["name"].startswith("norfluoxetine") and m["active"] for m in hl["metabolites"])
    assert hl["longest_h"] >= hl["parent_high"] and hl["references"]
    assert all(m["score"] <= best["score"] for m in matches)


def test_meds_find_tolerates_typos() -> None:
    matches = run_json("meds", "find", "sertralin")
    assert matches[0]["generic"] == "sertraline" and matches[0]["score"] < 1.0


def test_substances_compare_json_contract() -> None:
    rows = run_json("substances", "compare", "DMT", "psilocybin", "LSD", "MDMA")
    assert [r["id"] for r in rows] == ["dmt", "psilocybin", "lsd", "mdma"]
    for row in rows:
        assert set(row) >= {"duration", "legal_status", "primary_targets", "notable_effects"}
        assert row["duration"] and row["legal_status"] and row["primary_targets"]
        for entries in row["duration"].values():
            for d in entries:
                assert d["references"] and d["source_kind"]
        for cell in row["legal_status"] + row["primary_targets"] + row["notable_effects"]:
            assert cell["references"]
    dmt, _, lsd, _ = rows
    assert "intravenous" in dmt["duration"] and "oral" in lsd["duration"]
    # IV DMT is over in minutes; oral LSD lasts many hours
    assert dmt["duration"]["intravenous"][0]["total"]["unit"] in ("min", "s")
    assert lsd["longest_total_h"] > 6


def test_substances_compare_table_cites_each_cell() -> None:
    result = runner.invoke(app, ["substances", "compare", "DMT", "LSD"])
    assert result.exit_code == 0, result.output
    assert "DMT" in result.output and "LSD" in result.output and "[" in result.output


def test_substances_show_and_list() -> None:
    shown = runner.invoke(app, ["substances", "show", "DMT"])
    assert shown.exit_code == 0, shown.output
    assert "eckernas-2022" in shown.output
    listed = run_json("substances", "list")
    assert {x["id"] for x in listed} >= {"dmt", "psilocybin", "lsd", "mdma", "ketamine"}


def test_references_show_resolves_an_id() -> None:
    ref = run_json("references", "show", "eckernas-2022")
    assert ref["doi"] == "10.1111/cts.13410" and ref["link"] == "https://doi.org/10.1111/cts.13410"


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (["substances", "show", "psilocibin"], "did you mean", 3),
        (["references", "show", "nope-1900"], "no reference 'nope-1900'", 3),
        (["meds", "show", "qqqqzzzz"], "no medication named", 3),
    ],
)
def test_unknown_names_are_a_red_line_not_a_traceback(
    args: list[str], message: str, code: int
) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == code
    assert message in result.output and "Traceback" not in result.output


def test_knowledge_check_reports_a_broken_directory(tmp_path) -> None:
    from tests.knowledge.minimal import files, write

    data = files()
    data["medications/ssri.yaml"]["medications"][0]["atc"] = ["X"]
    write(tmp_path, data)
    result = runner.invoke(app, ["knowledge", "check", str(tmp_path)])
    assert result.exit_code == 2
    assert "medications/ssri.yaml" in result.output and "not an ATC code" in result.output


# -- API ----------------------------------------------------------------------------------


def test_api_serves_the_comparison_and_look_ups(client: TestClient) -> None:
    login(client, "facilitator")
    rows = client.get("/api/v1/knowledge/compare", params={"ids": "dmt,psilocybin"}).json()
    assert [r["id"] for r in rows] == ["dmt", "psilocybin"]
    rows = client.get("/api/v1/knowledge/compare?ids=lsd&ids=mdma").json()
    assert [r["id"] for r in rows] == ["lsd", "mdma"]
    meds = client.get("/api/v1/knowledge/medications", params={"name": "Zoloft"}).json()
    assert meds[0]["generic"] == "sertraline" and meds[0]["score"] == 1.0
    assert meds[0]["matched"] == "Zoloft"
    everything = client.get("/api/v1/knowledge/medications", params={"limit": 500}).json()
    assert len(everything) >= 150 and "score" not in everything[0]
    assert [m["generic"] for m in everything] == sorted(m["generic"] for m in everything)
    detail = client.get("/api/v1/knowledge/medications/Nardil").json()
    assert detail["medication"]["generic"] == "phenelzine"
    assert any(r["severity"] == "contraindicated" for r in detail["interactions"])
    ref = client.get("/api/v1/knowledge/references/eckernas-2022").json()
    assert ref["pmid"] == "36088656"
    sub = client.get("/api/v1/knowledge/substances/DMT").json()
    assert sub["id"] == "dmt" and sub["routes"]
    assert client.get("/api/v1/knowledge").json()["counts"]["medications"] >= 150
    assert client.get("/api/v1/knowledge/instruments/madrs").json()["id"] == "madrs"
    assert client.get("/api/v1/knowledge/trials/mapp1").json()["substance"] == "mdma"


def test_api_unknown_substance_is_a_422_naming_ids_with_a_suggestion(client: TestClient) -> None:
    login(client, "facilitator")
    response = client.get("/api/v1/knowledge/compare", params={"ids": "dmt,psilocibin"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert "did you mean 'psilocybin'" in error["message"].lower()
    assert [f["field"] for f in error["fields"]] == ["ids"]
    assert client.get("/api/v1/knowledge/substances/psilocibin").status_code == 404
    too_many = client.get("/api/v1/knowledge/compare", params={"ids": ",".join(["dmt"] * 9)})
    assert too_many.status_code == 422


def test_participants_cannot_read_the_knowledge_api(client: TestClient) -> None:
    login(client, "participant")
    assert client.get("/api/v1/knowledge/substances").status_code == 403


def test_pages_escape_and_cite(client: TestClient) -> None:
    login(client, "rater")
    page = client.get("/knowledge/compare", params={"ids": ["dmt", "lsd"]})
    assert page.status_code == 200
    assert page.text.count('class="cite"') > 10
    assert 'id="ref-eckernas-2022"' in page.text
    search = client.get("/knowledge/medications", params={"name": "<script>alert(1)</script>"})
    assert search.status_code == 200
    assert "<script>alert(1)</script>" not in search.text
    assert "&lt;script&gt;" in search.text
