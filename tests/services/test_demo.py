from __future__ import annotations

import datetime as dt

import numpy as np

from openpat.demo import DEMO_ACCOUNTS, build_demo_study
from openpat.services.runtime import Platform
from tests.conftest import load_demo


def test_the_same_seed_gives_the_same_study() -> None:
    today = dt.date(2026, 11, 23)
    a = build_demo_study(rng=np.random.default_rng(7), today=today)
    b = build_demo_study(rng=np.random.default_rng(7), today=today)
    c = build_demo_study(rng=np.random.default_rng(8), today=today)
    assert a == b and a != c
    assert len(a.participants) == 40


def test_every_demo_date_is_in_the_past_and_in_order() -> None:
    today = dt.date(2026, 11, 23)
    for p in build_demo_study(rng=np.random.default_rng(1), today=today).participants:
        dates = [p.prescreen_date, *(s.on_date for s in p.steps)]
        assert dates == sorted(dates) and dates[-1] <= today
        assert p.date_of_birth.year == p.year_of_birth


def test_loading_twice_changes_nothing(platform: Platform) -> None:
    first = load_demo(platform)
    with platform.engine.connect() as conn:
        from sqlalchemy import text

        n_audit = conn.execute(text("SELECT count(*) FROM audit_events")).scalar_one()
    second = load_demo(platform)
    with platform.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_events")).scalar_one() == n_audit
        assert conn.execute(text("SELECT count(*) FROM users")).scalar_one() == len(DEMO_ACCOUNTS)
    assert first.created and not second.created
    assert second.participants == 40
