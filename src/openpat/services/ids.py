"""Record ids and audit sequence numbers as every caller (API, pages, CLI) may give them.

Ids are whole numbers the database can hold: INTEGER primary keys are 32-bit on PostgreSQL,
audit sequence numbers 64-bit. A larger number can name no record, and passing it to the
database fails there (an overflow, not a "not found"), so it is refused as invalid input that
names the field.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from annotated_types import Interval
from pydantic import AfterValidator, BeforeValidator, PlainSerializer, WithJsonSchema

MAX_ID = 2**31 - 1
MAX_SEQ = 2**63 - 1


def _not_a_bool(value: Any) -> Any:
    # pydantic reads true as 1: an id given as true/false is a mistake, never record 1
    if isinstance(value, bool):
        raise ValueError("give the id as a whole number, not true or false")
    return value


Id = Annotated[int, BeforeValidator(_not_a_bool), Interval(ge=1, le=MAX_ID)]
"""The id of a study, site, user or participant."""

Seq = Annotated[int, BeforeValidator(_not_a_bool), Interval(ge=1, le=MAX_SEQ)]
"""The sequence number of an audit event."""


def parse_id(text: str) -> int | None:
    """An id typed by a person, or None if the text is not one a record could have."""
    text = text.strip()
    if not text.isdecimal():  # isdecimal: "²" passes isdigit but int() refuses it
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ID else None


def _not_a_number(value: Any) -> Any:
    # pydantic reads a bare number as seconds (a time of day, or since 1970): almost always a
    # mistake in a clinical record, so it is refused
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("give it as text, e.g. 09:30 or 2026-03-30T09:30:00+01:00")
    return value


def _wall_clock(value: dt.time) -> dt.time:
    # a time of day is read in the site's own time zone; an offset would say otherwise
    if value.tzinfo is not None:
        raise ValueError(
            "give the time of day without a zone, e.g. 09:30: the site's time zone applies"
        )
    return value


def _time_text(value: dt.time) -> str:
    return value.isoformat(
        timespec="minutes" if not (value.second or value.microsecond) else "auto"
    )


TIME_OF_DAY_SCHEMA = {
    "type": "string",
    "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$",
    "description": "a time of day at the site, HH:MM (24 h), without a zone",
    "examples": ["09:30"],
}

TimeOfDay = Annotated[
    dt.time,
    BeforeValidator(_not_a_number),
    AfterValidator(_wall_clock),
    PlainSerializer(_time_text, return_type=str),
    WithJsonSchema(TIME_OF_DAY_SCHEMA),
]
"""A wall-clock time such as 09:30, at the site (not a number of seconds, no zone): its
schema says so, where JSON Schema's "time" format would demand an offset."""

Instant = Annotated[dt.datetime, BeforeValidator(_not_a_number)]
"""A date and time with its offset (not a number of seconds)."""
