"""Shared fixtures: a migrated database on SQLite and (when configured) PostgreSQL.

Every test that asks for ``platform`` runs once per backend: always SQLite, and PostgreSQL
too when ``OPENPAT_TEST_POSTGRES_URL`` is set (CI sets it).

No test reads the machine's clock. The platform's clock starts at ``clock_start``
(:data:`TEST_NOW` unless the test is marked ``date_sensitive``; those run at every instant
of :data:`CLOCK_STARTS`, so a test that passes on a weekday and fails on a weekend, or
across a clock change, fails here on any day).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import random
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from openpat.config import Settings
from openpat.services import demo
from openpat.services.runtime import Actor, Platform
from openpat.store.db import normalise_url
from openpat.store.models import Base
from openpat.web.app import create_app

PG_URL = os.environ.get("OPENPAT_TEST_POSTGRES_URL")
PG_SCHEMA = f"openpat_test_{os.getpid()}"
BACKENDS = ["sqlite", "postgres"] if PG_URL else ["sqlite"]
TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"
# the key that signs the audit trail in tests (CLI subprocesses get it as OPENPAT_AUDIT_KEY)
TEST_AUDIT_KEY = "test-audit-key-that-is-long-enough-9876543210"

TEST_NOW = dt.datetime(2026, 12, 4, 9, 30, tzinfo=dt.UTC)
"""Where every test's clock starts: a Friday morning in London."""
CLOCK_STARTS = {
    "friday": TEST_NOW,
    # a Saturday afternoon, the eve of the UK clocks going forward (2027-03-28)
    "saturday-before-dst": dt.datetime(2027, 3, 27, 15, 0, tzinfo=dt.UTC),
}
"""The instants a ``date_sensitive`` test runs at."""


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "clock_start" in metafunc.fixturenames and metafunc.definition.get_closest_marker(
        "date_sensitive"
    ):
        metafunc.parametrize(
            "clock_start", list(CLOCK_STARTS.values()), ids=list(CLOCK_STARTS), indirect=True
        )


@pytest.fixture
def clock_start(request: pytest.FixtureRequest) -> dt.datetime:
    """The instant this test's clock starts at (see the module's docstring)."""
    start: dt.datetime = getattr(request, "param", TEST_NOW)
    return start


@dataclasses.dataclass
class ManualClock:
    """A clock a test moves by hand (``clock.at += timedelta(...)``); give it to a platform
    as ``platform.clock``."""

    at: dt.datetime

    def now(self) -> dt.datetime:
        return self.at

    def today(self, zone: dt.tzinfo | None = None) -> dt.date:
        return self.at.astimezone(zone or dt.UTC).date()

    def is_set(self) -> bool:
        return True


def clock_env(start: dt.datetime) -> dict[str, str]:
    """The environment that starts a CLI command's or a server's clock at ``start``."""
    return {"OPENPAT_CLOCK_START": start.isoformat()}


def pg_url() -> str:
    assert PG_URL
    url = normalise_url(PG_URL)
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options={quote(f'-csearch_path={PG_SCHEMA}')}"


def make_settings(
    database_url: str, data_dir: Path, clock_start: dt.datetime = TEST_NOW
) -> Settings:
    return Settings(
        env="test",
        database_url=database_url,
        secret_key=TEST_SECRET,
        audit_key=TEST_AUDIT_KEY,
        password_hash_profile="fast",
        data_dir=data_dir,
        clock_start=clock_start,
    )


@pytest.fixture(autouse=True)
def _no_global_random_state() -> Iterator[None]:
    """Randomness must come from an explicit numpy Generator, never the global state."""
    np_state = np.random.get_state()
    py_state = random.getstate()
    yield
    after = np.random.get_state()
    touched_np = not all(
        np.array_equal(a, b) if isinstance(a, np.ndarray) else a == b
        for a, b in zip(np_state, after, strict=True)
    )
    if touched_np or random.getstate() != py_state:
        pytest.fail("the test touched global random state; pass a numpy.random.Generator")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty database migrated once; each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "empty.db"
    plat = Platform.from_settings(make_settings(f"sqlite:///{path}", path.parent))
    plat.upgrade()
    plat.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_schema() -> Iterator[str]:
    """A private schema in the test database, migrated once for the session."""
    assert PG_URL
    admin = create_engine(normalise_url(PG_URL))
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{PG_SCHEMA}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{PG_SCHEMA}"'))
    plat = Platform.from_settings(make_settings(pg_url(), Path("/tmp")))
    plat.upgrade()
    plat.dispose()
    yield pg_url()
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{PG_SCHEMA}" CASCADE'))
    admin.dispose()


def _truncate_postgres(url: str) -> None:
    engine = create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[str]:
    """A fresh, migrated, empty database for one test."""
    if request.param == "sqlite":
        path = tmp_path / "openpat.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("postgres_schema")
        _truncate_postgres(url)
        yield url


@pytest.fixture
def backend(database_url: str) -> str:
    return "postgres" if database_url.startswith("postgresql") else "sqlite"


@pytest.fixture
def platform(database_url: str, tmp_path: Path, clock_start: dt.datetime) -> Iterator[Platform]:
    plat = Platform.from_settings(make_settings(database_url, tmp_path, clock_start))
    yield plat
    plat.dispose()


def load_demo(plat: Platform) -> demo.DemoLoadResult:
    with plat.uow(actor=Actor("test-setup"), reason="demo study") as uow:
        result = demo.load_demo(uow=uow, hasher=plat.hasher, environment="test")
        uow.commit()
    return result


@pytest.fixture
def demo_platform(platform: Platform) -> Platform:
    """A database holding the demo study (40 participants, one login per role)."""
    load_demo(platform)
    return platform


@pytest.fixture
def client(demo_platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform=demo_platform)) as c:
        yield c


def login(client: TestClient, username: str, password: str | None = None) -> str:
    """Log in through the API; returns the CSRF token for state-changing requests."""
    response = client.post(
        "/api/v1/auth/login",
        json={"username": username, "password": password or f"demo-{username}"},
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["csrf_token"]
    return token
