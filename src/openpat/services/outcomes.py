"""Outcomes: questionnaires sent to participants, answers saved as they are given (so a
form can be resumed), ratings entered by raters, scores computed on submission, safety
alerts raised by answers, and each participant's scores over time.

Who sees what: the study team (``outcome.read``) sees answers and scores; a blinded rater
(``outcome.enter`` without ``outcome.read``) sees only the ratings they entered; a
participant sees and fills in their own forms but not the scores.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
import secrets
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from openpat import instruments, knowledge
from openpat.errors import Conflict, FieldProblem, InvalidInput, NotFound, PermissionDenied
from openpat.instruments import outcomes as change_rules
from openpat.instruments import ratings
from openpat.instruments.definition import Definition
from openpat.knowledge.schema import Classification
from openpat.security import Membership, Permission, Principal, Role
from openpat.services import participants, schedule, studies
from openpat.services.ids import Id
from openpat.store.models import FormLink, InstrumentResponse, Participant, SafetyAlert
from openpat.store.uow import UnitOfWork

SELF_REPORT = "self-report"
Source = Literal["participant", "staff", "rater"]


class ResponseCreate(BaseModel):
    """Send a form to a participant (``participant``), or enter one (``staff`` for a
    self-report transcribed from paper, ``rater`` for a clinician rating)."""

    model_config = ConfigDict(extra="forbid")

    participant_id: Id
    instrument: str = Field(min_length=1, max_length=40, examples=["PHQ-9"])
    visit: str = Field(
        min_length=1,
        max_length=60,
        examples=["week-6", "Week 6"],
        description="a visit of the participant's schedule (its id or label); with "
        "unscheduled, the label of an assessment outside the schedule",
    )
    unscheduled: bool = Field(
        default=False, description="an assessment outside the schedule, labelled as such"
    )
    repeat: bool = Field(
        default=False,
        description="confirm sending an instrument a second time for the same visit",
    )
    source: Source = "participant"
    rater_blinded: bool | None = Field(
        default=None, description="for ratings: whether the rater was blind to allocation"
    )


class SheetEntry(BaseModel):
    """One item of an interview scoring sheet (CAPS-5): its frequency and intensity levels."""

    model_config = ConfigDict(extra="forbid")

    frequency: float | None = None
    intensity: float | None = None


class AnswersUpdate(BaseModel):
    """Answers by item id (``null`` clears one); ``position`` is where to resume.

    ``sheet`` (instruments with a scoring sheet) keeps each item's frequency and intensity;
    where an item's severity is not given, the sheet's rule proposes it from the two."""

    model_config = ConfigDict(extra="forbid")

    answers: dict[str, float | None] = Field(default_factory=dict, max_length=200)
    sheet: dict[str, SheetEntry] = Field(default_factory=dict, max_length=200)
    position: int | None = Field(default=None, ge=0, le=200)


class ItemRead(BaseModel):
    id: str
    number: int
    label: str
    text: str | None
    options: list[dict[str, Any]] | None
    min: float | None
    max: float | None
    ask_if: dict[str, Any] | None


class ResponseRead(BaseModel):
    id: int
    participant_id: int
    participant_code: str
    instrument: str
    abbreviation: str
    name: str
    visit: str
    scheduled_visit: str | None = Field(
        default=None, description="the schedule's visit id; None for an unscheduled assessment"
    )
    unscheduled: bool = False
    status: Literal["in-progress", "submitted"]
    source: Source
    position: int
    answered: int
    items: int
    answers: dict[str, float | None] | None  # None where the reader may not see them
    sheet: dict[str, dict[str, float | None]] | None  # frequency and intensity per item
    total: float | None
    band: str | None
    scored: bool | None
    scores: dict[str, Any] | None
    rater_blinded: bool | None
    knowledge_version: str
    created_at: dt.datetime
    submitted_at: dt.datetime | None
    outcome: str | None = Field(
        default=None,
        description='what submitting did, in words: "scored: total 14 (moderate)" or '
        '"saved, not scored: 5 of 10 items missing (MADRS allows none)", with any alert raised',
    )
    alerts_raised: list[str] = Field(
        default_factory=list, description="the safety alerts this submission raised"
    )
    crisis_text: str | None = Field(
        default=None,
        description="the site's crisis text, when this submission raised a safety alert",
    )


class AlertRead(BaseModel):
    id: int
    study_id: int
    participant_id: int
    participant_code: str
    response_id: int
    instrument: str
    visit: str
    level: str
    rule: str
    message: str
    status: str
    created_at: dt.datetime
    acknowledged_at: dt.datetime | None
    acknowledged_by: str | None = None
    acknowledgement: str | None


class StudyAlerts(BaseModel):
    """What the study dashboard shows of safety alerts."""

    open: list[AlertRead] = Field(description="highest level first, then the oldest first")
    recently_acknowledged: list[AlertRead] = Field(description="the latest acknowledged")


LEVEL_RANK = {"high": 0, "moderate": 1, "low": 2}


class AlertAcknowledge(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(min_length=3, max_length=2000, description="what was done")


class TimelinePoint(BaseModel):
    response_id: int
    visit: str
    submitted_at: dt.datetime
    total: float | None
    band: str | None
    change: float | None
    percent_change: float | None
    response: bool | None
    remission: bool | None


class Timeline(BaseModel):
    participant_id: int
    instrument: str
    abbreviation: str
    scale: tuple[float, float] | None
    bands: list[dict[str, Any]]
    baseline_response_id: int | None
    response_rule: str | None
    response_rule_conventional: bool
    remission_rule: str | None
    higher_is_better: bool
    points: list[TimelinePoint]


# -- helpers ------------------------------------------------------------------------------


def _definition(name: str, field: str = "instrument") -> Definition:
    try:
        return instruments.definition(knowledge.default(), name)
    except NotFound as exc:
        raise InvalidInput.for_field(field, exc.message) from None


def item_keys(instrument: str) -> list[str]:
    """The item ids of an instrument, in order."""
    return list(_definition(instrument).keys)


def items(defn: Definition) -> list[ItemRead]:
    inst = defn.instrument
    return [
        ItemRead(
            id=item.key,
            number=item.number,
            label=item.label,
            text=item.text,
            options=[{"value": o.value, "label": o.label} for o in inst.response_sets[item.options]]
            if item.options
            else None,
            min=item.min,
            max=item.max,
            ask_if=item.ask_if.model_dump() if item.ask_if else None,
        )
        for item in inst.items
    ]


def _answers(row: InstrumentResponse) -> dict[str, float | None]:
    data: dict[str, float | None] = json.loads(row.answers_json)
    return data


def _array(defn: Definition, answers: dict[str, float | None]) -> np.ndarray:
    return np.array(
        [[np.nan if answers.get(k) is None else float(answers[k]) for k in defn.keys]],  # type: ignore[arg-type]
        dtype=np.float64,
    )


def asked(defn: Definition, answers: dict[str, float | None]) -> list[bool]:
    """Which items are asked, given the answers so far (skip logic)."""
    shown = [True] * len(defn.keys)
    for item, gate, at_least in defn.ask_if:
        value = answers.get(defn.keys[gate])
        shown[item] = value is not None and value >= at_least
    return shown


def _team(principal: Principal, participant: Participant) -> bool:
    """The study team for this participant: may read answers and scores (at their site)."""
    return principal.can(
        Permission.OUTCOME_READ, study_id=participant.study_id, site_id=participant.site_id
    )


def _enters(principal: Principal, participant: Participant) -> bool:
    return principal.can(
        Permission.OUTCOME_ENTER, study_id=participant.study_id, site_id=participant.site_id
    )


def _own_rating(principal: Principal, row: InstrumentResponse) -> bool:
    return row.source == "rater" and row.created_by == principal.user_id


def _own(principal: Principal, participant_id: int) -> bool:
    return participant_id in principal.own_participant_ids()


def _read(
    principal: Principal,
    row: InstrumentResponse,
    participant: Participant,
    *,
    show_answers: bool,
) -> ResponseRead:
    defn = _definition(row.instrument)
    answers = _answers(row)
    scores_visible = (not _own(principal, row.participant_id)) and (
        _team(principal, participant) or _own_rating(principal, row)
    )
    return ResponseRead(
        id=row.id,
        participant_id=row.participant_id,
        participant_code=participant.code,
        instrument=defn.id,
        abbreviation=defn.abbreviation,
        name=defn.instrument.name,
        visit=row.visit,
        scheduled_visit=row.scheduled_visit,
        unscheduled=row.scheduled_visit is None,
        status=row.status,
        source=row.source,
        position=row.position,
        answered=sum(v is not None for v in answers.values()),
        items=len(defn.keys),
        answers=answers if show_answers else None,
        sheet=json.loads(row.sheet_json) if show_answers and row.sheet_json else None,
        total=row.total if scores_visible else None,
        band=row.band if scores_visible else None,
        scored=row.scored if scores_visible else None,
        scores=json.loads(row.scores_json) if scores_visible and row.scores_json else None,
        rater_blinded=row.rater_blinded,
        knowledge_version=row.knowledge_version,
        created_at=row.created_at,
        submitted_at=row.submitted_at,
        outcome=_outcome(defn, row) if scores_visible else None,
    )


def _outcome(defn: Definition, row: InstrumentResponse) -> str | None:
    """What submitting did, in the rater's words (None before submission)."""
    if row.status != "submitted" or not row.scores_json:
        return None
    scores = json.loads(row.scores_json)
    if row.scored:
        if row.total is None:
            text = "scored"
        else:
            text = f"scored: total {row.total:g}" + (f" ({row.band})" if row.band else "")
        if scores.get("prorated"):
            text += f", prorated for {scores.get('missing_items', 0)} missing item(s)"
    else:
        missing = scores.get("missing_items")
        rule = defn.scoring.missing
        allows = (
            "allows none"
            if rule is None or rule.kind == "none" or rule.max_missing == 0
            else f"allows at most {rule.max_missing}"
        )
        if missing:
            text = (
                f"saved, not scored: {missing} of {len(defn.scored)} items missing "
                f"({defn.abbreviation} {allows})"
            )
        else:
            text = "saved, not scored" + (f": {scores['reason']}" if scores.get("reason") else "")
    raised = _alerts_of(defn, scores)
    if raised:
        text += "; safety alert raised: " + "; ".join(raised)
    return text


