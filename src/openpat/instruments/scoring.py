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

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from threadpoolctl import threadpool_limits

from openpat.errors import FieldProblem, InvalidInput
from openpat.instruments.definition import (
    BoolArray,
    Definition,
    FloatArray,
    SubscaleDef,
)
from openpat.knowledge.schema import Classification, MissingRule

Int8Array = npt.NDArray[np.int8]
IntArray = npt.NDArray[np.int64]

SCORED = 0
TOO_MANY_MISSING = 1  # more missing than the manual allows
NO_MISSING_ALLOWED = 2  # the manual (or the absence of a rule) allows none
MAX_REPORTED_PROBLEMS = 20
BLOCK_ROWS = 32_768  # responses scored at a time (see score())


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


def validate(defn: Definition, answers: FloatArray, first_row: int = 1) -> npt.NDArray[np.intp]:
    """Refuse any answer outside its item's allowed values, naming row and item (every wrong
    answer is counted and the first few are listed). Returns the rows with a missing answer."""
    x = np.ascontiguousarray(answers, dtype=np.float64)
    failed, _, ok = _check(defn, x)
    suspect, _, nan = _flag_gaps(defn, x, defn.product[-1:] @ x.T)
    if failed != np.count_nonzero(nan):
        _refuse(defn, x, ok, first_row)
    return suspect[nan.any(axis=1)]


def _check(defn: Definition, x: FloatArray) -> tuple[int, Int8Array | None, BoolArray]:
    """The fast check of every answer: how many cells fail it, the answers as int8 codes for
    instruments whose answers are small whole numbers (meaningless where missing), and the
    cells that pass. A missing answer always fails it."""
    codes: Int8Array | None = None
    if defn.coded:
        with np.errstate(invalid="ignore"):
            codes = x.astype(np.int8)  # NaN, fractions and big values do not survive the trip
        ok = codes == x
        shifted = codes - defn.lo8 if defn.lo8.any() else codes
        ok &= shifted.view(np.uint8) <= defn.span8  # negative shifts wrap to large values
    else:
        ok = (x >= defn.lo) & (x <= defn.hi)
        whole = np.flatnonzero(defn.integer)
        if whole.size:
            ok[:, whole] &= x[:, whole] == np.floor(x[:, whole])
    for j, values in enumerate(defn.allowed):
        if values is not None:
            ok[:, j] &= np.isin(x[:, j], values)
    return ok.size - np.count_nonzero(ok), codes, ok


def _flag_gaps(
    defn: Definition, x: FloatArray, every: FloatArray
) -> tuple[npt.NDArray[np.intp], FloatArray, BoolArray]:
    """The rows whose sum of every answer (``every``, from the product) is not finite: those
    with a missing answer, and any with an infinite answer to an item without a scale. Returns
    them, their answers and where those are missing."""
    suspect = np.flatnonzero(~np.isfinite(every.reshape(-1)))
    block = np.take(x, suspect, axis=0)
    return suspect, block, np.isnan(block)


def _refuse(defn: Definition, x: FloatArray, ok: BoolArray, first_row: int) -> None:
    """Raise for the answers that fail the check and are not missing."""
    k = x.shape[1]
    cells = np.flatnonzero(~ok)
    bad = cells[~np.isnan(x.ravel()[cells])]
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


def score(
    defn: Definition, answers: npt.ArrayLike, *, first_row: int = 1, threads: int | None = None
) -> Scores:
    """Score N responses (rows) of one instrument; columns are the items in order.

    A large batch is scored in blocks of :data:`BLOCK_ROWS` responses, so that each block's
    answers stay in the processor's cache across the passes made over them, on ``threads``
    threads (default: one per available core, at most 4). One answer that is not allowed
    stops the batch, with every wrong answer from there on counted."""
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
    n = x.shape[0]
    if n <= BLOCK_ROWS:
        return _score_block(defn, np.ascontiguousarray(x), first_row)
    starts = range(0, n, BLOCK_ROWS)

    def one(start: int) -> Scores:
        block = np.ascontiguousarray(x[start : start + BLOCK_ROWS])
        return _score_block(defn, block, first_row + start)

    # blocks in parallel threads (NumPy releases the interpreter lock for array work), each
    # with one BLAS thread, since BLAS's own threads would compete with them; the results
    # are copied into place while later blocks are scored
    result: Scores | None = None
    with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(threads or _workers()) as pool:
        futures = [pool.submit(one, start) for start in starts]
        for start, future in zip(starts, futures, strict=True):
            try:
                part = future.result()
            except InvalidInput:
                for later in futures:
                    later.cancel()
                # name the wrong answers of the whole remainder, not only of this block
                validate(defn, x[start:], first_row + start)
                raise
            if result is None:
                result = _allocate(defn, part, n)
            _place(result, part, start)
    assert result is not None
    return result


