"""Trial operations: protocol versions, consent, randomisation with concealment, the blind
(emergency unblinding, the unblinded allocation list), treatment guesses and blinding indices.

The arm a participant is in leaves this module only through :func:`allocation_list`,
:func:`blinding_report` (both need ``allocation.read``, held by the unblinded statistician)
and :func:`emergency_unblind` (an investigator, with a reason, recorded and notified).
Nothing else returns it, and no error message names it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import secrets
from collections.abc import Sequence
from typing import Literal

from argon2 import PasswordHasher
from pydantic import BaseModel, ConfigDict, Field

from openpat import knowledge
from openpat.errors import Conflict, InvalidInput, NotFound, PermissionDenied, RuleViolation
from openpat.security import Permission, Principal, Role
from openpat.services import signatures as esign
from openpat.services.eligibility import require_eligible
from openpat.services.ids import Instant
from openpat.services.participants import visible_participant
from openpat.services.signatures import SignatureRead
from openpat.services.studies import today_at_site, visible_study
from openpat.store.models import (
    Consent,
    Notification,
    Participant,
    ParticipantAllocation,
    RandomisationKey,
    Signature,
    StudyProtocol,
    TreatmentGuess,
    Unblinding,
)
from openpat.store.uow import UnitOfWork
from openpat.trial.blinding import INTERVAL_METHOD, IndexEstimate, blinding_indices
from openpat.trial.pathway import ParticipantStatus, check_transition
from openpat.trial.protocol import ArmSpec, Protocol, parse_protocol
from openpat.trial.randomisation import (
    Allocation,
    ArmShare,
    allocate_block,
    minimise,
    stratum_key,
)

DONT_KNOW = "dont-know"
Guesser = Literal["participant", "facilitator", "rater"]


# -- protocols ------------------------------------------------------------------------------


class ProtocolLoad(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str = Field(min_length=1, max_length=200_000, description="the protocol as YAML")
    seed: int | None = Field(
        default=None,
        ge=0,
        le=2**31 - 1,
        description="randomisation seed for the first version (default: a random one, kept "
        "secret); later versions keep the study's seed",
    )
    reason: str = Field(min_length=3, max_length=500)


class ArmRead(BaseModel):
    id: str
    label: str
    kind: str


class VisitSpecRead(BaseModel):
    id: str
    label: str
    type: str
    day: int
    anchor: str
    window_before: int
    window_after: int
    instruments: list[str]
    room: bool
    facilitators: int


class ProtocolRead(BaseModel):
    id: int
    study_id: int
    protocol_key: str
    title: str
    version: str
    randomisation: str
    strata: list[str]
    arms: list[ArmRead]
    visits: list[VisitSpecRead]
    created_at: dt.datetime
    source: str


def _protocol_read(row: StudyProtocol, protocol: Protocol) -> ProtocolRead:
    r = protocol.randomisation
    return ProtocolRead(
        id=row.id,
        study_id=row.study_id,
        protocol_key=row.protocol_key,
        title=protocol.title,
        version=row.version,
        randomisation=(
            "stratified permuted blocks"
            if r.method == "blocks"
            else f"minimisation ({r.measure}, p = {r.p_preferred:g})"
        ),
        strata=list(r.strata),
        arms=[ArmRead(id=a.id, label=a.label, kind=a.kind) for a in protocol.arms],
        visits=[
            VisitSpecRead(
                id=v.id,
                label=v.label,
                type=v.type,
                day=v.day,
                anchor=v.anchor,
                window_before=v.window_before,
                window_after=v.window_after,
                instruments=list(v.instruments),
                room=bool(v.staffing and v.staffing.room),
                facilitators=v.staffing.facilitators if v.staffing else 0,
            )
            for v in protocol.visits
        ],
        created_at=row.created_at,
        source=row.source_yaml,
    )


def check_against_knowledge(protocol: Protocol, kb: knowledge.KnowledgeBase) -> None:
    """Every arm's substance and every cited reference must exist in the knowledge base."""
    for k, arm in enumerate(protocol.arms):
        if arm.substance:
            try:
                kb.substance(arm.substance)
            except NotFound:
                raise InvalidInput.for_field(
                    f"arms.{k}.substance",
                    f"{arm.substance!r} is not in the knowledge base; use its id (e.g. psilocybin)",
                ) from None
        for ref in arm.refs:
            try:
                kb.reference(ref)
            except NotFound:
                raise InvalidInput.for_field(
                    f"arms.{k}.refs", f"reference {ref!r} is not in the knowledge base"
                ) from None
    if protocol.eligibility:
        try:
            kb.protocol(protocol.eligibility)
        except NotFound:
            raise InvalidInput.for_field(
                "eligibility", f"{protocol.eligibility!r} is not a knowledge-base protocol"
            ) from None


