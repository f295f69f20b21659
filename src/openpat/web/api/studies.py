"""Studies and their dashboards."""

from __future__ import annotations

from fastapi import APIRouter

from openpat.services import messaging, outcomes, studies, users
from openpat.services.ids import Id
from openpat.services.messaging import EmailTexts, EmailTextsRead
from openpat.services.outcomes import StudyAlerts
from openpat.services.studies import CrisisTextUpdate, SiteRead, StudyDashboard, StudyRead
from openpat.services.users import StudyAccess
from openpat.web.deps import (
    AlertManager,
    AlertReader,
    ScheduleManager,
    ScheduleReader,
    StudyReader,
    UowDep,
)

router = APIRouter(prefix="/studies", tags=["studies"])


@router.get("")
def list_studies(active: StudyReader, uow: UowDep) -> list[StudyRead]:
    return studies.list_studies(uow=uow, principal=active.principal)


@router.get("/{study_id}")
def get_study(study_id: Id, active: StudyReader, uow: UowDep) -> StudyRead:
    return studies.get_study(uow=uow, principal=active.principal, study_id=study_id)


@router.get("/{study_id}/dashboard")
def get_dashboard(study_id: Id, active: StudyReader, uow: UowDep) -> StudyDashboard:
    return studies.dashboard(uow=uow, principal=active.principal, study_id=study_id)


@router.get("/{study_id}/alerts")
def get_study_alerts(study_id: Id, active: AlertReader, uow: UowDep) -> StudyAlerts:
    """Open safety alerts, highest level first, and the latest acknowledged (with who and
    when): what the study dashboard shows."""
    studies.get_study(uow=uow, principal=active.principal, study_id=study_id)
    return outcomes.study_alerts(uow=uow, principal=active.principal, study_id=study_id)


@router.get("/{study_id}/access")
def get_study_access(study_id: Id, active: StudyReader, uow: UowDep) -> StudyAccess:
    """Who holds which role in the study; the unblinded role and access to identities first,
    each with who granted it and when; and the segregation-of-duties rules applied."""
    return users.study_access(uow=uow, principal=active.principal, study_id=study_id)


sites_router = APIRouter(prefix="/sites", tags=["studies"])


@sites_router.put("/{site_id}/crisis-text")
def put_crisis_text(
    site_id: Id, body: CrisisTextUpdate, active: AlertManager, uow: UowDep
) -> SiteRead:
    """Set the crisis text a participant of this site reads when their answers raised a
    safety alert; an empty text goes back to openpat's default (which names no number)."""
    with uow.reason("site crisis text changed"):
        site = studies.set_crisis_text(
            uow=uow, principal=active.principal, site_id=site_id, update=body
        )
    uow.commit()
    return site


@sites_router.get("/{site_id}/email-texts")
def get_email_texts(site_id: Id, active: ScheduleReader, uow: UowDep) -> EmailTextsRead:
    """The site's wording of e-mails to participants (its own, or openpat's default), and the
    placeholders that are filled in."""
    return messaging.email_texts(uow=uow, principal=active.principal, site_id=site_id)


@sites_router.put("/{site_id}/email-texts")
def put_email_texts(
    site_id: Id, body: EmailTexts, active: ScheduleManager, uow: UowDep
) -> EmailTextsRead:
    """Set the site's wording of e-mails to participants. Only {site}, {link}, {expires},
    {date} and {time} are filled in, so an e-mail carries no clinical content the site did
    not write; a form's text must contain {link}. Empty goes back to openpat's default."""
    texts = messaging.set_email_texts(
        uow=uow, principal=active.principal, site_id=site_id, texts=body
    )
    uow.commit()
    return texts
