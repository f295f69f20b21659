"""openpat substances / meds / references / knowledge: the cited knowledge base.

Every listing and look-up takes ``--format json`` for scripts; the default is a table.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

import typer
from pydantic import BaseModel
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from openpat.cli.common import console, fail, handles_errors
from openpat.knowledge.compare import SubstanceComparison
from openpat.services import knowledge as kn


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"


FormatOption = typer.Option(Format.TABLE, "--format", "-f", help="table (default) or json.")

substances_app = typer.Typer(
    help="Study substances: durations, doses, PK, legal status.", no_args_is_help=True
)
meds_app = typer.Typer(
    help="Medications participants take: brands, classes, half-lives.", no_args_is_help=True
)
references_app = typer.Typer(help="The bibliography every fact cites.", no_args_is_help=True)
knowledge_app = typer.Typer(
    help="The knowledge base: version, validation, interactions, instruments, published trials.",
    no_args_is_help=True,
)


def _emit_json(value: Any) -> None:
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    elif isinstance(value, list):
        value = [v.model_dump(mode="json") if isinstance(v, BaseModel) else v for v in value]
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False))


def _refs(ids: list[str]) -> str:
    """Reference ids in brackets (print through _say or _row: brackets are not markup)."""
    return "[" + ", ".join(ids) + "]" if ids else ""


def _say(text: str) -> None:
    """Print data as plain text: brackets and other rich markup characters are shown as is."""
    console.print(Text(text), soft_wrap=True)


def _table(*columns: str, title: str, show_lines: bool = False) -> Table:
    """A table whose long cells (reference ids, citations) fold instead of being cut."""
    table = Table(title=title, show_lines=show_lines)
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def _row(table: Table, *cells: str) -> None:
    """A table row of plain text: data may contain brackets, never markup."""
    table.add_row(*(Text(c) for c in cells))


# -- substances -----------------------------------------------------------------------------


@substances_app.command("list")
@handles_errors
def substances_list(fmt: Format = FormatOption) -> None:
    """List the substances in the knowledge base."""
    items = kn.substances()
    if fmt is Format.JSON:
        _emit_json(items)
        return
    table = _table("id", "name", "class", "routes", title="Substances")
    for item in items:
        _row(table, item.id, item.name, item.chemical_class, ", ".join(item.routes))
    console.print(table)


@substances_app.command("show")
@handles_errors
def substances_show(
    name: str = typer.Argument(..., help="Id, name or synonym, e.g. DMT."),
    fmt: Format = FormatOption,
) -> None:
    """Everything known about one substance, with the reference of each fact."""
    if fmt is Format.JSON:
        _emit_json(kn.substance_json(name))
        return
    sub = kn.substance(name)
    console.print(
        f"[bold]{escape(sub.name)}[/] ({sub.id}); synonyms: "
        f"{escape(', '.join(sub.synonyms)) or '-'}"
    )
    _say(f"class: {sub.chemical_class.text} {_refs(sub.chemical_class.refs)}")
    _say(f"mechanism: {sub.mechanism.summary}")
    for t in sub.mechanism.targets:
        flag = " (primary)" if t.primary else ""
        _say(f"  - {t.receptor} {t.action}{flag} {_refs(t.refs)}")
    for profile in sub.routes:
        table = _table(
            "source",
            "onset",
            "peak",
            "total",
            "dose",
            "refs",
            title=f"{sub.name}, {profile.route.value}",
        )
        for d in profile.durations:
            _row(
                table,
                d.source_kind.value,
                d.onset.text() if d.onset else "",
                d.peak.text() if d.peak else "",
                d.total.text() if d.total else "",
                d.dose or "",
                ", ".join(d.refs),
            )
        if profile.durations:
            console.print(table)
        for dose in profile.doses:
            _say(
                f"  dose: {dose.label}: {dose.amount.text()} ({dose.salt_form}) {_refs(dose.refs)}"
            )
        for model in profile.pk_models:
            params = "; ".join(
                f"{p.name} {p.value:g}{' ' + p.unit if p.unit else ''}" for p in model.parameters
            )
            _say(f"  PK model {model.id}: {model.structure}; {params} {_refs(model.refs)}")
    if sub.legal_status:
        table = _table("jurisdiction", "status", "as of", "refs", title="Legal status")
        for ls in sub.legal_status:
            _row(table, ls.jurisdiction, ls.status, ls.as_of.isoformat(), ", ".join(ls.refs))
        console.print(table)
    for label, items in (
        ("notable effects", sub.notable_effects),
        ("safety", sub.safety),
        ("contraindications", sub.contraindications),
    ):
        if items:
            console.print(f"[bold]{label}[/]")
            for st in items:
                _say(f"  - {st.text} {_refs(st.refs)}")
    for dis in sub.disagreements:
        console.print(Text("sources disagree: ", style="bold yellow") + Text(dis.topic))
        for pos in dis.positions:
            _say(f"  - {pos.statement} {_refs(pos.refs)}")


def _duration_cell(row: SubstanceComparison) -> str:
    lines = []
    for route, entries in row.duration.items():
        for d in entries:
            total = d.total.text if d.total else "?"
            lines.append(f"{route} ({d.source_kind}): {total} {_refs(d.references)}")
    return "\n".join(lines)


@substances_app.command("compare")
@handles_errors
def substances_compare(
    names: list[str] = typer.Argument(..., help="Two or more substances, e.g. DMT psilocybin."),
    fmt: Format = FormatOption,
) -> None:
    """Compare substances: duration per route, legal status, primary targets, notable
    effects; each cell with its references."""
    rows = kn.compare(names)
    if fmt is Format.JSON:
        _emit_json(rows)
        return
    table = _table(
        "substance",
        "duration (total, per route and source)",
        "legal status",
        "primary targets",
        "notable effects",
        title="Comparison",
        show_lines=True,
    )
    for row in rows:
        _row(
            table,
            row.name,
            _duration_cell(row),
            "\n".join(
                f"{ls.jurisdiction}: {ls.status} {_refs(ls.references)}" for ls in row.legal_status
            ),
            "\n".join(
                f"{t.receptor} {t.action} {_refs(t.references)}" for t in row.primary_targets
            ),
            "\n".join(f"{e.text} {_refs(e.references)}" for e in row.notable_effects),
        )
    console.print(table)
    console.print("References: openpat references show ID", style="dim")


# -- medications ----------------------------------------------------------------------------


@meds_app.command("find")
@handles_errors
def meds_find(
    name: str = typer.Argument(..., help="Generic or brand name; typos are tolerated."),
    limit: int = typer.Option(10, min=1, max=50, help="At most this many matches."),
    fmt: Format = FormatOption,
) -> None:
    """Find a medication by generic or brand name (case-, space-, hyphen-blind; typos)."""
    matches = kn.find_medications(name, limit=limit)
    if fmt is Format.JSON:
        _emit_json(matches)
        return
    if not matches:
        fail(f"no medication matches {name!r}", 3)
    table = _table(
        "generic",
        "matched",
        "score",
        "ATC",
        "classes",
        "half-life (h)",
        "refs",
        title=f"Medications matching {name!r}",
    )
    for m in matches:
        hl = m.half_life_h
        half = ""
        if hl is not None:
            half = f"{hl.parent_low:g}-{hl.parent_high:g}"
            active = [x for x in hl.metabolites if x.active]
            if active:
                half += "; " + "; ".join(f"{x.name} {x.low:g}-{x.high:g}" for x in active)
        _row(
            table,
            m.generic,
            f"{m.matched} ({m.match})",
            f"{m.score:.2f}",
            ", ".join(m.atc),
            ", ".join(m.classes),
            half,
            ", ".join(m.references),
        )
    console.print(table)


@meds_app.command("show")
@handles_errors
def meds_show(
    name: str = typer.Argument(..., help="Generic, brand or id."), fmt: Format = FormatOption
) -> None:
    """One medication with the interaction rules that apply to it."""
    detail = kn.medication(name)
    if fmt is Format.JSON:
        _emit_json(detail)
        return
    med = detail.medication
    console.print(
        Text(med.generic, style="bold") + Text(f"  brands: {', '.join(med.brands) or '-'}")
    )
    _say(f"ATC {', '.join(med.atc) or '-'}; classes {', '.join(med.classes)}")
    if med.half_life_h:
        hl = med.half_life_h
        _say(
            f"half-life {hl.parent_low:g}-{hl.parent_high:g} h; longest incl. active "
            f"metabolites {hl.longest_h:g} h {_refs(hl.references)}",
        )
    table = _table("severity", "substances", "management", "refs", title="Interaction rules")
    for rule in detail.interactions:
        _row(
            table,
            rule.severity,
            ", ".join(rule.substances),
            rule.management,
            ", ".join(rule.references),
        )
    console.print(table)


# -- references -----------------------------------------------------------------------------


@references_app.command("show")
@handles_errors
def references_show(
    ref_id: str = typer.Argument(..., metavar="ID"), fmt: Format = FormatOption
) -> None:
    """One reference: full citation and a link that resolves (DOI, PubMed or URL)."""
    ref = kn.reference(ref_id)
    if fmt is Format.JSON:
        _emit_json(ref)
        return
    console.print(f"[bold]{ref.id}[/] ({ref.kind})", highlight=False)
    _say(ref.citation)
    _say(ref.link)
    if ref.note:
        _say(f"note: {ref.note}")


@references_app.command("list")
@handles_errors
def references_list(
    search: str = typer.Option(None, help="Only references containing this."),
    fmt: Format = FormatOption,
) -> None:
    """The bibliography."""
    refs = kn.references(search)
    if fmt is Format.JSON:
        _emit_json(refs)
        return
    table = _table("id", "reference", "link", title=f"References ({len(refs)})")
    for ref in refs:
        _row(table, ref.id, f"{ref.short}: {ref.title}", ref.link)
    console.print(table)


# -- knowledge ------------------------------------------------------------------------------


@knowledge_app.command("version")
@handles_errors
def knowledge_version(fmt: Format = FormatOption) -> None:
    """The data version, release date, content hash and counts (validates the data)."""
    info = kn.version()
    if fmt is Format.JSON:
        _emit_json(info)
        return
    counts = ", ".join(f"{v} {k}" for k, v in info.counts.items())
    console.print(f"knowledge {info.version} ({info.released}); sha256 {info.content_hash[:16]}")
    console.print(counts)


@knowledge_app.command("check")
def knowledge_check(
    data_dir: str = typer.Argument(None, help="A data directory (default: the shipped one)."),
) -> None:
    """Validate a knowledge data directory and list every problem (for curators)."""
    from openpat.knowledge import DATA_DIR, KnowledgeDataError, load

    try:
        kb = load(data_dir or DATA_DIR)
    except KnowledgeDataError as exc:
        for problem in exc.problems:
            console.print(Text("✗ ", style="red") + Text(str(problem)), soft_wrap=True)
        fail(f"{len(exc.problems)} problem(s) in the knowledge data", 2)
        return
    console.print(f"[green]ok[/]: {kb!r}", highlight=False)


@knowledge_app.command("interactions")
@handles_errors
def knowledge_interactions(
    substance: str = typer.Option(None, help="Only rules for this substance."),
    medication: str = typer.Option(None, help="Only rules for this medication."),
    fmt: Format = FormatOption,
) -> None:
    """Interaction rules, most severe first."""
    rules = kn.interactions(substance, medication)
    if fmt is Format.JSON:
        _emit_json(rules)
        return
    table = _table(
        "id", "severity", "substances", "medications", "action", "refs", title="Interaction rules"
    )
    for r in rules:
        _row(
            table,
            r.id,
            r.severity,
            ", ".join(r.substances),
            ", ".join(r.medication_classes + r.medications),
            r.action,
            ", ".join(r.references),
        )
    console.print(table)


@knowledge_app.command("instruments")
@handles_errors
def knowledge_instruments(fmt: Format = FormatOption) -> None:
    """Outcome instruments: items, scoring range and licence."""
    items = kn.instruments()
    if fmt is Format.JSON:
        _emit_json([i.model_dump(mode="json") for i in items])
        return
    table = _table("id", "name", "items", "range", "item text shipped", title="Instruments")
    for ins in items:
        total = ins.scoring.total.text() if ins.scoring.total else "categorical"
        _row(
            table,
            ins.id,
            ins.name,
            str(len(ins.items)),
            total,
            "yes" if ins.licence.items_redistributable else "labels only",
        )
    console.print(table)


@knowledge_app.command("trials")
@handles_errors
def knowledge_trials(fmt: Format = FormatOption) -> None:
    """Published trials with their arms and primary outcome."""
    items = kn.trials()
    if fmt is Format.JSON:
        _emit_json([t.model_dump(mode="json") for t in items])
        return
    table = _table("id", "trial", "substance", "arms (n)", "primary outcome", title="Trials")
    for t in items:
        arms = "; ".join(
            f"{a.label} ({a.n_randomized if a.n_randomized is not None else '?'})" for a in t.arms
        )
        _row(table, t.id, t.name, t.substance, arms, t.primary_outcome.description)
    console.print(table)
