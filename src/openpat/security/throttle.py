"""Login throttling that slows a guesser without locking the owner out.

Failures are counted per account *and* client address (and, with a larger allowance, per
address across accounts): a stranger guessing from one address delays only that address's
attempts, so the owner logging in from elsewhere is never refused. After the free failures each
further one doubles the wait before the next attempt from there, up to ``cap``. An attempt
refused because it came during a wait is not counted as a failure; a success clears the count.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Throttle:
    free_failures: int  # failures allowed before any wait
    first_delay: dt.timedelta
    cap: dt.timedelta

    def delay(self, failures: int) -> dt.timedelta:
        """The wait after ``failures`` consecutive failures: none for the free ones, then
        ``first_delay`` doubling with each further failure, never more than ``cap``."""
        extra = failures - self.free_failures
        if extra < 0:
            return dt.timedelta(0)
        grown: dt.timedelta = self.first_delay * (2 ** min(extra, 30))
        return min(self.cap, grown)

    def wait(
        self, failures: int, last_failure: dt.datetime | None, now: dt.datetime
    ) -> dt.timedelta:
        """How long from ``now`` until the next attempt is allowed (zero: allowed now)."""
        if last_failure is None:
            return dt.timedelta(0)
        return max(dt.timedelta(0), last_failure + self.delay(failures) - now)