def _alerting(defn: Definition, scores: dict[str, Any]) -> list[tuple[Classification, bool]]:
    """The classifications with an alert that the scores call for, each with whether it is
    only "not ruled out": met, or not ruled out because answers are missing, both need the
    team's review."""
    return [
        (c, scores.get(c.key) is None)
        for c in defn.scoring.classifications
        if c.alert is not None and scores.get(c.key) is not False
    ]


def _alerts_of(defn: Definition, scores: dict[str, Any]) -> list[str]:
    """The safety alerts that the scores call for, in words."""
    return [
        f"{c.label} ({c.alert}{', not ruled out' if unknown else ''})"
        for c, unknown in _alerting(defn, scores)
    ]


def _response_for(
    uow: UnitOfWork,
    principal: Principal,
    response_id: int,
    *,
    write: bool,
    check_status: bool = True,
) -> tuple[InstrumentResponse, Participant]:
    """The response if this user may see it (and, with ``write``, change it).

    The participant: their own forms only. The study team (``outcome.read`` at the
    participant's site): every response. Anyone else who enters outcomes (a blinded rater):
    only the ratings they entered, never a self-report or another rater's rating."""
    row = uow.responses.get(response_id)
    missing = NotFound(f"response {response_id} not found")
    if row is None:
        raise missing
    participant = uow.participants.get(row.participant_id)
    assert participant is not None
    if _own(principal, row.participant_id):
        if row.source != "participant":
            raise missing  # staff entries and ratings are not the participant's forms
        if write and check_status:
            _still_open(row)
        return row, participant
    if not principal.can(
        Permission.PARTICIPANT_READ, study_id=participant.study_id, site_id=participant.site_id
    ):
        raise missing
    team = _team(principal, participant)
    if not team and not (_enters(principal, participant) and _own_rating(principal, row)):
        raise missing
    if write:
        if not _enters(principal, participant):
            raise PermissionDenied("your role may not enter answers")
        if row.source == "participant":
            raise PermissionDenied("a form sent to a participant is filled in by the participant")
        if check_status:
            _still_open(row)
    return row, participant


