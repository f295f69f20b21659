"""The ``openpat`` command.

Each command group lives in its own module and is imported only when a command line names
it: ``openpat --version`` and ``openpat --help`` then start in a fraction of a second
instead of importing SciPy, SQLAlchemy and OR-Tools for every group
(``benchmarks/cli_startup.py``).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

from openpat import __version__
from openpat.cli.common import console, handles_errors, platform

# name: (module, its Typer, the group's help). The help is what ``openpat --help`` lists
# without importing the module; tests/cli/test_startup.py checks it is the module's own.
GROUPS: dict[str, tuple[str, str, str]] = {
    "db": ("openpat.cli.db", "app", "Database schema (migrations)."),
    "demo": ("openpat.cli.demo", "app", "The synthetic demo study."),
    "users": ("openpat.cli.users", "app", "User accounts."),
    "audit": ("openpat.cli.audit", "app", "The audit trail."),
    "jobs": ("openpat.cli.jobs", "app", "Background jobs and the e-mail log."),
    "substances": (
        "openpat.cli.knowledge",
        "substances_app",
        "Study substances: durations, doses, PK, legal status.",
    ),
    "meds": (
        "openpat.cli.knowledge",
        "meds_app",
        "Medications participants take: brands, classes, half-lives.",
    ),
    "references": (
        "openpat.cli.knowledge",
        "references_app",
        "The bibliography every fact cites.",
    ),
    "knowledge": (
        "openpat.cli.knowledge",
        "knowledge_app",
        "The knowledge base: version, validation, interactions, instruments, published trials.",
    ),
    "screen": (
        "openpat.cli.screening",
        "app",
        "Screen a candidate: protocol eligibility, drug interactions, dated washout plan.",
    ),
    "pk": (
        "openpat.cli.pharmacology",
        "app",
        "PK/PD simulation, session length and IV infusion design.",
    ),
    "instruments": (
        "openpat.cli.instruments",
        "app",
        "Questionnaires: list, show and score responses.",
    ),
    "trial": ("openpat.cli.trial", "trial_app", "Trial protocols."),
    "schedule": ("openpat.cli.trial", "schedule_app", "Room and facilitator scheduling."),
}


class _NotLoaded(TyperGroup):
    """A group's stand-in: its name and help, for the listing and shell completion."""


def load_group(name: str) -> TyperGroup:
    """The command group ``name``, imported and built as Typer builds a sub-app."""
    module, attribute, _ = GROUPS[name]
    group = typer.main.get_group(getattr(importlib.import_module(module), attribute))
    group.name = name
    return group


