"""openpat screen: eligibility, interactions and dated washout plans.

``openpat screen --profile P.json --protocol NAME --dosing-date YYYY-MM-DD`` prints a
readable report (``--format json`` for scripts); ``openpat screen protocols`` lists the
shipped templates; ``openpat screen batch`` pre-screens a candidate file.
The exit code is 0 whatever the verdict, and non-zero only for bad input.
"""

from __future__ import annotations

import datetime as dt
import json
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from openpat.cli.common import console, fail, handles_errors, local_today
from openpat.errors import InvalidInput
from openpat.safety import ScreeningReport, Verdict
from openpat.services import screening


class Format(StrEnum):
    TEXT = "text"
    JSON = "json"


VERDICT_STYLE = {
    Verdict.ELIGIBLE: "bold white on green",
    Verdict.ELIGIBLE_AFTER_WASHOUT: "bold black on yellow",
    Verdict.NEEDS_INFORMATION: "bold white on blue",
    Verdict.INELIGIBLE: "bold white on red",
}
SEVERITY_STYLE = {
    "contraindicated": "bold red",
    "major": "red",
    "moderate": "yellow",
    "reduced-effect": "cyan",
    "minor": "green",
}
STATUS_STYLE = {"met": "green", "not-met": "bold red", "missing": "blue"}

app = typer.Typer(
    help="Screen a candidate: protocol eligibility, drug interactions, dated washout plan.",
    invoke_without_command=True,
)


def _today(value: str | None) -> dt.date:
    return _date(value, "--today") if value else local_today()


