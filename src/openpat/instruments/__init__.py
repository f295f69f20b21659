"""openpat.instruments: questionnaire definitions from the knowledge base and their scoring.

``definition(kb, "PHQ-9")`` compiles an instrument into arrays; ``score(defn, answers)``
scores N responses × items at once (NaN = missing) with the manual's missing-item rule,
bands, classifications and safety alerts; ``change`` turns baseline and follow-up totals into
response and remission.
"""

from openpat.instruments.definition import Definition, compile_definition, definition, find
from openpat.instruments.scoring import Scores, score, validate

__all__ = [
    "Definition",
    "Scores",
    "compile_definition",
    "definition",
    "find",
    "score",
    "validate",
]