def _still_open(row: InstrumentResponse) -> None:
    if row.status != "in-progress":
        raise InvalidInput.for_field("status", "this response has already been submitted")


# -- use cases ----------------------------------------------------------------------------


def create_response(
    *, uow: UnitOfWork, principal: Principal, response_in: ResponseCreate
) -> ResponseRead:
    """Send a questionnaire to a participant, or start entering one (audited)."""
    participant = participants.visible_participant(
        uow, principal, response_in.participant_id, Permission.OUTCOME_ENTER
    )
    defn = _definition(response_in.instrument)
    administration = defn.instrument.administration
    if response_in.source in ("participant", "staff") and administration != SELF_REPORT:
        raise InvalidInput.for_field(
            "source",
            f"{defn.abbreviation} is {administration}: enter it as a rating (source 'rater')",
        )
    if response_in.source == "rater" and administration == SELF_REPORT:
        raise InvalidInput.for_field(
            "source", f"{defn.abbreviation} is a self-report: send it to the participant"
        )
    if response_in.source != "rater" and not _team(principal, participant):
        raise PermissionDenied("a blinded rater enters ratings only")
    if response_in.source == "rater" and response_in.rater_blinded is None:
        raise InvalidInput.for_field(
            "rater_blinded", "say whether the rater was blind to the treatment allocation"
        )
    if response_in.source != "rater" and response_in.rater_blinded is not None:
        raise InvalidInput.for_field("rater_blinded", "only a rating records rater blinding")
    scheduled_visit, label = _visit_of(uow, participant, response_in)
    _refuse_unconfirmed_repeat(uow, participant, defn, scheduled_visit, label, response_in)
    now = uow.now()
    row = uow.responses.add(
        InstrumentResponse(
            study_id=participant.study_id,
            participant_id=participant.id,
            instrument=defn.id,
            visit=label,
            scheduled_visit=scheduled_visit,
            status="in-progress",
            source=response_in.source,
            answers_json=json.dumps({}),
            position=0,
            rater_blinded=response_in.rater_blinded,
            knowledge_version=knowledge.default().version,
            created_by=uow.actor.user_id,
            created_at=now,
            updated_at=now,
        )
    )
    return _read(principal, row, participant, show_answers=True)


