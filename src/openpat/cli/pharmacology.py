"""openpat pk: PK/PD models, population simulation and IV infusion design.

``openpat pk simulate --substance dmt --route iv --dose 20mg --salt fumarate --subjects 1000
--plot out.png`` prints the typical subject's Cmax, Tmax, peak effect and session length and
the population's 5th/50th/95th percentiles (``--format json`` for scripts);
``openpat pk design --substance dmt --target-intensity 8 --duration 30min`` designs a bolus
plus stepwise infusion; ``openpat pk models`` lists the models and their references;
``openpat pk validation`` checks them against the published figures (docs/validation.md).
"""

from __future__ import annotations

import dataclasses
import json
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from openpat import knowledge
from openpat.cli.common import console, handles_errors
from openpat.errors import InvalidInput
from openpat.pharmacology import validation
from openpat.services import pharmacology as service

app = typer.Typer(help="PK/PD simulation, session length and IV infusion design.")


class Format(StrEnum):
    TEXT = "text"
    JSON = "json"


class TableFormat(StrEnum):
    TEXT = "text"
    JSON = "json"
    MARKDOWN = "markdown"


def _doses(doses: list[str], infusions: list[str]) -> list[service.DoseIn]:
    """``20mg`` or ``20mg@30min``; infusions ``1.2mg/min:30min`` or ``1.2mg/min:30min@5min``."""
    found = []
    for text in doses:
        amount, _, at = text.partition("@")
        found.append(service.DoseIn(amount=amount, at=at or "0min"))
    for text in infusions:
        spec, _, at = text.partition("@")
        rate, sep, duration = spec.partition(":")
        if not sep:
            raise InvalidInput.for_field(
                "--infusion", f"{text!r}: write RATE:DURATION[@START], e.g. 1.2mg/min:30min@1min"
            )
        found.append(service.DoseIn(rate=rate, duration=duration, at=at or "0min"))
    if not found:
        raise InvalidInput.for_field("--dose", "give at least one --dose or --infusion")
    return found


def _fmt(value: Any, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}g}"


def _with_options(exc: Exception, labels: dict[str, str]) -> Exception:
    """The error with request fields (``regimens[0].doses[1].rate``) named as the options the
    user typed (``--infusion 1.4mg/min:30min``); ``labels`` lists the most specific first."""
    from openpat.errors import FieldProblem, OpenPatError

    if not isinstance(exc, OpenPatError) or not exc.fields:
        return exc

    def label(field: str) -> str:
        for key, text in labels.items():
            if field == key or field.startswith((f"{key}.", f"{key}[")):
                return text
        return field

    fields = [FieldProblem(label(p.field), p.message) for p in exc.fields]
    return type(exc)(f"{fields[0].field}: {fields[0].message}", fields=fields)


def _option_labels(doses: list[str], infusions: list[str]) -> dict[str, str]:
    """Request fields → the options that set them (most specific first)."""
    given = [f"--dose {d}" for d in doses] + [f"--infusion {i}" for i in infusions]
    labels = {f"regimens[0].doses[{i}]": text for i, text in enumerate(given)}
    labels |= {
        "regimens[0].doses": "--dose/--infusion (all together)",
        "regimens[0].substance": "--substance",
        "regimens[0].salt": "--salt",
        "regimens[0].route": "--route",
        "weight_kg": "--weight",
    }
    return labels


