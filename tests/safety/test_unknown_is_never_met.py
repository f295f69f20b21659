"""Unknown is never "met": an empty profile on every shipped protocol meets no criterion
except those computed from data that was given, and its verdict is at best "needs
information"."""

from __future__ import annotations

import datetime as dt

import pytest

from openpat import knowledge, safety
from openpat.safety.profile import Profile

TODAY = dt.date(2026, 12, 4)
DOSING = dt.date(2027, 2, 1)
PROTOCOLS = sorted(knowledge.default().protocols)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_an_empty_profile_meets_no_criterion(protocol: str) -> None:
    report = safety.screen(Profile(), protocol, None, DOSING, today=TODAY)
    assert [c.id for c in report.criteria if c.status == "met"] == []
    assert all(c.status == "missing" for c in report.criteria), [
        (c.id, c.status) for c in report.criteria if c.status != "missing"
    ]
    assert report.verdict == "needs-information"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_only_the_criteria_computed_from_given_data_are_met(protocol: str) -> None:
    # the age alone: only criteria that read nothing but the age may be decided
    report = safety.screen(Profile(age_years=40), protocol, None, DOSING, today=TODAY)
    decided = [c for c in report.criteria if c.status != "missing"]
    for c in decided:
        names = {name for name, _value in c.values}
        assert names and all("age" in name.lower() for name in names), (c.id, c.values)
    assert report.verdict in ("needs-information", "ineligible")
