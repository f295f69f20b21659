"""Studies and sites."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from openpat.store.models import Site, Study, StudySite


class StudyRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, study_id: int) -> Study | None:
        return self.session.get(Study, study_id)

    def get_by_code(self, code: str) -> Study | None:
        return self.session.scalars(select(Study).where(Study.code == code)).first()

    def list(self, ids: Collection[int] | None = None) -> Sequence[Study]:
        stmt = select(Study).order_by(Study.code)
        if ids is not None:
            stmt = stmt.where(Study.id.in_(list(ids)))
        return self.session.scalars(stmt).all()

    def lock(self, study_id: int) -> Study | None:
        """Lock the study row until commit (serialises numbering of new participants)."""
        stmt = select(Study).where(Study.id == study_id).with_for_update()
        return self.session.scalars(stmt).first()

    def add(self, study: Study) -> Study:
        self.session.add(study)
        self.session.flush()
        return study

    def sites_of(self, study_id: int) -> Sequence[Site]:
        stmt = (
            select(Site)
            .join(StudySite, StudySite.site_id == Site.id)
            .where(StudySite.study_id == study_id)
            .order_by(Site.code)
        )
        return self.session.scalars(stmt).all()

    def studies_of_site(self, site_id: int) -> Sequence[int]:
        """The ids of the studies the site takes part in."""
        stmt = (
            select(StudySite.study_id)
            .where(StudySite.site_id == site_id)
            .order_by(StudySite.study_id)
        )
        return self.session.scalars(stmt).all()

    def link_site(self, study_id: int, site_id: int) -> None:
        if self.session.get(StudySite, (study_id, site_id)) is None:
            self.session.add(StudySite(study_id=study_id, site_id=site_id))
            self.session.flush()


class SiteRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def lock(self, site_id: int) -> Site | None:
        """Lock the site row until commit (serialises bookings of the site's rooms and staff)."""
        stmt = select(Site).where(Site.id == site_id).with_for_update()
        return self.session.scalars(stmt).first()

    def get(self, site_id: int) -> Site | None:
        return self.session.get(Site, site_id)

    def get_by_code(self, code: str) -> Site | None:
        return self.session.scalars(select(Site).where(Site.code == code)).first()

    def list(self) -> Sequence[Site]:
        return self.session.scalars(select(Site).order_by(Site.code)).all()

    def add(self, site: Site) -> Site:
        self.session.add(site)
        self.session.flush()
        return site
