"""Users and their memberships."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from openpat.store.models import Membership, User


class UserRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, user_id: int) -> User | None:
        return self.session.get(User, user_id)

    def get_by_username(self, username: str) -> User | None:
        stmt = select(User).where(func.lower(User.username) == username.strip().lower())
        return self.session.scalars(stmt).first()

    def get_with_memberships(self, user_id: int) -> User | None:
        stmt = select(User).where(User.id == user_id).options(selectinload(User.memberships))
        return self.session.scalars(stmt).first()

    def list_with_memberships(self) -> Sequence[User]:
        stmt = select(User).order_by(User.username).options(selectinload(User.memberships))
        return self.session.scalars(stmt).all()

    def study_memberships(self, study_id: int) -> Sequence[tuple[Membership, User]]:
        """Every membership in the study (or in every study), with its user."""
        stmt = (
            select(Membership, User)
            .join(User, User.id == Membership.user_id)
            .where(or_(Membership.study_id == study_id, Membership.study_id.is_(None)))
            .order_by(Membership.role, User.username)
        )
        return [(m, u) for m, u in self.session.execute(stmt).tuples()]

    def delete_membership(self, membership: Membership) -> None:
        self.session.delete(membership)
        self.session.flush()

    def add(self, user: User) -> User:
        self.session.add(user)
        self.session.flush()
        return user

    def add_membership(self, membership: Membership) -> Membership:
        self.session.add(membership)
        self.session.flush()
        return membership

    def find_membership(
        self, *, user_id: int, role: str, study_id: int | None, site_id: int | None
    ) -> Membership | None:
        stmt = select(Membership).where(
            Membership.user_id == user_id,
            Membership.role == role,
            Membership.study_id.is_(None) if study_id is None else Membership.study_id == study_id,
            Membership.site_id.is_(None) if site_id is None else Membership.site_id == site_id,
        )
        return self.session.scalars(stmt).first()

    def ids_with_roles(self, study_id: int, roles: Collection[str]) -> list[int]:
        """Active users holding one of ``roles`` in the study (or in every study)."""
        stmt = (
            select(Membership.user_id)
            .join(User, User.id == Membership.user_id)
            .where(
                Membership.role.in_(list(roles)),
                or_(Membership.study_id == study_id, Membership.study_id.is_(None)),
                User.is_active.is_(True),
            )
            .distinct()
            .order_by(Membership.user_id)
        )
        return list(self.session.scalars(stmt))
