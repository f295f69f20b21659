"""Login throttling (issue 16, point 4): per account and address, growing delays, the owner
never locked out, refused attempts not counted. Times are fixed: the unit of work is given
each attempt's instant."""

from __future__ import annotations

import datetime as dt

import pytest

from openpat.errors import TooManyRequests
from openpat.security.throttle import Throttle
from openpat.services import auth
from openpat.services.runtime import Actor, Platform
from openpat.store.uow import UnitOfWork
from tests.conftest import TEST_NOW

POLICY = auth.LoginPolicy(
    max_failures=5, window=dt.timedelta(minutes=15), idle_timeout=dt.timedelta(minutes=30)
)
ATTACKER = "198.51.100.7"
OWNER = "192.0.2.10"


def test_the_delay_doubles_after_the_free_failures_up_to_the_cap() -> None:
    t = Throttle(free_failures=5, first_delay=dt.timedelta(seconds=1), cap=dt.timedelta(minutes=15))
    assert [t.delay(n).total_seconds() for n in range(4, 11)] == [0, 1, 2, 4, 8, 16, 32]
    assert t.delay(100) == dt.timedelta(minutes=15)
    last = TEST_NOW
    assert t.wait(7, last, last + dt.timedelta(seconds=3)) == dt.timedelta(seconds=1)
    assert t.wait(7, last, last + dt.timedelta(seconds=4)) == dt.timedelta(0)
    assert t.wait(0, None, last) == dt.timedelta(0)


def _try(
    plat: Platform, at: dt.datetime, username: str, password: str, addr: str
) -> auth.LoginResult | None:
    with UnitOfWork(plat.session_factory, actor=Actor("test"), now=at) as uow:
        result = auth.login(
            uow=uow,
            username=username,
            password=password,
            remote_addr=addr,
            hasher=plat.hasher,
            policy=POLICY,
        )
        uow.commit()
        return result


def _failures(plat: Platform, addr: str) -> int:
    with plat.uow(actor=Actor("test")) as uow:
        count, _ = uow.auth.recent_failures(
            since=TEST_NOW - dt.timedelta(hours=1), remote_addr=addr, username="monitor"
        )
        return count


def test_a_guesser_is_slowed_while_the_owner_logs_in_from_elsewhere(
    demo_platform: Platform,
) -> None:
    t = TEST_NOW
    for i in range(7):  # 5 free, then waits of 1 s and 2 s, each respected
        t += dt.timedelta(seconds=2 ** max(0, i - 4))
        assert _try(demo_platform, t, "monitor", "wrong", ATTACKER) is None
    # during the 4 s wait even the right password is refused there, and not counted
    with pytest.raises(TooManyRequests) as caught:
        _try(demo_platform, t + dt.timedelta(seconds=3), "monitor", "demo-monitor", ATTACKER)
    assert caught.value.retry_after_s == 1
    assert _failures(demo_platform, ATTACKER) == 7
    # the owner from an address without failures logs in at once
    assert _try(demo_platform, t + dt.timedelta(seconds=3), "monitor", "demo-monitor", OWNER)
    # after the wait the right password works from the guesser's address too, and clears it
    assert _try(demo_platform, t + dt.timedelta(seconds=4), "monitor", "demo-monitor", ATTACKER)
    assert _failures(demo_platform, ATTACKER) == 0


def test_the_wait_grows_with_each_failure_after_it(demo_platform: Platform) -> None:
    t = TEST_NOW
    waits = []
    for _ in range(9):
        while True:
            try:
                _try(demo_platform, t, "monitor", "wrong", ATTACKER)
                break
            except TooManyRequests as exc:
                waits.append(exc.retry_after_s)
                t += dt.timedelta(seconds=exc.retry_after_s)
    assert waits == [1, 2, 4, 8]


def test_one_address_failing_for_many_accounts_is_slowed_too(demo_platform: Platform) -> None:
    t = TEST_NOW
    for i in range(20):  # four times the allowance of one account, spread over 20 names
        t += dt.timedelta(seconds=1)
        assert _try(demo_platform, t, f"nobody-{i}", "wrong", ATTACKER) is None
    t += dt.timedelta(seconds=1)
    assert _try(demo_platform, t, "nobody-20", "wrong", ATTACKER) is None  # the 21st fails
    with pytest.raises(TooManyRequests):
        _try(demo_platform, t + dt.timedelta(milliseconds=500), "rater", "demo-rater", ATTACKER)
    assert _try(demo_platform, t, "rater", "demo-rater", OWNER)