def _workers() -> int:
    """Threads for a large batch: one per available core (NumPy and BLAS release the
    interpreter lock for the array work)."""
    return max(
        1,
        min(
            4,
            len(os.sched_getaffinity(0))
            if hasattr(os, "sched_getaffinity")
            else os.cpu_count() or 1,
        ),
    )


def _allocate(defn: Definition, like: Scores, n: int) -> Scores:
    """Empty results for ``n`` responses shaped like one block's."""

    def empty(a: npt.NDArray[Any]) -> npt.NDArray[Any]:
        return np.empty(n, dtype=a.dtype)

    return Scores(
        definition=defn,
        total=None if like.total is None else empty(like.total),
        subscales={k: empty(v) for k, v in like.subscales.items()},
        band=empty(like.band),
        scored=empty(like.scored),
        prorated=empty(like.prorated),
        missing=empty(like.missing),
        reason=empty(like.reason),
        classifications={k: empty(v) for k, v in like.classifications.items()},
        alerts={k: empty(v) for k, v in like.alerts.items()},
    )


def _place(result: Scores, part: Scores, start: int) -> None:
    """Copy one block's results into ``result`` from row ``start``."""
    end = start + len(part)
    pairs: list[tuple[npt.NDArray[Any], npt.NDArray[Any]]] = [
        (result.band, part.band),
        (result.scored, part.scored),
        (result.prorated, part.prorated),
        (result.missing, part.missing),
        (result.reason, part.reason),
    ]
    if result.total is not None and part.total is not None:
        pairs.append((result.total, part.total))
    for group, other in (
        (result.subscales, part.subscales),
        (result.classifications, part.classifications),
        (result.alerts, part.alerts),
    ):
        pairs += [(group[k], other[k]) for k in group]
    for target, source in pairs:
        target[start:end] = source


def _score_block(defn: Definition, x: FloatArray, first_row: int) -> Scores:
    n = x.shape[0]
    m = len(defn.linear)
    failed, codes, ok = _check(defn, x)
    if defn.ask_if:
        codes = None  # the codes of items not asked are replaced below
    if codes is not None:
        # the rows with a missing answer are among those with a cell that failed the check;
        # the codes of missing answers become 0 so that they add nothing
        k = x.shape[1]
        failing = np.flatnonzero(~ok) if failed else np.empty(0, dtype=np.intp)
        rows = failing // k
        suspect = rows[np.r_[True, rows[1:] != rows[:-1]]] if rows.size else rows
        block = np.take(x, suspect, axis=0)
        nan = np.isnan(block)
        if failed != np.count_nonzero(nan):
            _refuse(defn, x, ok, first_row)
        codes.reshape(-1)[failing] = 0
        # every linear output in one product of float32 copies of the codes: exact, since
        # the sums stay far below 2**24, and a quarter of the data of the answers
        linear = (defn.product32[:m] @ codes.astype(np.float32).T).astype(np.float64)
    else:
        product = defn.product @ x.T
        suspect, block, nan = _flag_gaps(defn, x, product[-1])
        if failed != np.count_nonzero(nan):
            _refuse(defn, x, ok, first_row)
        if defn.ask_if:
            # items not asked count as the lowest answer: score what was asked
            x = _apply_skip_logic(defn, x, first_row)
            product = defn.product @ x.T
            suspect, block, nan = _flag_gaps(defn, x, product[-1])
        linear = product[:m]
        # NaN times a zero weight is NaN in a product: redo the rows with a gap without
        # their missing answers
        if suspect.size and m:
            linear[:, suspect] = (np.where(np.isfinite(block), block, 0.0) @ defn.product[:m].T).T
    # missing answers per linear output and over the scored items, for the rows with a gap;
    # an output that uses a missing answer is missing
    gap_counts = nan.astype(np.float32) @ defn.abs32.T
    keep = gap_counts[:, m] > 0
    incomplete = suspect[keep]
    if not keep.all():
        block, gap_counts = block[keep], gap_counts[keep]
    if defn.offsets.any():
        linear += defn.offsets[:, None]
    missing = np.zeros(n, dtype=np.int16)
    missing[incomplete] = gap_counts[:, m]
    for j in range(m if incomplete.size else 0):
        linear[j, incomplete[gap_counts[:, j] > 0]] = np.nan
    pick = _columns(defn.scored)
    partial = defn.scored.size < len(defn.keys)
    xs = x[:, pick] if partial else x
    codes_s = None if codes is None else (codes[:, pick] if partial else codes)
    gaps = block[:, pick] if partial else block
    return _finish(defn, xs, linear, missing, incomplete, gaps, codes_s)


