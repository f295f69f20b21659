"""Participants: pseudonymous records, their pathway status, and their identities."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from openpat.errors import InvalidInput, NotFound, PermissionDenied, RuleViolation
from openpat.security import Permission, Principal
from openpat.services.ids import Id
from openpat.services.studies import today_at_site, visible_study
from openpat.store.models import Participant, ParticipantIdentity
from openpat.store.uow import UnitOfWork
from openpat.trial.pathway import ParticipantStatus, check_transition

if TYPE_CHECKING:
    from sqlalchemy import Row


class Sex(StrEnum):
    FEMALE = "female"
    MALE = "male"
    INTERSEX = "intersex"
    UNKNOWN = "unknown"


class IdentityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    full_name: str = Field(min_length=1, max_length=200)
    date_of_birth: dt.date | None = None
    email: EmailStr | None = None
    phone: str | None = Field(default=None, max_length=40, pattern=r"^\+?[0-9 ()-]{5,40}$")


class IdentityRead(BaseModel):
    participant_id: int
    full_name: str
    date_of_birth: dt.date | None
    email: str | None
    phone: str | None


class ParticipantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    site_id: Id
    year_of_birth: int | None = Field(default=None, ge=1900, le=2100)
    sex: Sex | None = None
    prescreen_date: dt.date | None = Field(default=None, description="default: today at the site")
    identity: IdentityIn | None = None


class ParticipantRead(BaseModel):
    id: int
    study_id: int
    site_id: int
    code: str
    status: ParticipantStatus
    status_label: str
    status_date: dt.date
    year_of_birth: int | None
    sex: Sex | None
    created_at: dt.datetime


class ParticipantPage(BaseModel):
    items: list[ParticipantRead]
    total: int
    limit: int
    offset: int


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: ParticipantStatus
    on_date: dt.date
    reason: str = Field(min_length=3, max_length=500)


class IdentityUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    identity: IdentityIn
    reason: str = Field(min_length=3, max_length=500)


class OwnParticipation(BaseModel):
    participant: ParticipantRead
    study_title: str
    site_name: str


def _read(p: Participant | Row[Any]) -> ParticipantRead:
    """A participant as read out, from the ORM object or a list's plain row (same names)."""
    status = ParticipantStatus(p.status)
    return ParticipantRead(
        id=p.id,
        study_id=p.study_id,
        site_id=p.site_id,
        code=p.code,
        status=status,
        status_label=status.label,
        status_date=p.status_date,
        year_of_birth=p.year_of_birth,
        sex=Sex(p.sex) if p.sex else None,
        created_at=p.created_at,
    )


def visible_participant(
    uow: UnitOfWork, principal: Principal, participant_id: int, permission: Permission
) -> Participant:
    """The participant if ``permission`` covers their study and site, else NotFound/403."""
    participant = uow.participants.get(participant_id)
    if participant is None or not principal.can(
        Permission.PARTICIPANT_READ, study_id=participant.study_id, site_id=participant.site_id
    ):
        raise NotFound(f"participant {participant_id} not found")
    if not principal.can(permission, study_id=participant.study_id, site_id=participant.site_id):
        raise PermissionDenied(f"your role does not allow {permission.value} for this participant")
    return participant


def list_participants(
    *,
    uow: UnitOfWork,
    principal: Principal,
    study_id: int,
    status: ParticipantStatus | None = None,
    limit: int = 100,
    offset: int = 0,
) -> ParticipantPage:
    visible_study(uow, principal, study_id)
    if not principal.can(Permission.PARTICIPANT_READ, study_id=study_id):
        raise PermissionDenied("your role does not allow reading participants in this study")
    site_ids = principal.site_scope(Permission.PARTICIPANT_READ, study_id)
    status_value = status.value if status else None
    rows = uow.participants.list(
        study_id=study_id, site_ids=site_ids, status=status_value, limit=limit, offset=offset
    )
    total = uow.participants.count(study_id=study_id, site_ids=site_ids, status=status_value)
    return ParticipantPage(items=[_read(p) for p in rows], total=total, limit=limit, offset=offset)


def get_participant(
    *, uow: UnitOfWork, principal: Principal, participant_id: int
) -> ParticipantRead:
    return _read(visible_participant(uow, principal, participant_id, Permission.PARTICIPANT_READ))


def _check_identity(identity: IdentityIn, *, today: dt.date, year_of_birth: int | None) -> None:
    dob = identity.date_of_birth
    if dob is None:
        return
    if dob > today:
        raise InvalidInput.for_field("identity.date_of_birth", "is in the future")
    if year_of_birth is not None and dob.year != year_of_birth:
        raise InvalidInput.for_field(
            "identity.date_of_birth",
            f"year {dob.year} does not match the year of birth {year_of_birth}",
        )


