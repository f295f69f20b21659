"""Segregation of duties: which roles one person may hold together, and who may grant them.

The rules are one table (:data:`RULES`), read by the user service before any membership is
written and shown in docs/security.md. Each refusal names the rule it applies.

Roles conflict *within one study*. A membership without a study applies to every study, so it
conflicts with a conflicting role in any study.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from openpat.security.permissions import Membership, Permission, Principal, Role, roles_with

STAFF_ROLES = frozenset(r for r in Role if r is not Role.PARTICIPANT)
# Roles that work with participants under the blind: they must never hold allocation access.
BLINDED_ROLES = frozenset(
    {
        Role.BLINDED_RATER,
        Role.FACILITATOR,
        Role.COORDINATOR,
        Role.INVESTIGATOR,
    }
)


@dataclass(frozen=True, slots=True)
class DutyRule:
    """Roles ``left`` and ``right`` may not be held by one person in one study."""

    code: str
    left: frozenset[Role]
    right: frozenset[Role]
    why: str


RULES: tuple[DutyRule, ...] = (
    DutyRule(
        code="blind-vs-unblinded",
        left=frozenset({Role.UNBLINDED_STATISTICIAN}),
        right=BLINDED_ROLES,
        why=(
            "the unblinded statistician sees every arm; the investigators, coordinators, "
            "facilitators and raters who treat and assess participants must stay blind"
        ),
    ),
    DutyRule(
        code="participant-vs-staff",
        left=frozenset({Role.PARTICIPANT}),
        right=STAFF_ROLES,
        why="a participant may not also be a member of the study's staff",
    ),
)

# Granting any of these is announced to the study's investigators and listed on its access page.
IDENTITY_ROLES = roles_with(Permission.IDENTITY_READ)
ANNOUNCED_ROLES = frozenset({Role.UNBLINDED_STATISTICIAN, *IDENTITY_ROLES})


class DutyConflict(Exception):
    """A grant that would break a rule: ``rule`` is its code, the message says it in words."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


def _same_study(a: int | None, b: int | None) -> bool:
    return a is None or b is None or a == b


def conflicts(held: Iterable[Membership], new: Membership) -> DutyRule | None:
    """The first rule broken by adding ``new`` to the memberships ``held``, if any."""
    for m in held:
        if not _same_study(m.study_id, new.study_id):
            continue
        for rule in RULES:
            if (m.role in rule.left and new.role in rule.right) or (
                m.role in rule.right and new.role in rule.left
            ):
                return rule
    return None


def check_not_self(granter: Principal, target_user_id: int | None, what: str) -> None:
    """``no-self-grant``: no administrator acts on their own account or memberships
    (``what`` names the act, e.g. "reset their own password")."""
    if not granter.is_system and granter.user_id == target_user_id:
        raise DutyConflict(
            "no-self-grant", f"an administrator may not {what}; ask another administrator"
        )


def check_within_scope(granter: Principal, study_id: int | None) -> None:
    """``grant-within-own-studies``: an administrator of some studies grants or removes
    roles in those studies only; a role in every study needs a platform administrator."""
    scope = None if granter.is_system else granter.study_ids(Permission.USER_MANAGE)
    if scope is not None and (study_id is None or study_id not in scope):
        raise DutyConflict(
            "grant-within-own-studies",
            "an administrator of a study may grant or remove roles in that study only; a role "
            "in every study needs a platform administrator",
        )


def check_grant(
    granter: Principal, target_user_id: int | None, held: Iterable[Membership], new: Membership
) -> None:
    """Refuse (DutyConflict) a grant that breaks a rule of :data:`RULES`, that an
    administrator makes to themselves, or that reaches beyond the granter's own studies
    (``target_user_id`` None: an account being created)."""
    check_not_self(granter, target_user_id, "grant or change their own memberships")
    check_within_scope(granter, new.study_id)
    rule = conflicts(held, new)
    if rule is not None:
        raise DutyConflict(
            rule.code,
            f"{new.role.label} cannot be held together with the user's other roles in this "
            f"study: {rule.why}",
        )


def rules_table() -> list[dict[str, str]]:
    """Each rule as the access page and its API show it: code, roles, conflicting roles, why."""
    return [
        {
            "rule": r.code,
            "roles": ", ".join(sorted(x.label for x in r.left)),
            "excludes": ", ".join(sorted(x.label for x in r.right)),
            "why": r.why,
        }
        for r in RULES
    ]
