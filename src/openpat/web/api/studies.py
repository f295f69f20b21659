"""Studies and their dashboards."""

from __future__ import annotations

from fastapi import APIRouter

from openpat.services import studies
from openpat.services.ids import Id
from openpat.services.studies import StudyDashboard, StudyRead
from openpat.web.deps import StudyReader, UowDep

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