@app.command("simulate")
@handles_errors
def simulate_command(
    substance: str = typer.Option(..., "--substance", help="dmt, psilocybin, lsd, mdma, ketamine"),
    route: str | None = typer.Option(None, "--route", help="iv, oral (default: the model's)"),
    dose: list[str] = typer.Option([], "--dose", help="20mg, 100ug, 0.2mg/kg; @30min to delay"),
    infusion: list[str] = typer.Option([], "--infusion", help="RATE:DURATION[@START]"),
    salt: str | None = typer.Option(None, "--salt", help="fumarate, hemifumarate, base, ..."),
    subjects: int = typer.Option(1000, "--subjects", help="virtual subjects (0: typical only)"),
    seed: int = typer.Option(2026, "--seed"),
    hours: float | None = typer.Option(None, "--hours", help="length of the time grid"),
    points: int = typer.Option(481, "--points", help="time points on the grid"),
    threshold: float | None = typer.Option(None, "--threshold", help="session-end effect level"),
    weight: float | None = typer.Option(None, "--weight", help="body weight (kg) for mg/kg"),
    plot: Path | None = typer.Option(None, "--plot", help="write a PNG of the curves"),
    fmt: Format = typer.Option(Format.TEXT, "--format"),
) -> None:
    """Simulate a regimen for the typical subject and a virtual population."""
    request = service.SimulationCreate(
        regimens=[
            service.RegimenIn(
                substance=substance, route=route, salt=salt, doses=_doses(dose, infusion)
            )
        ],
        subjects=subjects,
        seed=seed,
        hours=hours,
        points=points,
        threshold=threshold,
        weight_kg=weight,
    )
    try:
        result = service.simulate_regimens(request)
    except Exception as exc:
        raise _with_options(exc, _option_labels(dose, infusion)) from None
    if plot is not None:
        _plot(result, plot)
    if fmt is Format.JSON:
        reg = result["regimens"][0]
        out = {
            **{k: reg[k] for k in ("substance", "route", "model", "method", "salt", "analyte")},
            "typical": reg["typical"],
            "population": reg["population"],
            "threshold": reg["threshold"],
            "effect": reg["effect"],
            "subjects": result["subjects"],
            "seed": result["seed"],
            "variability": reg["variability"],
            "variability_note": reg["variability_note"],
            "warnings": reg["warnings"],
            "notes": reg["notes"],
            "grid": {
                "time_min": result["time_min"],
                "median_cp_ng_per_ml": reg["grid"]["median_cp_ng_per_ml"],
                "median_effect": reg["grid"]["median_effect"],
                "p5_cp_ng_per_ml": reg["grid"]["p5_cp_ng_per_ml"],
                "p95_cp_ng_per_ml": reg["grid"]["p95_cp_ng_per_ml"],
                "p5_effect": reg["grid"]["p5_effect"],
                "p95_effect": reg["grid"]["p95_effect"],
            },
            "references": [r["id"] for r in reg["references"]],
            "knowledge_version": result["knowledge_version"],
        }
        typer.echo(json.dumps(out, indent=2))
        return
    reg = result["regimens"][0]
    console.print(f"[bold]{reg['label']}[/] — model {reg['model']} ({reg['method']})")
    table = Table("", "Cmax (ng/mL)", "Tmax (min)", "peak effect", "session (min)")
    t = reg["typical"]
    table.add_row(
        "typical subject",
        _fmt(t["cmax_ng_per_ml"]),
        _fmt(t["tmax_min"]),
        _fmt(t["peak_effect"]),
        _fmt(t["session_length_min"]),
    )
    # identical percentile rows say nothing: a model without variability gets a sentence
    percentiles = (reg["population"] or {}) if reg["variability"] else {}
    for key, block in percentiles.items():
        table.add_row(
            f"population {key}",
            _fmt(block.get("cmax_ng_per_ml")),
            _fmt(block.get("tmax_min")),
            _fmt(block.get("peak_effect")),
            _fmt(block.get("session_length_min")),
        )
    console.print(table)
    if reg["effect"]:
        console.print(
            f"Effect: {reg['effect']['name']} ({reg['effect']['unit']}); session ends "
            f"when it stays below {reg['threshold']}."
        )
    if reg["population"] and not reg["variability"]:
        console.print(f"Population ({result['subjects']} subjects): {reg['variability_note']}.")
    for note in reg["notes"]:
        console.print(f"[yellow]{note}[/]")
    for warning in reg["warnings"]:
        console.print(f"[bold yellow]Read with care:[/] {warning}")
    if plot is not None:
        console.print(f"Plot written to {plot}")