def current_protocol(uow: UnitOfWork, study_id: int) -> tuple[StudyProtocol, Protocol]:
    row = uow.trial.current_protocol(study_id)
    if row is None:
        raise NotFound(f"study {study_id} has no protocol yet; load one first")
    return row, parse_protocol(row.source_yaml)


def load_protocol(
    *, uow: UnitOfWork, principal: Principal, study_id: int, load: ProtocolLoad
) -> ProtocolRead:
    """Add a protocol version. Once anyone is randomised, arms and randomisation are fixed."""
    visible_study(uow, principal, study_id)
    if not principal.can(Permission.PROTOCOL_MANAGE, study_id=study_id):
        raise PermissionDenied("your role does not allow loading protocols")
    protocol = parse_protocol(load.source)
    check_against_knowledge(protocol, knowledge.default())
    uow.studies.lock(study_id)
    previous = uow.trial.current_protocol(study_id)
    if previous is not None:
        if any(p.version == protocol.version for p in uow.trial.protocols(study_id)):
            raise Conflict(f"version: version {protocol.version!r} is already loaded")
        if uow.trial.allocations(study_id):
            before = parse_protocol(previous.source_yaml)
            if [(a.id, a.ratio) for a in before.arms] != [
                (a.id, a.ratio) for a in protocol.arms
            ] or before.randomisation != protocol.randomisation:
                raise RuleViolation(
                    "arms: participants are already randomised, so a new version cannot "
                    "change the arms, their ratio or the randomisation"
                )
    with uow.reason(load.reason):
        if uow.trial.key(study_id) is None:
            seed = load.seed if load.seed is not None else secrets.randbits(63)
            uow.trial.add(RandomisationKey(study_id=study_id, seed=str(seed), created_at=uow.now()))
        elif load.seed is not None:
            raise RuleViolation("seed: the study's randomisation seed is already set")
        row = StudyProtocol(
            study_id=study_id,
            protocol_key=protocol.id,
            version=protocol.version,
            source_yaml=load.source,
            created_by=principal.user_id or None,
            created_at=uow.now(),
        )
        uow.trial.add(row)
    return _protocol_read(row, protocol)


def get_protocol(*, uow: UnitOfWork, principal: Principal, study_id: int) -> ProtocolRead:
    visible_study(uow, principal, study_id)
    row, protocol = current_protocol(uow, study_id)
    return _protocol_read(row, protocol)


# -- consent --------------------------------------------------------------------------------


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    form_version: str = Field(min_length=1, max_length=40, description="consent form version")
    signature: str = Field(min_length=2, max_length=200, description="the name as signed")
    signed_at: Instant = Field(description="when it was signed, with its UTC offset")
    reason: str = Field(default="consent signed", min_length=3, max_length=500)


class ConsentSignIn(ConsentIn):
    """A consent recorded by a member of staff, who signs it electronically: their password
    again, and the meaning 'obtained this consent' (21 CFR 11.50, 11.200)."""

    password: str = Field(
        min_length=1, max_length=256, description="your own password: signing asks for it again"
    )


class ConsentRead(BaseModel):
    id: int
    participant_id: int
    form_version: str
    signed_at: dt.datetime
    signature: str | None = Field(description="shown only to roles with identity access")
    signatures: list[SignatureRead] = Field(
        default_factory=list, description="electronic signatures of this consent record"
    )


