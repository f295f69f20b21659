"""Instrument definitions from the knowledge base, compiled for vectorised scoring.

A :class:`Definition` holds, as NumPy arrays, what scoring needs: each item's allowed values,
whether it is scored and reverse-scored, its skip logic, and the weight matrix that turns a
(responses × items) array into the total and the linear subscales in one matrix product.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from openpat.errors import InvalidInput, NotFound
from openpat.knowledge import KnowledgeBase
from openpat.knowledge import schema as s

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.intp]

G = TypeVar("G", bound=np.generic)

# Methods whose outputs are linear in the items (one matrix product covers them).
LINEAR = ("sum", "mean", "sum-times-4")


@dataclass(frozen=True, slots=True)
class SubscaleDef:
    key: str
    label: str
    columns: IntArray  # indices into the scored items
    method: str
    max: float | None


@dataclass(frozen=True, slots=True)
class ClusterPack:
    """A cluster-count classification compiled for one product: an endorsed item of cluster
    k adds ``2**shift_k`` (``packing``), so every cluster's count sits in its own bits of one
    number, with a spare guard bit above each. Adding ``bias`` (``2**bits_k - minimum_k`` in
    each field) sets a guard bit exactly when that count reaches its minimum, so a response
    meets every minimum when ``(packed + bias) & guard == guard``. The product is float32
    while the packed counts fit the 24 bits it holds exactly, float64 up to 53 bits."""

    clusters: tuple[IntArray, ...]  # scored-item columns of each cluster
    minimum: tuple[int, ...]
    packing: npt.NDArray[np.floating[Any]]
    bias: int
    guard: int


def _pack(key: str, clusters: list[IntArray], minimum: list[int], n_scored: int) -> ClusterPack:
    bits = [int(cols.size).bit_length() for cols in clusters]
    shifts = np.cumsum([0, *[b + 1 for b in bits[:-1]]]).astype(int)
    width = int(shifts[-1]) + bits[-1] + 1
    if width > 53:
        raise InvalidInput.for_field(
            "instrument", f"classification {key}: too many or too large clusters to count"
        )
    packing: npt.NDArray[np.floating[Any]] = np.zeros(
        n_scored, dtype=np.float32 if width <= 24 else np.float64
    )
    for cols, shift in zip(clusters, shifts, strict=True):
        packing[cols] += float(2 ** int(shift))
    bias = sum((2**b - k) << int(t) for b, k, t in zip(bits, minimum, shifts, strict=True))
    guard = sum(1 << (int(t) + b) for b, t in zip(bits, shifts, strict=True))
    return ClusterPack(tuple(clusters), tuple(minimum), packing, bias, guard)


@dataclass(frozen=True, slots=True)
class Definition:
    """One instrument, ready to score. Item arrays are over all items in order; ``scored``
    picks the items that enter the scores, and the subscale columns index those."""

    instrument: s.Instrument
    keys: tuple[str, ...]
    labels: tuple[str, ...]
    lo: FloatArray  # lowest allowed answer per item
    hi: FloatArray  # highest allowed answer per item
    integer: BoolArray  # answers must be whole numbers
    allowed: tuple[FloatArray | None, ...]  # explicit value sets where not every step is allowed
    scored: IntArray  # indices of the items that are scored
    reverse: BoolArray  # over the scored items
    ask_if: tuple[tuple[int, int, float], ...]  # (item index, gate item index, at least)
    subscales: tuple[SubscaleDef, ...]
    weights: FloatArray  # (n scored, n linear outputs): ±1 (reverse) per item and output
    offsets: FloatArray  # (n linear outputs,): lo + hi summed over reversed items
    linear: tuple[str, ...]  # output names of the weight columns: "total", subscale keys
    coded: bool  # every item takes whole numbers within -128..127: checked as int8 codes
    # (n linear outputs + 2, all items), C order: the weights over all items (zero for
    # unscored ones), then a row counting the scored items and a row counting every item.
    # One product with the answers gives every linear output and flags each response with a
    # missing answer (its last row is then NaN).
    product: FloatArray
    product32: npt.NDArray[np.float32]  # the linear and scored-count rows as float32
    abs32: npt.NDArray[np.float32]  # their absolute values: items used per output
    lo8: npt.NDArray[np.int8]  # lowest answer as int8, one value when all items agree
    packs: dict[str, ClusterPack]  # cluster-count classifications by key
    span8: npt.NDArray[np.uint8]  # highest minus lowest answer, likewise

    @property
    def id(self) -> str:
        return self.instrument.id

    @property
    def abbreviation(self) -> str:
        return self.instrument.abbreviation

    @property
    def scoring(self) -> s.Scoring:
        return self.instrument.scoring

    @property
    def method(self) -> str:
        return self.instrument.scoring.method

    @property
    def has_total(self) -> bool:
        return self.method != "categorical"

    def column(self, name: str) -> int:
        """The item index for a column name: the item key, its number, ``item3`` or ``q3``."""
        index = self._aliases().get(name.strip().lower())
        if index is None:
            raise KeyError(name)
        return index

    def _aliases(self) -> dict[str, int]:
        aliases: dict[str, int] = {}
        for i, item in enumerate(self.instrument.items):
            for alias in (item.key, str(item.number), f"item{item.number}", f"q{item.number}"):
                aliases[alias.lower()] = i
            aliases[f"{self.id}_{item.number}".lower()] = i
        return aliases

    def allowed_text(self, index: int) -> str:
        values = self.allowed[index]
        if values is not None:
            return ", ".join(f"{v:g}" for v in values)
        if self.integer[index]:
            return f"a whole number from {self.lo[index]:g} to {self.hi[index]:g}"
        return f"a number from {self.lo[index]:g} to {self.hi[index]:g}"


def find(kb: KnowledgeBase, name: str) -> s.Instrument:
    """An instrument by id or abbreviation, case-insensitive (``PHQ-9``, ``phq9``)."""

    def norm(text: str) -> str:
        return text.lower().replace("-", "").replace(" ", "").replace("_", "")

    wanted = norm(name)
    for instrument in kb.instruments.values():
        if wanted in (norm(instrument.id), norm(instrument.abbreviation)):
            return instrument
    known = ", ".join(sorted(i.abbreviation for i in kb.instruments.values()))
    raise NotFound(f"no instrument {name!r}; known: {known} (see `openpat instruments list`)")


def compile_definition(instrument: s.Instrument) -> Definition:
    """Turn a knowledge-base instrument into arrays; refuse one that cannot be scored."""
    items = instrument.items
    lo, hi, integer, allowed = [], [], [], []
    for item in items:
        if item.options is not None:
            values = np.array(sorted(o.value for o in instrument.response_sets[item.options]))
            whole = bool(np.all(values == np.round(values)))
            steps = whole and np.array_equal(values, np.arange(values[0], values[-1] + 1))
            lo.append(float(values[0]))
            hi.append(float(values[-1]))
            integer.append(whole)
            allowed.append(None if steps else values)
        elif item.min is not None and item.max is not None:
            lo.append(float(item.min))
            hi.append(float(item.max))
            integer.append(False)
            allowed.append(None)
        elif item.scored:
            raise InvalidInput.for_field(
                "instrument",
                f"{instrument.abbreviation} cannot be scored: the response scale of item "
                f"{item.number} is not in the knowledge base ({instrument.note or 'no note'})",
            )
        else:  # an unscored item without a scale: any number is kept as given
            lo.append(-np.inf)
            hi.append(np.inf)
            integer.append(False)
            allowed.append(None)
    scored = np.array([i for i, item in enumerate(items) if item.scored], dtype=np.intp)
    position = {int(j): col for col, j in enumerate(scored)}
    number_to_index = {item.number: i for i, item in enumerate(items)}
    reverse = np.array([items[j].reverse for j in scored], dtype=bool)
    subscales = []
    for sub in instrument.scoring.subscales:
        cols = []
        for number in sub.items:
            index = number_to_index[number]
            if index not in position:
                raise InvalidInput.for_field(
                    "instrument", f"subscale {sub.key} uses unscored item {number}"
                )
            cols.append(position[index])
        subscales.append(
            SubscaleDef(sub.key, sub.label, np.array(cols, dtype=np.intp), sub.method, sub.max)
        )
    ask_if = tuple(
        (i, number_to_index[item.ask_if.item], item.ask_if.at_least)
        for i, item in enumerate(items)
        if item.ask_if is not None
    )
    # one weight column per linear output: the total, then each sum/mean subscale
    linear: list[str] = []
    columns: list[FloatArray] = []
    sign = np.where(reverse, -1.0, 1.0)
    if instrument.scoring.method in LINEAR:
        linear.append("total")
        columns.append(sign.copy())
    for sub_def in subscales:
        if sub_def.method in ("sum", "mean"):
            w = np.zeros(scored.size)
            w[sub_def.columns] = sign[sub_def.columns]
            linear.append(sub_def.key)
            columns.append(w)
    lo_s, hi_s = np.array(lo)[scored], np.array(hi)[scored]
    weights = np.column_stack(columns) if columns else np.zeros((scored.size, 0))
    flip = np.where(reverse, lo_s + hi_s, 0.0)
    offsets = (np.abs(weights) * flip[:, None]).sum(axis=0)
    product = np.zeros((len(linear) + 2, len(items)))
    product[: len(linear), scored] = weights.T
    product[len(linear), scored] = 1.0
    product[len(linear) + 1] = 1.0
    lo_all, hi_all = np.array(lo), np.array(hi)
    coded = bool(all(integer) and np.all(lo_all >= -128) and np.all(hi_all <= 127))
    span = hi_all - lo_all if coded else np.zeros(len(items))
    by_key = {sub.key: sub for sub in subscales}
    packs = {
        c.key: _pack(
            c.key, [by_key[key].columns for key in c.minimum], list(c.minimum.values()), scored.size
        )
        for c in instrument.scoring.classifications
        if c.kind == "cluster-count"
    }
    return Definition(
        instrument=instrument,
        keys=tuple(item.key for item in items),
        labels=tuple(item.label for item in items),
        lo=np.array(lo),
        hi=np.array(hi),
        integer=np.array(integer, dtype=bool),
        allowed=tuple(allowed),
        scored=scored,
        reverse=reverse,
        ask_if=ask_if,
        subscales=tuple(subscales),
        weights=np.asfortranarray(weights),  # BLAS is fastest with few Fortran columns
        offsets=offsets,
        linear=tuple(linear),
        coded=coded,
        product=product,
        product32=np.ascontiguousarray(product[:-1], dtype=np.float32),
        abs32=np.ascontiguousarray(np.abs(product[:-1]), dtype=np.float32),
        lo8=_one_if_uniform((lo_all if coded else np.zeros(len(items))).astype(np.int8)),
        span8=_one_if_uniform(span.astype(np.uint8)),
        packs=packs,
    )


def _one_if_uniform(values: npt.NDArray[G]) -> npt.NDArray[G]:
    """A single value where every item has the same one: comparing with one value is several
    times faster than broadcasting a row of them."""
    return values[:1].reshape(()) if values.size and np.all(values == values[0]) else values


_CACHE: dict[tuple[str, str], Definition] = {}


def definition(kb: KnowledgeBase, name: str) -> Definition:
    """The compiled definition of ``name`` (cached per knowledge-base content)."""
    instrument = find(kb, name)
    key = (kb.content_hash, instrument.id)
    if key not in _CACHE:
        _CACHE[key] = compile_definition(instrument)
    return _CACHE[key]
