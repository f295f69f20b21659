"""Vectorised scoring: N responses × items in, totals, subscales, bands and classifications out.

Answers are a float array with NaN for a missing answer. Every answer is checked against
its item's allowed values first; one that is not allowed stops the whole batch with the row
and item named (nothing is scored from a file with a wrong value in it). Then:

- the total and every sum or mean subscale come from one matrix product with the
  definition's weight matrix (reverse-scored items have weight -1 and an offset of
  lowest + highest answer, so no copy of the answers is made). A missing answer makes
  exactly the outputs that use it NaN, so only those rows take the slow path below;
- rows with missing answers are scored as the instrument's manual allows
  (:class:`~openpat.knowledge.schema.MissingRule`): prorated from the answered items when the
  manual says so and few enough are missing, otherwise not scored, with the reason. Without
  a cited rule nothing is prorated;
- bands, the instrument's classifications (PCL-5 DSM-5 provisional diagnosis, MEQ-30
  complete mystical experience, C-SSRS answers that need action) and safety alerts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from openpat.errors import FieldProblem, InvalidInput
from openpat.instruments.definition import BoolArray, Definition, FloatArray, SubscaleDef
from openpat.knowledge.schema import Classification, MissingRule

Int8Array = npt.NDArray[np.int8]
IntArray = npt.NDArray[np.int64]

SCORED = 0
TOO_MANY_MISSING = 1  # more missing than the manual allows
NO_MISSING_ALLOWED = 2  # the manual (or the absence of a rule) allows none
MAX_REPORTED_PROBLEMS = 20


@dataclass(frozen=True, slots=True)
class Scores:
    """Scores of N responses. ``total`` and each subscale are NaN where not scored;
    classifications are 1 (met), 0 (not met) or -1 (unknown because of missing answers)."""

    definition: Definition
    total: FloatArray | None
    subscales: dict[str, FloatArray]
    band: npt.NDArray[np.int16]  # index into the instrument's bands, -1 for none
    scored: BoolArray
    prorated: BoolArray
    missing: npt.NDArray[np.int16]  # missing scored answers per response
    reason: Int8Array
    classifications: dict[str, Int8Array] = field(default_factory=dict)
    alerts: dict[str, BoolArray] = field(default_factory=dict)  # level -> rows

    def __len__(self) -> int:
        return int(self.scored.size)

    def band_label(self, i: int) -> str | None:
        b = int(self.band[i])
        return self.definition.scoring.bands[b].label if b >= 0 else None

    def reason_text(self, i: int) -> str | None:
        code = int(self.reason[i])
        if code == SCORED:
            return None
        n = int(self.missing[i])
        rule = self.definition.scoring.missing
        items = "item is" if n == 1 else "items are"
        if code == TOO_MANY_MISSING and rule is not None:
            return (
                f"{n} {items} missing; {self.definition.abbreviation} allows prorating with at "
                f"most {rule.max_missing} missing"
            )
        if rule is not None and rule.kind == "none":
            return (
                f"{n} {items} missing; {self.definition.abbreviation} is scored only when complete"
            )
        return (
            f"{n} {items} missing; no prorating rule for {self.definition.abbreviation} is "
            "recorded, so it is scored only when complete"
        )

    def row(self, i: int) -> dict[str, object]:
        """One response's results as plain values."""
        out: dict[str, object] = {}
        if self.total is not None:
            out["total"] = _plain(self.total[i])
        for key, values in self.subscales.items():
            out[key] = _plain(values[i])
        out["band"] = self.band_label(i)
        out["scored"] = bool(self.scored[i])
        out["prorated"] = bool(self.prorated[i])
        out["missing_items"] = int(self.missing[i])
        out["reason"] = self.reason_text(i)
        for key, flags in self.classifications.items():
            out[key] = None if flags[i] < 0 else bool(flags[i])
        levels = [level for level, rows in self.alerts.items() if rows[i]]
        out["alert"] = _highest(levels)
        return out


