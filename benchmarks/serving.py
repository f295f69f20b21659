"""Serving benchmark: a mixed workload of page and API reads and writes, under wrk.

Goal (issue 17): at 16 connections on SQLite with one worker, p99 below 150 ms, no timeouts,
and requests/s at least 2x the code before issue 17 on the same machine; on PostgreSQL with 2
workers, the same workload's figures beside SQLite's.

Each configuration serves its own fresh copy of the demo study (migrated, demo loaded) with
``openpat serve`` in a new process, logged in as the demo coordinator. wrk (Debian package
``wrk``) then runs, for DURATION_S after a WARMUP_S warm-up, a repeating mix of 20 requests:

* 10 x ``GET /api/v1/studies/1/participants`` (JSON),
* 4 x ``GET /studies/1/participants`` and 3 x ``GET /studies/1`` (pages),
* 3 x ``POST /api/v1/studies/1/participants`` (a new participant: a write, audited).

The baseline is the code before issue 17 (BASELINE_REV: every transaction took SQLite's write
lock), served from a git worktree of that revision with this interpreter, in the same run. The
PostgreSQL configuration runs when OPENPAT_TEST_POSTGRES_URL names a server (it creates and
drops a database of its own there).

Usage: python benchmarks/serving.py [--duration S] [--connections N] [--no-baseline]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASELINE_REV = "5b0ace0"  # main before issue 17
DURATION_S = 15
WARMUP_S = 3
CONNECTIONS = 16
TIMEOUT_S = 2  # wrk's default: a request slower than this counts as a timeout
GOAL_P99_MS = 150.0
GOAL_RATIO = 2.0

WRK_SCRIPT = r"""
local cookie = os.getenv("BENCH_COOKIE")
local csrf = os.getenv("BENCH_CSRF")
local reqs = {}
local n = 0
init = function(args)
  local h = {["Cookie"] = cookie}
  local w = {["Cookie"] = cookie, ["X-CSRF-Token"] = csrf, ["Content-Type"] = "application/json"}
  local api = wrk.format("GET", "/api/v1/studies/1/participants", h)
  local list = wrk.format("GET", "/studies/1/participants", h)
  local study = wrk.format("GET", "/studies/1", h)
  local post = wrk.format("POST", "/api/v1/studies/1/participants", w, '{"site_id": 1}')
  local mix = {api, list, api, study, api, post, api, list, api, study,
               api, post, api, list, api, study, api, post, list, api}
  for _, r in ipairs(mix) do table.insert(reqs, r) end