def record_consent(
    *,
    uow: UnitOfWork,
    principal: Principal,
    participant_id: int,
    consent: ConsentIn,
    hasher: PasswordHasher | None = None,
) -> ConsentRead:
    """Record an e-consent; a screened participant becomes consented on the signing day.

    A person records it by signing it (``ConsentSignIn``: their password again); only the
    system (the demo loader, an import) records one without an electronic signature, and the
    record then shows none."""
    participant = visible_participant(uow, principal, participant_id, Permission.IDENTITY_WRITE)
    if consent.signed_at.tzinfo is None:
        raise InvalidInput.for_field("signed_at", "give the time with its offset, e.g. +01:00")
    if consent.signed_at > uow.now():
        raise InvalidInput.for_field("signed_at", "is in the future")
    site = uow.sites.get(participant.site_id)
    assert site is not None
    day = today_at_site(site.timezone, consent.signed_at)
    current = ParticipantStatus(participant.status)
    if current.is_final or current is ParticipantStatus.PRESCREEN:
        raise RuleViolation(
            f"status: a participant who is '{current.label}' cannot give consent; screen them first"
        )
    if current is ParticipantStatus.SCREENED and day < participant.status_date:
        raise InvalidInput.for_field(
            "signed_at", f"{day} is before the screening date {participant.status_date}"
        )
    with uow.reason(consent.reason):
        row = Consent(
            study_id=participant.study_id,
            participant_id=participant.id,
            form_version=consent.form_version,
            signature=consent.signature.strip(),
            signed_at=consent.signed_at,
            witnessed_by=principal.user_id or None,
            created_at=uow.now(),
        )
        uow.trial.add(row)
        if current is ParticipantStatus.SCREENED:
            participant.status = ParticipantStatus.CONSENTED.value
            participant.status_date = day
        signed = []
        if not principal.is_system:
            if not isinstance(consent, ConsentSignIn) or hasher is None:
                raise InvalidInput.for_field(
                    "password", "a consent is recorded by signing it: give your password"
                )
            signed.append(
                esign.sign(
                    uow=uow,
                    principal=principal,
                    hasher=hasher,
                    password=consent.password,
                    record=row,
                    meaning="consent-obtained",
                    time_zone=site.timezone,
                )
            )
    return _consent_read(uow, row, signed)


def _consent_read(
    uow: UnitOfWork, row: Consent, signed: Sequence[Signature], *, show_name: bool = True
) -> ConsentRead:
    """A consent as read back, each signature checked against the record as it is now."""
    return ConsentRead(
        id=row.id,
        participant_id=row.participant_id,
        form_version=row.form_version,
        signed_at=row.signed_at,
        signature=row.signature if show_name else None,
        signatures=[esign.read(uow, s) for s in signed],
    )


class OwnConsentIn(BaseModel):
    """A participant's own electronic consent: the form version they read, and their password
    again (21 CFR 11.200); the signature means 'consented'."""

    model_config = ConfigDict(extra="forbid")

    form_version: str = Field(min_length=1, max_length=40, description="consent form version")
    password: str = Field(min_length=1, max_length=256, description="your own password")


def sign_own_consent(
    *, uow: UnitOfWork, principal: Principal, consent: OwnConsentIn, hasher: PasswordHasher
) -> ConsentRead:
    """The participant signs their consent themselves; a screened participant becomes
    consented today (at their site)."""
    own = sorted(principal.own_participant_ids())
    if not own:
        raise PermissionDenied("your account is not linked to a study record")
    participant = uow.participants.get(own[0])
    user = uow.users.get(principal.user_id)
    if participant is None or user is None:
        raise NotFound("your study record was not found")
    site = uow.sites.get(participant.site_id)
    assert site is not None
    current = ParticipantStatus(participant.status)
    if current is not ParticipantStatus.SCREENED:
        raise RuleViolation(
            f"status: you are '{current.label}'; consent is signed after screening, "
            "before enrolment"
        )
    now = uow.now()
    with uow.reason("consent signed by the participant"):
        row = Consent(
            study_id=participant.study_id,
            participant_id=participant.id,
            form_version=consent.form_version.strip(),
            signature=user.display_name,
            signed_at=now,
            witnessed_by=None,
            created_at=now,
        )
        uow.trial.add(row)
        participant.status = ParticipantStatus.CONSENTED.value
        participant.status_date = today_at_site(site.timezone, now)
        signed = esign.sign(
            uow=uow,
            principal=principal,
            hasher=hasher,
            password=consent.password,
            record=row,
            meaning="consented",
            time_zone=site.timezone,
        )
    return _consent_read(uow, row, [signed])


def list_consents(
    *, uow: UnitOfWork, principal: Principal, participant_id: int
) -> list[ConsentRead]:
    participant = visible_participant(uow, principal, participant_id, Permission.PARTICIPANT_READ)
    show = principal.can(
        Permission.IDENTITY_READ, study_id=participant.study_id, site_id=participant.site_id
    )
    return [
        _consent_read(uow, c, uow.trial.signatures("consents", str(c.id)), show_name=show)
        for c in uow.trial.consents(participant_id)
    ]