def _plain(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def _highest(levels: list[str]) -> str | None:
    order = ("low", "moderate", "high")
    return max(levels, key=order.index) if levels else None


def validate(
    defn: Definition, answers: FloatArray, first_row: int = 1
) -> tuple[npt.NDArray[np.intp], Int8Array | None]:
    """Refuse any answer outside its item's allowed values, naming row and item.

    Returns the rows with at least one missing answer, and for instruments whose answers are
    small whole numbers the answers as int8 codes (meaningless where missing). Only the cells
    that fail the fast check are looked at again, so a clean batch costs a few passes."""
    x = answers
    codes: Int8Array | None = None
    if defn.coded:
        with np.errstate(invalid="ignore"):
            codes = x.astype(np.int8)  # NaN, fractions and big values do not survive the trip
        ok = codes == x
        shifted = codes - defn.lo8 if defn.lo.any() else codes
        ok &= shifted.view(np.uint8) <= defn.span8  # negative shifts wrap to large values
    else:
        ok = (x >= defn.lo) & (x <= defn.hi)
        whole = np.flatnonzero(defn.integer)
        if whole.size:
            ok[:, whole] &= x[:, whole] == np.floor(x[:, whole])
    for j, values in enumerate(defn.allowed):
        if values is not None:
            ok[:, j] &= np.isin(x[:, j], values)
    if ok.all():
        return np.empty(0, dtype=np.intp), codes
    k = x.shape[1]
    cells = np.flatnonzero(~ok)
    nan = np.isnan(x.ravel()[cells])
    bad = cells[~nan]
    if bad.size:
        rows, cols = bad // k, bad % k
        problems = [
            FieldProblem(
                f"row {first_row + int(r)}, {defn.keys[int(c)]}",
                f"{x[r, c]:g} is not an allowed answer; use {defn.allowed_text(int(c))}"
                " (leave the cell empty if unanswered)",
            )
            for r, c in zip(rows[:MAX_REPORTED_PROBLEMS], cols[:MAX_REPORTED_PROBLEMS], strict=True)
        ]
        more = bad.size - len(problems)
        message = f"{bad.size} answer(s) are not allowed for {defn.abbreviation}" + (
            f" (first {len(problems)} listed)" if more > 0 else ""
        )
        raise InvalidInput(message, fields=problems)
    rows = cells // k  # sorted, since the cells are
    return rows[np.r_[True, rows[1:] != rows[:-1]]], codes


def score(defn: Definition, answers: npt.ArrayLike, *, first_row: int = 1) -> Scores:
    """Score N responses (rows) of one instrument; columns are the items in order."""
    x = np.asarray(answers, dtype=np.float64)
    if x.ndim == 1:
        x = x[None, :]
    n_items = len(defn.keys)
    if x.ndim != 2 or x.shape[1] != n_items:
        raise InvalidInput.for_field(
            "answers",
            f"{defn.abbreviation} has {n_items} items ({', '.join(defn.keys)}); "
            f"got an array of shape {x.shape}",
        )
    x = np.ascontiguousarray(x)
    incomplete, codes = validate(defn, x, first_row)
    if defn.ask_if:
        x = _apply_skip_logic(defn, x)
        incomplete = incomplete[np.isnan(x[incomplete]).any(axis=1)]
    n = x.shape[0]
    partial = defn.scored.size < n_items
    pick = _columns(defn.scored)
    xs = x[:, pick] if partial else x
    codes_s = None if codes is None else (codes[:, pick] if partial else codes)
    if partial and incomplete.size:  # only missing scored answers count
        incomplete = incomplete[np.isnan(xs[incomplete]).any(axis=1)]

    # linear outputs (total, sum and mean subscales) in one product
    linear = xs @ defn.weights + defn.offsets if defn.linear else np.empty((n, 0))
    missing = np.zeros(n, dtype=np.int16)
    gaps = xs[incomplete]  # the responses with missing answers, copied once
    if incomplete.size:
        gap = np.isnan(gaps)
        missing[incomplete] = gap.sum(axis=1)
        if defn.linear:
            # NaN times a zero weight is NaN in a product: redo these rows so that only the
            # outputs that use a missing answer are missing
            redone = np.where(gap, 0.0, gaps) @ defn.weights + defn.offsets
            redone[(gap.astype(np.float64) @ np.abs(defn.weights)) > 0] = np.nan
            linear[incomplete] = redone
    return _finish(defn, x, linear, missing, incomplete, codes_s)


def _finish(
    defn: Definition,
    x: FloatArray,
    linear: FloatArray,
    missing: npt.NDArray[np.int16],
    incomplete: npt.NDArray[np.intp],
    codes_s: Int8Array | None,
) -> Scores:
    """Everything after the linear sums: prorating, other subscales, total, bands,
    classifications."""
    n = x.shape[0]
    partial = defn.scored.size < len(defn.keys)
    xs = x[:, _columns(defn.scored)] if partial else x
    gaps = xs[incomplete]
    rule = defn.scoring.missing
    outputs: dict[str, FloatArray] = {}
    counts = np.abs(defn.weights).sum(axis=0)
    for k, name in enumerate(defn.linear):
        column = linear[:, k]
        if _is_mean(defn, name):
            column = column / counts[k]
        outputs[name] = column
    prorated = np.zeros(n, dtype=bool)
    if incomplete.size:
        _score_incomplete(defn, gaps, incomplete, outputs, prorated, rule)

    # max and highest-endorsed subscales (QIDS domains, C-SSRS ideation level)
    for sub in defn.subscales:
        if sub.method == "max":
            outputs[sub.key] = _effective(defn, xs, sub.columns).max(axis=1)
        elif sub.method == "highest-endorsed":
            outputs[sub.key] = _highest_endorsed(defn, xs, sub.columns)

    total: FloatArray | None
    if defn.method in ("sum", "mean"):
        total = outputs.pop("total")
    elif defn.method == "sum-times-4":
        total = outputs.pop("total") * 4.0
    elif defn.method == "sum-of-domain-max":
        total = np.sum([outputs[sub.key] for sub in defn.subscales], axis=0)
    else:
        total = None
    if total is not None and rule is not None and rule.round:
        total = np.floor(total + 0.5)
    subscales = {sub.key: outputs[sub.key] for sub in defn.subscales}

    scored = ~np.isnan(total) if total is not None else missing == 0
    reason = np.zeros(n, dtype=np.int8)
    if rule is not None and rule.kind == "prorate":
        reason[~scored] = TOO_MANY_MISSING
    else:
        reason[~scored] = NO_MISSING_ALLOWED
    band = _bands(defn, total, n)
    classifications, alerts = _classify(defn, xs, codes_s, incomplete, gaps, subscales)
    return Scores(
        definition=defn,
        total=total,
        subscales=subscales,
        band=band,
        scored=scored,
        prorated=prorated,
        missing=missing,
        reason=reason,
        classifications=classifications,
        alerts=alerts,
    )


def _columns(index: npt.NDArray[np.intp]) -> slice | npt.NDArray[np.intp]:
    """A slice (a view, no copy) when the columns are consecutive."""
    if index.size and np.array_equal(index, np.arange(index[0], index[0] + index.size)):
        return slice(int(index[0]), int(index[0]) + index.size)
    return index


def _subscale(defn: Definition, key: str) -> SubscaleDef:
    return next(sub for sub in defn.subscales if sub.key == key)


def _is_mean(defn: Definition, output: str) -> bool:
    if output == "total":
        return defn.method == "mean"
    return _subscale(defn, output).method == "mean"


def _apply_skip_logic(defn: Definition, x: FloatArray) -> FloatArray:
    """Items not asked (their gate item below its level) count as the lowest answer."""
    x = x.copy()
    for item, gate, at_least in defn.ask_if:
        # not asked (an answer left from before the gate changed does not count); a NaN
        # gate is unknown, so the item stays as answered
        not_asked = x[:, gate] < at_least
        x[not_asked, item] = defn.lo[item]
    return x


def _effective(defn: Definition, xs: FloatArray, columns: npt.NDArray[np.intp]) -> FloatArray:
    """Answers of ``columns`` after reverse scoring."""
    block = xs[:, columns]
    rev = defn.reverse[columns]
    if rev.any():
        lo = defn.lo[defn.scored][columns]
        hi = defn.hi[defn.scored][columns]
        block = np.where(rev, lo + hi - block, block)
    return block


def _highest_endorsed(
    defn: Definition, xs: FloatArray, columns: npt.NDArray[np.intp]
) -> FloatArray:
    block = _effective(defn, xs, columns)
    lo = defn.lo[defn.scored][columns]
    endorsed = block > lo
    last = columns.size - np.argmax(endorsed[:, ::-1], axis=1)
    level = np.where(endorsed.any(axis=1), last, 0).astype(float)
    # unknown when a missing item could be above the highest endorsed one
    missing = np.isnan(block)
    if missing.any():
        positions = np.arange(1, columns.size + 1)
        later_missing = (missing & (positions > level[:, None])).any(axis=1)
        level[later_missing] = np.nan
    return level


def _score_incomplete(
    defn: Definition,
    sub: FloatArray,
    rows: npt.NDArray[np.intp],
    outputs: dict[str, FloatArray],
    prorated: BoolArray,
    rule: object,
) -> None:
    """Rows with missing answers: prorate where the manual allows, else leave NaN."""
    if not isinstance(rule, MissingRule) or rule.kind != "prorate" or not defn.linear:
        return
    block = sub
    answered = ~np.isnan(block)
    filled = np.where(answered, block, 0.0)
    w = np.abs(defn.weights)
    # sums of the answered items (reverse-scored where needed), and counts
    sums = filled @ defn.weights + answered.astype(float) @ (
        w * np.where(defn.reverse, (defn.lo + defn.hi)[defn.scored], 0.0)[:, None]
    )
    n_answered = answered.astype(float) @ w
    n_items = w.sum(axis=0)
    n_missing = n_items - n_answered
    for k, name in enumerate(defn.linear):
        limit = rule.max_missing if name == "total" else rule.subscale_max_missing
        if limit is None:
            continue
        ok = (n_missing[:, k] > 0) & (n_missing[:, k] <= limit) & (n_answered[:, k] > 0)
        mean = sums[ok, k] / n_answered[ok, k]
        value = mean if _is_mean(defn, name) else mean * n_items[k]
        if rule.round and name != "total":
            value = np.floor(value + 0.5)
        outputs[name][rows[ok]] = value
        if name == "total":
            prorated[rows[ok]] = True


def _bands(defn: Definition, total: FloatArray | None, n: int) -> npt.NDArray[np.int16]:
    """Band index by lower bounds: a prorated 4.5 between 0-4 and 5-9 is in the lower band."""
    bands = defn.scoring.bands
    if total is None or not bands:
        return np.full(n, -1, dtype=np.int16)
    order = sorted(range(len(bands)), key=lambda b: bands[b].low)
    position = np.full(n, -1, dtype=np.int16)
    for b in order:  # a handful of bands: one comparison over N each
        position += total >= bands[b].low
    top = max(b.high for b in bands)
    position[~(total <= top)] = -1  # NaN and above the scale
    lookup = np.array([*order, -1], dtype=np.int16)
    return lookup[position]


def _classify(
    defn: Definition,
    xs: FloatArray,
    codes: Int8Array | None,
    incomplete: npt.NDArray[np.intp],
    partial_rows: FloatArray,
    subscales: dict[str, FloatArray],
) -> tuple[dict[str, Int8Array], dict[str, BoolArray]]:
    results: dict[str, Int8Array] = {}
    alerts: dict[str, BoolArray] = {}
    scored_index = {int(j): col for col, j in enumerate(defn.scored)}
    number_to_col = {
        item.number: scored_index.get(i) for i, item in enumerate(defn.instrument.items)
    }
    for c in defn.scoring.classifications:
        if c.kind == "cluster-count":
            value = _cluster_count(defn, c, xs, codes, incomplete, partial_rows)
        elif c.kind == "subscales-percent":
            assert c.percent is not None
            met = np.ones(xs.shape[0], dtype=bool)
            failed = np.zeros(xs.shape[0], dtype=bool)
            for sub in defn.subscales:
                assert sub.max is not None
                share = subscales[sub.key] / sub.max * 100.0
                met &= share >= c.percent
                failed |= share < c.percent
            value = np.where(met, 1, np.where(failed, 0, -1))
        else:  # any-item
            assert c.item_threshold is not None
            cols = np.array([number_to_col[n] for n in c.items], dtype=np.intp)
            block = _effective(defn, xs, cols)
            hit = (block >= c.item_threshold).any(axis=1)
            unknown = np.isnan(block).any(axis=1)
            value = np.where(hit, 1, np.where(unknown, -1, 0))
        results[c.key] = value.astype(np.int8)
        if c.alert is not None:
            flagged = results[c.key] == 1
            alerts[c.alert] = alerts[c.alert] | flagged if c.alert in alerts else flagged
    return results, alerts


def _cluster_count(
    defn: Definition,
    c: Classification,
    xs: FloatArray,
    codes: Int8Array | None,
    incomplete: npt.NDArray[np.intp],
    sub: FloatArray,
) -> npt.NDArray[np.int8]:
    """Endorsed items per cluster against the minimum; unknown where missing answers could
    change the outcome. Complete rows are counted on the int8 codes with one product."""
    assert c.item_threshold is not None
    clusters = [_subscale(defn, key).columns for key in c.minimum]
    need = list(c.minimum.values())
    value = np.zeros(xs.shape[0], dtype=np.int8)
    plain = codes is not None and not any(defn.reverse[cols].any() for cols in clusters)
    if plain:
        assert codes is not None
        membership = np.zeros((codes.shape[1], len(clusters)), dtype=np.float32, order="F")
        for k, cols in enumerate(clusters):
            membership[cols, k] = 1.0
        endorsed = (codes >= c.item_threshold).view(np.int8).astype(np.float32) @ membership
        met = endorsed[:, 0] >= need[0]
        for k in range(1, len(clusters)):
            met &= endorsed[:, k] >= need[k]
        value[met] = 1
        rows, block_rows = incomplete, sub
    else:
        rows, block_rows = np.arange(xs.shape[0]), xs
    if rows.size:
        # endorsed and unknown counts per cluster for the rows with gaps, in two products
        n_cols = block_rows.shape[1]
        member = np.zeros((n_cols, len(clusters)))
        for k, cols in enumerate(clusters):
            member[cols, k] = 1.0
        flipped = defn.reverse.any()
        block = _effective(defn, block_rows, np.arange(n_cols)) if flipped else block_rows
        hits = (block >= c.item_threshold).astype(np.float64) @ member
        unknown = np.isnan(block).astype(np.float64) @ member
        wanted = np.array(need, dtype=np.float64)
        met_rows = (hits >= wanted).all(axis=1)
        could = (hits + unknown >= wanted).all(axis=1)
        value[rows] = np.where(met_rows, 1, np.where(could, -1, 0))
    return value
