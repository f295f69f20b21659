"""Screening pages: the form (profile and medications) and the printable report."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from openpat.errors import FieldProblem, InvalidInput, OpenPatError
from openpat.knowledge.schema import PSYCHIATRIC_CONDITIONS
from openpat.services import screening
from openpat.services.ids import Id
from openpat.services.screening import ScreeningCreate
from openpat.web.deps import KnowledgeReader, ParticipantReader, ScreeningWriter, UowDep
from openpat.web.pages.forms import form_problems
from openpat.web.pages.knowledge import citations_context
from openpat.web.templating import render

router = APIRouter(include_in_schema=False)
MAX_MED_ROWS = 30
Slug = Annotated[str, Path(min_length=1, max_length=100)]


def _form(
    request: Request,
    uow: Any,
    active: Any,
    *,
    values: dict[str, Any] | None = None,
    errors: list[FieldProblem] | None = None,
    status_code: int = 200,
) -> Response:
    values = values or {}
    meds = values.get("medications") or []
    rows = max(4, len(meds) + 1)
    return render(
        request,
        "screening/form.html",
        {
            "title": "New screening",
            "nav_key": "screening",
            "protocols": screening.protocols(),
            "participants": screening.screenable_participants(uow=uow, principal=active.principal),
            "conditions": PSYCHIATRIC_CONDITIONS,
            "values": values,
            "med_rows": [meds[i] if i < len(meds) else {} for i in range(rows)],
            "errors": errors or [],
        },
        status_code=status_code,
    )


@router.get("/screening")
def screening_form(request: Request, active: ScreeningWriter, uow: UowDep) -> Response:
    chosen = request.query_params.get("participant", "")
    return _form(request, uow, active, values={"participant_id": chosen})


def _number(value: str) -> float | str | None:
    value = value.strip()
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        return value  # left for the model to refuse with the field named


def _choice(value: str) -> bool | None:
    return {"yes": True, "no": False}.get(value.strip().lower())


def profile_from_form(form: dict[str, Any], lists: dict[str, list[str]]) -> dict[str, Any]:
    """The profile the form describes (a blank field is unknown, never zero)."""
    profile: dict[str, Any] = {}
    for name in ("age_years", "weight_kg", "height_cm", "qtc_ms"):
        profile[name] = _number(form.get(name, ""))
    profile["sex"] = form.get("sex") or None
    profile["pregnant"] = _choice(form.get("pregnant", ""))
    profile["lactating"] = _choice(form.get("lactating", ""))
    codes = [c.strip() for c in form.get("diagnoses", "").replace(",", ";").split(";")]
    profile["diagnoses"] = (
        [{"code": c} for c in codes if c] if form.get("diagnoses_recorded") else None
    )
    for key in ("personal_history", "family_history"):
        profile[key] = lists.get(key, []) if form.get(f"{key}_recorded") else None
    profile["vitals"] = {
        name: _number(form.get(name, ""))
        for name in ("systolic_bp_mmhg", "diastolic_bp_mmhg", "heart_rate_bpm")
    }
    profile["labs"] = {
        name: _number(form.get(name, ""))
        for name in ("alt_u_per_l", "alt_uln_u_per_l", "ast_u_per_l", "ast_uln_u_per_l", "egfr")
    }
    ideation = form.get("cssrs_ideation", "")
    profile["cssrs"] = {
        "ideation": _number(ideation),
        "behaviour_past_year": _choice(form.get("cssrs_behaviour_past_year", "")),
    }
    use: dict[str, Any] = {"disorder": form.get("substance_use_disorder") or None}
    if form.get("never_used_psychedelics"):
        use["never_used_psychedelics"] = True
    elif form.get("last_psychedelic_use"):
        use["last_psychedelic_use"] = form["last_psychedelic_use"]
    profile["substance_use"] = use
    meds = []
    names = lists.get("med_name", [])
    for i, name in enumerate(names[:MAX_MED_ROWS]):
        if not name.strip():
            continue

        def at(key: str, i: int = i) -> str:
            values = lists.get(key, [])
            return values[i].strip() if i < len(values) else ""

        med: dict[str, Any] = {"name": name.strip()}
        if at("med_dose"):
            med["dose"] = _number(at("med_dose"))
        if at("med_unit"):
            med["unit"] = at("med_unit")
        if at("med_since"):
            med["since"] = at("med_since")
        if at("med_last_dose"):
            med["last_dose"] = at("med_last_dose")
        med["taper_allowed"] = _choice(at("med_taper"))
        meds.append(med)
    profile["medications"] = meds if form.get("medications_recorded") else None
    _refuse_entries_without_their_history(form, lists, meds)
    return profile


def _refuse_entries_without_their_history(
    form: dict[str, Any], lists: dict[str, list[str]], meds: list[dict[str, Any]]
) -> None:
    """Entries in a section whose "taken" box is not ticked: the profile would keep that
    section unknown and drop them, so the form refuses instead and keeps what was typed."""
    problems = []
    sections = (
        ("diagnoses_recorded", "Diagnoses recorded", bool(form.get("diagnoses", "").strip())),
        (
            "personal_history_recorded",
            "Personal history taken",
            bool(lists.get("personal_history")),
        ),
        (
            "family_history_recorded",
            "First-degree family history taken",
            bool(lists.get("family_history")),
        ),
        ("medications_recorded", "Medication history taken", bool(meds)),
    )
    for box, label, entered in sections:
        if entered and not form.get(box):
            problems.append(
                FieldProblem(
                    box,
                    f"entries were made but '{label}' is not ticked: tick it if the history "
                    "was taken (the entries are the whole list), or clear the entries",
                )
            )
    if problems:
        raise InvalidInput("some sections have entries without their history", fields=problems)


@router.post("/screening")
async def create_screening(request: Request, active: ScreeningWriter, uow: UowDep) -> Response:
    raw = await request.form()
    form = {k: str(v) for k, v in raw.items()}
    lists = {k: [str(v) for v in raw.getlist(k)] for k in raw}
    values: dict[str, Any] = {**form, **{k: v for k, v in lists.items() if k.endswith("history")}}
    values["medications"] = [_typed_row(lists, i) for i in range(len(lists.get("med_name", [])))]
    values["medications"] = [m for m in values["medications"] if any(m.values())]
    try:
        profile = profile_from_form(form, lists)
        body = ScreeningCreate(
            participant_id=form.get("participant_id") or 0,
            protocol=form.get("protocol", ""),
            planned_dosing_date=form.get("planned_dosing_date") or None,
            profile=profile,
        )
        with uow.reason("eligibility screening"):
            created = screening.create_screening(
                uow=uow, principal=active.principal, screening_in=body
            )
        uow.commit()
    except (ValidationError, OpenPatError) as exc:
        uow.rollback()
        errors, status = form_problems(exc, "profile")
        return _form(request, uow, active, values=values, errors=errors, status_code=status)
    return RedirectResponse(f"/screenings/{created.id}", status_code=303)


def _typed_row(lists: dict[str, list[str]], i: int) -> dict[str, Any]:
    """One medication row as typed, to show again after a refusal (nothing is lost)."""

    def at(key: str) -> str:
        values = lists.get(key, [])
        return values[i].strip() if i < len(values) else ""

    taper = {"yes": True, "no": False}.get(at("med_taper"))
    return {
        "name": at("med_name"),
        "dose": at("med_dose"),
        "unit": at("med_unit"),
        "since": at("med_since"),
        "last_dose": at("med_last_dose"),
        "taper_allowed": taper,
    }


@router.get("/screenings/{screening_id}")
def screening_report(
    request: Request, screening_id: Id, active: ParticipantReader, uow: UowDep
) -> Response:
    found = screening.get_screening(uow=uow, principal=active.principal, screening_id=screening_id)
    report = found.report
    return render(
        request,
        "screening/report.html",
        {
            "title": f"Screening {found.participant_code} · {report['protocol_title']}",
            "nav_key": "screening",
            "s": found,
            "r": report,
            **citations_context(_report_refs(report)),
        },
    )


def _report_refs(report: dict[str, Any]) -> list[str]:
    ids: list[str] = []
    for key in ("criteria", "interactions", "combinations", "washout", "taper_warnings"):
        for item in report.get(key, []):
            ids.extend(item.get("references", []))
    return list(dict.fromkeys(ids))


@router.get("/screening/protocols/{protocol_id}")
def protocol_page(request: Request, protocol_id: Slug, active: KnowledgeReader) -> Response:
    found = screening.protocol(protocol_id)
    ids = list(found.references)
    return render(
        request,
        "screening/protocol.html",
        {
            "title": found.title,
            "nav_key": "screening",
            "p": found,
            **citations_context(ids),
        },
    )
