"""Screening's CLI and JSON API faces, including the scripts' contract."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from openpat.cli.main import app
from tests.conftest import login

runner = CliRunner()

PROFILE = {
    "participant": "P-CLI",
    "age_years": 45,
    "sex": "male",
    "diagnoses": [{"code": "F33.2"}],
    "personal_history": [],
    "family_history": [],
    "vitals": {"systolic_bp_mmhg": 126, "diastolic_bp_mmhg": 80, "heart_rate_bpm": 70},
    "qtc_ms": 415,
    "labs": {
        "alt_u_per_l": 30,
        "alt_uln_u_per_l": 40,
        "ast_u_per_l": 28,
        "ast_uln_u_per_l": 40,
        "egfr": 90,
    },
    "cssrs": {"ideation": 1, "behaviour_past_year": False},
    "substance_use": {"disorder": "none", "never_used_psychedelics": True},
    "medications": [
        {"name": "Prozac", "dose": 20, "unit": "mg", "since": "2024-05-01", "taper_allowed": True},
        {"name": "sertralin"},
    ],
}


def screen_cli(tmp_path: Path, profile: dict, *extra: str):
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(profile))
    return runner.invoke(
        app,
        [
            "screen",
            "--profile",
            str(path),
            "--protocol",
            "comp360-psilocybin-trd",
            "--dosing-date",
            "2027-02-01",
            "--today",
            "2026-11-23",
            *extra,
        ],
    )


def test_cli_json_report_has_the_contract_fields(tmp_path: Path) -> None:
    result = screen_cli(tmp_path, PROFILE, "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["verdict"] == "needs-information"  # "sertralin" is not recognised
    assert {"id", "status", "reason"} <= set(report["criteria"][0])
    assert {c["status"] for c in report["criteria"]} <= {"met", "not-met", "missing"}
    finding = next(f for f in report["interactions"] if f["medication"] == "fluoxetine")
    assert finding["as_entered"] == "Prozac"
    assert {"severity", "mechanism", "action", "references"} <= set(finding)
    assert finding["references"]
    washout = next(w for w in report["washout"] if w["medication"] == "fluoxetine")
    assert washout["last_dose_by"] < "2027-02-01" and washout["basis"] == "half-life"
    assert report["unresolved"][0]["as_entered"] == "sertralin"
    assert "sertraline" in report["unresolved"][0]["suggestions"]


def test_cli_exits_zero_for_an_ineligible_verdict(tmp_path: Path) -> None:
    profile = {**PROFILE, "medications": [{"name": "lithium", "taper_allowed": False}]}
    result = screen_cli(tmp_path, profile, "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["verdict"] == "ineligible"


def test_cli_text_report_shows_verdict_and_washout(tmp_path: Path) -> None:
    result = screen_cli(tmp_path, PROFILE)
    assert result.exit_code == 0, result.output
    assert "NEEDS-INFORMATION" in result.output
    assert "Washout plan" in result.output and "fluoxetine" in result.output


def test_cli_refuses_an_impossible_value_naming_the_field(tmp_path: Path) -> None:
    result = screen_cli(tmp_path, {**PROFILE, "qtc_ms": 50})
    assert result.exit_code != 0
    assert "qtc_ms" in result.output


def test_cli_lists_the_shipped_protocols() -> None:
    result = runner.invoke(app, ["screen", "protocols", "--format", "json"])
    assert result.exit_code == 0, result.output
    ids = {p["id"] for p in json.loads(result.stdout)}
    assert {"mapp1-mdma-ptsd", "comp360-psilocybin-trd", "spl026-dmt-mdd"} <= ids


HEADER = (
    "participant,age_years,sex,pregnant,diagnoses,personal_history,family_history,"
    "systolic_bp_mmhg,diastolic_bp_mmhg,qtc_ms,cssrs_ideation,cssrs_behaviour_past_year,"
    "substance_use_disorder,days_since_psychedelic_use,medications,taper_allowed\n"
)
CANDIDATES = (
    HEADER
    + """\