# -- randomisation --------------------------------------------------------------------------


class RandomiseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    on_date: dt.date | None = Field(default=None, description="default: today at the site")
    factors: dict[str, str] = Field(
        default_factory=dict,
        description="levels of stratification factors other than site and sex",
    )
    reason: str = Field(default="randomised", min_length=3, max_length=500)


class RandomisationRead(BaseModel):
    """What the team is told: that the participant is randomised, never the arm."""

    participant_id: int
    participant_code: str
    randomised_on: dt.date
    protocol_version: str
    concealed: bool = True
    message: str


def _levels(
    protocol: Protocol, participant: Participant, site_code: str, given: dict[str, str]
) -> dict[str, str]:
    factors = protocol.randomisation.strata
    unknown = sorted(set(given) - set(factors))
    if unknown:
        raise InvalidInput.for_field(
            f"factors.{unknown[0]}",
            f"is not a factor of this protocol (factors: {', '.join(factors) or 'none'})",
        )
    levels: dict[str, str] = {}
    for name in factors:
        if name == "site":
            levels[name] = site_code
        elif name == "sex":
            if not participant.sex:
                raise InvalidInput.for_field(
                    "factors.sex", "the participant's sex is not recorded; record it first"
                )
            levels[name] = participant.sex
        elif name in given and given[name].strip():
            levels[name] = given[name].strip()
        else:
            raise InvalidInput.for_field(f"factors.{name}", "give this factor's level")
    return levels


def randomise(
    *, uow: UnitOfWork, principal: Principal, participant_id: int, request: RandomiseIn
) -> RandomisationRead:
    """Randomise an enrolled participant. The arm is drawn only now (concealment) and stays
    hidden from the team; the participant moves to 'randomised'."""
    participant = visible_participant(uow, principal, participant_id, Permission.RANDOMISE)
    check_transition(ParticipantStatus(participant.status), ParticipantStatus.RANDOMISED)
    require_eligible(uow, participant, "randomise")
    row, protocol = current_protocol(uow, participant.study_id)
    site = uow.sites.get(participant.site_id)
    assert site is not None
    today = today_at_site(site.timezone, uow.now())
    on_date = request.on_date or today
    if on_date > today:
        raise InvalidInput.for_field("on_date", f"{on_date} is in the future")
    if on_date < participant.status_date:
        raise InvalidInput.for_field(
            "on_date", f"{on_date} is before the enrolment date {participant.status_date}"
        )
    levels = _levels(protocol, participant, site.code, request.factors)
    uow.studies.lock(participant.study_id)  # one allocation at a time per study
    if uow.trial.allocation(participant.id) is not None:
        raise Conflict("participant: already randomised")
    key = uow.trial.key(participant.study_id)
    assert key is not None  # written with the first protocol
    seed = int(key.seed)
    arms = [ArmShare(a.id, a.ratio) for a in protocol.arms]
    spec = protocol.randomisation
    allocation: Allocation
    if spec.method == "blocks":
        stratum = stratum_key(levels, spec.strata)
        allocation = allocate_block(
            arms,
            seed=seed,
            stratum=stratum,
            position=uow.trial.count_allocations(participant.study_id, stratum),
            block_multiples=spec.block_multiples,
        )
    else:
        previous = [
            (json.loads(a.levels_json), a.arm) for a in uow.trial.allocations(participant.study_id)
        ]
        allocation = minimise(
            arms,
            levels,
            previous,
            seed=seed,
            weights=spec.weights or None,
            measure=spec.measure,
            p_preferred=spec.p_preferred,
        )
    with uow.reason(request.reason):
        uow.trial.add(
            ParticipantAllocation(
                study_id=participant.study_id,
                participant_id=participant.id,
                protocol_id=row.id,
                arm=allocation.arm,
                method=allocation.method,
                stratum=allocation.stratum,
                levels_json=json.dumps(levels, sort_keys=True),
                position=allocation.position,
                block=allocation.block,
                block_size=allocation.block_size,
                imbalance_json=json.dumps(allocation.imbalance) if allocation.imbalance else None,
                draw=allocation.draw,
                replay=allocation.replay(),
                randomised_on=on_date,
                created_by=principal.user_id or None,
                created_at=uow.now(),
            )
        )
        participant.status = ParticipantStatus.RANDOMISED.value
        participant.status_date = on_date
    return RandomisationRead(
        participant_id=participant.id,
        participant_code=participant.code,
        randomised_on=on_date,
        protocol_version=row.version,
        message=f"{participant.code} is randomised; the allocation is concealed.",
    )


