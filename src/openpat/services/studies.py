"""Studies, sites, and the study dashboard."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from openpat.errors import Conflict, NotFound, PermissionDenied
from openpat.security import Permission, Principal
from openpat.store.models import Site, Study
from openpat.store.uow import UnitOfWork
from openpat.trial.pathway import PATHWAY_ORDER, ParticipantStatus


class SiteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=r"^[A-Z][A-Z0-9]{1,11}$", description="e.g. LON; prefixes codes")
    name: str = Field(min_length=1, max_length=200)
    timezone: str = Field(description="IANA time zone, e.g. Europe/London")
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. Europe/London)") from None
        return value


DEFAULT_CRISIS_TEXT = (
    "If you are thinking about harming yourself, or you do not feel safe, please do not wait "
    "for the study team to contact you. Call your local emergency number or go to the nearest "
    "emergency department now, and tell someone you trust how you are feeling. Your study "
    "team has been told about your answers and will contact you."
)
"""Shown where a site has not set its own crisis text. It names no telephone number: a
number is right only for one country, and a wrong one in a crisis is worse than none. Each
site should set its own text with its local crisis line and the team's contact details."""


class SiteRead(BaseModel):
    id: int
    code: str
    name: str
    timezone: str
    country: str
    crisis_text: str = Field(description="shown to a participant whose answers raised an alert")
    crisis_text_is_default: bool


class CrisisTextUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(
        default=None,
        max_length=2000,
        description="the site's crisis text; empty or null goes back to openpat's default",
    )


class StudyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{1,39}$")
    title: str = Field(min_length=1, max_length=300)
    substance: str = Field(min_length=1, max_length=80)
    condition: str = Field(min_length=1, max_length=200)
    phase: str = Field(min_length=1, max_length=20)


class StudyRead(BaseModel):
    id: int
    code: str
    title: str
    substance: str
    condition: str
    phase: str
    sites: list[SiteRead]


class StatusCount(BaseModel):
    status: ParticipantStatus
    label: str
    count: int


class StudyDashboard(BaseModel):
    study: StudyRead
    total: int
    by_status: list[StatusCount]
    active: int = Field(description="participants not in a final state")


def _site_read(site: Site) -> SiteRead:
    own = (site.crisis_text or "").strip()
    return SiteRead(
        id=site.id,
        code=site.code,
        name=site.name,
        timezone=site.timezone,
        country=site.country,
        crisis_text=own or DEFAULT_CRISIS_TEXT,
        crisis_text_is_default=not own,
    )


def crisis_text(*, uow: UnitOfWork, site_id: int) -> str:
    """What a participant of this site reads when their answers raised a safety alert."""
    site = uow.sites.get(site_id)
    if site is None:
        raise NotFound(f"site {site_id} not found")
    return _site_read(site).crisis_text


def crisis_text_sites(*, uow: UnitOfWork, principal: Principal) -> list[SiteRead]:
    """The sites whose crisis text this user may set (they manage safety alerts there)."""
    found: dict[int, SiteRead] = {}
    for study in list_studies(uow=uow, principal=principal):
        for site in study.sites:
            if principal.can(Permission.ALERT_MANAGE, study_id=study.id, site_id=site.id):
                found[site.id] = site
    return sorted(found.values(), key=lambda s: s.code)


def site_with_permission(
    uow: UnitOfWork, principal: Principal, site_id: int, permission: Permission
) -> Site:
    """The site, checked within the studies that own it.

    A site belongs to the studies it takes part in; a site-scoped resource (its rooms,
    facilitators, calendar, crisis text) is reached only through a membership of one of those
    studies that covers the site. NotFound when the user sees none of them (existence is not
    leaked), PermissionDenied when they see the site but their role lacks ``permission`` there.
    """
    site = uow.sites.get(site_id)
    studies = uow.studies.studies_of_site(site_id) if site is not None else []
    visible = [
        s for s in studies if principal.can(Permission.STUDY_READ, study_id=s, site_id=site_id)
    ]
    if site is None or not visible:
        raise NotFound(f"site {site_id} not found")
    if not any(principal.can(permission, study_id=s, site_id=site_id) for s in visible):
        raise PermissionDenied(
            f"your role does not allow {permission.label} at this site", permission=permission.value
        )
    return site