def _finish(
    defn: Definition,
    xs: FloatArray,
    linear: FloatArray,
    missing: npt.NDArray[np.int16],
    incomplete: npt.NDArray[np.intp],
    gaps: FloatArray,
    codes_s: Int8Array | None,
) -> Scores:
    """Everything after the linear sums: prorating, other subscales, total, bands,
    classifications."""
    n = xs.shape[0]
    rule = defn.scoring.missing
    outputs: dict[str, FloatArray] = {}
    counts = np.abs(defn.weights).sum(axis=0)
    for k, name in enumerate(defn.linear):
        column = linear[k]
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
    why = TOO_MANY_MISSING if rule is not None and rule.kind == "prorate" else NO_MISSING_ALLOWED
    reason = (~scored).view(np.int8) * np.int8(why)
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


def _apply_skip_logic(defn: Definition, x: FloatArray, first_row: int = 1) -> FloatArray:
    """Items not asked (their gate item below its level) count as the lowest answer.

    An answer above the lowest to an item that was not asked contradicts its gate (item 2
    of the C-SSRS "no", item 4 "yes"): it is refused, naming row and items, rather than
    scored as if it had not been given. A missing gate is unknown, so the item is kept as
    answered."""
    not_asked = np.stack([x[:, gate] < at_least for _item, gate, at_least in defn.ask_if], 1)
    items = np.array([item for item, _gate, _at in defn.ask_if], dtype=np.intp)
    contradicted = not_asked & (x[:, items] > defn.lo[items])
    if contradicted.any():
        _refuse_contradicted(defn, x, contradicted, items, first_row)
    x = x.copy()
    for column, item in enumerate(items):
        x[not_asked[:, column], item] = defn.lo[item]
    return x


def _refuse_contradicted(
    defn: Definition,
    x: FloatArray,
    contradicted: BoolArray,
    items: npt.NDArray[np.intp],
    first_row: int,
) -> None:
    gates = {item: (gate, at_least) for item, gate, at_least in defn.ask_if}
    rows, columns = np.nonzero(contradicted)
    problems = []
    for r, c in zip(rows[:MAX_REPORTED_PROBLEMS], columns[:MAX_REPORTED_PROBLEMS], strict=True):
        item = int(items[c])
        gate, at_least = gates[item]
        problems.append(
            FieldProblem(
                f"row {first_row + int(r)}, {defn.keys[item]}",
                f"answered {x[r, item]:g}, but this item is asked only when "
                f"{defn.keys[gate]} is at least {at_least:g} (it is {x[r, gate]:g}); "
                "correct the gate item or clear this answer",
            )
        )
    total = int(contradicted.sum())
    raise InvalidInput(
        f"{total} answer(s) to {defn.abbreviation} items that the skip logic does not ask"
        + (f" (first {len(problems)} listed)" if total > len(problems) else ""),
        fields=problems,
    )


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
    for c in defn.scoring.classifications:
        if c.kind == "cluster-count":
            value = _cluster_count(defn, c, xs, codes, incomplete, partial_rows)
        elif c.kind == "subscales-percent":
            assert c.percent is not None
            met = np.ones(xs.shape[0], dtype=bool)
            failed = np.zeros(xs.shape[0], dtype=bool)
            for sub in defn.subscales:
                assert sub.max is not None
                # share of the maximum >= percent, compared as sum * 100 >= percent * maximum:
                # exact for whole-number sums, where dividing first could round
                hundredfold = subscales[sub.key] * 100.0
                met &= hundredfold >= c.percent * sub.max
                failed |= hundredfold < c.percent * sub.max
            value = np.where(met, 1, np.where(failed, 0, -1))
        else:  # any-item
            assert c.item_threshold is not None
            scored_index = {int(j): col for col, j in enumerate(defn.scored)}
            number_to_col = {
                item.number: scored_index.get(i) for i, item in enumerate(defn.instrument.items)
            }
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
    change the outcome. Every cluster is counted in one product (see
    :class:`~openpat.instruments.definition.ClusterPack`); complete rows are counted on the
    int8 codes, and the rows with gaps once more for their endorsed and missing answers."""
    assert c.item_threshold is not None
    pack = defn.packs[c.key]
    packing = pack.packing
    as_float = packing.dtype

    def all_met(packed: npt.NDArray[np.floating[Any]]) -> BoolArray:
        met: BoolArray = ((packed + pack.bias).astype(np.int64) & pack.guard) == pack.guard
        return met

    flipped = any(defn.reverse[cols].any() for cols in pack.clusters)
    if codes is not None and not flipped:
        endorsed = (codes >= c.item_threshold).view(np.int8).astype(as_float)
        value = all_met(endorsed @ packing).view(np.int8)
        rows, block = incomplete, sub
    else:
        value = np.zeros(xs.shape[0], dtype=np.int8)
        rows = np.arange(xs.shape[0])
        block = _effective(defn, xs, np.arange(xs.shape[1])) if flipped else xs
    if rows.size:
        hits = (block >= c.item_threshold).astype(as_float) @ packing
        unknown = np.isnan(block).astype(as_float) @ packing
        value[rows] = np.where(all_met(hits), 1, np.where(all_met(hits + unknown), -1, 0))
    return value
