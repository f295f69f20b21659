"""openpat db: the database schema."""

from __future__ import annotations

import typer

from openpat.cli.common import console, handles_errors, platform

app = typer.Typer(help="Database schema (migrations).", no_args_is_help=True)


@app.command("upgrade")
@handles_errors
def upgrade() -> None:
    """Migrate the database to the newest schema (safe to run again)."""
    with platform(check_schema=False) as plat:
        before, after = plat.upgrade()
        url = plat.engine.url.render_as_string(hide_password=True)
    if before == after:
        console.print(f"database {url} is up to date (revision {after})")
    else:
        console.print(f"database {url} migrated from {before or 'empty'} to revision {after}")