# -- the unblinded side ---------------------------------------------------------------------


class AllocationRow(BaseModel):
    participant_code: str
    site_code: str
    randomised_on: dt.date
    arm: str
    arm_label: str
    method: str
    stratum: str
    replay: str


def _require_unblinded(principal: Principal, study_id: int) -> None:
    if not principal.can(Permission.ALLOCATION_READ, study_id=study_id):
        raise PermissionDenied("only the unblinded statistician may see allocations")


def allocation_list(*, uow: UnitOfWork, principal: Principal, study_id: int) -> list[AllocationRow]:
    """The allocation list (unblinded role only); reading it is written to the audit trail."""
    visible_study(uow, principal, study_id)
    _require_unblinded(principal, study_id)
    _, protocol = current_protocol(uow, study_id)
    labels = {a.id: a.label for a in protocol.arms}
    sites = {s.id: s.code for s in uow.studies.sites_of(study_id)}
    rows = [
        AllocationRow(
            participant_code=p.code,
            site_code=sites.get(p.site_id, "?"),
            randomised_on=a.randomised_on,
            arm=a.arm,
            arm_label=labels.get(a.arm, a.arm),
            method=a.method,
            stratum=a.stratum,
            replay=a.replay,
        )
        for p, a in uow.trial.randomised(
            study_id, principal.site_scope(Permission.ALLOCATION_READ, study_id)
        )
    ]
    uow.audit.record_event(
        actor=uow.actor,
        action="export",
        table_name="allocations",
        record_id=f"study {study_id}",
        reason=f"allocation list read ({len(rows)} rows)",
        at=uow.now(),
        study_id=study_id,
    )
    return rows