def visit_key(text: str) -> str:
    """A visit name reduced for matching: "Week 6", "week-6" and "week_6" are one visit."""
    return re.sub(r"[^a-z0-9]+", "", text.lower())


def _visit_of(
    uow: UnitOfWork, participant: Participant, response_in: ResponseCreate
) -> tuple[str | None, str]:
    """The scheduled visit (its id) and the label an assessment is kept under. Before
    randomisation there is no schedule, so every assessment is unscheduled."""
    given = response_in.visit.strip()
    planned = schedule.scheduled_visits(uow, participant)
    if response_in.unscheduled or planned is None:
        return None, given
    for v in planned:
        if visit_key(given) in (visit_key(v.visit_id), visit_key(v.label)):
            return v.visit_id, v.label
    names = ", ".join(f"{v.visit_id} ({v.label})" for v in planned)
    raise InvalidInput.for_field(
        "visit",
        f"{given!r} is not a visit of {participant.code}'s schedule ({names}); pick one, or "
        "send it as an unscheduled assessment",
    )


def _refuse_unconfirmed_repeat(
    uow: UnitOfWork,
    participant: Participant,
    defn: Definition,
    scheduled_visit: str | None,
    label: str,
    response_in: ResponseCreate,
) -> None:
    """Sending the same instrument twice for one visit needs ``repeat`` (a confirmation)."""
    if response_in.repeat:
        return
    for r in uow.responses.for_participant(participant.id, instrument=defn.id):
        same = (
            r.scheduled_visit == scheduled_visit
            if scheduled_visit is not None
            else r.scheduled_visit is None and visit_key(r.visit) == visit_key(label)
        )
        if same:
            when = (r.submitted_at or r.created_at).date().isoformat()
            state = "submitted" if r.status == "submitted" else "sent"
            problem = (
                f"{defn.abbreviation} was already {state} for {label} on {when}; "
                "confirm to send it again for the same visit"
            )
            raise Conflict(f"repeat: {problem}", fields=[FieldProblem("repeat", problem)])


def get_response(*, uow: UnitOfWork, principal: Principal, response_id: int) -> ResponseRead:
    row, participant = _response_for(uow, principal, response_id, write=False)
    return _read(principal, row, participant, show_answers=True)


def _sheet(
    defn: Definition,
    row: InstrumentResponse,
    update: AnswersUpdate,
    answers: dict[str, float | None],
    problems: list[FieldProblem],
) -> dict[str, dict[str, float | None]] | None:
    """Merge the scoring-sheet entries of ``update`` into the kept ones and propose the
    severity of items entered without one; None when ``update`` has no sheet."""
    if not update.sheet:
        return None
    rule = defn.scoring.rating_sheet
    if rule is None:
        problems.append(
            FieldProblem("sheet", f"{defn.abbreviation} has no scoring sheet; send answers only")
        )
        return None
    kept: dict[str, dict[str, float | None]] = json.loads(row.sheet_json or "{}")
    for key, entry in update.sheet.items():
        try:
            item = defn.keys[defn.column(key)]
        except KeyError:
            problems.append(
                FieldProblem(f"sheet.{key}", f"{defn.abbreviation} has no item {key!r}")
            )
            continue
        levels = {"frequency": entry.frequency, "intensity": entry.intensity}
        try:
            proposed = ratings.sheet_severity(
                rule,
                [np.nan if entry.frequency is None else entry.frequency],
                [np.nan if entry.intensity is None else entry.intensity],
            )[0]
        except InvalidInput as exc:
            problems += [FieldProblem(f"sheet.{key}.{p.field}", p.message) for p in exc.fields]
            continue
        if entry.frequency is None and entry.intensity is None:
            kept.pop(item, None)  # both cleared: nothing to keep for this item
        else:
            kept[item] = levels
        given = update.answers.get(key, update.answers.get(item))
        if given is None and not np.isnan(proposed):
            answers[item] = float(proposed)
    return kept


