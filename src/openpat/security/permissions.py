"""Roles, permissions and the principal that carries a user's memberships.

Membership is per study and site: a coordinator at one site of a multi-site trial sees that
site's participants only. A membership without a study applies to every study (used for
platform administrators); one without a site applies to every site of its study.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    INVESTIGATOR = "investigator"
    COORDINATOR = "coordinator"
    FACILITATOR = "facilitator"
    BLINDED_RATER = "blinded_rater"
    MONITOR = "monitor"
    PARTICIPANT = "participant"
    UNBLINDED_STATISTICIAN = "unblinded_statistician"

    @property
    def label(self) -> str:
        return _ROLE_LABELS[self]


_ROLE_LABELS = {
    Role.ADMIN: "Administrator",
    Role.INVESTIGATOR: "Investigator",
    Role.COORDINATOR: "Study coordinator",
    Role.FACILITATOR: "Facilitator",
    Role.BLINDED_RATER: "Blinded rater",
    Role.MONITOR: "Monitor (read-only)",
    Role.PARTICIPANT: "Participant",
    Role.UNBLINDED_STATISTICIAN: "Unblinded statistician",
}


class Permission(StrEnum):
    ACCOUNT = "account"  # own session: logout, who am I
    API_DOCS = "api.docs"
    STUDY_READ = "study.read"
    PARTICIPANT_READ = "participant.read"
    PARTICIPANT_WRITE = "participant.write"
    IDENTITY_READ = "identity.read"
    IDENTITY_WRITE = "identity.write"
    AUDIT_READ = "audit.read"
    USER_MANAGE = "user.manage"
    SELF_SERVICE = "self.service"  # a participant's own pages
    KNOWLEDGE_READ = "knowledge.read"  # the cited knowledge base (reference data, no PHI)
    SCREENING_WRITE = "screening.write"  # run and keep eligibility screenings
    OUTCOME_READ = "outcome.read"  # questionnaire answers and scores
    OUTCOME_ENTER = "outcome.enter"  # send forms to participants, enter answers and ratings
    ALERT_READ = "alert.read"  # safety alerts raised by answers
    ALERT_MANAGE = "alert.manage"  # acknowledge a safety alert
    PROTOCOL_MANAGE = "protocol.manage"  # load a new protocol version
    RANDOMISE = "randomise"  # randomise an enrolled participant (the arm stays concealed)
    ALLOCATION_READ = "allocation.read"  # see arms and export the allocation list (unblinded)
    EMERGENCY_UNBLIND = "emergency.unblind"  # reveal one participant's arm, with a reason
    SCHEDULE_READ = "schedule.read"  # rooms, facilitators and the booking calendar
    SCHEDULE_MANAGE = "schedule.manage"  # book visits, plan the calendar, set up rooms
    GUESS_ENTER = "guess.enter"  # record a treatment guess after dosing
    ELIGIBILITY_OVERRIDE = "eligibility.override"  # enrol despite the screening, with a reason

    @property
    def label(self) -> str:
        """What the permission allows, in words (messages never show the code)."""
        return _PERMISSION_LABELS[self]


_PERMISSION_LABELS = {
    Permission.ACCOUNT: "using an account",
    Permission.API_DOCS: "reading the API documentation",
    Permission.STUDY_READ: "seeing the study",
    Permission.PARTICIPANT_READ: "seeing participants' study records",
    Permission.PARTICIPANT_WRITE: "changing participants' study records",
    Permission.IDENTITY_READ: "seeing participants' identities",
    Permission.IDENTITY_WRITE: "changing participants' identities",
    Permission.AUDIT_READ: "reading the audit trail",
    Permission.USER_MANAGE: "managing user accounts",
    Permission.SELF_SERVICE: "a participant's own pages",
    Permission.KNOWLEDGE_READ: "reading the knowledge base",
    Permission.SCREENING_WRITE: "running eligibility screenings",
    Permission.OUTCOME_READ: "reading questionnaire answers and scores",
    Permission.OUTCOME_ENTER: "sending questionnaires and entering ratings",
    Permission.ALERT_READ: "seeing safety alerts",
    Permission.ALERT_MANAGE: "acknowledging safety alerts",
    Permission.PROTOCOL_MANAGE: "loading protocol versions",
    Permission.RANDOMISE: "randomising participants",
    Permission.ALLOCATION_READ: "seeing treatment allocations",
    Permission.EMERGENCY_UNBLIND: "emergency unblinding",
    Permission.SCHEDULE_READ: "seeing the calendar",
    Permission.SCHEDULE_MANAGE: "booking visits and setting up rooms and facilitators",
    Permission.GUESS_ENTER: "recording treatment guesses",
    Permission.ELIGIBILITY_OVERRIDE: "overriding a screening's verdict",
}


_STAFF = {
    Permission.ACCOUNT,
    Permission.API_DOCS,
    Permission.STUDY_READ,
    Permission.KNOWLEDGE_READ,
}

_OUTCOMES = {
    Permission.OUTCOME_READ,
    Permission.OUTCOME_ENTER,
    Permission.ALERT_READ,
    Permission.ALERT_MANAGE,
}

# Least privilege. Administrators run the platform but do not see participants' records or
# identities; monitors read everything clinical but change nothing and see no identities;
# blinded roles are limited further by the blinding policy (trial operations).
_TRIAL_TEAM = {
    Permission.PROTOCOL_MANAGE,
    Permission.RANDOMISE,
    Permission.SCHEDULE_READ,
    Permission.SCHEDULE_MANAGE,
    Permission.GUESS_ENTER,
}

# Blinding: no staff role sees an arm except the unblinded statistician (who reads but does
# not treat or rate). An investigator may unblind one participant in an emergency, giving a
# reason; that is recorded and every investigator and monitor of the study is notified.
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(_STAFF | {Permission.AUDIT_READ, Permission.USER_MANAGE}),
    Role.INVESTIGATOR: frozenset(
        _STAFF
        | {
            Permission.PARTICIPANT_READ,
            Permission.PARTICIPANT_WRITE,
            Permission.IDENTITY_READ,
            Permission.IDENTITY_WRITE,
            Permission.SCREENING_WRITE,
            Permission.EMERGENCY_UNBLIND,
            Permission.ELIGIBILITY_OVERRIDE,
            *_OUTCOMES,
            *_TRIAL_TEAM,
        }
    ),
    Role.COORDINATOR: frozenset(
        _STAFF
        | {
            Permission.PARTICIPANT_READ,
            Permission.PARTICIPANT_WRITE,
            Permission.IDENTITY_READ,
            Permission.IDENTITY_WRITE,
            Permission.SCREENING_WRITE,
            *_OUTCOMES,
            *_TRIAL_TEAM,
        }
    ),
    Role.FACILITATOR: frozenset(
        _STAFF
        | {
            Permission.PARTICIPANT_READ,
            Permission.OUTCOME_READ,
            Permission.ALERT_READ,
            Permission.SCHEDULE_READ,
            Permission.GUESS_ENTER,
        }
    ),
    # A blinded rater enters ratings but sees no other outcome data (their own ratings only).
    Role.BLINDED_RATER: frozenset(
        _STAFF | {Permission.PARTICIPANT_READ, Permission.OUTCOME_ENTER, Permission.GUESS_ENTER}
    ),
    Role.MONITOR: frozenset(
        _STAFF
        | {
            Permission.PARTICIPANT_READ,
            Permission.AUDIT_READ,
            Permission.OUTCOME_READ,
            Permission.ALERT_READ,
            Permission.SCHEDULE_READ,
        }
    ),
    Role.PARTICIPANT: frozenset({Permission.ACCOUNT, Permission.SELF_SERVICE}),
    Role.UNBLINDED_STATISTICIAN: frozenset(
        _STAFF
        | {
            Permission.PARTICIPANT_READ,
            Permission.OUTCOME_READ,
            Permission.ALLOCATION_READ,
        }
    ),
}


def roles_with(permission: Permission) -> frozenset[Role]:
    """Every role whose permissions include ``permission``."""
    return frozenset(role for role, perms in ROLE_PERMISSIONS.items() if permission in perms)


@dataclass(frozen=True, slots=True)
class Membership:
    """A user's role in a study (``None``: every study) at a site (``None``: every site)."""

    role: Role
    study_id: int | None = None
    site_id: int | None = None
    participant_id: int | None = None  # set for the participant role: whose data it is

    def covers(self, study_id: int | None, site_id: int | None) -> bool:
        if study_id is not None and self.study_id is not None and self.study_id != study_id:
            return False
        return not (site_id is not None and self.site_id is not None and self.site_id != site_id)


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated user and their memberships, as the rules see them."""

    user_id: int
    username: str
    display_name: str
    memberships: tuple[Membership, ...]
    # A trusted local operator (the CLI, the demo loader): every permission, everywhere.
    is_system: bool = False

    @classmethod
    def system(cls, name: str) -> Principal:
        return cls(user_id=0, username=name, display_name=name, memberships=(), is_system=True)

    @property
    def roles(self) -> frozenset[Role]:
        return frozenset(m.role for m in self.memberships)

    def has(self, permission: Permission) -> bool:
        """True if any membership grants ``permission`` (the gate every route passes)."""
        return self.is_system or any(
            permission in ROLE_PERMISSIONS[m.role] for m in self.memberships
        )

    def can(
        self, permission: Permission, *, study_id: int | None = None, site_id: int | None = None
    ) -> bool:
        """True if a membership covering this study and site grants ``permission``.

        A site-scoped check must name the study that owns the resource: a membership without a
        site covers every site *of its own study* only, so a check by site alone would let a
        study-wide membership of one study reach the sites of another.
        """
        if site_id is not None and study_id is None:
            raise ValueError("a permission check at a site must name the study that owns it")
        return self.is_system or any(
            permission in ROLE_PERMISSIONS[m.role] and m.covers(study_id, site_id)
            for m in self.memberships
        )

    def site_scope(self, permission: Permission, study_id: int) -> frozenset[int] | None:
        """The sites of ``study_id`` where ``permission`` holds; ``None`` means every site.

        An empty set means none.
        """
        if self.is_system:
            return None
        sites: set[int] = set()
        for m in self.memberships:
            if permission not in ROLE_PERMISSIONS[m.role] or not m.covers(study_id, None):
                continue
            if m.site_id is None:
                return None
            sites.add(m.site_id)
        return frozenset(sites)

    def study_ids(self, permission: Permission) -> frozenset[int] | None:
        """Studies where ``permission`` holds; ``None`` means every study."""
        if self.is_system:
            return None
        ids: set[int] = set()
        for m in self.memberships:
            if permission not in ROLE_PERMISSIONS[m.role]:
                continue
            if m.study_id is None:
                return None
            ids.add(m.study_id)
        return frozenset(ids)

    def own_participant_ids(self) -> frozenset[int]:
        return frozenset(
            m.participant_id
            for m in self.memberships
            if m.role is Role.PARTICIPANT and m.participant_id is not None
        )


def parse_role(value: str) -> Role:
    """Read a role name as users type it ("Blinded rater", "blinded-rater")."""
    key = value.strip().lower().replace("-", "_").replace(" ", "_")
    try:
        return Role(key)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise ValueError(f"unknown role {value!r}; choose one of: {allowed}") from None


def describe(permissions: Iterable[Permission]) -> str:
    return ", ".join(sorted(p.value for p in permissions))