end
request = function()
  n = n + 1
  return reqs[(n % #reqs) + 1]
end
done = function(summary, latency, requests)
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "timeouts": %d, ' ..
    '"status_errors": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.timeout, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write))
end
"""


@dataclass(frozen=True, slots=True)
class Result:
    label: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    timeouts: int
    status_errors: int
    socket_errors: int

    def line(self) -> str:
        return (
            f"{self.label:<44} {self.requests_per_s:8.1f} req/s  p50 {self.p50_ms:7.1f} ms  "
            f"p99 {self.p99_ms:8.1f} ms  timeouts {self.timeouts}  "
            f"errors {self.status_errors + self.socket_errors}"
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def openpat_env(data_dir: Path, database_url: str, src: Path | None) -> dict[str, str]:
    # The benchmark's own settings; OPENPAT_WEB_THREADS passes through, to compare.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("OPENPAT_") or k == "OPENPAT_WEB_THREADS"
    }
    env.update(
        OPENPAT_DATA_DIR=str(data_dir),
        OPENPAT_DATABASE_URL=database_url,
        OPENPAT_SECRET_KEY="benchmark-secret-key-0123456789abcdef",
        OPENPAT_AUDIT_KEY="benchmark-audit-key-0123456789abcdef",
    )
    if src is not None:
        env["PYTHONPATH"] = str(src)
    return env


# The CLI's entry point, importable from the baseline's source too.
CLI = [sys.executable, "-c", "from openpat.cli.main import main; main()"]


def run_cli(env: dict[str, str], *args: str) -> None:
    argv = [*CLI, *args]
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"openpat {' '.join(args)} failed: {done.stderr.strip()[-2000:]}")


def prepare(env: dict[str, str]) -> None:
    run_cli(env, "db", "upgrade")
    run_cli(env, "demo", "load")


@contextlib.contextmanager
def serving(env: dict[str, str], *extra: str) -> Iterator[str]:
    port = free_port()
    argv = [*CLI, "serve", "--port", str(port), *extra]
    # the server's JSON log goes to a file (a pipe nobody read would fill and stall it)
    log = Path(env["OPENPAT_DATA_DIR"]) / "server.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            if proc.poll() is not None:
                sys.exit(f"the server stopped: {log.read_text(errors='replace')[-2000:]}")
            with contextlib.suppress(OSError), urllib.request.urlopen(base + "/login", timeout=1):
                break
            time.sleep(0.1)
        else:
            sys.exit("the server did not answer within 30 s")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def log_in(base: str, username: str = "coordinator") -> tuple[str, str]:
    from openpat.demo import demo_password

    body = json.dumps({"username": username, "password": demo_password(username)}).encode()
    req = urllib.request.Request(
        base + "/api/v1/auth/login", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        cookie = resp.headers["Set-Cookie"].split(";", 1)[0]
        csrf = json.loads(resp.read())["csrf_token"]
    return cookie, csrf


def wrk(base: str, cookie: str, csrf: str, script: Path, seconds: int, connections: int) -> dict:
    env = dict(os.environ, BENCH_COOKIE=cookie, BENCH_CSRF=csrf)
    argv = [
        "wrk",
        f"-t{min(2, connections)}",
        f"-c{connections}",
        f"-d{seconds}s",
        f"--timeout={TIMEOUT_S}s",
        "-s",
        str(script),
        base,
    ]
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH "):
            return dict(json.loads(line[len("BENCH ") :]))
    sys.exit(f"wrk printed no result: {done.stdout}{done.stderr}")


def measure(label: str, env: dict[str, str], args: argparse.Namespace, *extra: str) -> Result:
    script = Path(env["OPENPAT_DATA_DIR"]) / "mix.lua"
    script.write_text(WRK_SCRIPT)
    with serving(env, *extra) as base:
        cookie, csrf = log_in(base)
        wrk(base, cookie, csrf, script, WARMUP_S, args.connections)
        r = wrk(base, cookie, csrf, script, args.duration, args.connections)
    seconds = r["duration_us"] / 1e6
    return Result(
        label=label,
        requests_per_s=r["requests"] / seconds,
        p50_ms=r["p50_us"] / 1000,
        p99_ms=r["p99_us"] / 1000,
        timeouts=r["timeouts"],
        status_errors=r["status_errors"],
        socket_errors=r["socket_errors"],
    )


@contextlib.contextmanager
def baseline_source(tmp: Path) -> Iterator[Path | None]:
    """The code before issue 17 in a git worktree (None when this is not a git checkout)."""
    where = tmp / "baseline"
    added = subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(where), BASELINE_REV],
        capture_output=True,
        text=True,
    )
    if added.returncode != 0:
        print(f"no baseline: git worktree of {BASELINE_REV} failed: {added.stderr.strip()}")
        yield None
        return
    try:
        yield where / "src"
    finally:
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(where)],
            capture_output=True,
        )


@contextlib.contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    import psycopg

    name = f"openpat_bench_{os.getpid()}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = server_url.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=DURATION_S)
    parser.add_argument("--connections", type=int, default=CONNECTIONS)
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("this benchmark needs wrk: apt-get install wrk")

    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="openpat-bench-") as tmp_name:
        tmp = Path(tmp_name)

        def sqlite_env(name: str, src: Path | None) -> dict[str, str]:
            data = tmp / name
            data.mkdir()
            env = openpat_env(data, f"sqlite:///{data / 'openpat.db'}", src)
            prepare(env)
            return env

        baseline: Result | None = None
        if not args.no_baseline:
            with baseline_source(tmp) as src:
                if src is not None:
                    env = sqlite_env("before", src)
                    baseline = measure(f"SQLite, 1 worker, before ({BASELINE_REV})", env, args)
                    results.append(baseline)
        current = measure("SQLite, 1 worker, now", sqlite_env("now", None), args)
        results.append(current)

        pg_server = os.environ.get("OPENPAT_TEST_POSTGRES_URL")
        if pg_server:
            with postgres_database(pg_server) as url:
                data = tmp / "pg"
                data.mkdir()
                env = openpat_env(data, url, None)
                prepare(env)
                results.append(measure("PostgreSQL, 2 workers, now", env, args, "--workers", "2"))
        else:
            print("PostgreSQL: skipped (set OPENPAT_TEST_POSTGRES_URL to a server to include it)")

    print(
        f"\nwrk, {args.connections} connections, {args.duration} s after a {WARMUP_S} s warm-up; "
        "mix: 10 API list reads, 7 page reads, 3 participant creations in every 20 requests"
    )
    for r in results:
        print(r.line())
    errors = current.status_errors + current.socket_errors
    goal_ok = (
        current.requests_per_s > 0
        and errors == 0
        and current.p99_ms < GOAL_P99_MS
        and current.timeouts == 0
    )
    verdict = "met" if goal_ok else "NOT met"
    print(f"goal p99 < {GOAL_P99_MS:.0f} ms, no timeouts, no errors (SQLite, now): {verdict}")
    if baseline is not None:
        ratio = current.requests_per_s / baseline.requests_per_s
        print(
            f"ratio now / before: {ratio:.2f}x requests/s (goal >= {GOAL_RATIO:.0f}x: "
            f"{'met' if ratio >= GOAL_RATIO else 'NOT met'}); p99 {baseline.p99_ms:.1f} ms -> "
            f"{current.p99_ms:.1f} ms"
        )


if __name__ == "__main__":
    main()
