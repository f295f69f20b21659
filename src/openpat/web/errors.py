"""One place that turns errors into responses: JSON under /api, a page elsewhere.

Nothing expected is ever a 500; an unexpected error is logged with a reference and the user
sees that reference, never a traceback.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from openpat.errors import (
    FieldProblem,
    NotAuthenticated,
    OpenPatError,
    PasswordChangeRequired,
    TooManyRequests,
)
from openpat.labels import readable

log = logging.getLogger("openpat.web")


class ErrorFieldBody(BaseModel):
    field: str = Field(description="the machine path of the field, for scripts")
    label: str = Field(description="the field as people read it")
    message: str


class ErrorDetailBody(BaseModel):
    code: str = Field(description="e.g. invalid_input, not_found, permission_denied")
    message: str = Field(description="what is wrong and how to fix it, in words")
    fields: list[ErrorFieldBody] = Field(default_factory=list)
    permission: str | None = Field(
        default=None, description="permission_denied: the permission the request needed"
    )
    rule: str | None = Field(
        default=None, description="segregation_of_duties: the rule the request would break"
    )


class ErrorBody(BaseModel):
    """Every error the API returns."""

    error: ErrorDetailBody


def _documented(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


# The errors any API operation may return, documented in the schema as they are sent.
API_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _documented("bad request"),
    401: _documented("not logged in"),
    403: _documented("the role does not allow this, or the CSRF token is missing"),
    404: _documented("not found, or not visible to this user"),
    405: _documented("the address does not accept this method (Allow names those it does)"),
    409: _documented("conflicts with the current state, or with segregation of duties"),
    422: _documented("invalid input (malformed JSON included), or a rule forbids it"),
    429: _documented("too many attempts; Retry-After says when to try again"),
    500: _documented("an unexpected error, logged with the reference given"),
}

_HTTP_MESSAGES = {
    404: "there is no page or API endpoint at this address",
    405: "this address does not accept that method",
}


def wants_json(request: Request) -> bool:
    return (
        request.url.path.startswith("/api/")
        or "application/json" in request.headers.get("accept", "").split(",")[0]
    )


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie"}:
        where, rest = parts[0], parts[1:]
        name = ""
        for p in rest:
            name += f"[{p}]" if p.isdigit() else (f".{p}" if name else p)
        if where == "body":
            return name or "body"
        return f"{name or where} ({where})"
    return ".".join(parts)


def validation_problems(exc: RequestValidationError) -> list[FieldProblem]:
    problems = []
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        field = _field_name(loc)
        msg = str(err.get("msg", "is not valid"))
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        if err.get("type") == "missing":
            msg = "is required"
        elif err.get("type") == "extra_forbidden":
            msg = "is not a known field; remove it"
        elif err.get("type") == "json_invalid":
            # The location is ("body", <character offset>): the field is the body itself.
            field = "body"
            detail = (err.get("ctx") or {}).get("error")
            where = f"at character {loc[1]}" if len(loc) > 1 else None
            parts = [str(p) for p in (detail, where) if p]
            msg = "is not valid JSON" + (f" ({', '.join(parts)})" if parts else "")
        problems.append(FieldProblem(field, msg))
    return problems


def error_response(
    request: Request,
    *,
    status_code: int,
    code: str,
    message: str,
    fields: list[FieldProblem] | None = None,
    headers: dict[str, str] | None = None,
    details: dict[str, str] | None = None,
) -> Response:
    fields = fields or []
    # the message in the reader's words; the machine path stays in each field's "field"
    message = readable(message)
    if wants_json(request):
        return JSONResponse(
            {
                "error": {
                    "code": code,
                    "message": message,
                    "fields": [
                        {"field": f.field, "label": f.label, "message": f.message} for f in fields
                    ],
                    **(details or {}),
                }
            },
            status_code=status_code,
            headers=headers,
        )
    from openpat.web.templating import render

    return render(
        request,
        "error.html",
        {"status_code": status_code, "message": message, "fields": fields, "title": "Error"},
        status_code=status_code,
        headers=headers,
    )


def _route(request: Request) -> str:
    routes = getattr(request.app.state, "route_names", None)
    if routes is not None:
        return str(routes.of(request.scope))
    return str(getattr(request.scope.get("route"), "path", "unmatched"))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(OpenPatError)
    async def _openpat_error(request: Request, exc: OpenPatError) -> Response:
        if isinstance(exc, PasswordChangeRequired) and not wants_json(request):
            return RedirectResponse("/account/password", status_code=303)
        if isinstance(exc, NotAuthenticated) and not wants_json(request):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
        headers = (
            {"Retry-After": str(exc.retry_after_s)} if isinstance(exc, TooManyRequests) else None
        )
        if exc.status_code >= 500:
            log.error(
                "configuration error on %s: %s",
                _route(request),
                exc.message,
                extra={"request_id": getattr(request.state, "request_id", None)},
            )
        return error_response(
            request,
            status_code=exc.status_code,
            code=exc.code,
            message=exc.message,
            fields=exc.fields,
            headers=headers,
            details=exc.details(),
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        problems = validation_problems(exc)
        summary = "; ".join(f"{p.label}: {p.message}" for p in problems)
        return error_response(
            request,
            status_code=422,
            code="invalid_input",
            message=f"the request is not valid: {summary}",
            fields=problems,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = _HTTP_MESSAGES.get(exc.status_code) or str(exc.detail)
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 400 and "parsing the body" in str(exc.detail):
            # JSON the parser gave up on (nested too deeply, a number too long to read)
            problem = FieldProblem(
                "body", "could not be read as JSON: nested too deeply or a number too long"
            )
            return error_response(
                request,
                status_code=422,
                code="invalid_input",
                message=f"the request is not valid: {problem.label}: {problem.message}",
                fields=[problem],
            )
        table = getattr(request.app.state, "methods", None)
        if exc.status_code == 405 and table is not None:
            # every method the address accepts, not only the first matching route's
            allowed = table.allowed(request.url.path)
            headers["Allow"] = ", ".join(allowed)
            message = f"{message}; it accepts {', '.join(allowed)}"
        return error_response(
            request,
            status_code=exc.status_code,
            code="not_found" if exc.status_code == 404 else "http_error",
            message=message,
            headers=headers or None,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        reference = secrets.token_hex(4)
        # the route's template, not the path (a form link's path is its secret); the request id
        # ties this to the access log line
        log.exception(
            "unexpected error %s on %s %s",
            reference,
            request.method,
            _route(request),
            extra={"request_id": getattr(request.state, "request_id", None)},
        )
        return error_response(
            request,
            status_code=500,
            code="internal_error",
            message=f"something went wrong on our side (reference {reference}); "
            "the error has been logged",
        )