class _LazyGroups(TyperGroup):
    """The root command: each group is imported when a command line names it."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        for name, (_, _, help_text) in GROUPS.items():
            self.commands[name] = _NotLoaded(name=name, help=help_text)

    def resolve_command(self, ctx: Any, args: list[str]) -> tuple[str | None, Any, list[str]]:
        if args and isinstance(self.commands.get(args[0]), _NotLoaded):
            self.commands[args[0]] = load_group(args[0])
        return super().resolve_command(ctx, args)


app = typer.Typer(
    name="openpat",
    help="openpat: psychedelic-assisted therapy research and clinics.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=_LazyGroups,
)


def _version(value: bool) -> None:
    if value:
        console.print(f"openpat {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """openpat: psychedelic-assisted therapy research and clinics."""


@app.command("serve")
@handles_errors
def serve(
    host: str = typer.Option(None, help="Address to listen on (default 127.0.0.1)."),
    port: int = typer.Option(None, help="Port (default 8000)."),
    workers: int = typer.Option(
        1,
        min=1,
        max=64,
        help="Worker processes sharing the port (sessions, CSRF and login throttling live in "
        "the database, so any worker serves any user).",
    ),
    jobs: bool = typer.Option(
        None,
        "--jobs/--no-jobs",
        help="Run background jobs in the web process too (default: yes on SQLite; on "
        "PostgreSQL run `openpat worker` processes instead).",
        show_default=False,
    ),
) -> None:
    """Serve the web app (pages and JSON API)."""
    import os

    import uvicorn

    from openpat.web.app import create_app
    from openpat.web.observe import configure_logging

    with platform() as plat:
        if jobs is None:
            jobs = plat.engine.dialect.name == "sqlite"
        plat.settings = plat.settings.model_copy(update={"run_jobs": jobs})
        os.environ["OPENPAT_RUN_JOBS"] = "true" if jobs else "false"
        settings = plat.settings
        bind_host = host or settings.host
        bind_port = port or settings.port
        plural = "s" if workers != 1 else ""
        console.print(
            f"openpat {__version__} serving on http://{bind_host}:{bind_port} "
            f"({workers} worker{plural}; background jobs {'in' if jobs else 'not in'} the "
            "web process; JSON logs on standard error)"
        )
        # openpat writes the access log itself (JSON, with the request id, no personal data)
        options: dict[str, Any] = {"log_config": None, "access_log": False}
        if workers == 1:
            configure_logging(settings.log_level)
            uvicorn.run(create_app(platform=plat), host=bind_host, port=bind_port, **options)
            return
    # Each worker process builds its own app (and database engine) from the same settings.
    uvicorn.run(
        "openpat.web.app:create_served_app",
        factory=True,
        host=bind_host,
        port=bind_port,
        workers=workers,
        **options,
    )


@app.command("worker")
@handles_errors
def worker_command(
    once: bool = typer.Option(
        False, "--once", help="Run the jobs that are due now, then exit (e.g. from cron)."
    ),
    concurrency: int = typer.Option(2, min=1, max=32, help="Jobs run at once (PostgreSQL)."),
) -> None:
    """Run background jobs: planning, the nightly audit check, reminders.

    On PostgreSQL any number of workers, on any machine, share the queue (procrastinate);
    on SQLite one worker runs them in this process. Stops on Ctrl-C or SIGTERM."""
    from openpat.services import worker

    with platform() as plat:
        if once:
            local = worker.LocalWorker(plat)
            worker.tick(plat)
            ran = local.run_due()
            console.print(f"ran {ran} job{'s' if ran != 1 else ''}")
            return
        console.print(f"openpat {__version__} job worker on {plat.engine.dialect.name}")
        if plat.engine.dialect.name == "postgresql":
            worker.run_procrastinate_worker(plat, concurrency=concurrency)
            return
        local = worker.LocalWorker(plat, poll_s=plat.settings.worker_poll_s)
        local.start()
        try:
            import signal
            import threading

            stop = threading.Event()
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
            while not stop.wait(1.0):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            local.stop()


@app.command("backup")
@handles_errors
def backup_command(
    out: Path = typer.Option(..., "--out", help="The backup file to write (replaced whole)."),
    format_: str = typer.Option("text", "--format", help="text or json"),
) -> None:
    """A consistent online backup of the database (SQLite's backup API, or pg_dump)."""
    from openpat.services import backup

    with platform() as plat:
        result = backup.backup(plat, out)
    if format_ == "json":
        console.print_json(
            data={
                "path": str(result.path),
                "backend": result.backend,
                "size_bytes": result.size_bytes,
                "sha256": result.sha256,
                "seconds": round(result.seconds, 3),
            }
        )
        return
    console.print(
        f"backup of the {result.backend} database written to {result.path}: "
        f"{result.size_bytes:,} bytes in {result.seconds:.1f} s, sha256 {result.sha256}"
    )


@app.command("restore")
@handles_errors
def restore_command(
    source: Path = typer.Argument(..., help="A file written by `openpat backup`."),
    format_: str = typer.Option("text", "--format", help="text or json"),
) -> None:
    """Restore a backup into an empty database and verify its audit chain (exit 1 if not).

    The database is OPENPAT_DATABASE_URL's; one that holds tables is refused."""
    from openpat.services import backup

    with platform(check_schema=False) as plat:
        result = backup.restore(plat, source)
    audit = result.audit
    problem = audit.problem
    if format_ == "json":
        console.print_json(
            data={
                "backend": result.backend,
                "revision": result.revision,
                "participants": result.participants,
                "audit_ok": audit.ok,
                "audit_entries_checked": audit.entries_checked,
                "audit_problem": None if problem is None else problem.message,
                "seconds": round(result.seconds, 3),
            }
        )
    else:
        console.print(
            f"restored into the {result.backend} database in {result.seconds:.1f} s: schema "
            f"revision {result.revision}, {result.participants} participants"
        )
        if problem is None:
            console.print(f"audit chain verified: {audit.entries_checked:,} entries, intact")
        else:
            console.print(f"[red]audit chain does not verify: {problem.message}[/red]")
    if problem is not None:
        raise typer.Exit(1)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
