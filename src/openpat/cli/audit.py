"""openpat audit: the audit trail."""

from __future__ import annotations

import typer

from openpat.cli.common import cli_actor, console, fail, handles_errors, platform
from openpat.security import Principal
from openpat.services import audit

app = typer.Typer(help="The audit trail.", no_args_is_help=True)


@app.command("verify")
@handles_errors
def verify() -> None:
    """Check the hash chain; report the first entry that was edited, deleted or reordered."""
    with platform() as plat, plat.uow(actor=cli_actor()) as uow:
        result = audit.verify(uow=uow, principal=Principal.system("cli"))
    if result.ok:
        console.print(f"[green]ok[/]: {result.message}")
        return
    fail(
        f"audit trail broken at entry {result.problem_seq} ({result.problem_kind}): "
        f"{result.message}",
        1,
    )