def save_answers(
    *, uow: UnitOfWork, principal: Principal, response_id: int, update: AnswersUpdate
) -> ResponseRead:
    """Check and keep answers as they are given; nothing is kept if one is not allowed."""
    row, participant = _response_for(uow, principal, response_id, write=True, check_status=False)
    defn = _definition(row.instrument)
    answers = _answers(row)
    problems = []
    for key, value in update.answers.items():
        try:
            index = defn.column(key)
        except KeyError:
            problems.append(
                FieldProblem(f"answers.{key}", f"{defn.abbreviation} has no item {key!r}")
            )
            continue
        if value is not None and not math.isfinite(value):
            problems.append(FieldProblem(f"answers.{key}", "is not a number; use null to clear"))
            continue
        if value is not None:
            probe = np.full((1, len(defn.keys)), np.nan)
            probe[0, index] = value
            try:
                instruments.validate(defn, probe)
            except InvalidInput:
                problems.append(
                    FieldProblem(
                        f"answers.{key}",
                        f"{value:g} is not an allowed answer; use {defn.allowed_text(index)}",
                    )
                )
                continue
        answers[defn.keys[index]] = value
    sheet = _sheet(defn, row, update, answers, problems)
    problems += _answers_not_asked(defn, answers)
    if problems:
        raise InvalidInput("some answers are not allowed", fields=problems)
    _still_open(row)
    row.answers_json = json.dumps(answers, sort_keys=True)
    if sheet is not None:
        row.sheet_json = json.dumps(sheet, sort_keys=True)
    if update.position is not None:
        row.position = min(update.position, len(defn.keys))
    row.updated_at = uow.now()
    uow.flush()
    return _read(principal, row, participant, show_answers=True)


def _answers_not_asked(defn: Definition, answers: dict[str, float | None]) -> list[FieldProblem]:
    """An answer to an item that the skip logic excludes (its gate item answered below the
    level that asks it). It is refused, never dropped: a "yes" to C-SSRS item 4 after a
    "no" to item 2 must be resolved by the rater, not silently ignored."""
    inst = defn.instrument
    problems = []
    for item, gate, at_least in defn.ask_if:
        value, gate_value = answers.get(defn.keys[item]), answers.get(defn.keys[gate])
        if value is None or gate_value is None or gate_value >= at_least:
            continue
        asked_item, gate_item = inst.items[item], inst.items[gate]
        problems.append(
            FieldProblem(
                f"answers.{defn.keys[item]}",
                f"item {asked_item.number} ({asked_item.label}) is answered, but it is asked "
                f"only when item {gate_item.number} ({gate_item.label}) is "
                f"{_gate_text(defn, gate, at_least)}, and item {gate_item.number} "
                f"is {_answer_label(defn, gate, gate_value)}: clear item {asked_item.number} "
                f"or correct item {gate_item.number}",
            )
        )
    return problems


def gates(defn: Definition) -> dict[str, dict[str, Any]]:
    """Each item asked only after another's answer: its gate's key and number, the level
    that asks it, and those answers in words (for the form's skip logic)."""
    return {
        defn.keys[item]: {
            "key": defn.keys[gate],
            "number": defn.instrument.items[gate].number,
            "at_least": at_least,
            "opening": _gate_text(defn, gate, at_least),
        }
        for item, gate, at_least in defn.ask_if
    }


def _gate_text(defn: Definition, index: int, at_least: float) -> str:
    """The answers that ask a gated item: "'Yes'", or "'Several days' or higher"."""
    item = defn.instrument.items[index]
    if item.options:
        opening = [o for o in defn.instrument.response_sets[item.options] if o.value >= at_least]
        if len(opening) == 1:
            return f"'{opening[0].label}'"
    return f"{_answer_label(defn, index, at_least)} or higher"


def _answer_label(defn: Definition, index: int, value: float) -> str:
    """An answer as the form shows it: "Yes" rather than 1, where the item has options."""
    item = defn.instrument.items[index]
    if item.options:
        for option in defn.instrument.response_sets[item.options]:
            if option.value == value:
                return f"'{option.label}'"
    return f"{value:g}"


