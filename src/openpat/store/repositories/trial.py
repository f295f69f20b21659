"""Trial operations: protocol versions, allocations, consent, visits, guesses, unblindings,
notifications; rooms, facilitators and bookings."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openpat.store.models import (
    BookingFacilitator,
    Consent,
    FacilitatorProfile,
    Notification,
    Participant,
    ParticipantAllocation,
    RandomisationKey,
    Room,
    RoomBooking,
    Signature,
    StudyProtocol,
    TreatmentGuess,
    Unblinding,
    VisitRecord,
)


class TrialRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: object) -> None:
        self.session.add(row)
        self.session.flush()

    # -- protocols and randomisation ---------------------------------------------------------
    def current_protocol(self, study_id: int) -> StudyProtocol | None:
        stmt = (
            select(StudyProtocol)
            .where(StudyProtocol.study_id == study_id)
            .order_by(StudyProtocol.id.desc())
        )
        return self.session.scalars(stmt).first()

    def protocols(self, study_id: int) -> Sequence[StudyProtocol]:
        stmt = select(StudyProtocol).where(StudyProtocol.study_id == study_id)
        return self.session.scalars(stmt.order_by(StudyProtocol.id)).all()

    def key(self, study_id: int) -> RandomisationKey | None:
        return self.session.get(RandomisationKey, study_id)

    def allocation(self, participant_id: int) -> ParticipantAllocation | None:
        stmt = select(ParticipantAllocation).where(
            ParticipantAllocation.participant_id == participant_id
        )
        return self.session.scalars(stmt).first()

    def allocations(
        self, study_id: int, *, stratum: str | None = None
    ) -> Sequence[ParticipantAllocation]:
        stmt = select(ParticipantAllocation).where(ParticipantAllocation.study_id == study_id)
        if stratum is not None:
            stmt = stmt.where(ParticipantAllocation.stratum == stratum)
        return self.session.scalars(stmt.order_by(ParticipantAllocation.id)).all()

    def count_allocations(self, study_id: int, stratum: str) -> int:
        stmt = select(func.count()).where(
            ParticipantAllocation.study_id == study_id, ParticipantAllocation.stratum == stratum
        )
        return int(self.session.scalar(stmt) or 0)

    # -- consent, visits ---------------------------------------------------------------------
    def consents(self, participant_id: int) -> Sequence[Consent]:
        stmt = select(Consent).where(Consent.participant_id == participant_id)
        return self.session.scalars(stmt.order_by(Consent.signed_at)).all()

    def consent(self, consent_id: int) -> Consent | None:
        return self.session.get(Consent, consent_id)

    def signatures(self, record_table: str, record_id: str) -> Sequence[Signature]:
        stmt = select(Signature).where(
            Signature.record_table == record_table, Signature.record_id == record_id
        )
        return self.session.scalars(stmt.order_by(Signature.id)).all()

    def visit_records(self, participant_id: int) -> Sequence[VisitRecord]:
        stmt = select(VisitRecord).where(VisitRecord.participant_id == participant_id)
        return self.session.scalars(stmt).all()

    def visit_record(self, participant_id: int, visit_key: str) -> VisitRecord | None:
        stmt = select(VisitRecord).where(
            VisitRecord.participant_id == participant_id, VisitRecord.visit_key == visit_key
        )
        return self.session.scalars(stmt).first()

    def randomised(
        self, study_id: int, site_ids: Collection[int] | None
    ) -> Sequence[tuple[Participant, ParticipantAllocation]]:
        stmt = (
            select(Participant, ParticipantAllocation)
            .join(ParticipantAllocation, ParticipantAllocation.participant_id == Participant.id)
            .where(Participant.study_id == study_id)
        )
        if site_ids is not None:
            stmt = stmt.where(Participant.site_id.in_(list(site_ids)))
        return [(p, a) for p, a in self.session.execute(stmt.order_by(Participant.code)).all()]

    # -- blinding ----------------------------------------------------------------------------
    def guesses(self, study_id: int) -> Sequence[TreatmentGuess]:
        stmt = select(TreatmentGuess).where(TreatmentGuess.study_id == study_id)
        return self.session.scalars(stmt.order_by(TreatmentGuess.id)).all()

    def guesses_of(self, participant_id: int) -> Sequence[TreatmentGuess]:
        stmt = select(TreatmentGuess).where(TreatmentGuess.participant_id == participant_id)
        return self.session.scalars(stmt.order_by(TreatmentGuess.id)).all()

    def unblinding(self, unblinding_id: int) -> Unblinding | None:
        return self.session.get(Unblinding, unblinding_id)

    def unblindings(self, study_id: int) -> Sequence[Unblinding]:
        stmt = select(Unblinding).where(Unblinding.study_id == study_id)
        return self.session.scalars(stmt.order_by(Unblinding.id.desc())).all()

    def notifications(self, user_id: int, limit: int = 50) -> Sequence[Notification]:
        stmt = select(Notification).where(Notification.user_id == user_id)
        return self.session.scalars(stmt.order_by(Notification.id.desc()).limit(limit)).all()

    def notifications_after(
        self, user_id: int, after_id: int, limit: int = 100
    ) -> Sequence[Notification]:
        """The user's notifications newer than ``after_id``, oldest first."""
        stmt = select(Notification).where(
            Notification.user_id == user_id, Notification.id > after_id
        )
        return self.session.scalars(stmt.order_by(Notification.id).limit(limit)).all()

    def newest_notification_id(self, user_id: int) -> int:
        stmt = select(func.max(Notification.id)).where(Notification.user_id == user_id)
        return int(self.session.scalar(stmt) or 0)


class ScheduleRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: object) -> None:
        self.session.add(row)
        self.session.flush()

    def rooms(self, site_id: int) -> Sequence[Room]:
        stmt = select(Room).where(Room.site_id == site_id).order_by(Room.code)
        return self.session.scalars(stmt).all()

    def room(self, room_id: int) -> Room | None:
        return self.session.get(Room, room_id)

    def facilitators(self, site_id: int) -> Sequence[FacilitatorProfile]:
        stmt = select(FacilitatorProfile).where(FacilitatorProfile.site_id == site_id)
        return self.session.scalars(stmt.order_by(FacilitatorProfile.code)).all()

    def facilitator(self, facilitator_id: int) -> FacilitatorProfile | None:
        return self.session.get(FacilitatorProfile, facilitator_id)

    def booked_starting(self, start: dt.datetime, end: dt.datetime) -> Sequence[RoomBooking]:
        """Bookings still booked that start after ``start`` and by ``end``, at every site."""
        stmt = select(RoomBooking).where(
            RoomBooking.status == "booked",
            RoomBooking.starts_at > start,
            RoomBooking.starts_at <= end,
        )
        return self.session.scalars(stmt).all()

    def booking(self, booking_id: int) -> RoomBooking | None:
        return self.session.get(RoomBooking, booking_id)

    def bookings(
        self,
        *,
        site_id: int,
        start: dt.datetime,
        end: dt.datetime,
        study_id: int | None = None,
    ) -> Sequence[RoomBooking]:
        """Live bookings at the site overlapping ``[start, end)``."""
        stmt = select(RoomBooking).where(
            RoomBooking.site_id == site_id,
            RoomBooking.status == "booked",
            RoomBooking.starts_at < end,
            RoomBooking.ends_at > start,
        )
        if study_id is not None:
            stmt = stmt.where(RoomBooking.study_id == study_id)
        return self.session.scalars(stmt.order_by(RoomBooking.starts_at)).all()

    def bookings_of(self, participant_id: int) -> Sequence[RoomBooking]:
        stmt = select(RoomBooking).where(
            RoomBooking.participant_id == participant_id, RoomBooking.status == "booked"
        )
        return self.session.scalars(stmt.order_by(RoomBooking.starts_at)).all()

    def staff_of(self, booking_ids: Collection[int]) -> dict[int, list[int]]:
        if not booking_ids:
            return {}
        stmt = select(BookingFacilitator).where(
            BookingFacilitator.booking_id.in_(list(booking_ids))
        )
        found: dict[int, list[int]] = {}
        for row in self.session.scalars(stmt):
            found.setdefault(row.booking_id, []).append(row.facilitator_id)
        return found
