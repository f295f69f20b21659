from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openpat.security import ROLE_PERMISSIONS, Membership, Permission, Principal, Role, roles_with
from openpat.security.passwords import make_hasher, password_problem, verify_password
from openpat.security.permissions import parse_role


def principal(*memberships: Membership) -> Principal:
    return Principal(user_id=1, username="u", display_name="U", memberships=memberships)


def test_only_admin_and_monitor_read_the_audit_trail() -> None:
    assert roles_with(Permission.AUDIT_READ) == {Role.ADMIN, Role.MONITOR}


def test_identity_access_is_limited_to_investigator_and_coordinator() -> None:
    assert roles_with(Permission.IDENTITY_READ) == {Role.INVESTIGATOR, Role.COORDINATOR}


def test_monitor_changes_nothing() -> None:
    writes = {p for p in Permission if p.value.endswith((".write", ".manage"))}
    assert not ROLE_PERMISSIONS[Role.MONITOR] & writes


def test_participant_sees_only_self_service() -> None:
    assert ROLE_PERMISSIONS[Role.PARTICIPANT] == {Permission.ACCOUNT, Permission.SELF_SERVICE}


def test_site_membership_limits_scope_to_that_site() -> None:
    p = principal(Membership(Role.COORDINATOR, study_id=1, site_id=7))
    assert p.can(Permission.PARTICIPANT_WRITE, study_id=1, site_id=7)
    assert not p.can(Permission.PARTICIPANT_WRITE, study_id=1, site_id=8)
    assert not p.can(Permission.PARTICIPANT_WRITE, study_id=2, site_id=7)
    assert p.site_scope(Permission.PARTICIPANT_READ, 1) == {7}
    assert p.site_scope(Permission.PARTICIPANT_READ, 2) == frozenset()


def test_study_wide_membership_covers_every_site() -> None:
    p = principal(Membership(Role.INVESTIGATOR, study_id=1))
    assert p.site_scope(Permission.PARTICIPANT_READ, 1) is None
    assert p.study_ids(Permission.STUDY_READ) == {1}


def test_global_admin_manages_users_but_reads_no_participants() -> None:
    p = principal(Membership(Role.ADMIN))
    assert p.has(Permission.USER_MANAGE)
    assert p.study_ids(Permission.STUDY_READ) is None
    assert not p.has(Permission.PARTICIPANT_READ)


@given(st.sampled_from(list(Role)), st.sampled_from(list(Permission)))
def test_has_agrees_with_the_role_table(role: Role, permission: Permission) -> None:
    p = principal(Membership(role, study_id=3))
    assert p.has(permission) == (permission in ROLE_PERMISSIONS[role])
    assert p.can(permission, study_id=3) == (permission in ROLE_PERMISSIONS[role])
    assert not p.can(permission, study_id=4)


@pytest.mark.parametrize("text", ["Blinded rater", "blinded-rater", " BLINDED_RATER "])
def test_role_names_are_read_as_users_type_them(text: str) -> None:
    assert parse_role(text) is Role.BLINDED_RATER


def test_unknown_role_lists_the_choices() -> None:
    with pytest.raises(ValueError, match="choose one of: admin"):
        parse_role("boss")


def test_passwords_are_argon2id_and_verify() -> None:
    hasher = make_hasher("fast")
    digest = hasher.hash("correct horse battery")
    assert digest.startswith("$argon2id$")
    assert verify_password(hasher, digest, "correct horse battery")
    assert not verify_password(hasher, digest, "wrong")
    assert not verify_password(hasher, "not-a-hash", "wrong")


def test_standard_profile_is_not_the_cheap_test_profile() -> None:
    params = make_hasher("standard")
    assert params.memory_cost >= 65536 and params.time_cost >= 3


def test_password_policy_names_the_problem() -> None:
    assert password_problem("short", username="ann") == "must be at least 10 characters long"
    assert password_problem("annannannann", username="annannannann") is not None
    assert password_problem("a long enough secret", username="ann") is None
