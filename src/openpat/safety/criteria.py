"""Protocol criteria evaluated over columns of profile fields, one row per candidate.

One implementation serves a single participant (columns of length one) and a registry
export of a hundred thousand candidates: numbers are compared as NumPy arrays, and text
fields (categories, ordinals, code sets) are evaluated once per distinct value and spread
back, since a column of many rows holds few distinct values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from openpat.knowledge.schema import PROFILE_FIELDS, Criterion, FieldKind, FieldTest

MET, NOT_MET, MISSING = np.int8(0), np.int8(1), np.int8(2)
STATUS_NAMES = ("met", "not-met", "missing")

Status = npt.NDArray[np.int8]


def column(values: Sequence[Any], field: str) -> npt.NDArray[Any]:
    """A column of ``field`` from Python values (``None`` unknown), in the representation
    :func:`evaluate` expects: float (``nan`` unknown) for numbers and booleans, object
    arrays of text or ``None`` otherwise."""
    kind = PROFILE_FIELDS[field].kind
    if kind in (FieldKind.NUMBER, FieldKind.BOOLEAN):
        return np.array([np.nan if v is None else float(v) for v in values], dtype=float)
    return np.array([None if v is None else str(v) for v in values], dtype=object)


def evaluate_test(test: FieldTest, columns: Mapping[str, npt.NDArray[Any]]) -> Status:
    """Status of one test for every row: met, not met, or missing (value unknown)."""
    spec = PROFILE_FIELDS[test.field]
    values = columns[test.field]
    op, operand = test.op, test.operand
    if spec.kind in (FieldKind.NUMBER, FieldKind.BOOLEAN):
        arr = np.asarray(values, dtype=float)
        missing = np.isnan(arr)
        with np.errstate(invalid="ignore"):
            ok = arr == float(operand) if op == "equals" else _compare(arr, op, float(operand))
        return np.where(missing, MISSING, np.where(ok, MET, NOT_MET)).astype(np.int8)
    # text fields: evaluate each distinct value once
    uniques, inverse = _factorize(values)
    per_unique = np.array(
        [_text_status(spec.kind, spec.values, op, operand, u) for u in uniques], dtype=np.int8
    )
    return per_unique[inverse] if len(uniques) else np.full(len(values), MISSING, np.int8)


def evaluate_criterion(criterion: Criterion, columns: Mapping[str, npt.NDArray[Any]]) -> Status:
    """Status of a criterion for every row. A criterion fails if any test fails; it is
    missing if no test fails but one is unknown; it is met where ``applies_when`` does not
    hold (it does not apply); where that condition is unknown, a failed test makes the
    criterion missing rather than not met."""
    statuses = np.stack([evaluate_test(t, columns) for t in criterion.tests])
    result = np.where(
        (statuses == NOT_MET).any(axis=0),
        NOT_MET,
        np.where((statuses == MISSING).any(axis=0), MISSING, MET),
    ).astype(np.int8)
    if criterion.applies_when is not None:
        # where the condition does not hold the criterion does not apply (met); where the
        # condition is unknown, passing tests still pass and anything else is unknown
        gate = evaluate_test(criterion.applies_when, columns)
        result = np.where(
            gate == NOT_MET, MET, np.where((gate == MISSING) & (result != MET), MISSING, result)
        )
    return result.astype(np.int8)


def evaluate(criteria: Sequence[Criterion], columns: Mapping[str, npt.NDArray[Any]]) -> Status:
    """Status matrix: one row per criterion, one column per candidate."""
    if not criteria:
        n = len(next(iter(columns.values()))) if columns else 0
        return np.zeros((0, n), dtype=np.int8)
    return np.stack([evaluate_criterion(c, columns) for c in criteria])


def _compare(arr: npt.NDArray[np.float64], op: str, bound: float) -> npt.NDArray[np.bool_]:
    if op == "at_least":
        return arr >= bound
    if op == "at_most":
        return arr <= bound
    if op == "below":
        return arr < bound
    if op == "above":
        return arr > bound
    raise AssertionError(op)


def _factorize(values: npt.NDArray[Any]) -> tuple[list[Any], npt.NDArray[np.intp]]:
    lookup: dict[Any, int] = {}
    inverse = np.fromiter(
        (lookup.setdefault(v, len(lookup)) for v in values.tolist()),
        dtype=np.intp,
        count=len(values),
    )
    return list(lookup), inverse


def _text_status(
    kind: FieldKind, levels: tuple[str, ...], op: str, operand: Any, value: Any
) -> np.int8:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return MISSING
    text = str(value)
    if kind is FieldKind.ORDINAL:
        if text not in levels:
            return MISSING
        ok = bool(
            _compare(np.array([levels.index(text)], float), op, levels.index(str(operand)))[0]
        )
    elif kind is FieldKind.CATEGORY:
        ok = text == operand if op == "equals" else text in operand
    else:
        codes = [c for c in text.split(";") if c]
        if levels:  # a fixed vocabulary (psychiatric history): exact terms only
            hit = any(code in operand for code in codes)
        else:  # ICD-10: a code matches itself and the codes under it (F31 matches F31.4)
            hit = any(code.startswith(wanted) for code in codes for wanted in operand)
        ok = not hit if op == "none_of" else hit
    return MET if ok else NOT_MET


def describe_test(test: FieldTest) -> str:
    """The test in words: ``systolic blood pressure below 140 mmHg``."""
    spec = PROFILE_FIELDS[test.field]
    unit = f" {spec.unit}" if spec.unit and spec.kind is FieldKind.NUMBER else ""
    words = {
        "at_least": "at least",
        "at_most": "at most",
        "below": "below",
        "above": "above",
        "equals": "is",
        "one_of": "is one of",
        "none_of": "includes none of",
        "any_of": "includes one of",
    }[test.op]
    operand = test.operand
    if isinstance(operand, bool):
        shown = "yes" if operand else "no"
    elif isinstance(operand, list):
        shown = ", ".join(operand)
    elif isinstance(operand, float) and operand.is_integer():
        shown = f"{operand:.0f}"
    else:
        shown = str(operand)
    return f"{spec.label.split(',')[0].lower()} {words} {shown}{unit}"


def describe_value(field: str, value: Any) -> str:
    """A profile value as shown in a report (``unknown`` when missing)."""
    spec = PROFILE_FIELDS[field]
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "unknown"
    if spec.kind is FieldKind.BOOLEAN:
        return "yes" if bool(value) else "no"
    if spec.kind is FieldKind.NUMBER:
        number = float(value)
        if np.isinf(number):
            return "never"
        shown = f"{number:.0f}" if number.is_integer() else f"{number:.2f}".rstrip("0")
        return f"{shown} {spec.unit}".strip()
    if spec.kind is FieldKind.CODES:
        return str(value).replace(";", ", ") or "none"
    return str(value)
