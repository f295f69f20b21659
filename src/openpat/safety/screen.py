"""Screen one participant against a protocol: criteria, interactions, washout, verdict."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from pydantic import ValidationError

from openpat import knowledge
from openpat.errors import InvalidInput, NotFound, field_problems
from openpat.knowledge import schema as s
from openpat.knowledge.base import KnowledgeBase
from openpat.knowledge.schema import PROFILE_FIELDS
from openpat.safety.criteria import (
    MET,
    NOT_MET,
    STATUS_NAMES,
    column,
    describe_test,
    describe_value,
    evaluate,
    evaluate_test,
)
from openpat.safety.profile import MedicationEntry, Profile, _DateError
from openpat.safety.report import (
    VERDICT_ORDER,
    CombinationFinding,
    CriterionResult,
    InteractionFinding,
    MedicationResult,
    ScreeningReport,
    TaperWarning,
    Unresolved,
    Verdict,
    WashoutStep,
)

_STOP_ACTIONS = {s.Action.EXCLUDE, s.Action.WASHOUT}


@dataclass(frozen=True, slots=True)
class MedicationPlan:
    """What a protocol and the knowledge base ask of one medication, for any participant:
    the interaction rules that fire with the study substance, whether it must be stopped,
    and how many days before dosing (``None``: it cannot be dated)."""

    medication: s.Medication
    classes: frozenset[str]
    rules: tuple[s.Interaction, ...]
    protocol_rules: tuple[s.WashoutRule, ...]
    must_stop: bool
    washout_days: int | None
    basis: str
    detail: str
    references: tuple[str, ...]
    taper_risks: tuple[s.DiscontinuationRisk, ...]

    @property
    def required_by(self) -> tuple[str, ...]:
        return tuple(
            [r.id for r in self.rules if r.management.action in _STOP_ACTIONS]
            + [f"protocol:{r.id}" for r in self.protocol_rules]
        )


def plan_medication(
    kb: KnowledgeBase, protocol: s.Protocol, substance: s.Substance, medication: s.Medication
) -> MedicationPlan:
    """The washout a medication needs before dosing ``substance`` under ``protocol``.

    A medication must be stopped when an interaction rule with the substance says to
    exclude or wash it out, or when one of the protocol's washout rules names it or one of
    its classes. The washout lasts the longest of: the protocol's multiple of the longest
    half-life of the parent drug and its active metabolites; the protocol's fixed washout;
    the interaction rules' fixed washouts (or multiples of the half-life).

    References
    ----------
    The half-life multiple is the protocol's ``washout_half_lives`` (cited there); fixed
    washouts cite their protocol rule or interaction rule.
    """
    classes = frozenset(kb.classes_of(medication))
    rules = tuple(kb.interactions_between(substance, medication))
    protocol_rules = tuple(
        r
        for r in protocol.washout_rules
        if medication.id in r.medications or classes & set(r.medication_classes)
    )
    stop_rules = [r for r in rules if r.management.action in _STOP_ACTIONS]
    must_stop = bool(stop_rules or protocol_rules)
    candidates: list[tuple[int, int, str, str, tuple[str, ...]]] = []  # days, rank, basis...
    half_life = medication.half_life
    if half_life is not None:
        multiple = protocol.washout_half_lives.value
        longest_h, longest_name = _longest_half_life(half_life)
        days = math.ceil(multiple * longest_h / 24)
        candidates.append(
            (
                days,
                0,
                "half-life",
                f"{multiple:g} × {_hours_text(longest_h)} half-life of {longest_name} = {days} d",
                tuple(half_life.refs) + tuple(protocol.washout_half_lives.refs),
            )
        )
        for rule in stop_rules:
            if rule.management.washout_half_lives:
                n = rule.management.washout_half_lives
                days = math.ceil(n * longest_h / 24)
                candidates.append(
                    (
                        days,
                        1,
                        "interaction",
                        f"{rule.id}: {n:g} × {_hours_text(longest_h)} half-life = {days} d",
                        tuple(rule.refs) + tuple(half_life.refs),
                    )
                )
    for prule in protocol_rules:
        if prule.washout_days is not None:
            candidates.append(
                (
                    prule.washout_days,
                    2,
                    "protocol",
                    f"protocol rule {prule.id}: {prule.washout_days} d ({prule.text})",
                    tuple(prule.refs),
                )
            )
    for rule in stop_rules:
        if rule.management.washout_days:
            candidates.append(
                (
                    rule.management.washout_days,
                    1,
                    "interaction",
                    f"interaction rule {rule.id}: {rule.management.washout_days} d",
                    tuple(rule.refs),
                )
            )
    undated_exclusions = [
        r.id
        for r in stop_rules
        if r.management.action == s.Action.EXCLUDE
        and not (r.management.washout_days or r.management.washout_half_lives)
    ]
    washout_days: int | None
    refs: tuple[str, ...]
    if not must_stop:
        washout_days, basis, detail, refs = 0, "none", "not required", ()
    elif candidates:
        # on a tie the protocol's own rule is named first, then an interaction rule
        days, _, basis, detail, refs = max(candidates, key=lambda c: (c[0], c[1]))
        washout_days = days
        if half_life is None:
            detail += "; its half-life is not in the knowledge base, so the half-life rule "
            detail += "could not be checked (confirm with a pharmacist)"
    else:
        washout_days, basis, refs = None, "unknown", ()
        detail = (
            "its half-life is not in the knowledge base and no fixed washout applies; "
            "a pharmacist must set the washout"
        )
    if must_stop and undated_exclusions:
        # the rule says the combination must not happen but gives no validated interval
        detail += (
            f"; {', '.join(undated_exclusions)} gives no validated washout interval, so this is "
            "a minimum the investigator must confirm"
        )
    return MedicationPlan(
        medication=medication,
        classes=classes,
        rules=rules,
        protocol_rules=protocol_rules,
        must_stop=must_stop,
        washout_days=washout_days,
        basis=basis,
        detail=detail,
        references=tuple(dict.fromkeys(refs)),
        taper_risks=tuple(kb.discontinuation_risks(medication)) if must_stop else (),
    )


def _longest_half_life(half_life: s.HalfLife) -> tuple[float, str]:
    best_h, best_name = half_life.parent.in_hours()[1], "the parent drug"
    for metabolite in half_life.metabolites:
        if metabolite.active and metabolite.half_life.in_hours()[1] > best_h:
            best_h = metabolite.half_life.in_hours()[1]
            best_name = f"{metabolite.name} (active metabolite)"
    return best_h, best_name


def _hours_text(hours: float) -> str:
    if hours >= 48:
        return f"{hours / 24:g} d"
    return f"{hours:g} h"


class Planner:
    """Medication plans for one protocol and substance, cached by medication id; resolves
    names once. Batch screening shares one planner across all candidates."""

    def __init__(self, kb: KnowledgeBase, protocol: s.Protocol, substance: s.Substance) -> None:
        self.kb, self.protocol, self.substance = kb, protocol, substance
        self._plans: dict[str, MedicationPlan] = {}
        self._names: dict[str, s.Medication | Unresolved] = {}

    def resolve(self, name: str) -> s.Medication | Unresolved:
        key = name.strip().casefold()
        found = self._names.get(key)
        if found is None:
            found = _resolve(self.kb, name)
            self._names[key] = found
        if isinstance(found, Unresolved) and found.as_entered != name:
            found = replace(
                found,
                as_entered=name,
                message=found.message.replace(repr(found.as_entered), repr(name)),
            )
        return found

    def plan(self, medication: s.Medication) -> MedicationPlan:
        found = self._plans.get(medication.id)
        if found is None:
            found = plan_medication(self.kb, self.protocol, self.substance, medication)
            self._plans[medication.id] = found
        return found


def _resolve(kb: KnowledgeBase, name: str) -> s.Medication | Unresolved:
    try:
        return kb.medication(name)
    except NotFound as exc:
        suggestions = tuple(
            dict.fromkeys(m.medication.generic for m in kb.find_medications(name, limit=5))
        )[:3]
        return Unresolved(
            as_entered=name,
            suggestions=suggestions,
            message=f"{exc.message}; marked unresolved",
        )


def combination_matches(
    rule: s.Combination, classes_by_med: Mapping[str, frozenset[str]]
) -> tuple[str, ...] | None:
    """The medication ids taking part if ``rule`` fires for these distinct medications
    (id -> classes), else ``None``. Each required set needs its ``at_least`` medications and
    at least two different medications must take part in all."""
    involved: set[str] = set()
    for needed in rule.requires:
        matched = {
            med_id
            for med_id, classes in classes_by_med.items()
            if med_id in needed.medications or classes & set(needed.medication_classes)
        }
        if len(matched) < needed.at_least:
            return None
        involved |= matched
    if len(involved) < 2:
        return None
    return tuple(sorted(involved))


def screen(
    profile: Profile | Mapping[str, Any],
    protocol: s.Protocol | str,
    substance: s.Substance | str | None,
    planned_dosing_date: dt.date,
    *,
    today: dt.date | None = None,
    kb: KnowledgeBase | None = None,
) -> ScreeningReport:
    """Screen a participant for a protocol and a planned dosing date.

    Parameters
    ----------
    profile
        What is known about the participant (:class:`Profile`, or a dict in the documented
        profile format).
    protocol
        A protocol template (or the id of a shipped one, see ``knowledge.protocols``).
    substance
        The study substance (name or id); ``None`` takes the protocol's.
    planned_dosing_date
        The date of the first dosing session.
    today
        The screening date, for judging whether a washout can still finish in time;
        defaults to the profile's ``assessed_on``.
    kb
        The knowledge base (default: the shipped one).

    Returns
    -------
    ScreeningReport
        The verdict, each criterion met / not met / missing, each interaction and
        co-medication finding with its citations, the dated washout plan and the taper
        warnings.

    Notes
    -----
    The verdict is the worst any finding calls for: *ineligible* (a criterion not met, a
    medication that must be stopped but whose prescriber does not allow a taper, a
    co-medication rule whose action is to exclude), else *needs-information* (a criterion
    missing, a medication not recognised, a taper not yet agreed, a washout that cannot be
    dated), else *eligible-after-washout* (some medication must be stopped), else
    *eligible*. An unresolved medication therefore never yields *eligible*.
    """
    kb = kb or knowledge.default()
    profile = _as_profile(profile)
    protocol_model = _as_protocol(kb, protocol)
    substance_model = _as_substance(kb, substance, protocol_model)
    if not isinstance(planned_dosing_date, dt.date):
        raise InvalidInput.for_field("planned_dosing_date", "must be a date (YYYY-MM-DD)")
    try:
        profile.check_dates(planned_dosing_date)
    except _DateError as exc:
        raise InvalidInput.for_field(exc.field, exc.message) from None
    screened_on = today or profile.assessed_on
    if screened_on is not None and screened_on > planned_dosing_date:
        raise InvalidInput.for_field(
            "planned_dosing_date",
            f"{planned_dosing_date} is before the screening date {screened_on}",
        )
    planner = Planner(kb, protocol_model, substance_model)
    facts = profile.facts(planned_dosing_date)
    criteria = _criteria_results(protocol_model, facts, profile.medications is not None)
    meds = [(entry, planner.resolve(entry.name)) for entry in profile.medications or []]
    return _assemble(
        kb=kb,
        planner=planner,
        profile=profile,
        planned=planned_dosing_date,
        screened_on=screened_on,
        criteria=criteria,
        meds=meds,
    )


def _as_profile(profile: Profile | Mapping[str, Any]) -> Profile:
    if isinstance(profile, Profile):
        return profile
    try:
        return Profile.model_validate(profile)
    except ValidationError as exc:
        problems = field_problems(exc.errors())
        text = "; ".join(f"{p.field}: {p.message}" for p in problems)
        raise InvalidInput(f"the profile has problems: {text}", fields=problems) from None


def _as_protocol(kb: KnowledgeBase, protocol: s.Protocol | str) -> s.Protocol:
    if isinstance(protocol, s.Protocol):
        return protocol
    try:
        return kb.protocol(protocol)
    except NotFound as exc:
        raise InvalidInput.for_field("protocol", exc.message) from None


def _as_substance(
    kb: KnowledgeBase, substance: s.Substance | str | None, protocol: s.Protocol
) -> s.Substance:
    if isinstance(substance, s.Substance):
        found = substance
    else:
        try:
            found = kb.substance(substance or protocol.substance)
        except NotFound as exc:
            raise InvalidInput.for_field("substance", exc.message) from None
    if found.id != protocol.substance:
        raise InvalidInput.for_field(
            "substance",
            f"protocol {protocol.id} is written for {protocol.substance}, not {found.id}; "
            "choose a protocol for this substance or leave the substance out",
        )
    return found


def _criteria_results(
    protocol: s.Protocol, facts: Mapping[str, Any], medications_recorded: bool
) -> tuple[CriterionResult, ...]:
    columns = {name: column([value], name) for name, value in facts.items()}
    statuses = evaluate(protocol.criteria, columns)[:, 0]
    results = [
        _criterion_result(c, int(status), facts)
        for c, status in zip(protocol.criteria, statuses, strict=True)
    ]
    results.append(
        CriterionResult(
            id="medications-recorded",
            kind="inclusion",
            text="Current medications are recorded (an empty list if none).",
            status="met" if medications_recorded else "missing",
            reason="recorded" if medications_recorded else "current medications not recorded",
            rule="medications is a list",
            values=(),
            references=(),
        )
    )
    return tuple(results)


def _criterion_result(
    criterion: s.Criterion, status: int, facts: Mapping[str, Any]
) -> CriterionResult:
    tests = list(criterion.tests)
    rule = " and ".join(describe_test(t) for t in tests)
    if criterion.applies_when is not None:
        rule = f"if {describe_test(criterion.applies_when)}: {rule}"
    shown_fields = list(
        dict.fromkeys(
            ([criterion.applies_when.field] if criterion.applies_when else [])
            + [t.field for t in tests]
        )
    )
    values = tuple((PROFILE_FIELDS[f].label, describe_value(f, facts[f])) for f in shown_fields)
    if status == MET:
        reason = "; ".join(f"{label}: {value}" for label, value in values)
    elif status == NOT_MET:
        columns = {f: column([facts[f]], f) for f in shown_fields}
        failing = [t for t in tests if int(evaluate_test(t, columns)[0]) == NOT_MET]
        reason = "; ".join(
            f"{PROFILE_FIELDS[t.field].label}: {describe_value(t.field, facts[t.field])}; "
            f"required: {describe_test(t)}"
            for t in failing
        )
    else:
        unknown = [label for label, value in values if value == "unknown"]
        reason = "missing: " + ", ".join(unknown)
    return CriterionResult(
        id=criterion.id,
        kind=criterion.kind.value,
        text=criterion.text,
        status=STATUS_NAMES[status],
        reason=reason,
        rule=rule,
        values=values,
        references=tuple(criterion.refs),
    )


def _assemble(
    *,
    kb: KnowledgeBase,
    planner: Planner,
    profile: Profile,
    planned: dt.date,
    screened_on: dt.date | None,
    criteria: tuple[CriterionResult, ...],
    meds: list[tuple[MedicationEntry, s.Medication | Unresolved]],
) -> ScreeningReport:
    verdict = Verdict.ELIGIBLE
    reasons: list[tuple[int, str]] = []

    def worse(to: Verdict, reason: str) -> None:
        nonlocal verdict
        if VERDICT_ORDER[to] > VERDICT_ORDER[verdict]:
            verdict = to
        reasons.append((VERDICT_ORDER[to], reason))

    for c in criteria:
        if c.status == "not-met":
            worse(Verdict.INELIGIBLE, f"criterion {c.id} not met: {c.reason}")
        elif c.status == "missing":
            worse(Verdict.NEEDS_INFORMATION, f"criterion {c.id}: {c.reason}")

    by_spelling: dict[str, Unresolved] = {}
    for _, found in meds:
        if isinstance(found, Unresolved):
            key = found.as_entered.casefold()
            if key not in by_spelling or found.as_entered < by_spelling[key].as_entered:
                by_spelling[key] = found
    unresolved = [by_spelling[key] for key in sorted(by_spelling)]
    for u in unresolved:
        worse(Verdict.NEEDS_INFORMATION, f"medication {u.as_entered!r} is not recognised")

    med_results: list[MedicationResult] = []
    findings: list[InteractionFinding] = []
    steps: list[WashoutStep] = []
    warnings: list[TaperWarning] = []
    continuing: dict[str, frozenset[str]] = {}
    generic_of: dict[str, str] = {}
    for entry, resolved in meds:
        suggestions = resolved.suggestions if isinstance(resolved, Unresolved) else ()
        med = resolved if isinstance(resolved, s.Medication) else None
        med_results.append(
            MedicationResult(
                as_entered=entry.name,
                medication=med.generic if med else None,
                medication_id=med.id if med else None,
                dose=_dose_text(entry),
                since=entry.since,
                last_dose=entry.last_dose,
                taper_allowed=entry.taper_allowed,
                suggestions=suggestions,
            )
        )
        if med is None:
            continue
        plan = planner.plan(med)
        generic_of[med.id] = med.generic
        for rule in plan.rules:
            findings.append(_finding(rule, med, entry))
        if not plan.must_stop:
            if entry.last_dose is None:
                continuing[med.id] = plan.classes
            continue
        step = _washout_step(plan, entry, planned, screened_on)
        steps.append(step)
        if step.status == "taper-not-allowed":
            worse(
                Verdict.INELIGIBLE,
                f"{med.generic} must be stopped before dosing ({', '.join(plan.required_by)}) "
                "but its prescriber does not allow a taper",
            )
        elif step.status == "cannot-date":
            worse(Verdict.NEEDS_INFORMATION, f"{med.generic}: {plan.detail}")
        elif step.status == "ask-prescriber":
            worse(
                Verdict.NEEDS_INFORMATION,
                f"{med.generic} must be stopped before dosing; ask the prescriber whether a "
                "supervised taper is allowed",
            )
        elif step.status in ("planned", "too-soon"):
            worse(
                Verdict.ELIGIBLE_AFTER_WASHOUT,
                f"{med.generic}: last dose by {step.last_dose_by}"
                + (
                    " (too soon: that date is before the screening date)"
                    if step.status == "too-soon"
                    else ""
                ),
            )
        elif step.status == "still-washing-out":
            worse(
                Verdict.ELIGIBLE_AFTER_WASHOUT,
                f"{med.generic}: stopped on {entry.last_dose}, washout completes on "
                f"{step.completes_on}, after the planned dosing date",
            )
        if entry.last_dose is None:
            for risk in plan.taper_risks:
                warnings.append(
                    TaperWarning(
                        medication=med.generic,
                        kind=risk.kind.value,
                        text=risk.text,
                        references=tuple(risk.refs),
                    )
                )
    combos: list[CombinationFinding] = []
    for combination in kb.combinations_for(planner.substance):
        involved = combination_matches(combination, continuing)
        if involved is None:
            continue
        names = tuple(generic_of[i] for i in involved)
        combos.append(
            CombinationFinding(
                rule=combination.id,
                medications=names,
                severity=combination.severity.value,
                mechanism=combination.mechanism,
                consequence=combination.consequence,
                action=combination.management.action.value,
                management=combination.management.text,
                evidence=combination.evidence.value if combination.evidence else None,
                references=tuple(combination.refs),
            )
        )
        if combination.management.action in _STOP_ACTIONS:
            worse(
                Verdict.INELIGIBLE,
                f"taken together on the dosing day, {', '.join(names)}: {combination.consequence}",
            )

    earliest = None
    if verdict is Verdict.ELIGIBLE_AFTER_WASHOUT:
        ends = [w.completes_on for w in steps if w.status != "complete"]
        if ends and all(end is not None for end in ends):
            # the first day every washout is complete (may be before the planned date)
            earliest = max(e for e in ends if e is not None)
    severity_rank = {sev.value: rank for sev, rank in s.SEVERITY_ORDER.items()}
    findings.sort(
        key=lambda f: (
            severity_rank[f.severity],
            f.medication,
            f.rule,
            f.as_entered.casefold(),
            f.as_entered,
        )
    )
    first_finding: dict[tuple[str, str], InteractionFinding] = {}
    for finding in findings:
        first_finding.setdefault((finding.rule, finding.medication), finding)
    findings = list(first_finding.values())
    return ScreeningReport(
        verdict=verdict,
        reasons=tuple(dict.fromkeys(r for _, r in sorted(reasons, key=lambda x: (-x[0], x[1])))),
        protocol=planner.protocol.id,
        protocol_title=planner.protocol.title,
        substance=planner.substance.id,
        substance_name=planner.substance.name,
        participant=profile.participant,
        planned_dosing_date=planned,
        screened_on=screened_on,  # type: ignore[arg-type]
        earliest_dosing_date=earliest,
        criteria=criteria,
        medications=tuple(sorted(med_results, key=lambda m: (m.as_entered.casefold(), repr(m)))),
        interactions=tuple(findings),
        combinations=tuple(sorted(combos, key=lambda c: (severity_rank[c.severity], c.rule))),
        washout=tuple(
            sorted(steps, key=lambda w: (w.medication, w.as_entered.casefold(), repr(w)))
        ),
        taper_warnings=tuple(sorted(set(warnings), key=lambda t: (t.medication, t.kind, t.text))),
        unresolved=tuple(unresolved),
        knowledge_version=kb.version,
        knowledge_hash=kb.content_hash,
    )


def _dose_text(entry: MedicationEntry) -> str | None:
    if entry.dose is None:
        return None
    return f"{entry.dose:g} {entry.unit or ''}".strip()


def _finding(rule: s.Interaction, med: s.Medication, entry: MedicationEntry) -> InteractionFinding:
    return InteractionFinding(
        rule=rule.id,
        medication=med.generic,
        as_entered=entry.name,
        severity=rule.severity.value,
        mechanism=rule.mechanism,
        consequence=rule.consequence,
        action=rule.management.action.value,
        management=rule.management.text,
        evidence=rule.evidence.value if rule.evidence else None,
        references=tuple(rule.refs),
    )


def _washout_step(
    plan: MedicationPlan, entry: MedicationEntry, planned: dt.date, screened_on: dt.date | None
) -> WashoutStep:
    days = plan.washout_days
    last_dose_by = planned - dt.timedelta(days=days) if days is not None else None
    completes_on = None
    if entry.last_dose is not None:
        if days is None:
            status = "cannot-date"
        else:
            completes_on = entry.last_dose + dt.timedelta(days=days)
            status = "complete" if completes_on <= planned else "still-washing-out"
    elif entry.taper_allowed is False:
        status = "taper-not-allowed"
    elif days is None:
        status = "cannot-date"
    elif entry.taper_allowed is None:
        status = "ask-prescriber"
    else:
        # stopping today at the earliest, the washout completes `days` later
        completes_on = screened_on + dt.timedelta(days=days) if screened_on else None
        status = "too-soon" if completes_on is not None and completes_on > planned else "planned"
    return WashoutStep(
        medication=plan.medication.generic,
        as_entered=entry.name,
        washout_days=days,
        last_dose_by=last_dose_by,
        basis=plan.basis,
        detail=plan.detail,
        required_by=plan.required_by,
        status=status,
        completes_on=completes_on,
        references=plan.references,
    )
