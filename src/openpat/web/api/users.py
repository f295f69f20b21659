"""User accounts (administrators)."""

from __future__ import annotations

from fastapi import APIRouter

from openpat.services import users
from openpat.services.ids import Id
from openpat.services.users import MembershipIn, UserCreate, UserRead
from openpat.web.deps import PlatformDep, UowDep, UserManager

router = APIRouter(prefix="/users", tags=["users"])


@router.get("")
def list_users(active: UserManager, uow: UowDep) -> list[UserRead]:
    return users.list_users(uow=uow, principal=active.principal)


@router.post("", status_code=201)
def create_user(
    body: UserCreate, active: UserManager, uow: UowDep, platform: PlatformDep
) -> UserRead:
    created = users.create_user(
        uow=uow, principal=active.principal, user_in=body, hasher=platform.hasher
    )
    uow.commit()
    return created


@router.post("/{user_id}/memberships", status_code=201)
def add_membership(user_id: Id, body: MembershipIn, active: UserManager, uow: UowDep) -> UserRead:
    updated = users.add_membership(
        uow=uow, principal=active.principal, user_id=user_id, membership_in=body
    )
    uow.commit()
    return updated
