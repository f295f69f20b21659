"""Name matching for medications and substances: case-, space-, hyphen- and accent-blind,
with fuzzy suggestions for typos ("sertralin" -> sertraline, "Prozak" -> Prozac)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from rapidfuzz import fuzz, process

_DROP = re.compile(r"[\s\-_.,'’/()+®™]+")


def normalise(name: str) -> str:
    """The comparison key of a name: accents, case, spaces, hyphens and punctuation removed.

    >>> normalise("Es-Citalopram ") == normalise("escitalopram")
    True
    """
    text = unicodedata.normalize("NFKD", name)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return _DROP.sub("", text.casefold())


MatchKind = Literal["generic", "brand", "synonym"]


@dataclass(frozen=True, slots=True)
class NameHit:
    """One name that matched a query: whose name it is, which kind, how well (0-1)."""

    owner: str
    name: str
    kind: MatchKind
    score: float
    how: Literal["exact", "prefix", "fuzzy"]


class NameIndex:
    """Every name (generic, brands, synonyms) of a set of entities, searchable by
    normalised key, prefix and fuzzy similarity."""

    def __init__(self, names: list[tuple[str, str, MatchKind]]) -> None:
        # (owner id, display name, kind) per name; keys normalised once
        self._entries = [(owner, name, kind, normalise(name)) for owner, name, kind in names]
        self._keys = [entry[3] for entry in self._entries]

    def search(self, query: str, *, limit: int = 10, cutoff: float = 0.7) -> list[NameHit]:
        """Best hit per owner, best first: exact (1.0; a generic before a brand), then names
        starting with the query (0.9-0.95), then fuzzy matches scored by similarity."""
        key = normalise(query)
        if not key:
            return []
        best: dict[str, NameHit] = {}

        def offer(hit: NameHit) -> None:
            current = best.get(hit.owner)
            if current is None or _rank(hit) < _rank(current):
                best[hit.owner] = hit

        for owner, name, kind, name_key in self._entries:
            if name_key == key:
                offer(NameHit(owner, name, kind, 1.0, "exact"))
            elif len(key) >= 3 and name_key.startswith(key):
                offer(NameHit(owner, name, kind, 0.9 + 0.05 * len(key) / len(name_key), "prefix"))
        fuzzy = process.extract(
            key, self._keys, scorer=fuzz.ratio, limit=max(limit * 3, 10), score_cutoff=cutoff * 100
        )
        for _, similarity, index in fuzzy:
            owner, name, kind, _key = self._entries[index]
            offer(NameHit(owner, name, kind, round(0.89 * similarity / 100, 3), "fuzzy"))
        return sorted(best.values(), key=_rank)[:limit]


_KIND_ORDER = {"generic": 0, "brand": 1, "synonym": 2}


def _rank(hit: NameHit) -> tuple[float, int, str]:
    return (-hit.score, _KIND_ORDER[hit.kind], hit.name.casefold())