A1,40,female,no,F33.1,none,none,120,78,410,1,no,none,never,none,
A2,52,male,,F32.2,none,none,125,80,420,0,no,none,never,sertraline; lithium,no
A3,33,female,no,F33.2,none,none,118,75,,1,no,none,never,Zoloft,yes
"""
)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_cli_batch_writes_one_verdict_per_candidate(tmp_path: Path, suffix: str) -> None:
    source = tmp_path / "candidates.csv"
    source.write_text(CANDIDATES)
    out = tmp_path / f"verdicts{suffix}"
    result = runner.invoke(
        app,
        [
            "screen",
            "batch",
            str(source),
            "--protocol",
            "spl026-dmt-mdd",
            "--out",
            str(out),
            "--dosing-date",
            "2027-03-01",
            "--today",
            "2026-11-23",
        ],
    )
    assert result.exit_code == 0, result.output
    verdicts = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
    assert list(verdicts["participant"]) == ["A1", "A2", "A3"]
    by_id = verdicts.set_index("participant")
    assert by_id.loc["A2", "verdict"] == "ineligible"  # lithium, taper not allowed
    assert "lithium" in by_id.loc["A2", "must_stop"]
    assert by_id.loc["A3", "verdict"] == "needs-information"  # QTc unknown
    assert "sertraline" in by_id.loc["A3", "must_stop"]
    assert "screened 3 candidates" in result.output


def test_cli_batch_refuses_a_bad_cell_and_writes_nothing(tmp_path: Path) -> None:
    source = tmp_path / "candidates.csv"
    source.write_text(
        CANDIDATES.replace(
            "A3,33,female,no,F33.2,none,none,118", "A3,33,female,no,F33.2,none,none,400"
        )
    )
    out = tmp_path / "verdicts.csv"
    result = runner.invoke(
        app,
        [
            "screen",
            "batch",
            str(source),
            "--protocol",
            "spl026-dmt-mdd",
            "--out",
            str(out),
            "--dosing-date",
            "2027-03-01",
        ],
    )
    assert result.exit_code != 0
    assert "systolic_bp_mmhg" in result.output and "row 3" in result.output
    assert not out.exists() and not list(tmp_path.glob("*.partial"))


# -- API ----------------------------------------------------------------------------------


def _participant_id(client: TestClient) -> int:
    page = client.get("/api/v1/studies/1/participants?limit=5").json()
    return page["items"][0]["id"]


def test_api_screening_is_kept_read_back_and_audited(client: TestClient) -> None:
    csrf = login(client, "investigator")
    pid = _participant_id(client)
    body = {
        "participant_id": pid,
        "protocol": "spl026-dmt-mdd",
        "planned_dosing_date": "2027-06-01",
        "profile": {**PROFILE, "participant": None},
    }
    created = client.post("/api/v1/screenings", json=body, headers={"X-CSRF-Token": csrf})
    assert created.status_code == 201, created.text
    data = created.json()
    assert data["verdict"] == "needs-information"
    assert data["report"]["unresolved"][0]["as_entered"] == "sertralin"
    assert data["knowledge_version"] == data["report"]["knowledge_version"]
    again = client.get(f"/api/v1/screenings/{data['id']}").json()
    assert again["report"] == data["report"]
    listed = client.get(f"/api/v1/participants/{pid}/screenings").json()
    assert data["id"] in [s["id"] for s in listed]
    login(client, "admin")
    events = client.get("/api/v1/audit?limit=200").json()["items"]
    assert any(
        e["table_name"] == "screenings" and e["record_id"] == str(data["id"]) for e in events
    )


def test_api_screening_refuses_impossible_values_naming_the_field(client: TestClient) -> None:
    csrf = login(client, "coordinator")
    body = {
        "participant_id": _participant_id(client),
        "protocol": "spl026-dmt-mdd",
        "planned_dosing_date": "2027-06-01",
        "profile": {
            **PROFILE,
            "participant": None,
            "vitals": {"systolic_bp_mmhg": 400, "diastolic_bp_mmhg": 20},
        },
    }
    response = client.post("/api/v1/screenings", json=body, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 422
    fields = [f["field"] for f in response.json()["error"]["fields"]]
    assert "profile.vitals.systolic_bp_mmhg" in fields


def test_api_facilitator_may_read_but_not_run_screenings(client: TestClient) -> None:
    csrf = login(client, "facilitator")
    body = {
        "participant_id": _participant_id(client),
        "protocol": "spl026-dmt-mdd",
        "planned_dosing_date": "2027-06-01",
        "profile": {},
    }
    response = client.post("/api/v1/screenings", json=body, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 403
    assert client.get("/api/v1/screenings/1").status_code == 200  # a demo screening
