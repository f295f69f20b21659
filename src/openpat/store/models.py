"""SQLAlchemy 2 models. These are storage rows: not domain objects and not API schemas.

Classes with ``__audited__ = True`` hold study data; every insert, update and delete of them
is written to the audit trail in the same transaction (see ``openpat.store.audit``).
"""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)

    __audited__: ClassVar[bool] = False
    # Values of these columns are never written to the audit trail ("[changed]" instead).
    __audit_redacted__: ClassVar[frozenset[str]] = frozenset()
    # Values readable only by roles with identity access (the audit page masks them).
    __audit_sensitive__: ClassVar[bool] = False

    def audit_study_id(self) -> int | None:
        return None

    def audit_participant_id(self) -> int | None:
        return None


class UtcDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware timestamp, stored in UTC, read back aware on every database."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; pass an aware datetime")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Site(Base):
    __tablename__ = "sites"
    __audited__ = True

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    country: Mapped[str] = mapped_column(String(2))
    # shown to a participant whose answers raised a safety alert; None: openpat's default
    crisis_text: Mapped[str | None] = mapped_column(Text(), nullable=True)
    # The site's own wording of e-mails to participants (None: openpat's default); only the
    # placeholders in openpat.services.messaging.PLACEHOLDERS are filled in.
    email_form_text: Mapped[str | None] = mapped_column(Text(), nullable=True)
    email_visit_text: Mapped[str | None] = mapped_column(Text(), nullable=True)


class Study(Base):
    __tablename__ = "studies"
    __audited__ = True

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    substance: Mapped[str] = mapped_column(String(80))
    condition: Mapped[str] = mapped_column(String(200))
    phase: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())

    sites: Mapped[list[StudySite]] = relationship(back_populates="study", lazy="raise")

    def audit_study_id(self) -> int | None:
        return self.id


class StudySite(Base):
    __tablename__ = "study_sites"
    __audited__ = True

    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), primary_key=True)

    study: Mapped[Study] = relationship(back_populates="sites", lazy="raise")
    site: Mapped[Site] = relationship(lazy="raise")

    def audit_study_id(self) -> int | None:
        return self.study_id


class User(Base):
    __tablename__ = "users"
    __audited__ = True
    __audit_redacted__ = frozenset({"password_hash"})

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(256))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    # set when an administrator sets the password: the user must choose their own at login
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)

    memberships: Mapped[list[Membership]] = relationship(back_populates="user", lazy="raise")


