"""Where "now" comes from: the system clock, or a clock set to a fixed starting instant.

Domain packages never read the clock; they are given ``now`` or ``today``. The adapters
(the unit of work, the web app, the CLI) read it through the :class:`Clock` their
:class:`~openpat.services.runtime.Platform` holds. ``OPENPAT_CLOCK_START`` starts that clock
at a chosen instant, from which it runs on in real time, so that a demonstration or a test
behaves the same whatever the day it is run (a Friday, a Sunday, the day the clocks change).
Production refuses it.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Clock:
    """The current instant (UTC), from the system or from a set start.

    With ``start`` set, the clock reads ``start`` when it is made and runs on at the rate of
    the machine's monotonic clock, so durations (session idle time, form link expiry) still
    pass normally.
    """

    start: dt.datetime | None = None
    _origin: float = field(default_factory=time.monotonic, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.start is not None and self.start.utcoffset() is None:
            raise ValueError("the clock's start needs a time zone, e.g. 2026-12-04T09:00:00+00:00")

    def now(self) -> dt.datetime:
        """The current instant, timezone-aware in UTC."""
        if self.start is None:
            return dt.datetime.now(dt.UTC)
        elapsed = time.monotonic() - self._origin
        return self.start.astimezone(dt.UTC) + dt.timedelta(seconds=elapsed)

    def today(self, zone: dt.tzinfo | None = None) -> dt.date:
        """Today's date in ``zone``, or where this machine is when no zone is given."""
        return self.now().astimezone(zone).date()

    @property
    def is_set(self) -> bool:
        return self.start is not None


SYSTEM = Clock()
"""The machine's own clock."""
