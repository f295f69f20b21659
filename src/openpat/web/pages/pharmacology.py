"""The pharmacology page: overlay regimens' predicted concentration and effect curves
(median, 5–95 % band, threshold, session length) and design an IV DMT infusion."""

from __future__ import annotations

import json
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


@router.get("/pharmacology")
def page(request: Request, active: KnowledgeReader) -> Response:
    params = request.query_params
    submitted = "r0_substance" in params
    rows = _rows(params) if submitted else DEFAULT_ROWS
    subjects = params.get("subjects", "500")
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
            }
        )
        result = pharmacology.simulate_regimens(body)
    except ValidationError as exc:
        errors = field_problems(exc.errors())
    except OpenPatError as exc:
        errors = exc.fields or [FieldProblem("regimens", exc.message)]
    status = 422 if errors and submitted else 200
    return render(
        request,
        "pharmacology/page.html",
        {
            "title": "Pharmacology",
            "nav_key": "pharmacology",
            "rows": rows,
            "subjects": subjects,
            "models": pharmacology.models(),
            "errors": errors,
            "result": result,
            "result_json": json.dumps(result) if result else "null",
        },
        status_code=status,
    )
