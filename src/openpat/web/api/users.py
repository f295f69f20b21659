"""User accounts (administrators)."""

from __future__ import annotations

from fastapi import APIRouter

from openpat.services import users
from openpat.services.ids import Id
from openpat.services.users import (
    AccountStatusIn,
    MembershipIn,
    MembershipRemoveIn,
    PasswordResetIn,
    UserCreate,
    UserRead,
)
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


@router.put("/{user_id}/status")
def set_status(user_id: Id, body: AccountStatusIn, active: UserManager, uow: UowDep) -> UserRead:
    """Deactivate (its sessions end at once) or reactivate an account; never deleted."""
    updated = users.set_account_status(
        uow=uow, principal=active.principal, user_id=user_id, status=body
    )
    uow.commit()
    return updated


@router.post("/{user_id}/password-reset")
def reset_password(
    user_id: Id, body: PasswordResetIn, active: UserManager, uow: UowDep, platform: PlatformDep
) -> UserRead:
    """Set a temporary password that the user must change at the next login."""
    updated = users.reset_password(
        uow=uow, principal=active.principal, user_id=user_id, reset=body, hasher=platform.hasher
    )
    uow.commit()
    return updated


@router.post("/{user_id}/memberships/{membership_id}/remove")
def remove_membership(
    user_id: Id, membership_id: Id, body: MembershipRemoveIn, active: UserManager, uow: UowDep
) -> UserRead:
    """Take a role away, with a reason for the audit trail."""
    updated = users.remove_membership(
        uow=uow,
        principal=active.principal,
        user_id=user_id,
        membership_id=membership_id,
        remove=body,
    )
    uow.commit()
    return updated
