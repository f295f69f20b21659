"""openpat jobs: background jobs and the e-mail log."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from openpat.cli.common import cli_actor, console, handles_errors, platform
from openpat.security import Principal
from openpat.services import jobs, messaging

app = typer.Typer(help="Background jobs and the e-mail log.", no_args_is_help=True)

Format = Annotated[str, typer.Option("--format", help="text or json")]


@app.command("list")
@handles_errors
def list_command(
    status: Annotated[
        str | None, typer.Option(help="queued, running, succeeded, failed or cancelled")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    format_: Format = "text",
) -> None:
    """Jobs, newest first, with status, progress, attempts and error."""
    with platform() as plat, plat.uow(actor=cli_actor(), read_only=True) as uow:
        found = jobs.list_jobs(
            uow=uow, principal=Principal.system("cli"), status=status, limit=limit
        )
    if format_ == "json":
        console.print_json(data=[j.model_dump(mode="json") for j in found])
        return
    if not found:
        console.print("no jobs")
    for j in found:
        progress = "" if j.progress is None else f" {j.progress:.0%}"
        error = f" · {j.error}" if j.error else ""
        console.print(
            f"#{j.id} {j.label} [{j.status}]{progress} · attempts {j.attempts}/{j.max_attempts}"
            f" · {j.created_at:%Y-%m-%d %H:%M} UTC · {j.requested_by or 'system'}{error}",
            markup=False,
        )


@app.command("retry")
@handles_errors
def retry_command(job_id: Annotated[int, typer.Argument(min=1)]) -> None:
    """Queue a failed or cancelled job again, with fresh attempts."""
    with platform() as plat, plat.uow(actor=cli_actor()) as uow:
        found = jobs.retry_job(uow=uow, principal=Principal.system("cli"), job_id=job_id)
        uow.commit()
    console.print(f"job {found.id} ({found.label}) queued again", markup=False)


@app.command("messages")
@handles_errors
def messages_command(
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50, format_: Format = "text"
) -> None:
    """The e-mail log: sent, skipped (and why) or failed; addresses masked."""
    with platform() as plat, plat.uow(actor=cli_actor(), read_only=True) as uow:
        found = messaging.list_messages(uow=uow, principal=Principal.system("cli"), limit=limit)
    if format_ == "json":
        console.print_json(json.dumps([m.model_dump(mode="json") for m in found]))
        return
    if not found:
        console.print("no e-mail yet")
    for m in found:
        why = f" · {m.detail}" if m.detail else ""
        console.print(
            f"{m.created_at:%Y-%m-%d %H:%M} UTC {m.kind} {m.participant_code or ''} "
            f"{m.to_masked or ''} [{m.status}]{why}",
            markup=False,
        )