def _plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib.pyplot as plt

    fig = _figure(result)
    try:
        fig.savefig(path, dpi=110)
    except OSError as exc:
        raise InvalidInput.for_field("--plot", f"cannot write {path}: {exc.strerror}") from None
    finally:
        plt.close(fig)


def _figure(result: dict[str, Any]) -> Any:
    """The curves as a matplotlib figure: plasma, and the effect when there is one."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    times = result["time_min"]
    with_effect = any(r["effect"] for r in result["regimens"])
    fig, axes = plt.subplots(
        2 if with_effect else 1,
        1,
        figsize=(8, 6 if with_effect else 3.5),
        sharex=True,
        squeeze=False,
    )
    for reg in result["regimens"]:
        grid = reg["grid"]
        ax = axes[0][0]
        line = ax.plot(times, grid["median_cp_ng_per_ml"], label=reg["label"])[0]
        if result["subjects"]:
            ax.fill_between(
                times,
                _nan(grid["p5_cp_ng_per_ml"]),
                _nan(grid["p95_cp_ng_per_ml"]),
                color=line.get_color(),
                alpha=0.2,
            )
        ax.set_ylabel("plasma (ng/mL)")
        if with_effect and reg["effect"]:
            ax = axes[1][0]
            ax.plot(times, grid["median_effect"], color=line.get_color())
            if result["subjects"]:
                ax.fill_between(
                    times,
                    _nan(grid["p5_effect"]),
                    _nan(grid["p95_effect"]),
                    color=line.get_color(),
                    alpha=0.2,
                )
            if reg["threshold"] is not None:
                ax.axhline(reg["threshold"], color="grey", linestyle="--", linewidth=1)
            length = reg["typical"]["session_length_min"]
            if length is not None:
                ax.axvline(length, color=line.get_color(), linestyle=":", linewidth=1)
            ax.set_ylabel(f"{reg['effect']['name']} ({reg['effect']['unit']})")
    axes[0][0].legend(loc="upper right", fontsize=8)
    axes[-1][0].set_xlabel("time after first dose (min); band: 5th–95th percentile")
    for row in axes:
        # plain tick numbers (no offset or exponent text that the label could run into)
        row[0].ticklabel_format(axis="y", style="plain", useOffset=False)
        row[0].yaxis.labelpad = 8
    fig.tight_layout()
    fig.align_ylabels(axes[:, 0])  # one x position for every panel's label, left of all ticks
    return fig


def _nan(values: list[float | None]) -> list[float]:
    return [float("nan") if v is None else v for v in values]


@app.command("design")
@handles_errors
def design_command(
    substance: str = typer.Option("dmt", "--substance"),
    target_intensity: float | None = typer.Option(None, "--target-intensity"),
    target_conc: float | None = typer.Option(None, "--target-conc", help="effect-site ng/mL"),
    duration: str = typer.Option("30min", "--duration"),
    salt: str | None = typer.Option(None, "--salt"),
    max_rate: str = typer.Option(service.DEFAULT_LIMITS["max_rate"], "--max-rate"),
    max_total: str = typer.Option(service.DEFAULT_LIMITS["max_total"], "--max-total"),
    max_bolus: str = typer.Option(service.DEFAULT_LIMITS["max_bolus"], "--max-bolus"),
    subjects: int = typer.Option(1000, "--subjects"),
    seed: int = typer.Option(2026, "--seed"),
    fmt: Format = typer.Option(Format.TEXT, "--format"),
) -> None:
    """Design a bolus + stepwise IV infusion that reaches and holds a target effect."""
    try:
        result = service.design(
            service.DesignCreate(
                substance=substance,
                target_intensity=target_intensity,
                target_ng_per_ml=target_conc,
                duration=duration,
                salt=salt,
                max_rate=max_rate,
                max_total=max_total,
                max_bolus=max_bolus,
                subjects=subjects,
                seed=seed,
            )
        )
    except Exception as exc:
        labels = {
            name: "--" + name.replace("_", "-")
            for name in ("max_rate", "max_total", "max_bolus", "duration", "salt", "subjects")
        }
        labels |= {"target_intensity": "--target-intensity", "target": "--target-intensity"}
        raise _with_options(exc, labels) from None
    if fmt is Format.JSON:
        typer.echo(json.dumps(result, indent=2))
        return
    console.print(
        f"[bold]{result['substance']}[/] ({result['salt']}): target effect-site "
        f"{_fmt(result['target_effect_site_ng_per_ml'])} ng/mL"
        + (f" (intensity {result['target_intensity']:g})" if result["target_intensity"] else "")
        + f" for {result['duration_min']:g} min"
    )
    console.print(f"Bolus {result['bolus_mg']:.2f} mg, then:")
    table = Table("from (min)", "to (min)", "rate (mg/min)")
    for step in result["steps"]:
        table.add_row(
            f"{step['start_min']:g}", f"{step['end_min']:g}", f"{step['rate_mg_per_min']:.3f}"
        )
    console.print(table)
    console.print(
        f"Total {result['total_mg']:.1f} mg; limits {result['limits']}"
        + (f"; held back by: {', '.join(result['limited_by'])}" if result["limited_by"] else "")
    )
    if result["band"]:
        console.print(
            f"Time inside {result['band'][0]:g}–{result['band'][1]:g}: typical subject "
            f"{100 * result['typical_share_in_band']:.0f} %"
            + (
                f"; population ({result['subjects']} subjects) "
                f"{100 * result['population_share_in_band']:.0f} % of subject-time"
                if result["population_share_in_band"] is not None
                else ""
            )
        )
    for warning in result["warnings"]:
        console.print(f"[bold yellow]Read with care:[/] {warning}")


@app.command("models")
@handles_errors
def models_command(fmt: Format = typer.Option(Format.TEXT, "--format")) -> None:
    """The substance/route models and their references."""
    found = service.models()
    if fmt is Format.JSON:
        typer.echo(json.dumps(found, indent=2, default=str))
        return
    table = Table("substance", "route", "model", "how", "effect", "references")
    for m in found:
        table.add_row(
            m["substance"],
            m["route"],
            m["id"],
            f"{m['method']}, {m['solver']}",
            m["effect"]["name"] if m["effect"] else "—",
            ", ".join(r["id"] for r in m["references"][:3]),
        )
    console.print(table)


@app.command("validation")
@handles_errors
def validation_command(
    fmt: TableFormat = typer.Option(TableFormat.TEXT, "--format"),
) -> None:
    """Published Cmax, Tmax, half-life and effect figures beside the simulated typical
    subject (the table in docs/validation.md). Exits 1 if a held figure is off by > 20 %."""
    kb = knowledge.default()
    rows = validation.table(kb)
    failing = [r for r in rows if r.held and not r.within]
    if fmt is TableFormat.MARKDOWN:
        typer.echo(validation.markdown(kb, rows), nl=False)
    elif fmt is TableFormat.JSON:
        typer.echo(
            json.dumps(
                [{**dataclasses.asdict(r), "status": r.status} for r in rows],
                indent=2,
            )
        )
    else:
        table = Table("substance", "regimen", "quantity", "published", "simulated", "error", "")
        for r in rows:
            error = "in range" if r.relative_error == 0 else f"{r.relative_error:+.0%}"
            table.add_row(
                r.substance,
                r.regimen,
                r.what,
                f"{r.published} {r.unit}",
                f"{r.simulated:.3g} {r.unit}",
                error,
                r.status,
            )
        console.print(table)
    if failing:
        raise typer.Exit(1)