class Membership(Base):
    __tablename__ = "memberships"
    __audited__ = True
    __table_args__ = (
        UniqueConstraint("user_id", "role", "study_id", "site_id", name="user_role_scope"),
        CheckConstraint(
            "role IN ('admin','investigator','coordinator','facilitator','blinded_rater',"
            "'monitor','participant','unblinded_statistician')",
            name="known_role",
        ),
        CheckConstraint(
            "role <> 'participant' OR participant_id IS NOT NULL", name="participant_has_record"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    role: Mapped[str] = mapped_column(String(40))
    study_id: Mapped[int | None] = mapped_column(ForeignKey("studies.id"))
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"))
    participant_id: Mapped[int | None] = mapped_column(ForeignKey("participants.id"))

    user: Mapped[User] = relationship(back_populates="memberships", lazy="raise")

    def audit_study_id(self) -> int | None:
        return self.study_id

    def audit_participant_id(self) -> int | None:
        return self.participant_id


class Participant(Base):
    """A participant known by a pseudonymous code (``SITE-0001``); no direct identifiers."""

    __tablename__ = "participants"
    __audited__ = True
    __table_args__ = (UniqueConstraint("study_id", "code", name="study_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    code: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(20))
    status_date: Mapped[dt.date] = mapped_column(Date)
    year_of_birth: Mapped[int | None] = mapped_column(Integer)
    sex: Mapped[str | None] = mapped_column(String(10))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())

    identity: Mapped[ParticipantIdentity | None] = relationship(
        back_populates="participant", lazy="raise"
    )
    site: Mapped[Site] = relationship(lazy="raise")

    def audit_study_id(self) -> int | None:
        return self.study_id

    def audit_participant_id(self) -> int | None:
        return self.id


class ParticipantRecord:
    """A record that belongs to one participant in one study: its audit entries carry both
    (the model declares ``study_id`` and ``participant_id`` columns)."""

    study_id: Mapped[int]
    participant_id: Mapped[int]

    def audit_study_id(self) -> int | None:
        return self.study_id

    def audit_participant_id(self) -> int | None:
        return self.participant_id


class Screening(ParticipantRecord, Base):
    """An eligibility screening as run: the profile entered and the full report, with the
    knowledge-base version and hash it was computed from, so it can be reproduced."""

    __tablename__ = "screenings"
    __audited__ = True

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), index=True)
    protocol: Mapped[str] = mapped_column(String(80))
    substance: Mapped[str] = mapped_column(String(80))
    planned_dosing_date: Mapped[dt.date] = mapped_column(Date)
    screened_on: Mapped[dt.date] = mapped_column(Date)
    verdict: Mapped[str] = mapped_column(String(30))
    earliest_dosing_date: Mapped[dt.date | None] = mapped_column(Date)
    profile_json: Mapped[str] = mapped_column(Text)
    report_json: Mapped[str] = mapped_column(Text)
    knowledge_version: Mapped[str] = mapped_column(String(40))
    knowledge_hash: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class EligibilityOverride(ParticipantRecord, Base):
    """An investigator's decision to enrol or randomise a participant whose latest screening
    said "ineligible" or "needs information", with the reason. It applies to that screening
    only: a newer screening is judged on its own."""

    __tablename__ = "eligibility_overrides"
    __audited__ = True

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"))
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), index=True)
    screening_id: Mapped[int] = mapped_column(ForeignKey("screenings.id"))
    verdict: Mapped[str] = mapped_column(String(30))
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class InstrumentResponse(ParticipantRecord, Base):
    """One administration of a questionnaire or rating scale to a participant: the answers
    (saved as they are given, so a form can be resumed), and once submitted the scores with
    the knowledge-base version they were computed from."""

    __tablename__ = "instrument_responses"
    __audited__ = True

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), index=True)
    instrument: Mapped[str] = mapped_column(String(40))
    visit: Mapped[str] = mapped_column(String(60))  # the visit's label, as shown
    # the protocol's id of the scheduled visit it belongs to; None: an unscheduled assessment
    scheduled_visit: Mapped[str | None] = mapped_column(String(60))
    status: Mapped[str] = mapped_column(String(20))  # in-progress | submitted
    source: Mapped[str] = mapped_column(String(20))  # participant | staff | rater
    answers_json: Mapped[str] = mapped_column(Text)
    # interview scoring sheet: {item: {"frequency": f, "intensity": i}} where one is kept
    sheet_json: Mapped[str | None] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer, default=0)
    rater_blinded: Mapped[bool | None] = mapped_column(Boolean)
    total: Mapped[float | None] = mapped_column(Float)
    band: Mapped[str | None] = mapped_column(String(80))
    scored: Mapped[bool | None] = mapped_column(Boolean)
    scores_json: Mapped[str | None] = mapped_column(Text)
    knowledge_version: Mapped[str] = mapped_column(String(40))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    submitted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    __table_args__ = (
        CheckConstraint("status IN ('in-progress', 'submitted')", name="status"),
        CheckConstraint("source IN ('participant', 'staff', 'rater')", name="source"),
    )


class FormLink(ParticipantRecord, Base):
    """A personal link to one form, for a participant without an account: only the SHA-256
    of its token is kept; it ends at ``expires_at``, when revoked, or when the form is sent."""

    __tablename__ = "form_links"
    __audited__ = True
    __audit_redacted__ = frozenset({"token_hash"})

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("instrument_responses.id"), unique=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class SafetyAlert(ParticipantRecord, Base):
    """A safety alert raised by an answer (e.g. a C-SSRS yes to intent or behaviour) for the
    study team to review and acknowledge."""

    __tablename__ = "safety_alerts"
    __audited__ = True

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), index=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("instrument_responses.id"), index=True)
    level: Mapped[str] = mapped_column(String(20))  # low | moderate | high
    rule: Mapped[str] = mapped_column(String(120))
    message: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))  # open | acknowledged
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    acknowledgement: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint("level IN ('low', 'moderate', 'high')", name="level"),
        CheckConstraint("status IN ('open', 'acknowledged')", name="status"),
    )


class ParticipantIdentity(Base):
    """Direct identifiers, kept apart; only roles with identity access may read them."""

    __tablename__ = "participant_identities"
    __audited__ = True
    __audit_sensitive__ = True

    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), primary_key=True)
    full_name: Mapped[str] = mapped_column(String(200))
    date_of_birth: Mapped[dt.date | None] = mapped_column(Date)
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(40))

    participant: Mapped[Participant] = relationship(back_populates="identity", lazy="raise")

    def audit_participant_id(self) -> int | None:
        return self.participant_id


