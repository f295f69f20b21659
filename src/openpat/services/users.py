"""User accounts and memberships."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Iterator

from argon2 import PasswordHasher
from pydantic import BaseModel, ConfigDict, EmailStr, Field

from openpat.errors import Conflict, DutyRefused, InvalidInput, NotFound, PermissionDenied
from openpat.security import Membership as Grant
from openpat.security import Permission, Principal, Role, duties
from openpat.security.passwords import password_problem
from openpat.services.ids import Id
from openpat.store.models import Membership, Notification, User
from openpat.store.uow import UnitOfWork

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")


class MembershipIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role
    study_id: Id | None = Field(default=None, description="None: every study")
    site_id: Id | None = Field(default=None, description="None: every site of the study")
    participant_id: Id | None = Field(default=None, description="for the participant role")


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=2, max_length=64)
    display_name: str = Field(min_length=1, max_length=200)
    email: EmailStr | None = None
    password: str = Field(min_length=1, max_length=256)
    memberships: list[MembershipIn] = Field(default_factory=list)


class MembershipRead(BaseModel):
    id: int | None = None
    role: Role
    study_id: int | None
    site_id: int | None
    participant_id: int | None


class UserRead(BaseModel):
    id: int
    username: str
    display_name: str
    email: str | None
    is_active: bool
    must_change_password: bool = False
    last_login_at: dt.datetime | None = None
    memberships: list[MembershipRead]


def _read(
    user: User, memberships: list[Membership], last_login: dt.datetime | None = None
) -> UserRead:
    return UserRead(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        email=user.email,
        is_active=user.is_active,
        must_change_password=bool(user.must_change_password),
        last_login_at=last_login,
        memberships=[
            MembershipRead(
                id=m.id,
                role=Role(m.role),
                study_id=m.study_id,
                site_id=m.site_id,
                participant_id=m.participant_id,
            )
            for m in memberships
        ],
    )


def _require(principal: Principal) -> None:
    if not principal.has(Permission.USER_MANAGE):
        raise PermissionDenied("managing users needs the administrator role")


def _check_membership(uow: UnitOfWork, m: MembershipIn, index: int) -> None:
    where = f"memberships[{index}]"
    if m.study_id is not None and uow.studies.get(m.study_id) is None:
        raise InvalidInput.for_field(f"{where}.study_id", f"no study with id {m.study_id}")
    if m.site_id is not None:
        if m.study_id is None:
            raise InvalidInput.for_field(f"{where}.site_id", "a site needs a study")
        if uow.sites.get(m.site_id) is None:
            raise InvalidInput.for_field(f"{where}.site_id", f"no site with id {m.site_id}")
    if m.role is Role.PARTICIPANT:
        if m.participant_id is None:
            raise InvalidInput.for_field(
                f"{where}.participant_id", "the participant role needs the participant's id"
            )
        participant = uow.participants.get(m.participant_id)
        if participant is None:
            raise InvalidInput.for_field(
                f"{where}.participant_id", f"no participant with id {m.participant_id}"
            )
        if m.study_id is not None and participant.study_id != m.study_id:
            raise InvalidInput.for_field(
                f"{where}.participant_id", "the participant is not in that study"
            )
    elif m.participant_id is not None:
        raise InvalidInput.for_field(
            f"{where}.participant_id", "only the participant role links to a participant"
        )


def create_user(
    *, uow: UnitOfWork, principal: Principal, user_in: UserCreate, hasher: PasswordHasher
) -> UserRead:
    """Create an account with its memberships (administrators only)."""
    _require(principal)
    username = user_in.username.strip().lower()
    if not USERNAME_RE.match(username):
        raise InvalidInput.for_field(
            "username",
            "use 2-64 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    problem = password_problem(user_in.password, username=username)
    if problem:
        raise InvalidInput.for_field("password", problem)
    if uow.users.get_by_username(username) is not None:
        raise Conflict(f"username: a user called {username!r} already exists")
    held: list[Grant] = []
    for index, m in enumerate(user_in.memberships):
        _check_membership(uow, m, index)
        grant = _grant(m)
        _check_duties(principal, None, held, grant)
        held.append(grant)
    user = uow.users.add(
        User(
            username=username,
            display_name=user_in.display_name.strip(),
            email=str(user_in.email) if user_in.email else None,
            password_hash=hasher.hash(user_in.password),
            is_active=True,
            created_at=uow.now(),
        )
    )
    added = [
        uow.users.add_membership(
            Membership(
                user_id=user.id,
                role=m.role.value,
                study_id=m.study_id,
                site_id=m.site_id,
                participant_id=m.participant_id,
            )
        )
        for m in user_in.memberships
    ]
    for m in user_in.memberships:
        _announce(uow, principal, user, _grant(m))
    return _read(user, added)


def add_membership(
    *, uow: UnitOfWork, principal: Principal, user_id: int, membership_in: MembershipIn
) -> UserRead:
    _require(principal)
    user = uow.users.get_with_memberships(user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    _check_membership(uow, membership_in, 0)
    grant = _grant(membership_in)
    _check_duties(principal, user_id, [_grant(m) for m in user.memberships], grant)
    if uow.users.find_membership(
        user_id=user_id,
        role=membership_in.role.value,
        study_id=membership_in.study_id,
        site_id=membership_in.site_id,
    ):
        raise Conflict("the user already has that role there")
    uow.users.add_membership(
        Membership(
            user_id=user_id,
            role=membership_in.role.value,
            study_id=membership_in.study_id,
            site_id=membership_in.site_id,
            participant_id=membership_in.participant_id,
        )
    )
    _announce(uow, principal, user, grant)
    reloaded = uow.users.get_with_memberships(user_id)
    assert reloaded is not None
    return _read(reloaded, list(reloaded.memberships))


def _grant(m: MembershipIn | Membership) -> Grant:
    return Grant(
        role=Role(m.role), study_id=m.study_id, site_id=m.site_id, participant_id=m.participant_id
    )


def _check_duties(
    principal: Principal, user_id: int | None, held: list[Grant], grant: Grant
) -> None:
    """Segregation of duties (``openpat.security.duties``): refused naming the rule."""
    with _duties():
        duties.check_grant(principal, user_id, held, grant)


def _announce(uow: UnitOfWork, principal: Principal, user: User, grant: Grant) -> None:
    """Granting the unblinded role or access to identities is announced to the study's
    investigators (of every study, for a grant in every study)."""
    if grant.role not in duties.ANNOUNCED_ROLES:
        return
    study_ids = (
        [grant.study_id] if grant.study_id is not None else [s.id for s in uow.studies.list(None)]
    )
    what = (
        "the unblinded role (sees every arm)"
        if grant.role is Role.UNBLINDED_STATISTICIAN
        else "access to participants' identities"
    )
    now = uow.now()
    for study_id in study_ids:
        study = uow.studies.get(study_id)
        where = f"study {study.code}" if study is not None else f"study {study_id}"
        message = (
            f"{principal.display_name} granted {user.display_name} ({user.username}) the role "
            f"{grant.role.label} in {where}"
            + (" (every study)" if grant.study_id is None else "")
            + f": {what}. {now:%Y-%m-%d %H:%M} UTC."
        )
        for recipient in uow.users.ids_with_roles(study_id, [Role.INVESTIGATOR.value]):
            uow.trial.add(
                Notification(
                    user_id=recipient,
                    study_id=study_id,
                    kind="access-granted",
                    message=message,
                    created_at=now,
                )
            )


def notify_administrators(*, uow: UnitOfWork, kind: str, message: str) -> int:
    """Notify every active administrator of the whole platform (a system event, such as a
    failed audit-trail check); returns how many."""
    now = uow.now()
    sent = 0
    for user in uow.users.list_with_memberships():
        if user.is_active and any(
            m.role == Role.ADMIN.value and m.study_id is None for m in user.memberships
        ):
            uow.trial.add(Notification(user_id=user.id, kind=kind, message=message, created_at=now))
            sent += 1
    return sent


def list_users(*, uow: UnitOfWork, principal: Principal) -> list[UserRead]:
    _require(principal)
    found = uow.users.list_with_memberships()
    last = uow.auth.last_logins([u.username for u in found])
    return [_read(u, list(u.memberships), last.get(u.username)) for u in found]


# -- account lifecycle: accounts are deactivated, never deleted -------------------------------


class AccountStatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    active: bool = Field(description="false deactivates the account and ends its sessions")
    reason: str = Field(min_length=3, max_length=500, description="for the audit trail")


class PasswordResetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str = Field(
        min_length=1, max_length=256, description="temporary; the user must change it at login"
    )
    reason: str = Field(default="password reset by an administrator", min_length=3, max_length=500)


class PasswordChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=1, max_length=256)


class MembershipRemoveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=3, max_length=500, description="for the audit trail")


@contextlib.contextmanager
def _duties() -> Iterator[None]:
    """A segregation-of-duties refusal as the error the faces show, naming its rule."""
    try:
        yield
    except duties.DutyConflict as exc:
        raise DutyRefused(f"role: {exc}", rule=exc.rule) from None


def _other_user(uow: UnitOfWork, principal: Principal, user_id: int, what: str) -> User:
    """A user account an administrator may act on: not their own (``what`` says the act)."""
    _require(principal)
    user = uow.users.get_with_memberships(user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    with _duties():
        duties.check_not_self(principal, user.id, f"{what} their own account")
    return user


def set_account_status(
    *, uow: UnitOfWork, principal: Principal, user_id: int, status: AccountStatusIn
) -> UserRead:
    """Deactivate (ending every session at once) or reactivate an account."""
    user = _other_user(uow, principal, user_id, "deactivate or reactivate")
    with uow.reason(status.reason):
        user.is_active = status.active
        uow.flush()
    if not status.active:
        uow.auth.delete_user_sessions(user.id)
    return _read(user, list(user.memberships))


def reset_password(
    *,
    uow: UnitOfWork,
    principal: Principal,
    user_id: int,
    reset: PasswordResetIn,
    hasher: PasswordHasher,
) -> UserRead:
    """Set a temporary password; the user must choose their own at the next login. Their
    sessions end."""
    user = _other_user(uow, principal, user_id, "reset the password of")
    problem = password_problem(reset.password, username=user.username)
    if problem:
        raise InvalidInput.for_field("password", problem)
    with uow.reason(reset.reason):
        user.password_hash = hasher.hash(reset.password)
        user.must_change_password = True
        uow.flush()
    uow.auth.delete_user_sessions(user.id)
    return _read(user, list(user.memberships))


def change_own_password(
    *, uow: UnitOfWork, principal: Principal, change: PasswordChangeIn, hasher: PasswordHasher
) -> None:
    """The user sets their own password, giving the current one."""
    from openpat.security.passwords import verify_password

    user = uow.users.get(principal.user_id)
    if user is None:
        raise NotFound("your account was not found")
    if not verify_password(hasher, user.password_hash, change.current_password):
        raise InvalidInput.for_field("current_password", "is not your current password")
    if change.new_password == change.current_password:
        raise InvalidInput.for_field("new_password", "must differ from the current password")
    problem = password_problem(change.new_password, username=user.username)
    if problem:
        raise InvalidInput.for_field("new_password", problem)
    with uow.reason("password changed by its owner"):
        user.password_hash = hasher.hash(change.new_password)
        user.must_change_password = False
        uow.flush()


def remove_membership(
    *,
    uow: UnitOfWork,
    principal: Principal,
    user_id: int,
    membership_id: int,
    remove: MembershipRemoveIn,
) -> UserRead:
    """Take a role away (the membership row is deleted; the audit trail keeps it)."""
    user = _other_user(uow, principal, user_id, "change the memberships of")
    membership = next((m for m in user.memberships if m.id == membership_id), None)
    if membership is None:
        raise NotFound(f"membership {membership_id} of user {user_id} not found")
    with _duties():
        duties.check_within_scope(principal, membership.study_id)
    with uow.reason(remove.reason):
        uow.users.delete_membership(membership)
    return _read(user, [m for m in user.memberships if m.id != membership_id])


def find_user_id(*, uow: UnitOfWork, username: str) -> int | None:
    user = uow.users.get_by_username(username)
    return user.id if user else None


# -- a study's access page --------------------------------------------------------------------


class AccessRead(BaseModel):
    """One membership in the study: who holds which role, where, and who granted it."""

    user_id: int
    username: str
    display_name: str
    is_active: bool
    role: Role
    role_label: str
    every_study: bool
    site_id: int | None
    announced: bool = Field(description="the unblinded role or access to identities")
    granted_by: str | None
    granted_at: dt.datetime | None


class StudyAccess(BaseModel):
    study_id: int
    members: list[AccessRead]
    rules: list[dict[str, str]] = Field(description="the segregation-of-duties rules applied")


def study_access(*, uow: UnitOfWork, principal: Principal, study_id: int) -> StudyAccess:
    """Who may do what in the study: every membership (those in every study too), the grants
    that were announced first, each with who granted it and when (from the audit trail)."""
    from openpat.services.studies import visible_study

    visible_study(uow, principal, study_id)
    rows = uow.users.study_memberships(study_id)
    grants = uow.audit.inserts("memberships", [str(m.id) for m, _ in rows])
    members = []
    for m, user in rows:
        role = Role(m.role)
        if role is Role.PARTICIPANT:
            continue  # participants are listed with their records, not as staff
        event = grants.get(str(m.id))
        members.append(
            AccessRead(
                user_id=user.id,
                username=user.username,
                display_name=user.display_name,
                is_active=user.is_active,
                role=role,
                role_label=role.label,
                every_study=m.study_id is None,
                site_id=m.site_id,
                announced=role in duties.ANNOUNCED_ROLES,
                granted_by=event.actor if event is not None else None,
                granted_at=event.at if event is not None else None,
            )
        )
    members.sort(key=lambda a: (not a.announced, a.role_label, a.username))
    return StudyAccess(study_id=study_id, members=members, rules=duties.rules_table())
