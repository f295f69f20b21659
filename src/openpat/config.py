"""Settings, read from the environment (``OPENPAT_`` prefix) by the adapters only."""

from __future__ import annotations

import datetime as dt
import secrets
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from platformdirs import user_data_dir
from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from openpat.errors import ConfigurationError

if TYPE_CHECKING:
    from openpat.store.audit import AuditKeys

PLACEHOLDER_SECRETS = frozenset({"", "changeme", "change-me", "secret", "dev", "development"})


def default_data_dir() -> Path:
    return Path(user_data_dir("openpat", appauthor=False))


class Settings(BaseSettings):
    """Everything that differs between a laptop, a test run and a production site."""

    model_config = SettingsConfigDict(env_prefix="OPENPAT_", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = None
    secret_key: str | None = None
    session_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    login_max_failures: int = Field(default=5, ge=1)
    login_window_minutes: int = Field(default=15, ge=1)
    password_hash_profile: Literal["standard", "fast"] = "standard"
    web_threads: int | None = Field(default=None, ge=1, le=256)
    """Threads per web process for blocking work (database queries, computations); unset:
    2 on SQLite (more threads only fight over the GIL), 8 on PostgreSQL (whose queries wait
    on the network). benchmarks/serving.py measured the SQLite figure."""
    metrics_token: str | None = None
    """A bearer token that may read /metrics (a Prometheus scraper); admins may always."""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    audit_verify_hour_utc: int = Field(default=2, ge=0, le=23)
    """The hour (UTC) from which the job workers run the nightly audit-trail check."""
    run_jobs: bool = False
    """Run a job worker inside the web app (`openpat serve` turns it on for SQLite)."""
    worker_poll_s: float = Field(default=2.0, gt=0, le=300)
    """How often an in-process job worker looks for due jobs queued by other processes."""
    smtp_host: str | None = None
    """The SMTP server for e-mail (form links, visit reminders, unblinding notices); unset:
    no e-mail is sent, and each message is logged as skipped, saying so."""
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: str | None = None
    mail_from: str = "openpat@localhost"
    public_url: str | None = None
    """The address participants reach openpat at (https://openpat.example.org), for the
    personal links in e-mails."""
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    cookie_secure: bool = False
    audit_key: str | None = None
    """The key that signs the audit trail (HMAC); never stored in the database."""
    audit_key_file: Path | None = None
    """A file of audit keys, one per line, newest first: the first signs new entries, the
    others verify the entries they signed before a rotation (see docs/security.md)."""
    clock_start: dt.datetime | None = None
    """Start the clock at this instant (with its offset) instead of now: for demonstrations
    and tests only, refused in production."""

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.env == "production":
            if self.secret_key is None or self.secret_key.strip().lower() in PLACEHOLDER_SECRETS:
                raise ValueError(
                    "OPENPAT_SECRET_KEY must be set to a long random value in production "
                    "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
                )
            if len(self.secret_key) < 32:
                raise ValueError("OPENPAT_SECRET_KEY must be at least 32 characters in production")
            if self.audit_key is None and self.audit_key_file is None:
                raise ValueError(
                    "OPENPAT_AUDIT_KEY or OPENPAT_AUDIT_KEY_FILE must be set in production: "
                    "the audit trail is signed with a key kept outside the database"
                )
            if self.password_hash_profile == "fast":
                raise ValueError("OPENPAT_PASSWORD_HASH_PROFILE=fast is for test suites only")
            if self.clock_start is not None:
                raise ValueError(
                    "OPENPAT_CLOCK_START is for demonstrations and tests; unset it in production"
                )
        if self.clock_start is not None and self.clock_start.utcoffset() is None:
            raise ValueError(
                "OPENPAT_CLOCK_START needs a time zone offset, e.g. 2026-12-04T09:00:00+00:00"
            )
        return self

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'openpat.db'}"

    @cached_property
    def resolved_secret_key(self) -> str:
        """The signing key; on a development machine one is made once and kept in data_dir."""
        if self.secret_key and self.secret_key.strip().lower() not in PLACEHOLDER_SECRETS:
            return self.secret_key
        if self.env == "production":  # pragma: no cover - the validator refuses this
            raise ConfigurationError("OPENPAT_SECRET_KEY is not set")
        key_file = self.data_dir / "secret_key"
        try:
            if key_file.exists():
                return key_file.read_text().strip()
            self.data_dir.mkdir(parents=True, exist_ok=True)
            key = secrets.token_urlsafe(48)
            key_file.write_text(key)
            key_file.chmod(0o600)
            return key
        except OSError as exc:
            raise ConfigurationError(
                f"cannot keep a development secret key in {key_file}: {exc}; "
                "set OPENPAT_SECRET_KEY or OPENPAT_DATA_DIR"
            ) from exc

    @cached_property
    def resolved_audit_keys(self) -> AuditKeys:
        """The audit keys: from the key file, else the key setting; on a development machine
        one is made once and kept in data_dir (outside the database)."""
        from openpat.store.audit import AuditKeys

        if self.audit_key_file is not None:
            try:
                return AuditKeys.from_text(self.audit_key_file.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigurationError(
                    f"cannot read the audit key file {self.audit_key_file}: {exc}"
                ) from exc
        if self.audit_key:
            return AuditKeys((self.audit_key.encode(),))
        if self.env == "production":  # pragma: no cover - the validator refuses this
            raise ConfigurationError("OPENPAT_AUDIT_KEY is not set")
        key_file = self.data_dir / "audit_key"
        try:
            if not key_file.exists():
                self.data_dir.mkdir(parents=True, exist_ok=True)
                key_file.write_text(secrets.token_urlsafe(48) + "\n")
                key_file.chmod(0o600)
            return AuditKeys.from_text(key_file.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigurationError(
                f"cannot keep a development audit key in {key_file}: {exc}; "
                "set OPENPAT_AUDIT_KEY or OPENPAT_AUDIT_KEY_FILE"
            ) from exc


def _msg(text: str) -> str:
    return text.removeprefix("Value error, ")


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment; a bad value becomes a ConfigurationError."""
    from pydantic import ValidationError

    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"OPENPAT_{'_'.join(str(p) for p in err['loc']).upper()}: {_msg(err['msg'])}"
            if err["loc"]
            else _msg(err["msg"])
            for err in exc.errors()
        )
        raise ConfigurationError(f"invalid settings: {problems}") from None
