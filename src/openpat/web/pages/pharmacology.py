"""The pharmacology page: overlay regimens' predicted concentration and effect curves
(median, 5–95 % band, threshold, session length) and design an IV DMT infusion."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from openpat.errors import FieldProblem, OpenPatError, field_problems
from openpat.services import pharmacology
from openpat.web.deps import KnowledgeReader
from openpat.web.templating import render

router = APIRouter(include_in_schema=False)
ROWS = 3
DEFAULT_ROWS = [
    {"substance": "dmt", "salt": "fumarate", "dose": "20mg", "rate": "", "duration": ""},
    {
        "substance": "dmt",
        "salt": "fumarate",
        "dose": "16mg",
        "rate": "1.4mg/min",
        "duration": "30min",
    },
    {"substance": "", "salt": "", "dose": "", "rate": "", "duration": ""},
]


def _rows(params: Any) -> list[dict[str, str]]:
    rows = []
    for i in range(ROWS):
        rows.append(
            {
                k: str(params.get(f"r{i}_{k}", "")).strip()[:60]
                for k in ("substance", "salt", "dose", "rate", "duration")
            }
        )
    return rows


DESIGN_FIELDS = {
    "target_intensity": "8",
    "duration": "30min",
    "max_bolus": pharmacology.DEFAULT_LIMITS["max_bolus"],
    "max_rate": pharmacology.DEFAULT_LIMITS["max_rate"],
    "max_total": pharmacology.DEFAULT_LIMITS["max_total"],
    "subjects": "500",
}


DESIGN_LABELS = {
    "target_intensity": "Target intensity",
    "target": "Target intensity",
    "duration": "Infusion duration",
    "max_bolus": "Max bolus",
    "max_rate": "Max rate",
    "max_total": "Max total",
    "subjects": "Virtual subjects",
}
_DOSE_FIELD = re.compile(r"^regimens\[(\d+)\](?:\.(\w+))?(?:\[(\d+)\])?(?:\.(\w+))?$")


def _design_labels(problems: list[FieldProblem]) -> list[FieldProblem]:
    """The design form's fields by their labels."""
    return [
        FieldProblem(DESIGN_LABELS.get(p.field.removeprefix("limits."), p.field), p.message)
        for p in problems
    ]


def _regimen_labels(
    problems: list[FieldProblem], regimens: list[dict[str, Any]]
) -> list[FieldProblem]:
    """Request paths (``regimens[0].doses[1].rate``) as the form's labels ("Regimen 1
    infusion rate"), so an error names what the user sees."""
    labelled = []
    for p in problems:
        match = _DOSE_FIELD.match(p.field)
        if match is None or int(match[1]) >= len(regimens):
            labelled.append(
                FieldProblem(
                    {"subjects": "Virtual subjects", "hours": "Hours shown"}.get(p.field, p.field),
                    p.message,
                )
            )
            continue
        regimen = regimens[int(match[1])]
        row = f"Regimen {regimen['_row'] + 1}"
        part, index, leaf = match[2], match[3], match[4]
        if part == "doses" and index is not None:
            dose = regimen["doses"][int(index)]
            if leaf == "duration":
                name = "infusion duration"
            elif "rate" in dose or leaf == "rate":
                name = "infusion rate"
            else:
                name = "dose"
            label = f"{row} {name}"
        elif part in ("substance", "salt"):
            label = f"{row} {'salt form' if part == 'salt' else 'substance'}"
        else:
            label = row
        labelled.append(FieldProblem(label, p.message))
    return labelled


def _design(params: Any) -> tuple[dict[str, str], dict[str, Any] | None, list[FieldProblem]]:
    """The infusion-design form (``d_`` parameters) and, when submitted, its result."""
    form = {k: str(params.get(f"d_{k}", v)).strip()[:40] for k, v in DESIGN_FIELDS.items()}
    if "d_target_intensity" not in params:
        return form, None, []
    try:
        body = pharmacology.DesignCreate.model_validate(
            {"substance": "dmt", **{k: v for k, v in form.items() if v != ""}}
        )
        return form, pharmacology.design(body), []
    except ValidationError as exc:
        return form, None, _design_labels(field_problems(exc.errors()))
    except OpenPatError as exc:
        return form, None, _design_labels(exc.fields or [FieldProblem("design", exc.message)])


@router.get("/pharmacology")
def page(request: Request, active: KnowledgeReader) -> Response:
    params = request.query_params
    design_form, design, design_errors = _design(params)
    submitted = "r0_substance" in params
    rows = _rows(params) if submitted else DEFAULT_ROWS
    subjects = params.get("subjects", "500")
    hours = str(params.get("hours", "")).strip()[:20]
    errors: list[FieldProblem] = []
    result = None
    regimens = []
    for i, row in enumerate(rows):
        if not row["substance"]:
            continue
        doses: list[dict[str, str]] = []
        if row["dose"]:
            doses.append({"amount": row["dose"]})
        if row["rate"]:
            doses.append({"rate": row["rate"], "duration": row["duration"] or "30min"})
        regimens.append(
            {
                "substance": row["substance"],
                "salt": row["salt"] or None,
                "doses": doses or [{}],
                "label": None,
                "_row": i,
            }
        )
    try:
        if not regimens:
            raise OpenPatError("add at least one regimen (substance and dose)")
        body = pharmacology.SimulationCreate.model_validate(
            {
                "regimens": [{k: v for k, v in r.items() if k != "_row"} for r in regimens],
                "subjects": subjects,
                "points": 361,
                **({"hours": hours} if hours else {}),
            }
        )
        result = pharmacology.simulate_regimens(body)
    except ValidationError as exc:
        errors = _regimen_labels(field_problems(exc.errors()), regimens)
    except OpenPatError as exc:
        errors = _regimen_labels(exc.fields or [FieldProblem("Regimens", exc.message)], regimens)
    status = 422 if (errors and submitted) or design_errors else 200
    return render(
        request,
        "pharmacology/page.html",
        {
            "title": "Pharmacology",
            "nav_key": "pharmacology",
            "rows": rows,
            "subjects": subjects,
            "hours": hours,
            "models": pharmacology.models(),
            "errors": errors,
            "result": result,
            "design_form": design_form,
            "design": design,
            "design_errors": design_errors,
        },
        status_code=status,
    )
