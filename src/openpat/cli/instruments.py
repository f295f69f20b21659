"""openpat instruments: list the questionnaires, show one, score a table of responses.

``openpat instruments score responses.csv --instrument PHQ-9 --format csv`` reads one
response per row with one column per item (item key, number, ``item3`` or ``q3``; an empty
cell is a missing answer) plus any id columns, and writes the same rows with the total, the
subscales, the band, the classifications, ``scored`` and the ``reason`` where the manual
forbids scoring. ``--out`` writes a file (.csv, .parquet or .json) instead of printing.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from openpat.cli.common import console, handles_errors
from openpat.errors import InvalidInput
from openpat.services import instruments as service

app = typer.Typer(help="Questionnaires: list, show and score responses.")


class Format(StrEnum):
    TEXT = "text"
    JSON = "json"


class TableFormat(StrEnum):
    CSV = "csv"
    PARQUET = "parquet"
    JSON = "json"


@app.command("list")
@handles_errors
def list_command(fmt: Format = typer.Option(Format.TEXT, "--format")) -> None:
    """Every instrument in the knowledge base and whether openpat scores it."""
    found = service.listing()
    if fmt is Format.JSON:
        typer.echo(json.dumps(found, indent=2))
        return
    table = Table("instrument", "name", "measures", "given as", "items", "scored")
    for i in found:
        table.add_row(
            i["abbreviation"],
            i["name"],
            i["measures"],
            i["administration"],
            str(i["items"]),
            "yes" if i["scorable"] else "no (scale not known)",
        )
    console.print(table)


@app.command("show")
@handles_errors
def show_command(
    name: str = typer.Argument(..., help="PHQ-9, PCL-5, MEQ-30, ..."),
    fmt: Format = typer.Option(Format.TEXT, "--format"),
) -> None:
    """Items with their options, and the scoring rules with their references."""
    found = service.describe(name)
    if fmt is Format.JSON:
        typer.echo(json.dumps(found, indent=2, default=str))
        return
    console.print(f"[bold]{found['abbreviation']}[/bold] {found['name']}: {found['measures']}")
    console.print(f"{found['administration']}; recall period: {found['recall_period']}")
    table = Table("#", "id", "label", "options", "")
    for item in found["items"]:
        if item["options"]:
            options = ", ".join(f"{o['value']:g} {o['label']}" for o in item["options"])
        else:
            options = f"{item['min']}–{item['max']}"
        flags = []
        if not item["scored"]:
            flags.append("not scored")
        if item["reverse"]:
            flags.append("reversed")
        if item["ask_if"]:
            flags.append(f"asked if item {item['ask_if']['item']} ≥ {item['ask_if']['at_least']}")
        table.add_row(str(item["number"]), item["id"], item["label"], options, "; ".join(flags))
    console.print(table)
    scoring = found["scoring"]
    console.print(f"scoring: {scoring['method']}; {scoring.get('description', '')}")
    missing = scoring.get("missing")
    console.print(
        "missing items: "
        + (missing["description"] if missing else "no rule recorded: scored only when complete")
    )
    for c in scoring.get("classifications", []):
        console.print(f"{c['label']}: {c['description']}")


@app.command("score")
@handles_errors
def score_command(
    responses: Path = typer.Argument(..., help="Responses: .csv or .parquet, one per row."),
    instrument: str = typer.Option(..., "--instrument", help="PHQ-9, PCL-5, MEQ-30, ..."),
    fmt_given: TableFormat | None = typer.Option(
        None,
        "--format",
        help="csv, parquet or json (default: the --out file's extension, else csv)",
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Write to this file (.csv, .parquet or .json) instead."
    ),
) -> None:
    """Score every response; all or nothing if any answer is not allowed."""
    from openpat.services.files import output_format

    fmt = TableFormat(
        output_format(out, fmt_given.value if fmt_given else None, ("csv", "parquet", "json"))
    )
    if fmt is TableFormat.PARQUET and out is None:
        raise InvalidInput.for_field("--out", "Parquet is binary: give --out FILE.parquet")
    show_bar = out is not None and sys.stderr.isatty()
    with Progress(
        TextColumn("scoring"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not show_bar,
    ) as bar:
        task = bar.add_task("scoring", total=None)
        result = service.score_file(
            source=responses,
            instrument=instrument,
            out=out,
            fmt=fmt.value,
            on_start=lambda n: bar.update(task, total=n),
            progress=lambda n: bar.advance(task, n),
        )
    if out is None:
        if fmt is TableFormat.JSON:
            typer.echo(result.to_json(orient="records", indent=1))
        else:
            typer.echo(result.to_csv(index=False), nl=False)
        return
    scored = int(result["scored"].sum())
    console.print(f"scored {scored} of {len(result)} responses -> {out}")
