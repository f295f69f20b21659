"""The architecture's rules, enforced: import-linter contracts and the Alembic schema."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_import_contracts_hold() -> None:
    exe = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    result = subprocess.run(
        [exe, "--config", str(REPO / "pyproject.toml")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


def test_import_contracts_catch_a_domain_module_that_imports_the_store(tmp_path: Path) -> None:
    # The contract must really fail: copy the package, add a forbidden import, lint it.
    pkg = tmp_path / "src" / "openpat"
    shutil.copytree(REPO / "src" / "openpat", pkg)
    (pkg / "safety" / "leak.py").write_text("import sqlalchemy\nfrom openpat.store import db\n")
    exe = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    result = subprocess.run(
        [exe, "--config", str(REPO / "pyproject.toml")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(tmp_path / "src"), "PATH": str(Path(sys.executable).parent)},
    )
    assert result.returncode != 0
    assert "openpat.safety.leak" in result.stdout


def test_migrations_match_the_models(tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from openpat.store import migrate
    from openpat.store.db import make_engine
    from openpat.store.models import Base

    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    migrate.upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == [], f"models and migrations differ; write a migration: {diff}"


def test_settings_are_not_read_at_import_time() -> None:
    code = (
        "import os; os.environ['OPENPAT_ENV']='production';"
        "import openpat.web.app, openpat.cli.main, openpat.services.runtime; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "ok", out.stderr


CLOCK_READ = re.compile(
    r"\b(?:datetime|date)\s*\.\s*(?:now|today|utcnow)\s*\(|\btime\s*\.\s*time\s*\("
)


def test_nothing_but_the_clock_module_reads_the_machine_clock() -> None:
    """Code gets the time from the platform's clock (or is given it), and tests from the
    fixed test clock, so that no test passes on one day of the week and fails on another."""
    allowed = {REPO / "src" / "openpat" / "clock.py"}
    offenders = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for folder in ("src", "tests", "benchmarks")
        for path in sorted((REPO / folder).rglob("*.py"))
        if path not in allowed
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if CLOCK_READ.search(line)
    ]
    assert offenders == [], "read the time from Platform.clock or TEST_NOW:\n" + "\n".join(
        offenders
    )
