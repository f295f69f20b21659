"""openpat.knowledge: cited, versioned facts about substances, medications, interactions,
instruments and published trials, read from the YAML files in ``knowledge/data``.

>>> from openpat import knowledge
>>> kb = knowledge.default()          # validated once, then cached
>>> kb.substances["dmt"].name
'DMT'
"""

from __future__ import annotations

from functools import lru_cache

from openpat.knowledge.base import KnowledgeBase
from openpat.knowledge.loader import DATA_DIR, DataProblem, KnowledgeDataError, load


@lru_cache(maxsize=1)
def default() -> KnowledgeBase:
    """The knowledge base shipped with openpat, loaded and validated once per process."""
    return load(DATA_DIR)


__all__ = ["DATA_DIR", "DataProblem", "KnowledgeBase", "KnowledgeDataError", "default", "load"]