def set_crisis_text(
    *, uow: UnitOfWork, principal: Principal, site_id: int, update: CrisisTextUpdate
) -> SiteRead:
    """Set (or, with no text, reset to the default) the site's crisis text. Allowed to those
    who manage safety alerts in a study the site takes part in."""
    site = site_with_permission(uow, principal, site_id, Permission.ALERT_MANAGE)
    site.crisis_text = (update.text or "").strip() or None
    uow.flush()
    return _site_read(site)


def _study_read(uow: UnitOfWork, study: Study) -> StudyRead:
    return StudyRead(
        id=study.id,
        code=study.code,
        title=study.title,
        substance=study.substance,
        condition=study.condition,
        phase=study.phase,
        sites=[_site_read(s) for s in uow.studies.sites_of(study.id)],
    )


def visible_study(uow: UnitOfWork, principal: Principal, study_id: int) -> Study:
    """The study, if the principal may see it; otherwise NotFound (existence is not leaked)."""
    study = uow.studies.get(study_id)
    if study is None or not principal.can(Permission.STUDY_READ, study_id=study_id):
        raise NotFound(f"study {study_id} not found")
    return study


def list_studies(*, uow: UnitOfWork, principal: Principal) -> list[StudyRead]:
    ids = principal.study_ids(Permission.STUDY_READ)
    return [_study_read(uow, s) for s in uow.studies.list(ids)]


def get_study(*, uow: UnitOfWork, principal: Principal, study_id: int) -> StudyRead:
    return _study_read(uow, visible_study(uow, principal, study_id))


def dashboard(*, uow: UnitOfWork, principal: Principal, study_id: int) -> StudyDashboard:
    """Participants by pathway status, counted over the sites the principal may see."""
    study = visible_study(uow, principal, study_id)
    site_ids = principal.site_scope(Permission.STUDY_READ, study_id)
    counts = uow.participants.count_by_status(study_id=study_id, site_ids=site_ids)
    by_status = [
        StatusCount(status=s, label=s.label, count=counts.get(s.value, 0)) for s in PATHWAY_ORDER
    ]
    total = sum(c.count for c in by_status)
    active = sum(c.count for c in by_status if not c.status.is_final)
    return StudyDashboard(
        study=_study_read(uow, study), total=total, by_status=by_status, active=active
    )


def create_site(*, uow: UnitOfWork, site_in: SiteCreate) -> SiteRead:
    if uow.sites.get_by_code(site_in.code) is not None:
        raise Conflict(f"code: a site with code {site_in.code!r} already exists")
    site = uow.sites.add(
        Site(
            code=site_in.code,
            name=site_in.name,
            timezone=site_in.timezone,
            country=site_in.country,
        )
    )
    return _site_read(site)


def create_study(*, uow: UnitOfWork, study_in: StudyCreate, site_ids: list[int]) -> StudyRead:
    if uow.studies.get_by_code(study_in.code) is not None:
        raise Conflict(f"code: a study with code {study_in.code!r} already exists")
    for site_id in site_ids:
        if uow.sites.get(site_id) is None:
            raise NotFound(f"site {site_id} not found")
    study = uow.studies.add(
        Study(
            code=study_in.code,
            title=study_in.title,
            substance=study_in.substance,
            condition=study_in.condition,
            phase=study_in.phase,
            created_at=uow.now(),
        )
    )
    for site_id in site_ids:
        uow.studies.link_site(study.id, site_id)
    return _study_read(uow, study)


def today_at_site(site_timezone: str, now: dt.datetime) -> dt.date:
    return now.astimezone(ZoneInfo(site_timezone)).date()
