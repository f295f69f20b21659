"""The `openpat` command, run in-process with Typer's runner against a real database."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from typer.testing import CliRunner

from openpat import __version__
from openpat.cli.main import app
from tests.conftest import TEST_AUDIT_KEY, TEST_SECRET, clock_env

runner = CliRunner()


@pytest.fixture
def env(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock_start: dt.datetime
) -> str:
    monkeypatch.setenv("OPENPAT_DATABASE_URL", database_url)
    monkeypatch.setenv("OPENPAT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("OPENPAT_ENV", "test")
    monkeypatch.setenv("OPENPAT_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("OPENPAT_AUDIT_KEY", TEST_AUDIT_KEY)
    monkeypatch.setenv("OPENPAT_PASSWORD_HASH_PROFILE", "fast")
    for name, value in clock_env(clock_start).items():
        monkeypatch.setenv(name, value)
    return database_url


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"openpat {__version__}"


def test_upgrade_is_idempotent(env: str) -> None:
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "up to date (revision 0012)" in result.output


def test_demo_load_prints_the_logins_and_is_idempotent(env: str) -> None:
    first = runner.invoke(app, ["demo", "load"])
    assert first.exit_code == 0, first.output
    assert "demo study loaded: 40 participants" in first.output
    assert "demo-coordinator" in first.output
    second = runner.invoke(app, ["demo", "load"])
    assert "already loaded: 40 participants" in second.output
    verify = runner.invoke(app, ["audit", "verify"])
    assert verify.exit_code == 0 and "intact" in verify.output


def test_demo_load_refuses_production(env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENPAT_ENV", "production")
    monkeypatch.setenv("OPENPAT_SECRET_KEY", "p" * 48)
    monkeypatch.setenv("OPENPAT_PASSWORD_HASH_PROFILE", "standard")
    monkeypatch.delenv("OPENPAT_CLOCK_START")
    result = runner.invoke(app, ["demo", "load"])
    assert result.exit_code != 0
    assert "not loaded into a production database" in result.output
    assert "Traceback" not in result.output


def test_users_add_creates_a_user_who_can_log_in(env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENPAT_NEW_USER_PASSWORD", "a-long-enough-password")
    result = runner.invoke(app, ["users", "add", "Alice", "--role", "admin", "--name", "Alice A"])
    assert result.exit_code == 0, result.output
    assert "user alice created: Administrator in every study" in result.output
    from fastapi.testclient import TestClient

    from openpat.config import load_settings
    from openpat.web.app import create_app

    with TestClient(create_app(load_settings())) as client:
        ok = client.post(
            "/api/v1/auth/login", json={"username": "alice", "password": "a-long-enough-password"}
        )
        assert ok.status_code == 200 and ok.json()["roles"] == ["admin"]
    again = runner.invoke(app, ["users", "add", "alice", "--role", "admin"])
    assert again.exit_code == 4 and "already exists" in again.output


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (["--role", "boss"], "--role: unknown role 'boss'", 2),
        (
            ["--role", "coordinator", "--study", "42"],
            "Membership 1: study: no study with id 42",
            2,
        ),
        (["--role", "participant"], "participant role needs the participant's id", 2),
    ],
)
def test_users_add_errors_are_one_clear_line(
    env: str, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str, code: int
) -> None:
    monkeypatch.setenv("OPENPAT_NEW_USER_PASSWORD", "a-long-enough-password")
    result = runner.invoke(app, ["users", "add", "bob", *args])
    assert result.exit_code == code, result.output
    assert message in result.output.replace("\n", " ")
    assert "Traceback" not in result.output


def test_a_database_without_the_schema_says_to_upgrade(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENPAT_DATABASE_URL", f"sqlite:///{tmp_path / 'new.db'}")
    monkeypatch.setenv("OPENPAT_DATA_DIR", str(tmp_path))
    result = runner.invoke(app, ["audit", "verify"])
    assert result.exit_code == 1
    assert "run `openpat db upgrade`" in result.output
