"""openpat demo: the synthetic demo study."""

from __future__ import annotations

import typer
from rich.table import Table

from openpat.cli.common import cli_actor, console, handles_errors, platform
from openpat.demo import DEMO_SEED
from openpat.services import demo

app = typer.Typer(help="The synthetic demo study.", no_args_is_help=True)


@app.command("load")
@handles_errors
def load(
    seed: int = typer.Option(DEMO_SEED, help="Seed for the synthetic participants."),
) -> None:
    """Load the demo study and one login per role (does nothing if it is already there)."""
    with platform() as plat, plat.uow(actor=cli_actor(), reason="demo study") as uow:
        result = demo.load_demo(
            uow=uow, hasher=plat.hasher, environment=plat.settings.env, seed=seed
        )
        uow.commit()
    verb = "loaded" if result.created else "already loaded"
    console.print(f"demo study {verb}: {result.participants} participants")
    table = Table(title="Demo logins (synthetic data only)")
    table.add_column("username")
    table.add_column("password")
    table.add_column("role")
    for username, password, role in result.logins:
        table.add_row(username, password, role)
    console.print(table)
