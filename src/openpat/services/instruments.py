"""Instruments: describe questionnaires and score tables of responses (CSV or Parquet in,
CSV, Parquet or JSON out). No database: the scoring itself is :mod:`openpat.instruments`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from openpat import instruments, knowledge
from openpat.errors import FieldProblem, InvalidInput, NotFound
from openpat.instruments.definition import Definition
from openpat.services.files import check_output, write_whole

CHUNK = 100_000


def definition(name: str) -> Definition:
    return instruments.definition(knowledge.default(), name)


def listing() -> list[dict[str, Any]]:
    """Every instrument, with whether openpat can score it."""
    found = []
    for inst in sorted(knowledge.default().instruments.values(), key=lambda i: i.abbreviation):
        try:
            instruments.compile_definition(inst)
            scorable, why = True, None
        except InvalidInput as exc:
            scorable, why = False, exc.message
        found.append(
            {
                "id": inst.id,
                "abbreviation": inst.abbreviation,
                "name": inst.name,
                "measures": inst.measures,
                "administration": inst.administration,
                "items": len(inst.items),
                "scorable": scorable,
                "not_scorable_because": why,
            }
        )
    return found


def describe(name: str) -> dict[str, Any]:
    """Items (id, label, text where the licence allows, options) and the scoring rules."""
    kb = knowledge.default()
    inst = instruments.find(kb, name)
    items = []
    for item in inst.items:
        options = (
            [{"value": o.value, "label": o.label} for o in inst.response_sets[item.options]]
            if item.options
            else None
        )
        items.append(
            {
                "id": item.key,
                "number": item.number,
                "label": item.label,
                "text": item.text,
                "options": options,
                "min": item.min,
                "max": item.max,
                "scored": item.scored,
                "reverse": item.reverse,
                "ask_if": item.ask_if.model_dump() if item.ask_if else None,
            }
        )
    return {
        "id": inst.id,
        "abbreviation": inst.abbreviation,
        "name": inst.name,
        "measures": inst.measures,
        "administration": inst.administration,
        "recall_period": inst.recall_period,
        "licence": inst.licence.model_dump(mode="json"),
        "items": items,
        "scoring": inst.scoring.model_dump(mode="json", exclude_none=True),
        "refs": list(inst.refs),
        "knowledge_version": kb.version,
    }


def read_table(path: Path) -> pd.DataFrame:
    """A response table, every cell kept as text until each item column is checked."""
    suffix = path.suffix.lower()
    if not path.is_file():
        raise InvalidInput.for_field("responses", f"{path} does not exist")
    try:
        if suffix in (".csv", ".txt"):
            return pd.read_csv(path, dtype="string", keep_default_na=False, na_values=[""])
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path).astype("string")
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise InvalidInput.for_field("responses", f"{path.name} could not be read: {exc}") from None
    raise InvalidInput.for_field("responses", f"{path.name}: use a .csv or .parquet file")


def item_columns(defn: Definition, columns: list[str]) -> dict[int, str]:
    """Which column holds each item (by key, number, item3 or q3); all must be present."""
    found: dict[int, str] = {}
    for column in columns:
        try:
            index = defn.column(str(column))
        except KeyError:
            continue  # an id column, kept as it is
        if index in found:
            raise InvalidInput.for_field(
                str(column),
                f"both {found[index]!r} and {column!r} name item {index + 1} "
                f"({defn.keys[index]}); keep one",
            )
        found[index] = str(column)
    scored = set(defn.scored.tolist())  # an unscored item's column may be left out
    absent = [defn.keys[i] for i in range(len(defn.keys)) if i not in found and i in scored]
    if absent:
        raise InvalidInput(
            f"the table has no column for {len(absent)} {defn.abbreviation} item(s)",
            fields=[
                FieldProblem(key, "add this column (item key, number, item<N> or q<N>)")
                for key in absent
            ],
        )
    return found


def answers_array(defn: Definition, table: pd.DataFrame, columns: dict[int, str]) -> np.ndarray:
    """The item columns as floats, NaN where empty; text that is not a number is refused."""
    out = np.full((len(table), len(defn.keys)), np.nan)
    for index, column in columns.items():
        raw = table[column]
        values = pd.to_numeric(raw.str.strip(), errors="coerce")
        text = raw.notna() & (raw.str.strip() != "") & values.isna()
        if text.any():
            rows = np.flatnonzero(text.to_numpy())[:5]
            raise InvalidInput(
                f"column {column!r} has text that is not a number",
                fields=[
                    FieldProblem(
                        f"row {r + 1}, {column}",
                        f"{raw.iloc[r]!r} is not a number; use {defn.allowed_text(index)}",
                    )
                    for r in rows
                ],
            )
        out[:, index] = values.to_numpy(dtype=np.float64, na_value=np.nan)
    return out


def score_table(
    defn: Definition,
    table: pd.DataFrame,
    progress: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """The same rows with total, subscales, band, classifications, scored and reason."""
    columns = item_columns(defn, [str(c) for c in table.columns])
    answers = answers_array(defn, table, columns)
    # check everything first, so a bad cell anywhere stops the file before any output
    instruments.validate(defn, answers)
    parts = []
    for lo in range(0, max(len(table), 1), CHUNK):
        chunk = answers[lo : lo + CHUNK]
        parts.append(_frame(instruments.score(defn, chunk, first_row=lo + 1)))
        if progress is not None:
            progress(len(chunk))
    scores = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    clash = [c for c in scores.columns if c in table.columns]
    if clash:
        scores = scores.rename(columns={c: f"{defn.id}_{c}" for c in clash})
    return pd.concat([table.reset_index(drop=True), scores], axis=1)


def _frame(result: instruments.Scores) -> pd.DataFrame:
    defn = result.definition
    data: dict[str, Any] = {}
    if result.total is not None:
        data["total"] = result.total
    for key, values in result.subscales.items():
        data[key] = values
    labels = np.array([b.label for b in defn.scoring.bands] + [None], dtype=object)
    data["band"] = pd.array(labels[result.band].tolist(), dtype="string")
    for key, flags in result.classifications.items():
        data[key] = pd.arrays.BooleanArray(flags == 1, flags < 0)  # masked where unknown
    level = np.full(len(result), None, dtype=object)
    for name in ("low", "moderate", "high"):
        if name in result.alerts:
            level[result.alerts[name]] = name
    if result.alerts:
        data["alert"] = pd.array(level.tolist(), dtype="string")
    data["scored"] = result.scored
    data["prorated"] = result.prorated
    data["missing_items"] = result.missing
    reasons = np.full(len(result), None, dtype=object)
    for i in np.flatnonzero(~result.scored):
        reasons[i] = result.reason_text(int(i))
    data["reason"] = pd.array(reasons.tolist(), dtype="string")
    return pd.DataFrame(data)


def score_file(
    *,
    source: Path,
    instrument: str,
    out: Path | None,
    fmt: str,
    progress: Callable[[int], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Score a file; write ``out`` (CSV or Parquet, all or nothing) when given."""
    try:
        defn = definition(instrument)
    except NotFound as exc:
        raise InvalidInput.for_field("--instrument", exc.message) from None
    if out is not None:
        check_output(out)
    table = read_table(source)
    if on_start is not None:
        on_start(len(table))
    result = score_table(defn, table, progress)
    if out is not None:

        def write(partial: Path) -> None:
            if fmt == "parquet":
                result.to_parquet(partial, index=False)
            elif fmt == "json":
                partial.write_text(result.to_json(orient="records", indent=1), encoding="utf-8")
            else:
                result.to_csv(partial, index=False)

        write_whole(out, write)  # the output appears complete or not at all
    return result