class AuditEvent(Base):
    """One field of one change, or one security event; hash-chained in ``seq`` order."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_participant", "participant_id", "seq"),
        Index("ix_audit_events_actor", "actor_user_id", "seq"),
    )

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    actor_user_id: Mapped[int | None] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(20))
    table_name: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[str] = mapped_column(String(64))
    field: Mapped[str | None] = mapped_column(String(64))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    study_id: Mapped[int | None] = mapped_column(Integer)
    participant_id: Mapped[int | None] = mapped_column(Integer)
    sensitive: Mapped[bool] = mapped_column(Boolean)
    # the id of the audit key whose HMAC is ``hash`` (None: written before the chain was keyed)
    key_id: Mapped[str | None] = mapped_column(String(16))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The last entry of the chain; locked while appending so entries are strictly ordered."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    hash: Mapped[str] = mapped_column(String(64))


class UserSession(Base):
    """A login session; the cookie carries the token, the table keeps only its SHA-256."""

    __tablename__ = "user_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    last_seen_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class LoginAttempt(Base):
    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_username_at", "username", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    remote_addr: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    succeeded: Mapped[bool] = mapped_column(Boolean)


# -- trial operations ------------------------------------------------------------------------


class StudyProtocol(Base):
    """One version of a study's protocol, kept as the YAML it was loaded from; the newest
    version is the one in force."""

    __tablename__ = "study_protocols"
    __audited__ = True
    __table_args__ = (UniqueConstraint("study_id", "version", name="protocol_study_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    protocol_key: Mapped[str] = mapped_column(String(60))
    version: Mapped[str] = mapped_column(String(40))
    source_yaml: Mapped[str] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())

    def audit_study_id(self) -> int | None:
        return self.study_id


class RandomisationKey(Base):
    """The study's randomisation seed. Whoever knows it can predict allocations, so it is
    never shown, exported or written to the audit trail in clear."""

    __tablename__ = "randomisation_keys"
    __audited__ = True
    __audit_redacted__ = frozenset({"seed"})

    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), primary_key=True)
    seed: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())

    def audit_study_id(self) -> int | None:
        return self.study_id


# Columns of an allocation that reveal the arm (directly, or through the block's order).
ALLOCATION_CONCEALED = frozenset(
    {"arm", "block", "block_size", "imbalance_json", "draw", "replay", "position"}
)


class ParticipantAllocation(ParticipantRecord, Base):
    """A participant's randomised arm, with everything that replays it. Written once."""

    __tablename__ = "allocations"
    __audited__ = True
    __audit_redacted__ = ALLOCATION_CONCEALED

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), unique=True)
    protocol_id: Mapped[int] = mapped_column(ForeignKey("study_protocols.id"))
    arm: Mapped[str] = mapped_column(String(60))
    method: Mapped[str] = mapped_column(String(20))
    stratum: Mapped[str] = mapped_column(String(300))
    levels_json: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer)
    block: Mapped[int | None] = mapped_column(Integer)
    block_size: Mapped[int | None] = mapped_column(Integer)
    imbalance_json: Mapped[str | None] = mapped_column(Text)
    draw: Mapped[float | None] = mapped_column(Float)
    replay: Mapped[str] = mapped_column(Text)
    randomised_on: Mapped[dt.date] = mapped_column(Date)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class Consent(ParticipantRecord, Base):
    """An electronic consent: which version of the form, signed by whom and when."""

    __tablename__ = "consents"
    __audited__ = True
    __audit_sensitive__ = True  # the signature is the participant's name

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), index=True)
    form_version: Mapped[str] = mapped_column(String(40))
    signature: Mapped[str] = mapped_column(String(200))
    signed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    witnessed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class Signature(ParticipantRecord, Base):
    """An electronic signature (21 CFR 11.50, 11.70): the signer, their printed name, when
    (and the site's time zone it is shown in), what the signature means, and a hash of the
    signed record's content, so that it cannot be moved to another record and a later edit of
    the record shows it as broken."""

    __tablename__ = "signatures"
    __audited__ = True
    __table_args__ = (Index("ix_signatures_record", "record_table", "record_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"))
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"))
    record_table: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[str] = mapped_column(String(64))
    meaning: Mapped[str] = mapped_column(String(40))
    signer_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    printed_name: Mapped[str] = mapped_column(String(200))
    signed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    time_zone: Mapped[str] = mapped_column(String(64))
    content_hash: Mapped[str] = mapped_column(String(64))


