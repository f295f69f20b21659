"""Pre-screen many candidates at once (registry and EHR exports).

The candidate table has one row per candidate and one column per profile field
(:data:`openpat.knowledge.schema.PROFILE_FIELDS`), plus ``participant``, ``medications``
(names separated by ``;``; ``none`` for no medication; blank when not recorded) and
``taper_allowed`` (``yes``/``no``; blank when not yet asked). Code-set columns
(``diagnoses``, ``personal_history``, ``family_history``) are ``;``-separated; ``none`` says
there is none and a blank cell that it is unknown.

Criteria are evaluated as NumPy arrays over all rows; each distinct medication name is
resolved and planned once, and per-candidate results are gathered with group-by
reductions, so the cost grows with the rows but the clinical logic runs once per name.
The verdict of every row equals that of :func:`openpat.safety.screen` for the same
profile (tested).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from openpat import knowledge
from openpat.errors import InvalidInput
from openpat.knowledge import schema as s
from openpat.knowledge.base import KnowledgeBase
from openpat.safety.criteria import MISSING, NOT_MET, evaluate
from openpat.safety.profile import LIMITS, Diagnosis, Profile
from openpat.safety.report import Unresolved, Verdict
from openpat.safety.screen import (
    Planner,
    _as_protocol,
    _as_substance,
)

VERDICTS = list(Verdict)
_E, _W, _N, _I = (np.int8(i) for i in range(4))  # verdict codes, best to worst
_YES = {"yes", "y", "true", "1"}
_NO = {"no", "n", "false", "0"}
COLUMNS_OUT = [
    "participant",
    "verdict",
    "not_met",
    "missing",
    "unresolved",
    "must_stop",
    "washout_days",
    "last_dose_by",
    "worst_severity",
    "combinations",
]


@dataclass(frozen=True, slots=True)
class BatchResult:
    """Verdicts for a table of candidates, one row each, in input order."""

    verdicts: pd.DataFrame
    protocol: str
    substance: str
    planned_dosing_date: dt.date
    knowledge_version: str
    knowledge_hash: str

    def counts(self) -> dict[str, int]:
        counted = self.verdicts["verdict"].value_counts()
        return {v.value: int(counted.get(v.value, 0)) for v in Verdict}


def screen_table(
    table: pd.DataFrame,
    protocol: s.Protocol | str,
    substance: s.Substance | str | None,
    planned_dosing_date: dt.date,
    *,
    today: dt.date | None = None,
    kb: KnowledgeBase | None = None,
    chunk_rows: int = 25_000,
    progress: Callable[[int], None] | None = None,
) -> BatchResult:
    """Screen every row of ``table`` (see the module docstring for the columns).

    Bad cells are refused before any result is produced, naming the row and column.
    ``progress`` is called with the number of rows finished after each chunk.
    """
    kb = kb or knowledge.default()
    protocol_model = _as_protocol(kb, protocol)
    substance_model = _as_substance(kb, substance, protocol_model)
    unknown = [c for c in table.columns if c not in _KNOWN_COLUMNS]
    if unknown:
        raise InvalidInput.for_field(
            unknown[0],
            f"unknown column {unknown[0]!r}; the columns are: {', '.join(sorted(_KNOWN_COLUMNS))}",
        )
    planner = Planner(kb, protocol_model, substance_model)
    columns = parse_columns(table)  # validates everything first: all or nothing
    _check_rows(columns)
    meds_col = _text_column(table, "medications")
    taper = _taper_column(table)
    participants = (
        table["participant"].astype("string").fillna("").to_numpy(dtype=object)
        if "participant" in table
        else np.arange(1, len(table) + 1).astype(str).astype(object)
    )
    parts = []
    for start in range(0, len(table), chunk_rows):
        stop = min(start + chunk_rows, len(table))
        chunk_cols = {name: values[start:stop] for name, values in columns.items()}
        parts.append(
            _screen_chunk(
                planner,
                kb,
                chunk_cols,
                meds_col[start:stop],
                taper[start:stop],
                participants[start:stop],
                planned_dosing_date,
            )
        )
        if progress is not None:
            progress(stop - start)
    verdicts = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS_OUT)
    return BatchResult(
        verdicts=verdicts,
        protocol=protocol_model.id,
        substance=substance_model.id,
        planned_dosing_date=planned_dosing_date,
        knowledge_version=kb.version,
        knowledge_hash=kb.content_hash,
    )


_KNOWN_COLUMNS = {*s.PROFILE_FIELDS, "participant", "medications", "taper_allowed"}


def parse_columns(table: pd.DataFrame) -> dict[str, npt.NDArray[Any]]:
    """The profile-field columns of ``table`` in the representation criteria need, checked:
    a cell that is not a valid value raises :class:`InvalidInput` naming row and column."""
    n = len(table)
    out: dict[str, npt.NDArray[Any]] = {}
    for name, spec in s.PROFILE_FIELDS.items():
        if name not in table:
            out[name] = (
                np.full(n, np.nan)
                if spec.kind in (s.FieldKind.NUMBER, s.FieldKind.BOOLEAN)
                else np.full(n, None, dtype=object)
            )
            continue
        raw = table[name]
        if spec.kind is s.FieldKind.NUMBER:
            out[name] = _numbers(raw, name)
        elif spec.kind is s.FieldKind.BOOLEAN:
            out[name] = _booleans(raw, name)
        elif spec.kind is s.FieldKind.CODES:
            out[name] = _code_sets(raw, name, spec.values)
        else:
            out[name] = _levels(raw, name, spec.values)
    return out


def _check_rows(columns: Mapping[str, npt.NDArray[Any]]) -> None:
    """The checks across fields that :class:`Profile` makes, made on every row."""
    male = np.array([v == "male" for v in columns["sex"].tolist()], dtype=bool)
    for name in ("pregnant", "lactating"):
        wrong = male & (columns[name] == 1.0)
        if wrong.any():
            row = int(np.flatnonzero(wrong)[0])
            raise InvalidInput.for_field(
                name, f"row {row + 1}: {name} is yes for a participant of sex male"
            )
    with np.errstate(invalid="ignore"):
        swapped = columns["diastolic_bp_mmhg"] >= columns["systolic_bp_mmhg"]
    if swapped.any():
        row = int(np.flatnonzero(swapped)[0])
        raise InvalidInput.for_field(
            "diastolic_bp_mmhg",
            f"row {row + 1}: diastolic must be lower than systolic; were they swapped?",
        )


def _bad(name: str, row: int, value: Any, expected: str) -> InvalidInput:
    return InvalidInput.for_field(
        name, f"row {row + 1}: {value!r} is not valid; expected {expected}"
    )


def _numbers(raw: pd.Series, name: str) -> npt.NDArray[np.float64]:
    text = raw.astype("string").str.strip()
    is_never = text.str.lower().eq("never").fillna(False).to_numpy(dtype=bool)
    if is_never.any() and name != "days_since_psychedelic_use":
        row = int(np.flatnonzero(is_never)[0])
        raise _bad(name, row, raw.iloc[row], "a number")
    values = pd.to_numeric(text.where(~is_never), errors="coerce").to_numpy(dtype=float)
    given = text.fillna("").ne("").to_numpy(dtype=bool) & ~is_never
    bad = given & np.isnan(values)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise _bad(name, row, raw.iloc[row], "a number")
    low, high = LIMITS.get(name, (-math.inf, math.inf))
    with np.errstate(invalid="ignore"):
        out_of_range = ~np.isnan(values) & ((values < low) | (values > high))
    if out_of_range.any():
        row = int(np.flatnonzero(out_of_range)[0])
        raise _bad(name, row, raw.iloc[row], f"a value from {low:g} to {high:g}")
    values[is_never] = np.inf
    return np.asarray(values, dtype=float)


def _booleans(raw: pd.Series, name: str) -> npt.NDArray[np.float64]:
    text = raw.astype("string").str.strip().str.lower().fillna("")
    values = np.full(len(text), np.nan)
    values[text.isin(_YES).to_numpy(dtype=bool)] = 1.0
    values[text.isin(_NO).to_numpy(dtype=bool)] = 0.0
    bad = np.isnan(values) & text.ne("").to_numpy(dtype=bool)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise _bad(name, row, raw.iloc[row], "yes or no (or blank if unknown)")
    return values


def _levels(raw: pd.Series, name: str, levels: tuple[str, ...]) -> npt.NDArray[Any]:
    text = raw.astype("string").str.strip().str.lower()
    # "2.0" from a numeric column is level "2"
    text = text.str.replace(r"^(\d+)\.0$", r"\1", regex=True)
    values = text.to_numpy(dtype=object, na_value=None)
    values[values == ""] = None
    bad = np.array([v is not None and v not in levels for v in _uniques_mask(values)], bool)
    if bad.any():
        uniques = _uniques_mask(values)
        wrong = next(u for u, b in zip(uniques, bad, strict=True) if b)
        row = int(np.flatnonzero(values == wrong)[0])
        raise _bad(name, row, raw.iloc[row], f"one of {', '.join(levels)}")
    return np.asarray(values, dtype=object)


def _uniques_mask(values: npt.NDArray[Any]) -> list[Any]:
    return list(dict.fromkeys(values.tolist()))


def _code_sets(raw: pd.Series, name: str, allowed: tuple[str, ...]) -> npt.NDArray[Any]:
    text = raw.astype("string").str.strip()
    values = text.to_numpy(dtype=object, na_value=None)
    canonical: dict[Any, Any] = {}
    for value in _uniques_mask(values):
        if value is None or value == "":
            canonical[value] = None
            continue
        if value.lower() == "none":
            canonical[value] = ""
            continue
        codes = [c.strip() for c in value.split(";") if c.strip()]
        try:
            if allowed:
                bad = [c for c in codes if c.lower() not in allowed]
                if bad:
                    raise ValueError(bad[0])
                codes = [c.lower() for c in codes]
            else:
                codes = [Diagnosis(code=c).code for c in codes]
        except ValueError:  # a bad code; reported below with its row
            row = int(np.flatnonzero(values == value)[0])
            expected = (
                f"codes from: {', '.join(allowed)}" if allowed else "ICD-10 codes such as F43.1"
            )
            raise _bad(name, row, value, f"{expected}, separated by ';', or none") from None
        canonical[value] = ";".join(sorted(set(codes)))
    return np.array([canonical[v] for v in values.tolist()], dtype=object)


def _text_column(table: pd.DataFrame, name: str) -> npt.NDArray[Any]:
    if name not in table:
        return np.full(len(table), None, dtype=object)
    values = table[name].astype("string").str.strip().to_numpy(dtype=object, na_value=None)
    values[values == ""] = None
    return np.asarray(values, dtype=object)


def _taper_column(table: pd.DataFrame) -> npt.NDArray[np.float64]:
    if "taper_allowed" not in table:
        return np.full(len(table), np.nan)
    return _booleans(table["taper_allowed"], "taper_allowed")


def _screen_chunk(
    planner: Planner,
    kb: KnowledgeBase,
    columns: Mapping[str, npt.NDArray[Any]],
    meds: npt.NDArray[Any],
    taper: npt.NDArray[np.float64],
    participants: npt.NDArray[Any],
    planned: dt.date,
) -> pd.DataFrame:
    n = len(meds)
    protocol = planner.protocol
    status = evaluate(protocol.criteria, columns)  # (criteria, rows)
    verdict = np.full(n, _E, dtype=np.int8)
    if len(protocol.criteria):
        verdict = np.maximum(verdict, np.where((status == MISSING).any(axis=0), _N, _E))
        verdict = np.maximum(verdict, np.where((status == NOT_MET).any(axis=0), _I, _E))
    recorded = np.array([m is not None for m in meds.tolist()], dtype=bool)
    verdict = np.maximum(verdict, np.where(recorded, _E, _N))

    # explode "a; b; c" into (row, name) pairs, then resolve and plan each distinct name once
    series = pd.Series(meds, dtype="string")
    series = series.mask(series.str.lower().eq("none").fillna(False), "")
    exploded = series.str.split(";").explode()
    names = exploded.str.strip()
    keep = names.fillna("").ne("").to_numpy(dtype=bool)
    rows = exploded.index.to_numpy()[keep]
    name_codes, name_uniques = pd.factorize(names[keep].str.casefold(), sort=False)
    originals = names[keep].to_numpy(dtype=object)
    first_of = np.unique(name_codes, return_index=True)[1]
    n_names = len(name_uniques)
    unresolved = np.zeros(n_names, bool)
    must_stop = np.zeros(n_names, bool)
    washout = np.zeros(n_names)  # nan: cannot be dated
    severity = np.full(n_names, 99, np.int8)
    med_index = np.full(n_names, -1, np.int64)
    plans: list[Any] = []
    plan_of_med: dict[str, int] = {}
    for code in range(n_names):
        resolved = planner.resolve(str(originals[first_of[code]]))
        if isinstance(resolved, Unresolved):
            unresolved[code] = True
            continue
        plan = planner.plan(resolved)
        if resolved.id not in plan_of_med:
            plan_of_med[resolved.id] = len(plans)
            plans.append(plan)
        med_index[code] = plan_of_med[resolved.id]
        must_stop[code] = plan.must_stop
        washout[code] = np.nan if plan.washout_days is None else plan.washout_days
        if plan.rules:
            severity[code] = min(s.SEVERITY_ORDER[r.severity] for r in plan.rules)

    pair_unresolved = unresolved[name_codes]
    pair_stop = must_stop[name_codes]
    any_unresolved = np.bincount(rows[pair_unresolved], minlength=n) > 0
    any_stop = np.bincount(rows[pair_stop], minlength=n) > 0
    undatable = np.bincount(rows[pair_stop & np.isnan(washout[name_codes])], minlength=n) > 0
    longest = np.zeros(n)
    np.maximum.at(longest, rows[pair_stop], np.nan_to_num(washout[name_codes][pair_stop]))
    worst = np.full(n, 99, np.int8)
    np.minimum.at(worst, rows, severity[name_codes])

    verdict = np.maximum(verdict, np.where(any_unresolved, _N, _E))
    stop_verdict = np.where(taper == 1.0, _W, np.where(taper == 0.0, _I, _N))
    stop_verdict = np.where(undatable & (taper != 0.0), np.maximum(stop_verdict, _N), stop_verdict)
    verdict = np.maximum(verdict, np.where(any_stop, stop_verdict, _E))

    # co-medications still taken on the dosing day: one (row, medication) pair each
    continuing = ~pair_stop & (med_index[name_codes] >= 0)
    pairs = np.unique(np.stack([rows[continuing], med_index[name_codes][continuing]]), axis=1)
    combo_ids = np.full(n, "", dtype=object)
    excluded_by_combo = np.zeros(n, bool)
    for rule in kb.combinations_for(planner.substance):
        fired = _combination_rows(rule, plans, pairs, n)
        if fired.any():
            combo_ids[fired] = combo_ids[fired] + (rule.id + ";")
            if rule.management.action in (s.Action.EXCLUDE, s.Action.WASHOUT):
                excluded_by_combo |= fired
            sev = np.int8(s.SEVERITY_ORDER[rule.severity])
            worst = np.where(fired, np.minimum(worst, sev), worst)
    verdict = np.maximum(verdict, np.where(excluded_by_combo, _I, _E))

    not_met = _ids_where(status == NOT_MET, [c.id for c in protocol.criteria])
    missing = _ids_where(status == MISSING, [c.id for c in protocol.criteria])
    missing = np.where(recorded, missing, _join(missing, "medications-recorded"))
    severity_names = {rank: sev.value for sev, rank in s.SEVERITY_ORDER.items()}
    washout_days = np.where(any_stop & ~undatable, longest, np.nan)
    undated = np.isnan(washout_days)
    days_int = np.where(undated, 0, washout_days).astype(np.int64).astype("timedelta64[D]")
    last_by = np.datetime_as_string(np.datetime64(planned, "D") - days_int, unit="D").astype(object)
    last_by[undated] = ""
    return pd.DataFrame(
        {
            "participant": participants,
            "verdict": np.array([v.value for v in VERDICTS], dtype=object)[verdict],
            "not_met": not_met,
            "missing": missing,
            "unresolved": _names_per_row(rows[pair_unresolved], originals[pair_unresolved], n),
            "must_stop": _names_per_row(
                rows[pair_stop],
                np.array(
                    [plans[i].medication.generic for i in med_index[name_codes][pair_stop]],
                    dtype=object,
                ),
                n,
            ),
            "washout_days": pd.array(
                np.where(np.isnan(washout_days), np.nan, washout_days), dtype="Int64"
            ),
            "last_dose_by": last_by,
            "worst_severity": [severity_names.get(int(w), "") for w in worst.tolist()],
            "combinations": [c.rstrip(";") for c in combo_ids.tolist()],
        }
    )


def _combination_rows(
    rule: s.Combination, plans: list[Any], pairs: npt.NDArray[np.int64], n: int
) -> npt.NDArray[np.bool_]:
    """Rows where ``rule`` fires, from (row, medication) pairs of continuing medications."""
    if pairs.size == 0:
        return np.zeros(n, bool)
    rows, meds = pairs
    involved = np.zeros(len(plans), bool)
    ok = np.ones(n, bool)
    for needed in rule.requires:
        matches = np.array(
            [
                p.medication.id in needed.medications
                or bool(p.classes & set(needed.medication_classes))
                for p in plans
            ],
            dtype=bool,
        )
        involved |= matches
        ok &= np.bincount(rows[matches[meds]], minlength=n) >= needed.at_least
    ok &= np.bincount(rows[involved[meds]], minlength=n) >= 2
    return ok


def _ids_where(mask: npt.NDArray[np.bool_], ids: list[str]) -> npt.NDArray[Any]:
    """Per row, the ids whose mask is set, ``;``-joined (formatted once per distinct mask)."""
    n = mask.shape[1] if mask.ndim == 2 else 0
    if not ids:
        return np.full(n, "", dtype=object)
    weights = (1 << np.arange(len(ids), dtype=np.int64))[:, None]
    keys = (mask.astype(np.int64) * weights).sum(axis=0)
    uniques, inverse = np.unique(keys, return_inverse=True)
    text = np.array(
        [";".join(i for bit, i in enumerate(ids) if key >> bit & 1) for key in uniques.tolist()],
        dtype=object,
    )
    return text[inverse]


def _join(texts: npt.NDArray[Any], extra: str) -> npt.NDArray[Any]:
    return np.array([f"{t};{extra}" if t else extra for t in texts.tolist()], dtype=object)


def _names_per_row(rows: npt.NDArray[np.int64], names: npt.NDArray[Any], n: int) -> list[str]:
    out = [""] * n
    if len(rows) == 0:
        return out
    frame = pd.DataFrame({"row": rows, "name": names}).drop_duplicates()
    joined = frame.groupby("row", sort=False)["name"].agg(";".join)
    for row, text in zip(joined.index.tolist(), joined.tolist(), strict=True):
        out[row] = text
    return out


def row_to_profile(row: Mapping[str, Any], planned_dosing_date: dt.date) -> Profile:
    """A candidate-table row as a :class:`Profile` (for screening one candidate in full,
    and for the per-candidate baseline the batch path is measured against)."""

    def value(name: str) -> Any:
        v = row.get(name)
        if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA or v == "":
            return None
        return v

    def boolean(name: str) -> bool | None:
        v = value(name)
        if v is None:
            return None
        text = str(v).strip().lower()
        return True if text in _YES else False if text in _NO else None

    def codes(name: str) -> list[str] | None:
        v = value(name)
        if v is None:
            return None
        if str(v).strip().lower() == "none":
            return []
        return [c.strip() for c in str(v).split(";") if c.strip()]

    days = value("days_since_psychedelic_use")
    use: dict[str, Any] = {"disorder": value("substance_use_disorder")}
    if days is not None:
        if str(days).lower() == "never" or float(days) == math.inf:
            use["never_used_psychedelics"] = True
        else:
            use["last_psychedelic_use"] = planned_dosing_date - dt.timedelta(days=float(days))
    meds_text = value("medications")
    taper = boolean("taper_allowed")
    medications = None
    if meds_text is not None:
        medications = [
            {"name": name.strip(), "taper_allowed": taper}
            for name in ("" if str(meds_text).strip().lower() == "none" else str(meds_text)).split(
                ";"
            )
            if name.strip()
        ]
    cssrs_ideation = value("cssrs_ideation")
    data: dict[str, Any] = {
        "participant": None if value("participant") is None else str(value("participant")),
        "age_years": value("age_years"),
        "sex": value("sex"),
        "pregnant": boolean("pregnant"),
        "lactating": boolean("lactating"),
        "weight_kg": value("weight_kg"),
        "bmi": value("bmi"),
        "diagnoses": None
        if codes("diagnoses") is None
        else [{"code": c} for c in codes("diagnoses") or []],
        "personal_history": codes("personal_history"),
        "family_history": codes("family_history"),
        "vitals": {
            "systolic_bp_mmhg": value("systolic_bp_mmhg"),
            "diastolic_bp_mmhg": value("diastolic_bp_mmhg"),
            "heart_rate_bpm": value("heart_rate_bpm"),
        },
        "qtc_ms": value("qtc_ms"),
        "labs": {
            "alt_u_per_l": value("alt_x_uln"),
            "alt_uln_u_per_l": None if value("alt_x_uln") is None else 1.0,
            "ast_u_per_l": value("ast_x_uln"),
            "ast_uln_u_per_l": None if value("ast_x_uln") is None else 1.0,
            "egfr": value("egfr"),
        },
        "cssrs": {
            "ideation": None if cssrs_ideation is None else int(float(cssrs_ideation)),
            "behaviour_past_year": boolean("cssrs_behaviour_past_year"),
        },
        "substance_use": use,
        "medications": medications,
    }
    return Profile.model_validate(data, context={"cells_are_text": True})
