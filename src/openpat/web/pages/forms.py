"""Turning a failed form submission into messages shown beside the form."""

from __future__ import annotations

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