def submit(*, uow: UnitOfWork, principal: Principal, response_id: int) -> ResponseRead:
    """Score the response, keep the scores and raise any safety alert its answers call for.

    A participant's form needs every item that is asked; a transcribed form or a rating may
    have gaps, which are scored as the instrument's manual allows."""
    row, participant = _response_for(uow, principal, response_id, write=True)
    defn = _definition(row.instrument)
    answers = _answers(row)
    shown = asked(defn, answers)
    if row.source == "participant":
        unanswered = [
            FieldProblem(f"answers.{key}", "please answer this question")
            for key, show, scored in zip(defn.keys, shown, _scored_mask(defn), strict=True)
            if show and scored and answers.get(key) is None
        ]
        if unanswered:
            raise InvalidInput(
                f"{len(unanswered)} question(s) still need an answer", fields=unanswered
            )
    result = instruments.score(defn, _array(defn, answers))
    scores = result.row(0)
    now = uow.now()
    row.total = scores.get("total")  # type: ignore[assignment]
    row.band = scores.get("band")  # type: ignore[assignment]
    row.scored = bool(scores["scored"])
    row.scores_json = json.dumps(scores, sort_keys=True)
    row.status = "submitted"
    row.submitted_at = now
    row.submitted_by = uow.actor.user_id
    row.updated_at = now
    row.knowledge_version = knowledge.default().version
    uow.flush()
    raised = _alerting(defn, scores)
    for c, unknown in raised:
        assert c.alert is not None
        uow.alerts.add(
            SafetyAlert(
                study_id=row.study_id,
                participant_id=row.participant_id,
                response_id=row.id,
                level=c.alert,
                rule=(f"{defn.abbreviation}: {c.label}" + (" (not ruled out)" if unknown else ""))[
                    :120
                ],
                message=("Answers are missing, so this could not be ruled out. " if unknown else "")
                + c.description,
                status="open",
                created_at=now,
            )
        )
    read = _read(principal, row, participant, show_answers=True)
    if raised:
        # everyone who submitted learns that an alert went to the team; the participant
        # (who sees no scores) reads the site's crisis text
        read.alerts_raised = _alerts_of(defn, scores)
        read.crisis_text = studies.crisis_text(uow=uow, site_id=participant.site_id)
    return read


def crisis_text_after_submission(
    *, uow: UnitOfWork, principal: Principal, response_id: int
) -> str | None:
    """The site's crisis text for a submitted form whose answers raised a safety alert (what
    the participant reads right after sending it); None otherwise."""
    row, participant = _response_for(uow, principal, response_id, write=False)
    if row.status != "submitted" or not uow.alerts.count_for_response(row.id):
        return None
    return studies.crisis_text(uow=uow, site_id=participant.site_id)


def _scored_mask(defn: Definition) -> list[bool]:
    scored = set(defn.scored.tolist())
    return [i in scored for i in range(len(defn.keys))]


def list_for_participant(
    *, uow: UnitOfWork, principal: Principal, participant_id: int
) -> list[ResponseRead]:
    """Responses the user may see: all for the study team, own ratings for a rater."""
    participant = participants.visible_participant(
        uow, principal, participant_id, Permission.PARTICIPANT_READ
    )
    team = _team(principal, participant)
    if not team and not _enters(principal, participant):
        raise PermissionDenied("your role does not allow reading questionnaire results")
    rows = uow.responses.for_participant(participant.id)
    if not team:
        rows = [r for r in rows if _own_rating(principal, r)]
    return [_read(principal, r, participant, show_answers=True) for r in rows]


def my_forms(*, uow: UnitOfWork, principal: Principal) -> list[ResponseRead]:
    """The participant's own forms: to fill in first, then those already sent."""
    found = []
    for pid in sorted(principal.own_participant_ids()):
        participant = uow.participants.get(pid)
        if participant is None:
            continue
        for row in uow.responses.for_participant(pid):
            if row.source == "participant":
                found.append(_read(principal, row, participant, show_answers=False))
    return sorted(found, key=lambda r: (r.status != "in-progress", r.created_at))


