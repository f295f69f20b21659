"""openpat trial / openpat schedule: protocols, calendar planning and throughput.

``openpat trial protocol --study CODE FILE.yaml`` loads a protocol version;
``openpat schedule plan --study CODE --from DATE --weeks 26`` books every visit that needs a
room or facilitators with the CP-SAT planner, showing its progress;
``openpat schedule throughput`` compares dosing sessions per room and week by substance.
The command line is a trusted local operator: it never prints an allocation.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from openpat.cli.common import cli_actor, console, handles_errors, platform
from openpat.errors import InvalidInput, NotFound
from openpat.security import Principal

if TYPE_CHECKING:
    from openpat.services.runtime import UnitOfWork

# The services are imported by the commands: protocols need no OR-Tools, and neither group
# is imported for another's command (openpat.cli.main loads groups lazily).

trial_app = typer.Typer(help="Trial protocols.", no_args_is_help=True)
schedule_app = typer.Typer(help="Room and facilitator scheduling.", no_args_is_help=True)
SYSTEM = Principal.system("cli")


def _study_id(uow: UnitOfWork, code: str) -> int:
    study = uow.studies.get_by_code(code)
    if study is None:
        raise NotFound(f"--study: no study with code {code!r}")
    return study.id


@trial_app.command("protocol")
@handles_errors
def load_protocol(
    path: Path = typer.Argument(..., help="The protocol, as YAML."),
    study: str = typer.Option(..., "--study", help="Study code."),
    reason: str = typer.Option("protocol version loaded", help="Reason for the audit trail."),
) -> None:
    """Load a protocol version for a study."""
    from openpat.services import trial
    from openpat.services.files import read_text

    source = read_text(path, "path", what="protocol (YAML)")
    with platform() as plat, plat.uow(actor=cli_actor()) as uow:
        loaded = trial.load_protocol(
            uow=uow,
            principal=SYSTEM,
            study_id=_study_id(uow, study),
            load=trial.ProtocolLoad(source=source, reason=reason),
        )
        uow.commit()
    console.print(
        f"loaded {loaded.protocol_key} version {loaded.version}: {len(loaded.arms)} arms, "
        f"{len(loaded.visits)} visits, {loaded.randomisation}"
    )


def _from(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInput.for_field("--from", f"{value!r} is not a date; use YYYY-MM-DD") from None


@schedule_app.command("plan")
@handles_errors
def plan(
    study: str = typer.Option(..., "--study", help="Study code."),
    start: str = typer.Option(..., "--from", help="First day planned (YYYY-MM-DD)."),
    weeks: int = typer.Option(26, "--weeks", min=1, max=104, help="Weeks planned."),
    time_limit: float = typer.Option(60.0, "--time-limit", min=1, help="Solver seconds per site."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Plan without saving bookings."),
) -> None:
    """Book every unbooked visit that needs a room or facilitators, inside its window."""
    from openpat.services import schedule

    first = _from(start)
    with platform() as plat, plat.uow(actor=cli_actor()) as uow:
        study_id = _study_id(uow, study)
        with Progress(
            SpinnerColumn(),
            TextColumn("[progress.description]{task.description}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress:
            task = progress.add_task("planning: building the model", total=None)

            def report(booked: int, seconds: float) -> None:
                progress.update(
                    task, description=f"planning: {booked} visits placed after {seconds:.1f} s"
                )

            summary = schedule.plan_study(
                uow=uow,
                principal=SYSTEM,
                study_id=study_id,
                start=first,
                weeks=weeks,
                time_limit_s=time_limit,
                save=not dry_run,
                progress=report,
            )
        if not dry_run:
            uow.commit()
    verb = "would book" if dry_run else "booked"
    console.print(
        f"{verb} {summary.booked} of {summary.requests} visits from {summary.start} over "
        f"{summary.weeks} weeks ({summary.status}, {summary.seconds:.1f} s)"
    )
    for rid in summary.unbooked:
        console.print(f"  not placed: {rid}")
    for rid in summary.refused_at_booking:
        console.print(f"  refused when booking (taken meanwhile or in the past): {rid}")


@schedule_app.command("throughput")
@handles_errors
def throughput() -> None:
    """Dosing sessions per room per week for IV DMT, psilocybin, MDMA and LSD."""
    from openpat.services import schedule

    with console.status("planning one week for each substance..."):
        result = schedule.throughput()
    console.print(
        f"{result.rooms} rooms, {result.facilitators} facilitators "
        f"({result.facilitators_per_session} per session), {result.hours}"
    )
    for setting in result.settings:
        table = Table(title=f"with {setting.label}")
        for col in ("substance", "dose", "session min", "booking min", "per room-week", "bound"):
            table.add_column(col, justify="right" if "min" in col or col != "dose" else "left")
        for r in setting.rows:
            table.add_row(
                r.substance or r.protocol,
                r.dose,
                f"{r.session_min:.0f}",
                str(r.dosing_min),
                f"{r.per_room_week:g}",
                f"{r.booked}/{r.bound}",
            )
        console.print(table)
    console.print(result.note)
