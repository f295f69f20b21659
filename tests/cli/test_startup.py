"""What `openpat` imports to start: the command groups load lazily, so that `--version` and
`--help` answer at once (benchmarks/cli_startup.py times it; these tests only look at what
is imported, which does not depend on how busy the machine is)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from openpat.cli.main import GROUPS, app, load_group

# Libraries that take a second or more to import on a busy machine, and the layers that
# bring them in: none is needed to print the version or the list of commands.
HEAVY = (
    "numpy",
    "scipy",
    "pandas",
    "matplotlib",
    "ortools",
    "sqlalchemy",
    "alembic",
    "fastapi",
    "uvicorn",
    "openpat.services",
    "openpat.store",
    "openpat.config",
)

# Runs the console script's entry point with the given arguments and prints, on stderr,
# which of HEAVY it imported.
PROBE = """
import json, sys
from openpat.cli.main import main
heavy = json.loads(sys.argv[1])
sys.argv = ["openpat", *sys.argv[2:]]
try:
    main()
except SystemExit:
    pass
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in heavy
      or any(m == h or m.startswith(h + ".") for h in heavy))), file=sys.stderr)
"""


def _imported(*args: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(HEAVY), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    found: list[str] = json.loads(done.stderr.strip().splitlines()[-1])
    return found


@pytest.mark.parametrize("args", [(), ("--version",), ("--help",), ("trial", "--help")])
def test_starting_the_command_imports_no_heavy_library(args: tuple[str, ...]) -> None:
    assert _imported(*args) == []


def test_a_knowledge_command_imports_neither_the_database_nor_the_numerics() -> None:
    found = _imported("knowledge", "version")
    assert [m for m in found if not m.startswith("openpat.services.knowledge")] == [
        "openpat.services"
    ]


@pytest.mark.parametrize("name", list(GROUPS))
def test_the_root_help_lists_each_group_with_the_groups_own_help(name: str) -> None:
    assert load_group(name).help == GROUPS[name][2]


def test_the_root_help_lists_every_group_in_order() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    listed = [
        line.split()[1]
        for line in result.output.splitlines()
        if line.startswith("│ ") and len(line.split()) > 2 and not line.split()[1].startswith("-")
    ]
    assert listed == ["serve", "worker", "backup", "restore", *GROUPS]
    for _, _, help_text in GROUPS.values():
        assert help_text in result.output


def test_a_mistyped_group_is_still_suggested() -> None:
    result = CliRunner().invoke(app, ["substanse"])
    assert result.exit_code == 2
    assert "Did you mean 'substances'?" in result.output
