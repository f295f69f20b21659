"""Safety screening: screen a participant against a protocol and keep the report; batch
pre-screening of candidate files; the shipped protocol templates."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from openpat import knowledge, safety
from openpat.errors import FieldProblem, InvalidInput, NotFound
from openpat.knowledge.loader import citations
from openpat.knowledge.schema import Protocol
from openpat.safety.batch import BatchResult, screen_table
from openpat.safety.criteria import describe_test
from openpat.security import Permission, Principal
from openpat.services import participants, studies
from openpat.services.files import check_output, write_whole
from openpat.services.ids import Id
from openpat.services.studies import today_at_site
from openpat.store.models import Screening
from openpat.store.uow import UnitOfWork

MAX_BATCH_BYTES = 2_000_000_000


class ScreeningCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    participant_id: Id
    protocol: str = Field(min_length=1, max_length=80)
    substance: str | None = Field(default=None, max_length=80)
    planned_dosing_date: dt.date
    profile: dict[str, Any] = Field(description="the participant profile (docs/screening.md)")


class ScreeningSummary(BaseModel):
    id: int
    participant_id: int
    participant_code: str
    protocol: str
    substance: str
    planned_dosing_date: dt.date
    screened_on: dt.date
    verdict: safety.Verdict
    earliest_dosing_date: dt.date | None
    knowledge_version: str
    created_at: dt.datetime


class ScreeningRead(ScreeningSummary):
    profile: dict[str, Any]
    report: dict[str, Any]


class CriterionRead(BaseModel):
    id: str
    kind: str
    text: str
    rule: str
    references: list[str]


class ProtocolRead(BaseModel):
    id: str
    title: str
    substance: str
    indication: str
    modelled_on: list[str]
    description: str
    washout_half_lives: float
    criteria: list[CriterionRead]
    washout_rules: list[dict[str, Any]]
    references: list[str]


def protocols() -> list[ProtocolRead]:
    """The shipped protocol templates, by id."""
    kb = knowledge.default()
    return [_protocol_read(kb.protocols[pid]) for pid in sorted(kb.protocols)]


def protocol(name: str) -> ProtocolRead:
    return _protocol_read(knowledge.default().protocol(name))


def _protocol_read(p: Protocol) -> ProtocolRead:
    return ProtocolRead(
        id=p.id,
        title=p.title,
        substance=p.substance,
        indication=p.indication,
        modelled_on=list(p.modelled_on),
        description=p.description,
        washout_half_lives=p.washout_half_lives.value,
        criteria=[
            CriterionRead(
                id=c.id,
                kind=c.kind.value,
                text=c.text,
                rule=(f"if {describe_test(c.applies_when)}: " if c.applies_when else "")
                + " and ".join(describe_test(t) for t in c.tests),
                references=list(c.refs),
            )
            for c in p.criteria
        ],
        washout_rules=[
            {
                "id": r.id,
                "medication_classes": list(r.medication_classes),
                "medications": list(r.medications),
                "washout_days": r.washout_days,
                "text": r.text,
                "references": list(r.refs),
            }
            for r in p.washout_rules
        ],
        references=list(dict.fromkeys(ref for _, ref in citations(p))),
    )


def check(
    *,
    profile: dict[str, Any] | safety.Profile,
    protocol: str,
    substance: str | None,
    planned_dosing_date: dt.date,
    today: dt.date,
) -> safety.ScreeningReport:
    """Screen without keeping the result (the CLI's one-off screening)."""
    return safety.screen(profile, protocol, substance, planned_dosing_date, today=today)


def create_screening(
    *, uow: UnitOfWork, principal: Principal, screening_in: ScreeningCreate
) -> ScreeningRead:
    """Screen a participant and keep the profile and the full report (audited)."""
    participant = participants.visible_participant(
        uow, principal, screening_in.participant_id, Permission.SCREENING_WRITE
    )
    site = uow.sites.get(participant.site_id)
    assert site is not None
    now = uow.now()
    today = today_at_site(site.timezone, now)
    profile = dict(screening_in.profile)
    given_id = profile.get("participant")
    if given_id not in (None, "", participant.code):
        raise InvalidInput.for_field(
            "profile.participant",
            f"names {given_id!r} but the screening is for {participant.code}; leave it out",
        )
    profile["participant"] = participant.code
    profile.setdefault("assessed_on", today.isoformat())
    try:
        report = safety.screen(
            profile,
            screening_in.protocol,
            screening_in.substance,
            screening_in.planned_dosing_date,
            today=today,
        )
    except InvalidInput as exc:
        # profile fields are nested under "profile" in the request
        raise InvalidInput(
            exc.message,
            fields=[FieldProblem(_request_field(f.field), f.message) for f in exc.fields],
        ) from None
    row = uow.screenings.add(
        Screening(
            study_id=participant.study_id,
            participant_id=participant.id,
            protocol=report.protocol,
            substance=report.substance,
            planned_dosing_date=report.planned_dosing_date,
            screened_on=today,
            verdict=report.verdict.value,
            earliest_dosing_date=report.earliest_dosing_date,
            profile_json=json.dumps(profile, sort_keys=True, default=str),
            report_json=json.dumps(report.to_dict(), sort_keys=True),
            knowledge_version=report.knowledge_version,
            knowledge_hash=report.knowledge_hash,
            created_by=uow.actor.user_id,
            created_at=now,
        )
    )
    return _read(row, participant.code)


def _request_field(field: str) -> str:
    if field in ("protocol", "substance", "planned_dosing_date"):
        return field
    return f"profile.{field}" if field else "profile"


def get_screening(*, uow: UnitOfWork, principal: Principal, screening_id: int) -> ScreeningRead:
    row = uow.screenings.get(screening_id)
    if row is None:
        raise NotFound(f"screening {screening_id} not found")
    try:
        participant = participants.visible_participant(
            uow, principal, row.participant_id, Permission.PARTICIPANT_READ
        )
    except NotFound:
        raise NotFound(f"screening {screening_id} not found") from None
    return _read(row, participant.code)


def list_for_participant(
    *, uow: UnitOfWork, principal: Principal, participant_id: int
) -> list[ScreeningSummary]:
    participant = participants.visible_participant(
        uow, principal, participant_id, Permission.PARTICIPANT_READ
    )
    return [
        _summary(row, participant.code) for row in uow.screenings.for_participant(participant.id)
    ]


def _summary(row: Screening, code: str) -> ScreeningSummary:
    return ScreeningSummary(
        id=row.id,
        participant_id=row.participant_id,
        participant_code=code,
        protocol=row.protocol,
        substance=row.substance,
        planned_dosing_date=row.planned_dosing_date,
        screened_on=row.screened_on,
        verdict=safety.Verdict(row.verdict),
        earliest_dosing_date=row.earliest_dosing_date,
        knowledge_version=row.knowledge_version,
        created_at=row.created_at,
    )


def _read(row: Screening, code: str) -> ScreeningRead:
    return ScreeningRead(
        **_summary(row, code).model_dump(),
        profile=json.loads(row.profile_json),
        report=json.loads(row.report_json),
    )


# --- batch pre-screening -----------------------------------------------------------------


def _table_format(path: Path, what: str) -> str:
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt"):
        return "csv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    raise InvalidInput.for_field(what, f"{path.name}: use a .csv or .parquet file")


def read_candidates(path: Path) -> pd.DataFrame:
    """A candidate table from CSV or Parquet, every cell kept as text (nothing coerced)."""
    kind = _table_format(path, "candidates")
    if not path.is_file():
        raise InvalidInput.for_field("candidates", f"{path} does not exist")
    try:
        if kind == "csv":
            return pd.read_csv(path, dtype="string", keep_default_na=False, na_values=[""])
        return pd.read_parquet(path).astype("string")
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise InvalidInput.for_field(
            "candidates", f"{path.name} could not be read: {exc}"
        ) from None


def screen_file(
    *,
    source: Path,
    out: Path,
    protocol: str,
    substance: str | None,
    planned_dosing_date: dt.date,
    today: dt.date,
    progress: Callable[[int], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> BatchResult:
    """Screen every candidate in ``source`` and write one verdict row each to ``out``
    (CSV or Parquet by its suffix). Nothing is written if any cell is invalid."""
    out_kind = _table_format(out, "--out")
    check_output(out)
    table = read_candidates(source)
    if on_start is not None:
        on_start(len(table))
    result = screen_table(
        table, protocol, substance, planned_dosing_date, today=today, progress=progress
    )

    def write(partial: Path) -> None:
        if out_kind == "csv":
            result.verdicts.to_csv(partial, index=False)
        else:
            result.verdicts.to_parquet(partial, index=False)

    write_whole(out, write)  # all or nothing: the output appears complete or not at all
    return result


class ScreenableParticipant(BaseModel):
    id: int
    code: str
    study_code: str
    status: str


def screenable_participants(
    *, uow: UnitOfWork, principal: Principal, limit: int = 500
) -> list[ScreenableParticipant]:
    """Participants the principal may screen (for the form's participant picker)."""
    found: list[ScreenableParticipant] = []
    for study in studies.list_studies(uow=uow, principal=principal):
        if not principal.can(Permission.SCREENING_WRITE, study_id=study.id):
            continue
        page = participants.list_participants(
            uow=uow, principal=principal, study_id=study.id, limit=limit
        )
        found += [
            ScreenableParticipant(
                id=p.id, code=p.code, study_code=study.code, status=p.status_label
            )
            for p in page.items
            if principal.can(Permission.SCREENING_WRITE, study_id=p.study_id, site_id=p.site_id)
        ]
    return found
