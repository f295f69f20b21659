"""The OpenPatError hierarchy.

Every error says what is wrong, where, and how to fix it. The web renders each class with
one status code (see ``openpat.web.errors``); the CLI prints it in red and exits non-zero.
A contraindication found by screening is a result, not an error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One bad field: where it is (dotted path, for scripts) and what is wrong with it;
    ``label`` names it as people read it (pages and the command line show that)."""

    field: str
    message: str

    @property
    def label(self) -> str:
        from openpat.labels import label_for

        return label_for(self.field)


def field_problems(errors: Iterable[Mapping[str, Any]]) -> list[FieldProblem]:
    """Pydantic's ``errors()`` as field problems: ``identity.date_of_birth``,
    ``memberships[0].role``; pydantic's "Value error, " prefix dropped."""
    problems = []
    for err in errors:
        name = ""
        for part in err.get("loc", ()):
            text = str(part)
            name += f"[{text}]" if isinstance(part, int) else (f".{text}" if name else text)
        message = str(err.get("msg", "is not valid")).removeprefix("Value error, ")
        problems.append(FieldProblem(name, message))
    return problems


class OpenPatError(Exception):
    """Base class: a message a user can act on, optionally naming fields."""

    status_code: int = 400
    code: str = "error"

    def __init__(self, message: str, *, fields: list[FieldProblem] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields: list[FieldProblem] = list(fields or [])

    def __str__(self) -> str:
        return self.message

    def details(self) -> dict[str, str]:
        """Machine-readable keys beside the message (an API error carries them)."""
        return {}


class InvalidInput(OpenPatError):
    """The input is malformed or out of range; the message names the field."""

    status_code = 422
    code = "invalid_input"

    @classmethod
    def for_field(cls, field_name: str, message: str) -> InvalidInput:
        return cls(f"{field_name}: {message}", fields=[FieldProblem(field_name, message)])


class NotFound(OpenPatError):
    """The thing asked for does not exist (or is not visible to the caller)."""

    status_code = 404
    code = "not_found"


class Conflict(OpenPatError):
    """The change clashes with the current state (duplicate, double booking)."""

    status_code = 409
    code = "conflict"


class NotAuthenticated(OpenPatError):
    """No valid session: the caller must log in."""

    status_code = 401
    code = "not_authenticated"


class PermissionDenied(OpenPatError):
    """The caller is known but their role does not allow this. ``permission`` is the code of
    the permission it needed, for scripts (the message says it in words)."""

    status_code = 403
    code = "permission_denied"

    def __init__(
        self,
        message: str,
        *,
        fields: list[FieldProblem] | None = None,
        permission: str | None = None,
    ) -> None:
        super().__init__(message, fields=fields)
        self.permission = permission

    def details(self) -> dict[str, str]:
        return {"permission": self.permission} if self.permission else {}


class PasswordChangeRequired(PermissionDenied):
    """An administrator set the user's password; they must choose their own before anything
    else (pages send them to the Account page)."""


class DutyRefused(OpenPatError):
    """A grant of roles that segregation of duties forbids; ``rule`` is the rule's code (the
    table is ``openpat.security.duties.RULES``), the message says it in words."""

    status_code = 409
    code = "segregation_of_duties"

    def __init__(self, message: str, *, rule: str) -> None:
        super().__init__(message)
        self.rule = rule

    def details(self) -> dict[str, str]:
        return {"rule": self.rule}


class RuleViolation(OpenPatError):
    """The request is well-formed but a clinical or process rule forbids it."""

    status_code = 422
    code = "rule_violation"


class TooManyRequests(OpenPatError):
    """The caller must wait before trying again (login rate limiting)."""

    status_code = 429
    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ConfigurationError(OpenPatError):
    """The platform is misconfigured (settings, database); the message says how to fix it."""

    status_code = 500
    code = "configuration_error"


@dataclass(frozen=True, slots=True)
class ErrorBody:
    """The JSON shape of every error the API returns."""

    code: str
    message: str
    fields: list[FieldProblem] = field(default_factory=list)