def _date(value: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInput.for_field(option, f"{value!r} is not a date; use YYYY-MM-DD") from None


def _load_profile(path: Path) -> dict[str, Any]:
    from openpat.services.files import read_text

    text = read_text(path, "--profile", what="profile (JSON)")
    try:
        data = json.loads(text)
    except RecursionError:
        raise InvalidInput.for_field(
            "--profile", f"{path.name} is nested too deeply to be a profile"
        ) from None
    except json.JSONDecodeError as exc:
        raise InvalidInput.for_field("--profile", f"{path.name} is not valid JSON: {exc}") from None
    except ValueError:  # an integer too long to read (over 4,300 digits)
        raise InvalidInput.for_field(
            "--profile", f"{path.name} holds a number too long to be a measurement"
        ) from None
    if not isinstance(data, dict):
        raise InvalidInput.for_field("--profile", f"{path.name} must hold a JSON object")
    return data


@app.callback()
@handles_errors
def screen(
    ctx: typer.Context,
    profile: Path = typer.Option(None, "--profile", help="The participant profile (JSON)."),
    protocol: str = typer.Option(
        None, "--protocol", help="Protocol id (openpat screen protocols)."
    ),
    dosing_date: str = typer.Option(None, "--dosing-date", help="Planned dosing date, YYYY-MM-DD."),
    substance: str = typer.Option(
        None, "--substance", help="Study substance (default: the protocol's)."
    ),
    today: str = typer.Option(None, "--today", help="Screening date (default: today)."),
    output_format: Format = typer.Option(Format.TEXT, "--format", "-f", help="text or json."),
) -> None:
    """Screen one candidate and print the report."""
    if ctx.invoked_subcommand is not None:
        return
    missing = [
        name
        for name, value in (
            ("--profile", profile),
            ("--protocol", protocol),
            ("--dosing-date", dosing_date),
        )
        if value is None
    ]
    if missing:
        if len(missing) == 3:
            console.print(ctx.get_help())
            raise typer.Exit(0)
        fail(f"give {', '.join(missing)} (see openpat screen --help)", code=2)
    report = screening.check(
        profile=_load_profile(profile),
        protocol=protocol,
        substance=substance,
        planned_dosing_date=_date(dosing_date, "--dosing-date"),
        today=_today(today),
    )
    if output_format is Format.JSON:
        typer.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        print_report(report)


def print_report(report: ScreeningReport) -> None:
    """The report for a terminal (and a printer: ``| less`` or ``> file`` keeps it readable)."""
    verdict = Text(f" {report.verdict.value.upper()} ", style=VERDICT_STYLE[report.verdict])
    head = Text.assemble(
        verdict,
        f"  {report.protocol_title} ({report.protocol}) · {report.substance_name}\n",
        f"participant {report.participant or '-'} · planned dosing {report.planned_dosing_date}"
        f" · screened {report.screened_on or '-'}",
    )
    if report.earliest_dosing_date:
        head.append(f"\nearliest dosing date {report.earliest_dosing_date}", style="bold")
    for reason in report.reasons:
        head.append(f"\n  • {reason}")
    console.print(Panel(head, title="Screening", expand=False))

    table = Table(title="Criteria", show_lines=False, expand=False)
    for col in ("status", "criterion", "reason", "refs"):
        table.add_column(col)
    for c in report.criteria:
        table.add_row(
            Text(c.status, style=STATUS_STYLE[c.status]),
            Text(c.id),
            Text(c.reason),
            Text(", ".join(c.references)),
        )
    console.print(table)
    if report.unresolved:
        for u in report.unresolved:
            console.print(Text(f"! {u.message}", style="bold blue"))
    if report.interactions or report.combinations:
        table = Table(title="Interactions", expand=False)
        for col in ("severity", "medication", "consequence", "action", "evidence", "refs"):
            table.add_column(col)
        for f in report.interactions:
            table.add_row(
                Text(f.severity, style=SEVERITY_STYLE.get(f.severity, "")),
                Text(f"{f.medication} ({f.as_entered})"),
                Text(f.consequence),
                Text(f"{f.action}: {f.management}"),
                Text(f.evidence or "-"),
                Text(", ".join(f.references)),
            )
        for k in report.combinations:
            table.add_row(
                Text(k.severity, style=SEVERITY_STYLE.get(k.severity, "")),
                Text(" + ".join(k.medications)),
                Text(k.consequence),
                Text(f"{k.action}: {k.management}"),
                Text(k.evidence or "-"),
                Text(", ".join(k.references)),
            )
        console.print(table)
    if report.washout:
        table = Table(title="Washout plan", expand=False)
        for col in ("medication", "last dose by", "days", "status", "basis"):
            table.add_column(col)
        for w in report.washout:
            table.add_row(
                Text(w.medication),
                Text(str(w.last_dose_by or "cannot be dated")),
                Text("-" if w.washout_days is None else str(w.washout_days)),
                Text(
                    w.status,
                    style="bold red" if w.status in ("too-soon", "taper-not-allowed") else "",
                ),
                Text(w.detail),
            )
        console.print(table)
    if report.taper_warnings:
        console.print(
            Text("Tapering risks: stop only under the prescriber's supervision", style="bold")
        )
        for t in report.taper_warnings:
            console.print(
                Text(f"  {t.medication} [{t.kind}]: {t.text} [{', '.join(t.references)}]")
            )
    console.print(
        Text(
            f"knowledge base {report.knowledge_version} ({report.knowledge_hash[:12]})", style="dim"
        )
    )


@app.command("protocols")
@handles_errors
def list_protocols(
    output_format: Format = typer.Option(Format.TEXT, "--format", "-f", help="text or json."),
) -> None:
    """List the shipped protocol templates."""
    found = screening.protocols()
    if output_format is Format.JSON:
        typer.echo(
            json.dumps([p.model_dump(mode="json") for p in found], indent=2, ensure_ascii=False)
        )
        return
    table = Table(title="Protocol templates")
    for col in ("id", "substance", "indication", "criteria", "modelled on"):
        table.add_column(col)
    for p in found:
        table.add_row(
            Text(p.id),
            Text(p.substance),
            Text(p.indication),
            Text(str(len(p.criteria))),
            Text(", ".join(p.modelled_on)),
        )
    console.print(table)


@app.command("batch")
@handles_errors
def batch(
    candidates: Path = typer.Argument(..., help="Candidate table: .csv or .parquet."),
    protocol: str = typer.Option(..., "--protocol", help="Protocol id."),
    out: Path = typer.Option(..., "--out", help="Verdicts file: .csv or .parquet."),
    dosing_date: str = typer.Option(..., "--dosing-date", help="Planned dosing date, YYYY-MM-DD."),
    substance: str = typer.Option(
        None, "--substance", help="Study substance (default: the protocol's)."
    ),
    today: str = typer.Option(None, "--today", help="Screening date (default: today)."),
) -> None:
    """Pre-screen every candidate in a registry or EHR export; one verdict row each."""
    planned = _date(dosing_date, "--dosing-date")
    with Progress(
        TextColumn("screening"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("screening", total=None)
        result = screening.screen_file(
            source=candidates,
            out=out,
            protocol=protocol,
            substance=substance,
            planned_dosing_date=planned,
            today=_today(today),
            on_start=lambda n: bar.update(task, total=n),
            progress=lambda n: bar.advance(task, n),
        )
    counts = result.counts()
    total = sum(counts.values())
    console.print(f"screened {total} candidates for {result.protocol} -> {out}")
    for verdict, n in counts.items():
        console.print(Text(f"  {verdict:<24}{n:>8}"))