def timeline(
    *, uow: UnitOfWork, principal: Principal, participant_id: int, instrument: str
) -> Timeline:
    """Submitted scores over time with change, response and remission against baseline
    (the visit named "baseline", else the first submitted response)."""
    participant = participants.visible_participant(
        uow, principal, participant_id, Permission.OUTCOME_READ
    )
    defn = instruments.definition(knowledge.default(), instrument)  # NotFound: a 404
    rows = [
        r
        for r in uow.responses.for_participant(participant.id, instrument=defn.id)
        if r.status == "submitted" and r.submitted_at is not None
    ]
    rows.sort(key=lambda r: r.submitted_at)  # type: ignore[arg-type, return-value]
    baseline = next((r for r in rows if r.visit.lower() == "baseline"), rows[0] if rows else None)
    scoring = defn.scoring
    points = []
    result = None
    if rows and baseline is not None:
        base = baseline.total if baseline.total is not None else np.nan
        totals = [np.nan if r.total is None else r.total for r in rows]
        result = change_rules.change(defn, [base] * len(rows), totals)
    base_index = rows.index(baseline) if baseline is not None else 0
    for i, r in enumerate(rows):
        after_baseline = baseline is not None and i > base_index
        response_flag = remission_flag = None
        change = percent = None
        if result is not None and after_baseline:
            change = _finite(result.change[i])
            percent = _finite(result.percent_change[i])
            if result.response is not None and result.response[i] >= 0:
                response_flag = bool(result.response[i])
            if result.remission is not None and result.remission[i] >= 0:
                remission_flag = bool(result.remission[i])
        points.append(
            TimelinePoint(
                response_id=r.id,
                visit=r.visit,
                submitted_at=r.submitted_at,
                total=r.total,
                band=r.band,
                change=change,
                percent_change=percent,
                response=response_flag,
                remission=remission_flag,
            )
        )
    response_rule = result.response_rule if result else scoring.response
    return Timeline(
        participant_id=participant.id,
        instrument=defn.id,
        abbreviation=defn.abbreviation,
        scale=(scoring.total.low, scoring.total.high) if scoring.total else None,
        bands=[b.model_dump() for b in scoring.bands],
        baseline_response_id=baseline.id if baseline else None,
        response_rule=response_rule.description if response_rule else None,
        response_rule_conventional=bool(result and result.conventional_response),
        remission_rule=scoring.remission.description if scoring.remission else None,
        higher_is_better=scoring.higher_is_better,
        points=points,
    )


def _finite(value: float) -> float | None:
    return None if not np.isfinite(value) else round(float(value), 3)


# -- safety alerts ------------------------------------------------------------------------


def list_alerts(
    *,
    uow: UnitOfWork,
    principal: Principal,
    status: Literal["open", "acknowledged"] | None = "open",
    participant_id: int | None = None,
    study_id: int | None = None,
) -> list[AlertRead]:
    """The alerts this user may read, newest first (of one study, with ``study_id``)."""
    # per study, only the sites this user covers, filtered in the query (no cut-off first)
    study_ids = principal.study_ids(Permission.ALERT_READ)
    if study_id is not None:
        study_ids = frozenset({study_id} if study_ids is None or study_id in study_ids else ())
    if study_ids is None:
        rows = list(
            uow.alerts.listing(study_ids=None, status=status, participant_id=participant_id)
        )
    else:
        rows = []
        for one_study in sorted(study_ids):
            rows += uow.alerts.listing(
                study_ids=[one_study],
                site_ids=principal.site_scope(Permission.ALERT_READ, one_study),
                status=status,
                participant_id=participant_id,
            )
        rows.sort(key=lambda a: (a.created_at, a.id), reverse=True)
    found = []
    participants = uow.participants.get_many({a.participant_id for a in rows})
    responses = uow.responses.get_many({a.response_id for a in rows})
    for a in rows:
        participant = participants.get(a.participant_id)
        response = responses.get(a.response_id)
        if participant is None or response is None:
            continue
        if not principal.can(
            Permission.ALERT_READ, study_id=participant.study_id, site_id=participant.site_id
        ):
            continue
        found.append(_alert_read(uow, a, participant.code, response))
    return found


def study_alerts(
    *, uow: UnitOfWork, principal: Principal, study_id: int, acknowledged: int = 5
) -> StudyAlerts:
    """The study's open alerts, highest level first and then the longest waiting, and the
    ``acknowledged`` most recently acknowledged, with who acknowledged them and when."""
    if not principal.can(Permission.ALERT_READ, study_id=study_id):
        return StudyAlerts(open=[], recently_acknowledged=[])
    waiting = list_alerts(uow=uow, principal=principal, status="open", study_id=study_id)
    waiting.sort(key=lambda a: (LEVEL_RANK.get(a.level, 9), a.created_at, a.id))
    done = list_alerts(uow=uow, principal=principal, status="acknowledged", study_id=study_id)
    done.sort(key=lambda a: (a.acknowledged_at or a.created_at, a.id), reverse=True)
    return StudyAlerts(open=waiting, recently_acknowledged=done[:acknowledged])