def create_participant(
    *, uow: UnitOfWork, principal: Principal, study_id: int, participant_in: ParticipantCreate
) -> ParticipantRead:
    """Register a participant at pre-screening with the next code at their site (SITE-0001)."""
    visible_study(uow, principal, study_id)
    site_id = participant_in.site_id
    if site_id not in {s.id for s in uow.studies.sites_of(study_id)}:
        raise InvalidInput.for_field("site_id", f"site {site_id} does not take part in this study")
    if not principal.can(Permission.PARTICIPANT_WRITE, study_id=study_id, site_id=site_id):
        raise PermissionDenied("your role does not allow registering participants at this site")
    if participant_in.identity is not None and not principal.can(
        Permission.IDENTITY_WRITE, study_id=study_id, site_id=site_id
    ):
        raise PermissionDenied("your role does not allow recording identities")
    site = uow.sites.get(site_id)
    assert site is not None
    now = uow.now()
    today = today_at_site(site.timezone, now)
    if participant_in.year_of_birth is not None and participant_in.year_of_birth > today.year:
        raise InvalidInput.for_field("year_of_birth", "is in the future")
    prescreen_date = participant_in.prescreen_date or today
    if prescreen_date > today:
        raise InvalidInput.for_field("prescreen_date", f"{prescreen_date} is in the future")
    if participant_in.identity is not None:
        _check_identity(
            participant_in.identity, today=today, year_of_birth=participant_in.year_of_birth
        )
    uow.studies.lock(study_id)  # numbering is serialised per study
    taken = uow.participants.codes_at_site(study_id=study_id, prefix=site.code)
    numbers = [int(c.rsplit("-", 1)[1]) for c in taken if c.rsplit("-", 1)[1].isdigit()]
    code = f"{site.code}-{max(numbers, default=0) + 1:04d}"
    participant = uow.participants.add(
        Participant(
            study_id=study_id,
            site_id=site_id,
            code=code,
            status=ParticipantStatus.PRESCREEN.value,
            status_date=prescreen_date,
            year_of_birth=participant_in.year_of_birth,
            sex=participant_in.sex.value if participant_in.sex else None,
            created_at=now,
        )
    )
    if participant_in.identity is not None:
        uow.participants.add_identity(_identity_row(participant.id, participant_in.identity))
    return _read(participant)


def _identity_row(participant_id: int, identity: IdentityIn) -> ParticipantIdentity:
    return ParticipantIdentity(
        participant_id=participant_id,
        full_name=identity.full_name.strip(),
        date_of_birth=identity.date_of_birth,
        email=str(identity.email) if identity.email else None,
        phone=identity.phone,
    )


# Steps that carry their own record: these go through their own service, never a bare change.
_BY_THEIR_OWN_STEP = {
    ParticipantStatus.CONSENTED: (
        "record the signed consent (form version and signing time) instead"
    ),
    ParticipantStatus.RANDOMISED: "randomise the participant instead (the arm is drawn then)",
}


def change_status(
    *, uow: UnitOfWork, principal: Principal, participant_id: int, change: StatusChange
) -> ParticipantRead:
    """Move a participant along the pathway; the reason goes into the audit trail."""
    participant = visible_participant(uow, principal, participant_id, Permission.PARTICIPANT_WRITE)
    current = ParticipantStatus(participant.status)
    check_transition(current, change.status)
    if change.status in _BY_THEIR_OWN_STEP:
        raise RuleViolation(f"status: {_BY_THEIR_OWN_STEP[change.status]}")
    if change.status is ParticipantStatus.ENROLLED:
        from openpat.services.eligibility import require_eligible  # it reads participants

        require_eligible(uow, participant, "enrol")
    site = uow.sites.get(participant.site_id)
    assert site is not None
    today = today_at_site(site.timezone, uow.now())
    if change.on_date > today:
        raise InvalidInput.for_field("on_date", f"{change.on_date} is in the future")
    if change.on_date < participant.status_date:
        raise InvalidInput.for_field(
            "on_date",
            f"{change.on_date} is before the current status date {participant.status_date}",
        )
    with uow.reason(change.reason):
        participant.status = change.status.value
        participant.status_date = change.on_date
    return _read(participant)


def get_identity(*, uow: UnitOfWork, principal: Principal, participant_id: int) -> IdentityRead:
    visible_participant(uow, principal, participant_id, Permission.IDENTITY_READ)
    identity = uow.participants.get_identity(participant_id)
    if identity is None:
        raise NotFound(f"participant {participant_id} has no identity recorded")
    return IdentityRead(
        participant_id=identity.participant_id,
        full_name=identity.full_name,
        date_of_birth=identity.date_of_birth,
        email=identity.email,
        phone=identity.phone,
    )


def set_identity(
    *, uow: UnitOfWork, principal: Principal, participant_id: int, update: IdentityUpdate
) -> IdentityRead:
    participant = visible_participant(uow, principal, participant_id, Permission.IDENTITY_WRITE)
    site = uow.sites.get(participant.site_id)
    assert site is not None
    _check_identity(
        update.identity,
        today=today_at_site(site.timezone, uow.now()),
        year_of_birth=participant.year_of_birth,
    )
    with uow.reason(update.reason):
        existing = uow.participants.get_identity(participant_id)
        new = _identity_row(participant_id, update.identity)
        if existing is None:
            uow.participants.add_identity(new)
        else:
            existing.full_name = new.full_name
            existing.date_of_birth = new.date_of_birth
            existing.email = new.email
            existing.phone = new.phone
    return get_identity(uow=uow, principal=principal, participant_id=participant_id)


def own_participation(*, uow: UnitOfWork, principal: Principal) -> list[OwnParticipation]:
    """What a participant may see of their own record."""
    result = []
    for pid in sorted(principal.own_participant_ids()):
        participant = uow.participants.get(pid)
        if participant is None:
            continue
        study = uow.studies.get(participant.study_id)
        site = uow.sites.get(participant.site_id)
        assert study is not None and site is not None
        result.append(
            OwnParticipation(
                participant=_read(participant), study_title=study.title, site_name=site.name
            )
        )
    return result
