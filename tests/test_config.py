from __future__ import annotations

from pathlib import Path

import pytest

from openpat.config import Settings, load_settings
from openpat.errors import ConfigurationError


def test_production_refuses_a_placeholder_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENPAT_ENV", "production")
    monkeypatch.setenv("OPENPAT_SECRET_KEY", "changeme")
    with pytest.raises(ConfigurationError, match="OPENPAT_SECRET_KEY"):
        load_settings()


def test_production_refuses_the_fast_password_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENPAT_ENV", "production")
    monkeypatch.setenv("OPENPAT_SECRET_KEY", "x" * 48)
    monkeypatch.setenv("OPENPAT_PASSWORD_HASH_PROFILE", "fast")
    with pytest.raises(ConfigurationError, match="test suites only"):
        load_settings()


def test_bad_values_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENPAT_PORT", "eighty")
    with pytest.raises(ConfigurationError, match="OPENPAT_PORT"):
        load_settings()


def test_development_key_is_made_once_and_kept(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path).resolved_secret_key
    second = Settings(data_dir=tmp_path).resolved_secret_key
    assert first == second and len(first) >= 48
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_default_database_is_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path).resolved_database_url == f"sqlite:///{tmp_path}/openpat.db"
