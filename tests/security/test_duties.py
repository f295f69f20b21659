"""Segregation of duties (issue 16, point 2): the rules table, as pure functions."""

from __future__ import annotations

import pytest

from openpat.security import Membership, Principal, Role
from openpat.security.duties import RULES, DutyConflict, check_grant, conflicts


def admin(user_id: int = 1, study_id: int | None = None) -> Principal:
    return Principal(
        user_id=user_id,
        username="a",
        display_name="A",
        memberships=(Membership(Role.ADMIN, study_id=study_id),),
    )


def refused(granter: Principal, target: int, held: list[Membership], new: Membership) -> str:
    with pytest.raises(DutyConflict) as caught:
        check_grant(granter, target, held, new)
    return caught.value.rule


@pytest.mark.parametrize(
    "blinded", [Role.BLINDED_RATER, Role.FACILITATOR, Role.COORDINATOR, Role.INVESTIGATOR]
)
def test_a_blinded_role_and_the_unblinded_role_never_meet_in_one_study(blinded: Role) -> None:
    held = [Membership(blinded, study_id=1)]
    stat = Membership(Role.UNBLINDED_STATISTICIAN, study_id=1)
    assert refused(admin(), 2, held, stat) == "blind-vs-unblinded"
    # and the other way round
    assert (
        refused(admin(), 2, [stat], Membership(blinded, study_id=1, site_id=3))
        == "blind-vs-unblinded"
    )
    # in another study they do not conflict
    check_grant(admin(), 2, held, Membership(Role.UNBLINDED_STATISTICIAN, study_id=2))
    # a role in every study meets the other in each study
    assert (
        refused(admin(), 2, held, Membership(Role.UNBLINDED_STATISTICIAN)) == "blind-vs-unblinded"
    )


@pytest.mark.parametrize("staff", [r for r in Role if r is not Role.PARTICIPANT])
def test_the_participant_role_excludes_every_staff_role(staff: Role) -> None:
    held = [Membership(Role.PARTICIPANT, study_id=1, participant_id=9)]
    assert refused(admin(), 2, held, Membership(staff, study_id=1)) == "participant-vs-staff"


def test_an_administrator_never_grants_to_themselves() -> None:
    assert refused(admin(user_id=7), 7, [], Membership(Role.MONITOR, study_id=1)) == "no-self-grant"


def test_an_administrator_of_one_study_grants_in_that_study_only() -> None:
    scoped = admin(study_id=1)
    check_grant(scoped, 2, [], Membership(Role.MONITOR, study_id=1))
    assert refused(scoped, 2, [], Membership(Role.MONITOR, study_id=2)) == (
        "grant-within-own-studies"
    )
    assert refused(scoped, 2, [], Membership(Role.ADMIN)) == "grant-within-own-studies"
    # a platform administrator may grant a role in every study
    check_grant(admin(), 2, [], Membership(Role.ADMIN))


def test_compatible_roles_pass_and_the_table_names_each_rule_once() -> None:
    held = [Membership(Role.COORDINATOR, study_id=1)]
    assert conflicts(held, Membership(Role.FACILITATOR, study_id=1)) is None
    assert conflicts(held, Membership(Role.MONITOR, study_id=1)) is None
    codes = [r.code for r in RULES]
    assert len(codes) == len(set(codes)) and all(r.why for r in RULES)


def test_the_rules_table_is_shown_in_the_docs() -> None:
    from pathlib import Path

    text = (Path(__file__).parents[2] / "docs" / "security.md").read_text(encoding="utf-8")
    for rule in RULES:
        row = next(line for line in text.splitlines() if line.startswith(f"| `{rule.code}` |"))
        for role in rule.left | rule.right:
            assert role.label in row or "every staff role" in row, (rule.code, role)
    assert "`no-self-grant`" in text and "`grant-within-own-studies`" in text
