"""openpat audit: the audit trail."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from openpat.cli.common import cli_actor, console, fail, handles_errors, platform
from openpat.security import Principal
from openpat.services import audit

if TYPE_CHECKING:
    from openpat.store.audit import Checkpoint

app = typer.Typer(help="The audit trail.", no_args_is_help=True)


@app.command("verify")
@handles_errors
def verify(
    checkpoint: Annotated[
        list[Path] | None,
        typer.Option(
            "--checkpoint",
            help="a file written by `openpat audit checkpoint` (one checkpoint per line); "
            "the trail must still hold each one. Give the option again for more files.",
        ),
    ] = None,
) -> None:
    """Check the keyed hash chain; report the first entry that was edited, deleted, reordered
    or signed without the audit key, and any checkpoint the trail no longer holds."""
    marks = [mark for path in checkpoint or [] for mark in _read_checkpoints(path)]
    with platform() as plat, plat.uow(actor=cli_actor()) as uow:
        result = audit.verify(uow=uow, principal=Principal.system("cli"), checkpoints=marks)
    if result.ok:
        console.print(f"[green]ok[/]: {result.message}")
        return
    fail(
        f"audit trail broken at entry {result.problem_seq} ({result.problem_kind}): "
        f"{result.message}",
        1,
    )


@app.command("checkpoint")
@handles_errors
def checkpoint(
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="append the checkpoint to this file (one JSON object per line), kept "
            "outside the database; without it the checkpoint is printed",
        ),
    ] = None,
) -> None:
    """The trail's head now (sequence number, hash, time), to keep outside the database;
    `openpat audit verify --checkpoint FILE` later proves the trail still extends it."""
    with platform() as plat, plat.uow(actor=cli_actor()) as uow:
        mark = audit.checkpoint(uow=uow, principal=Principal.system("cli"))
    line = json.dumps(mark.to_json(), sort_keys=True)
    if out is None:
        console.print(line, highlight=False, soft_wrap=True)
        return
    from openpat.services.files import check_output

    check_output(out)
    try:
        with out.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")
    except OSError as exc:
        fail(f"--out: cannot write {out}: {exc.strerror or exc}", 2)
    console.print(f"[green]checkpoint[/] entry {mark.seq} appended to {out}")


def _read_checkpoints(path: Path) -> list[Checkpoint]:
    from openpat.services.files import read_text
    from openpat.store.audit import Checkpoint

    text = read_text(path, "--checkpoint", what="checkpoint file")
    marks = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            marks.append(Checkpoint.from_json(json.loads(line)))
        except ValueError as exc:
            fail(f"--checkpoint: {path} line {number} is not a checkpoint: {exc}", 2)
    if not marks:
        fail(f"--checkpoint: {path} holds no checkpoint", 2)
    return marks
