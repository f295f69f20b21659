"""The ``openpat`` command."""

from __future__ import annotations

import typer

from openpat import __version__
from openpat.cli import (
    audit,
    db,
    demo,
    instruments,
    knowledge,
    pharmacology,
    screening,
    trial,
    users,
)
from openpat.cli.common import console, handles_errors, platform

app = typer.Typer(
    name="openpat",
    help="openpat: psychedelic-assisted therapy research and clinics.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(db.app, name="db")
app.add_typer(demo.app, name="demo")
app.add_typer(users.app, name="users")
app.add_typer(audit.app, name="audit")
app.add_typer(knowledge.substances_app, name="substances")
app.add_typer(knowledge.meds_app, name="meds")
app.add_typer(knowledge.references_app, name="references")
app.add_typer(knowledge.knowledge_app, name="knowledge")
app.add_typer(screening.app, name="screen")
app.add_typer(pharmacology.app, name="pk")
app.add_typer(instruments.app, name="instruments")
app.add_typer(trial.trial_app, name="trial")
app.add_typer(trial.schedule_app, name="schedule")


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
) -> None:
    """Serve the web app (pages and JSON API)."""
    import uvicorn

    from openpat.web.app import create_app

    with platform() as plat:
        settings = plat.settings
        bind_host = host or settings.host
        bind_port = port or settings.port
        app_ = create_app(platform=plat)
        console.print(f"openpat {__version__} serving on http://{bind_host}:{bind_port}")
        uvicorn.run(app_, host=bind_host, port=bind_port, log_level="info")


def main() -> None:
    app()
