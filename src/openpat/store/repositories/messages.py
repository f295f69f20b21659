"""The e-mail log: messages queued, sent, skipped or failed."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from openpat.store.models import Message

MAX_ATTEMPTS = 3


class MessageRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, message: Message) -> Message:
        self.session.add(message)
        self.session.flush()
        return message

    def get(self, message_id: int) -> Message | None:
        return self.session.get(Message, message_id)

    def keys(self, keys: Collection[str]) -> set[str]:
        if not keys:
            return set()
        stmt = select(Message.key).where(Message.key.in_(list(keys)))
        return set(self.session.scalars(stmt))

    def to_send(self, limit: int = 200) -> list[int]:
        """Messages still to send: queued, or failed with attempts left; oldest first."""
        stmt = (
            select(Message.id)
            .where(
                or_(
                    Message.status == "queued",
                    (Message.status == "failed") & (Message.attempts < MAX_ATTEMPTS),
                )
            )
            .order_by(Message.id)
            .limit(limit)
        )
        return list(self.session.scalars(stmt))

    def recent(self, *, study_ids: Collection[int] | None, limit: int = 200) -> Sequence[Message]:
        stmt = select(Message).order_by(Message.id.desc()).limit(limit)
        if study_ids is not None:
            stmt = stmt.where(Message.study_id.in_(list(study_ids)))
        return self.session.scalars(stmt).all()
