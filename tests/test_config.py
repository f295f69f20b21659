from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from openpat.clock import Clock
from openpat.config import Settings, load_settings
from openpat.errors import ConfigurationError


def test_production_refuses_a_placeholder_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENPAT_ENV", "production")
    monkeypatch.setenv("OPENPAT_SECRET_KEY", "changeme")
    with pytest.raises(ConfigurationError, match="OPENPAT_SECRET_KEY"):
        load_settings()


def test_production_needs_an_audit_key_outside_the_database(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OPENPAT_ENV", "production")
    monkeypatch.setenv("OPENPAT_SECRET_KEY", "x" * 48)
    with pytest.raises(ConfigurationError, match="OPENPAT_AUDIT_KEY"):
        load_settings()
    # a key file: the first key signs, the others (older) only verify
    keys = tmp_path / "audit-keys"
    keys.write_text("# newest first\n" + "n" * 40 + "\n" + "o" * 40 + "\n")
    monkeypatch.setenv("OPENPAT_AUDIT_KEY_FILE", str(keys))
    ring = load_settings().resolved_audit_keys
    assert ring.keys == (b"n" * 40, b"o" * 40)
    assert ring.current_id == ring.key_id(b"n" * 40) and len(ring.current_id) == 16
    keys.write_text("short\n")
    with pytest.raises(ConfigurationError, match="at least 32 characters"):
        load_settings().resolved_audit_keys


def test_production_refuses_the_fast_password_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENPAT_ENV", "production")
    monkeypatch.setenv("OPENPAT_SECRET_KEY", "x" * 48)
    monkeypatch.setenv("OPENPAT_AUDIT_KEY", "y" * 48)
    monkeypatch.setenv("OPENPAT_PASSWORD_HASH_PROFILE", "fast")
    with pytest.raises(ConfigurationError, match="test suites only"):
        load_settings()


def test_production_refuses_a_set_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENPAT_ENV", "production")
    monkeypatch.setenv("OPENPAT_SECRET_KEY", "x" * 48)
    monkeypatch.setenv("OPENPAT_AUDIT_KEY", "y" * 48)
    monkeypatch.setenv("OPENPAT_CLOCK_START", "2026-12-04T09:30:00+00:00")
    with pytest.raises(ConfigurationError, match="OPENPAT_CLOCK_START"):
        load_settings()


def test_a_clock_start_without_an_offset_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENPAT_CLOCK_START", "2026-12-04T09:30:00")
    with pytest.raises(ConfigurationError, match="time zone offset"):
        load_settings()


def test_a_set_clock_starts_where_told_and_runs_on() -> None:
    start = dt.datetime(2026, 12, 4, 23, 30, tzinfo=dt.UTC)
    clock = Clock(start=start)
    first = clock.now()
    assert dt.timedelta(0) <= first - start < dt.timedelta(seconds=1)
    time.sleep(0.15)
    later = clock.now()
    assert later - first >= dt.timedelta(seconds=0.15)
    # late on Friday in London is already Saturday in Auckland
    assert clock.today(ZoneInfo("Europe/London")) == dt.date(2026, 12, 4)
    assert clock.today(ZoneInfo("Pacific/Auckland")) == dt.date(2026, 12, 5)


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
