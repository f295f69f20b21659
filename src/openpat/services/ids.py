"""Record ids and audit sequence numbers as every caller (API, pages, CLI) may give them.

Ids are whole numbers the database can hold: INTEGER primary keys are 32-bit on PostgreSQL,
audit sequence numbers 64-bit. A larger number can name no record, and passing it to the
database fails there (an overflow, not a "not found"), so it is refused as invalid input that
names the field.
"""

from __future__ import annotations

from typing import Annotated

from annotated_types import Interval

MAX_ID = 2**31 - 1
MAX_SEQ = 2**63 - 1

Id = Annotated[int, Interval(ge=1, le=MAX_ID)]
"""The id of a study, site, user or participant."""

Seq = Annotated[int, Interval(ge=1, le=MAX_SEQ)]
"""The sequence number of an audit event."""


def parse_id(text: str) -> int | None:
    """An id typed by a person, or None if the text is not one a record could have."""
    text = text.strip()
    if not text.isdecimal():  # isdecimal: "²" passes isdigit but int() refuses it
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ID else None
