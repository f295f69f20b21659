"""Turning a failed form submission into messages shown beside the form."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from openpat.errors import (
    FieldProblem,
    NotAuthenticated,
    NotFound,
    OpenPatError,
    PermissionDenied,
    field_problems,
)
from openpat.labels import split_prefix
from openpat.store.uow import UnitOfWork


def form_problems(exc: Exception, default_field: str) -> tuple[list[FieldProblem], int]:
    """The field problems and status code for re-rendering a form after ``exc``.

    Errors that are not about the input (not found, not allowed) are re-raised, so they get
    their own error page.
    """
    if isinstance(exc, ValidationError):
        problems = field_problems(exc.errors())
        return [FieldProblem(p.field or default_field, p.message) for p in problems], 422
    if isinstance(exc, OpenPatError) and not isinstance(
        exc, NotFound | PermissionDenied | NotAuthenticated
    ):
        if exc.fields:
            return exc.fields, exc.status_code
        # "status: ..." names its own field: shown once, not as "status: status: ..."
        named, text = split_prefix(exc.message)
        return [FieldProblem(named or default_field, text)], exc.status_code
    raise exc


def submit_form(
    uow: UnitOfWork,
    act: Callable[[], object],
    *,
    default_field: str,
    done: str | Callable[[Any], str],
    again: Callable[[list[FieldProblem], int], Response],
) -> Response:
    """Run a form's use case and commit, then go to ``done`` (an address, or one made from
    what the use case returned); on a refusal roll back and show the form ``again`` with its
    problems (errors not about the input get their own page)."""
    try:
        result = act()
        uow.commit()
    except (ValidationError, OpenPatError) as exc:
        uow.rollback()
        errors, status_code = form_problems(exc, default_field)
        return again(errors, status_code)
    return RedirectResponse(done(result) if callable(done) else done, status_code=303)
