"""CLI start-up benchmark: how long ``openpat`` takes to answer, from a fresh process.

Goal (issue 15): ``openpat --version`` and ``openpat --help`` answer in under 0.5 s, and each
command imports only what it needs. For each command line, in the same run: the installed
``openpat`` script in a new process, and the baseline, a new Python process that imports the
``openpat`` package and nothing else (the floor under any command). Each figure is the median
of REPEATS runs after one warm-up run (which fills the bytecode and file caches). Commands
that read no database run against an empty data directory.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPEATS = 7
GOAL_S = 0.5
# (command line, whether the 0.5 s goal applies)
COMMANDS: tuple[tuple[tuple[str, ...], bool], ...] = (
    (("--version",), True),
    (("--help",), True),
    (("instruments", "list"), False),
    (("substances", "show", "DMT"), False),
    (("knowledge", "version"), False),
)


def openpat_script() -> list[str]:
    """The console script next to this interpreter (a venv), else the one on PATH."""
    beside = Path(sys.executable).with_name("openpat")
    found = str(beside) if beside.exists() else shutil.which("openpat")
    if found is None:
        sys.exit("no openpat script found: install the package (pip install -e .)")
    return [found]


def median_s(argv: list[str], env: dict[str, str]) -> float:
    def once() -> float:
        t0 = time.perf_counter()
        done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        seconds = time.perf_counter() - t0
        if done.returncode != 0:
            first = done.stderr.decode(errors="replace").strip().splitlines()[:1]
            raise Failed(f"exit {done.returncode}: {first[0] if first else 'no message'}")
        return seconds

    once()  # warm-up
    return statistics.median(once() for _ in range(REPEATS))


class Failed(Exception):
    """A command line that did not exit 0: its time is not a start-up time."""


def main() -> None:
    script = openpat_script()
    with tempfile.TemporaryDirectory() as data_dir:
        env = {**os.environ, "OPENPAT_DATA_DIR": data_dir, "COLUMNS": "100"}
        bare = median_s([sys.executable, "-c", "pass"], env)
        baseline = median_s([sys.executable, "-c", "import openpat"], env)
        print(
            f"median of {REPEATS} runs each; {os.cpu_count()} cores; "
            f"python alone {bare:.3f} s; baseline (python -c 'import openpat') {baseline:.3f} s"
        )
        for args, has_goal in COMMANDS:
            try:
                seconds = median_s([*script, *args], env)
            except Failed as exc:
                print(f"openpat {' '.join(args)}: not timed, it failed ({exc})")
                continue
            goal = ""
            if has_goal:
                goal = f"; goal < {GOAL_S} s: {'met' if seconds < GOAL_S else 'NOT met'}"
            print(
                f"openpat {' '.join(args)}: {seconds:.3f} s -> "
                f"{seconds / baseline:.1f}x the baseline{goal}"
            )


if __name__ == "__main__":
    main()
