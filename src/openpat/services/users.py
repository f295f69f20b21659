"""User accounts and memberships."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from pydantic import BaseModel, ConfigDict, EmailStr, Field

from openpat.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from openpat.security import Permission, Principal, Role
from openpat.security.passwords import password_problem
from openpat.services.ids import Id
from openpat.store.models import Membership, User
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
    memberships: list[MembershipRead]


def _read(user: User, memberships: list[Membership]) -> UserRead:
    return UserRead(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        email=user.email,
        is_active=user.is_active,
        memberships=[
            MembershipRead(
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
    for index, m in enumerate(user_in.memberships):
        _check_membership(uow, m, index)
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
    return _read(user, added)


def add_membership(
    *, uow: UnitOfWork, principal: Principal, user_id: int, membership_in: MembershipIn
) -> UserRead:
    _require(principal)
    user = uow.users.get_with_memberships(user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    _check_membership(uow, membership_in, 0)
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
    reloaded = uow.users.get_with_memberships(user_id)
    assert reloaded is not None
    return _read(reloaded, list(reloaded.memberships))


def list_users(*, uow: UnitOfWork, principal: Principal) -> list[UserRead]:
    _require(principal)
    return [_read(u, list(u.memberships)) for u in uow.users.list_with_memberships()]


def find_user_id(*, uow: UnitOfWork, username: str) -> int | None:
    user = uow.users.get_by_username(username)
    return user.id if user else None