class VisitRecord(ParticipantRecord, Base):
    """What happened to one planned visit: the day it was held, or a new date in its window."""

    __tablename__ = "visit_records"
    __audited__ = True
    __table_args__ = (
        UniqueConstraint("participant_id", "visit_key", name="visit_record_participant_visit"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), index=True)
    visit_key: Mapped[str] = mapped_column(String(60))
    done_on: Mapped[dt.date | None] = mapped_column(Date)
    rescheduled_to: Mapped[dt.date | None] = mapped_column(Date)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class Room(Base):
    __tablename__ = "rooms"
    __audited__ = True
    __table_args__ = (UniqueConstraint("site_id", "code", name="room_site_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    code: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(120))


class FacilitatorProfile(Base):
    """A facilitator as the scheduler sees them: working days and hours, daily maximum."""

    __tablename__ = "facilitators"
    __audited__ = True
    __table_args__ = (UniqueConstraint("site_id", "code", name="facilitator_site_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    code: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(120))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    days: Mapped[str] = mapped_column(String(20))  # "0,1,2,3,4": Monday = 0
    starts: Mapped[str] = mapped_column(String(5))  # local "HH:MM"
    ends: Mapped[str] = mapped_column(String(5))
    max_sessions_per_day: Mapped[int] = mapped_column(Integer)


class RoomBooking(ParticipantRecord, Base):
    """A visit booked into a room with its facilitators, from ``starts_at`` to ``ends_at``."""

    __tablename__ = "bookings"
    __audited__ = True
    __table_args__ = (
        Index("ix_bookings_room_starts", "room_id", "starts_at"),
        CheckConstraint("ends_at > starts_at", name="positive_length"),
        CheckConstraint("status IN ('booked', 'cancelled')", name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    visit_key: Mapped[str] = mapped_column(String(60))
    room_id: Mapped[int | None] = mapped_column(ForeignKey("rooms.id"))
    starts_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    ends_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    status: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(20))  # manual | planner
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class BookingFacilitator(Base):
    __tablename__ = "booking_facilitators"
    __audited__ = True

    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id"), primary_key=True)
    facilitator_id: Mapped[int] = mapped_column(ForeignKey("facilitators.id"), primary_key=True)


class TreatmentGuess(ParticipantRecord, Base):
    """Who a participant, facilitator or rater thinks received what, after dosing."""

    __tablename__ = "treatment_guesses"
    __audited__ = True
    __table_args__ = (
        UniqueConstraint(
            "participant_id", "visit_key", "guesser", "recorded_by", name="guess_per_guesser"
        ),
        CheckConstraint("guesser IN ('participant', 'facilitator', 'rater')", name="guesser"),
        CheckConstraint("confidence BETWEEN 0 AND 100", name="confidence"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), index=True)
    visit_key: Mapped[str] = mapped_column(String(60))
    guesser: Mapped[str] = mapped_column(String(20))
    guess: Mapped[str] = mapped_column(String(60))  # an arm id or "dont-know"
    confidence: Mapped[int] = mapped_column(Integer)
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class Unblinding(ParticipantRecord, Base):
    """An emergency unblinding: who asked, why and when (the arm itself is not stored)."""

    __tablename__ = "unblindings"
    __audited__ = True

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    by_user: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class Notification(Base):
    """A message to one user (e.g. that a participant was unblinded)."""

    __tablename__ = "notifications"
    __audited__ = True

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    study_id: Mapped[int | None] = mapped_column(ForeignKey("studies.id"))
    kind: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    read_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())

    def audit_study_id(self) -> int | None:
        return self.study_id


class Job(Base):
    """A piece of background work (planning, the nightly audit check, reminders): what to do,
    how far it has got and how it ended. The clinical changes a job makes are audited under
    the user who asked for it; the job row itself is operational, not clinical, data."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_status_run_after", "status", "run_after"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    # Arguments as JSON text: ids, dates and numbers only, never personal data.
    args: Mapped[str] = mapped_column(Text, default="{}")
    # Enqueueing the same key twice gives the first job back (e.g. one audit check a night).
    key: Mapped[str | None] = mapped_column(String(120), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=5)
    run_after: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    study_id: Mapped[int | None] = mapped_column(ForeignKey("studies.id"))
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    progress: Mapped[float | None] = mapped_column(Float)
    progress_note: Mapped[str | None] = mapped_column(String(300))
    result: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    worker: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    started_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    finished_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class Message(Base):
    """An e-mail openpat sent, or decided not to send: to whom (masked), about what record,
    and what happened. The body is not kept (it may hold a personal link); its SHA-256 is."""

    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_status", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # one message per key, e.g. form:12:1 (the first reminder of form 12)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # form | visit | unblinding
    study_id: Mapped[int | None] = mapped_column(ForeignKey("studies.id"), index=True)
    participant_id: Mapped[int | None] = mapped_column(ForeignKey("participants.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    response_id: Mapped[int | None] = mapped_column(ForeignKey("instrument_responses.id"))
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id"))
    to_masked: Mapped[str | None] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))  # queued | sent | skipped | failed
    detail: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    body_sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    sent_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