def _alert_read(
    uow: UnitOfWork, a: SafetyAlert, code: str, response: InstrumentResponse
) -> AlertRead:
    who = uow.users.get(a.acknowledged_by) if a.acknowledged_by is not None else None
    return AlertRead(
        id=a.id,
        study_id=a.study_id,
        participant_id=a.participant_id,
        participant_code=code,
        response_id=a.response_id,
        instrument=_definition(response.instrument).abbreviation,
        visit=response.visit,
        level=a.level,
        rule=a.rule,
        message=a.message,
        status=a.status,
        created_at=a.created_at,
        acknowledged_at=a.acknowledged_at,
        acknowledged_by=who.display_name if who is not None else None,
        acknowledgement=a.acknowledgement,
    )


def acknowledge_alert(
    *, uow: UnitOfWork, principal: Principal, alert_id: int, ack: AlertAcknowledge
) -> AlertRead:
    a = uow.alerts.get(alert_id)
    participant = uow.participants.get(a.participant_id) if a else None
    if (
        a is None
        or participant is None
        or not principal.can(
            Permission.ALERT_READ, study_id=participant.study_id, site_id=participant.site_id
        )
    ):
        raise NotFound(f"alert {alert_id} not found")
    if not principal.can(
        Permission.ALERT_MANAGE, study_id=participant.study_id, site_id=participant.site_id
    ):
        raise PermissionDenied("your role may not acknowledge safety alerts")
    if a.status == "acknowledged":
        raise InvalidInput.for_field("status", "this alert has already been acknowledged")
    a.status = "acknowledged"
    a.acknowledged_by = uow.actor.user_id
    a.acknowledged_at = uow.now()
    a.acknowledgement = ack.note.strip()
    uow.flush()
    response = uow.responses.get(a.response_id)
    assert response is not None
    return _alert_read(uow, a, participant.code, response)


# -- personal links -----------------------------------------------------------------------

LINK_DAYS = 14


class FormLinkRead(BaseModel):
    response_id: int
    path: str  # /f/<token>: shown once, never stored
    expires_at: dt.datetime


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_link(
    *, uow: UnitOfWork, principal: Principal, response_id: int, days: int = LINK_DAYS
) -> FormLinkRead:
    """A personal link to a form sent to a participant, for use without an account. A new
    link replaces the previous one; only the token's hash is kept, so it is shown once."""
    row, participant = _response_for(uow, principal, response_id, write=False)
    if row.source != "participant":
        raise InvalidInput.for_field("source", "only a form sent to the participant has a link")
    if not (_team(principal, participant) and _enters(principal, participant)):
        raise PermissionDenied("only the study team may create a participant's personal link")
    _still_open(row)
    token = secrets.token_urlsafe(32)
    now = uow.now()
    expires = now + dt.timedelta(days=days)
    link = uow.form_links.for_response(row.id)
    if link is None:
        uow.form_links.add(
            FormLink(
                response_id=row.id,
                study_id=row.study_id,
                participant_id=row.participant_id,
                token_hash=_token_hash(token),
                expires_at=expires,
                created_by=uow.actor.user_id,
                created_at=now,
            )
        )
    else:
        link.token_hash = _token_hash(token)
        link.expires_at = expires
        link.created_by = uow.actor.user_id
        link.created_at = now
        uow.flush()
    return FormLinkRead(response_id=row.id, path=f"/f/{token}", expires_at=expires)


def link_principal(uow: UnitOfWork, token: str) -> tuple[Principal, int]:
    """Who a personal link speaks for (the participant, for that one form) and the form's
    id. An unknown, expired or used link is NotFound, saying no more than that."""
    gone = NotFound("this link is not valid: it may have expired or the form was already sent")
    if not 20 <= len(token) <= 100:
        raise gone
    link = uow.form_links.by_hash(_token_hash(token))
    if link is None or link.expires_at <= uow.now():
        raise gone
    row = uow.responses.get(link.response_id)
    if row is None or row.status != "in-progress":
        raise gone
    principal = Principal(
        user_id=0,
        username=f"form-link-{link.id}",
        display_name="Participant (personal link)",
        memberships=(
            Membership(
                role=Role.PARTICIPANT,
                study_id=row.study_id,
                participant_id=row.participant_id,
            ),
        ),
    )
    return principal, row.id