def allocation_csv(rows: list[AllocationRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    fields = list(AllocationRow.model_fields)
    writer.writerow(fields)
    for r in rows:
        # a leading =, +, - or @ would be read as a formula by a spreadsheet
        writer.writerow(
            [
                ("'" + v) if isinstance(v, str) and v[:1] in "=+-@" else v
                for v in (getattr(r, f) for f in fields)
            ]
        )
    return out.getvalue()


class UnblindIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=10, max_length=1000, description="the clinical emergency")


class UnblindRead(BaseModel):
    participant_id: int
    participant_code: str
    arm: str
    arm_label: str
    unblinded_by: str
    at: dt.datetime
    notified: int = Field(description="how many study staff were notified")


def emergency_unblind(
    *, uow: UnitOfWork, principal: Principal, participant_id: int, request: UnblindIn
) -> UnblindRead:
    """Reveal one participant's arm to an investigator in an emergency. The unblinding (not
    the arm) is recorded and every investigator, monitor and unblinded statistician of the
    study is notified."""
    participant = visible_participant(uow, principal, participant_id, Permission.EMERGENCY_UNBLIND)
    allocation = uow.trial.allocation(participant.id)
    if allocation is None:
        raise RuleViolation("participant: is not randomised, so there is nothing to unblind")
    _, protocol = current_protocol(uow, participant.study_id)
    now = uow.now()
    message = (
        f"Emergency unblinding of {participant.code} by {principal.display_name} at "
        f"{now:%Y-%m-%d %H:%M} UTC. Reason: {request.reason.strip()}"
    )
    recipients = uow.users.ids_with_roles(
        participant.study_id,
        [Role.INVESTIGATOR.value, Role.MONITOR.value, Role.UNBLINDED_STATISTICIAN.value],
    )
    with uow.reason(f"emergency unblinding: {request.reason.strip()}"):
        unblinding = Unblinding(
            study_id=participant.study_id,
            participant_id=participant.id,
            reason=request.reason.strip(),
            by_user=principal.user_id,
            at=now,
        )
        uow.trial.add(unblinding)
        uow.flush()
        for user_id in recipients:
            uow.trial.add(
                Notification(
                    user_id=user_id,
                    study_id=participant.study_id,
                    kind="emergency-unblinding",
                    message=message,
                    created_at=now,
                )
            )
    # ... and by e-mail (who, when, which participant; never the arm or the reason)
    from openpat.services import messaging

    messaging.queue_unblinding_notice(
        uow,
        unblinding_id=unblinding.id,
        study_id=participant.study_id,
        user_ids=list(recipients),
    )
    arm = protocol.arm(allocation.arm)
    return UnblindRead(
        participant_id=participant.id,
        participant_code=participant.code,
        arm=arm.id,
        arm_label=arm.label,
        unblinded_by=principal.display_name,
        at=now,
        notified=len(recipients),
    )


class UnblindingRead(BaseModel):
    participant_code: str
    reason: str
    by_user: str
    at: dt.datetime


def list_unblindings(
    *, uow: UnitOfWork, principal: Principal, study_id: int
) -> list[UnblindingRead]:
    """Emergency unblindings in the study (who, when and why; never the arm)."""
    visible_study(uow, principal, study_id)
    found = []
    for u in uow.trial.unblindings(study_id):
        participant = uow.participants.get(u.participant_id)
        user = uow.users.get(u.by_user)
        found.append(
            UnblindingRead(
                participant_code=participant.code if participant else "?",
                reason=u.reason,
                by_user=user.display_name if user else "?",
                at=u.at,
            )
        )
    return found


class NotificationRead(BaseModel):
    id: int
    kind: str
    message: str
    created_at: dt.datetime
    study_id: int | None


def _notification_read(n: Notification) -> NotificationRead:
    return NotificationRead(
        id=n.id, kind=n.kind, message=n.message, created_at=n.created_at, study_id=n.study_id
    )


def my_notifications(*, uow: UnitOfWork, principal: Principal) -> list[NotificationRead]:
    return [_notification_read(n) for n in uow.trial.notifications(principal.user_id)]


def my_notifications_after(
    *, uow: UnitOfWork, principal: Principal, after_id: int | None
) -> tuple[int, list[NotificationRead]]:
    """The user's notifications newer than ``after_id`` (None: none yet, only the newest id),
    and the id to continue after."""
    if after_id is None:
        return uow.trial.newest_notification_id(principal.user_id), []
    rows = uow.trial.notifications_after(principal.user_id, after_id)
    return (rows[-1].id if rows else after_id), [_notification_read(n) for n in rows]


# -- treatment guesses and blinding integrity -----------------------------------------------


class GuessIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    visit: str = Field(min_length=1, max_length=60, description="the dosing visit")
    guesser: Guesser
    guess: str = Field(min_length=1, max_length=60, description=f"an arm id or {DONT_KNOW!r}")
    confidence: int = Field(ge=0, le=100, description="per cent")


class GuessRead(BaseModel):
    id: int
    participant_id: int
    visit: str
    guesser: Guesser
    guess: str
    guess_label: str
    confidence: int
    recorded_at: dt.datetime


def guess_options(arms: Sequence[ArmSpec | ArmRead]) -> list[tuple[str, str]]:
    """What a guess may name: each arm, or don't know."""
    return [(a.id, a.label) for a in arms] + [(DONT_KNOW, "Don't know")]


def record_guess(
    *, uow: UnitOfWork, principal: Principal, participant_id: int, guess: GuessIn
) -> GuessRead:
    """A treatment guess after a dosing visit that has been held."""
    participant = visible_participant(uow, principal, participant_id, Permission.GUESS_ENTER)
    _, protocol = current_protocol(uow, participant.study_id)
    visit = next((v for v in protocol.visits if v.id == guess.visit), None)
    if visit is None or visit.type != "dosing":
        dosing = ", ".join(v.id for v in protocol.dosing_visits()) or "none"
        raise InvalidInput.for_field("visit", f"is not a dosing visit (dosing visits: {dosing})")
    record = uow.trial.visit_record(participant.id, visit.id)
    if record is None or record.done_on is None:
        raise RuleViolation("visit: guesses are recorded after the dosing visit has been held")
    options = dict(guess_options(protocol.arms))
    if guess.guess not in options:
        raise InvalidInput.for_field("guess", f"choose one of: {', '.join(options)}")
    if any(
        g.visit_key == visit.id
        and g.guesser == guess.guesser
        and g.recorded_by == (principal.user_id or None)
        for g in uow.trial.guesses_of(participant.id)
    ):
        raise Conflict("guess: you have already recorded this guess for this visit")
    row = TreatmentGuess(
        study_id=participant.study_id,
        participant_id=participant.id,
        visit_key=visit.id,
        guesser=guess.guesser,
        guess=guess.guess,
        confidence=guess.confidence,
        recorded_by=principal.user_id or None,
        recorded_at=uow.now(),
    )
    with uow.reason("treatment guess recorded"):
        uow.trial.add(row)
    return GuessRead(
        id=row.id,
        participant_id=participant.id,
        visit=row.visit_key,
        guesser=guess.guesser,
        guess=row.guess,
        guess_label=options[row.guess],
        confidence=row.confidence,
        recorded_at=row.recorded_at,
    )


class IndexRead(BaseModel):
    estimate: float | None
    low: float | None
    high: float | None


class GuesserBlinding(BaseModel):
    guesser: Guesser
    n: int
    counts: list[list[int]] = Field(
        description="rows: guessed active, guessed control, don't know; columns: active, control"
    )
    bang_active: IndexRead
    bang_control: IndexRead
    james: IndexRead
    mean_confidence: float | None
    reading: str


class BlindingReport(BaseModel):
    study_id: int
    groups: list[GuesserBlinding] = Field(
        description="participant, facilitator and rater guesses, each even when none yet"
    )
    interval_method: str = Field(default=INTERVAL_METHOD, description="how the 95 % CIs are made")
    note: str


def _index(est: IndexEstimate | None) -> IndexRead:
    if est is None or est.estimate != est.estimate:  # none, or NaN: no guesses for an arm
        return IndexRead(estimate=None, low=None, high=None)
    return IndexRead(
        estimate=round(est.estimate, 3), low=round(est.low, 3), high=round(est.high, 3)
    )


def blinding_report(*, uow: UnitOfWork, principal: Principal, study_id: int) -> BlindingReport:
    """Bang's index per arm and James's index for each kind of guesser (unblinded role only,
    since the table crosses guesses with the arms actually given)."""
    visible_study(uow, principal, study_id)
    _require_unblinded(principal, study_id)
    _, protocol = current_protocol(uow, study_id)
    active = {a.id for a in protocol.arms if a.kind == "active"}
    # study-wide, whatever the reader's sites: the indices need every guess
    arm_of = {p.id: a.arm for p, a in uow.trial.randomised(study_id, None)}
    order: tuple[Guesser, ...] = ("participant", "facilitator", "rater")
    tables: dict[str, list[list[int]]] = {g: [[0, 0], [0, 0], [0, 0]] for g in order}
    confidences: dict[str, list[int]] = {g: [] for g in order}
    for g in uow.trial.guesses(study_id):
        if g.participant_id not in arm_of:
            continue
        column = 0 if arm_of[g.participant_id] in active else 1
        row = 2 if g.guess == DONT_KNOW else (0 if g.guess in active else 1)
        tables[g.guesser][row][column] += 1
        confidences[g.guesser].append(g.confidence)
    groups = []
    for guesser in order:
        table, given = tables[guesser], confidences[guesser]
        if not given:
            # every kind of guesser has its section, so a missing set of guesses shows
            groups.append(
                GuesserBlinding(
                    guesser=guesser,
                    n=0,
                    counts=table,
                    bang_active=_index(None),
                    bang_control=_index(None),
                    james=_index(None),
                    mean_confidence=None,
                    reading=f"No {guesser} guesses recorded yet.",
                )
            )
            continue
        both_arms = all(table[0][c] + table[1][c] + table[2][c] for c in (0, 1))
        result = blinding_indices(table, arms=("active", "control")) if both_arms else None
        groups.append(
            GuesserBlinding(
                guesser=guesser,
                n=len(given),
                counts=table,
                bang_active=_index(result.bang[0] if result else None),
                bang_control=_index(result.bang[1] if result else None),
                james=_index(result.james if result else None),
                mean_confidence=sum(given) / len(given),
                reading=(
                    f"Active: {result.bang_reading(0)}. Control: {result.bang_reading(1)}. "
                    f"James: {result.james_reading()}."
                    if result
                    else "Indices need guesses about participants of both arms."
                ),
            )
        )
    return BlindingReport(
        study_id=study_id,
        groups=groups,
        note=(
            "Bang's index per arm: 0 is ideal blinding, +1 all guessed right, -1 all guessed "
            "wrong. James's index: 1 complete blinding, 0 complete unblinding, 0.5 or less "
            "suggests a lack of blinding. Active and active-control/placebo arms are pooled "
            "into active and control."
        ),
    )
