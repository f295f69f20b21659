"""Administration: the audit trail and user accounts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from openpat.errors import FieldProblem, InvalidInput, NotFound, OpenPatError
from openpat.security import Permission, Role
from openpat.services import audit, jobs, messaging, studies, users
from openpat.services.ids import MAX_SEQ, Id
from openpat.services.users import (
    AccountStatusIn,
    MembershipIn,
    MembershipRemoveIn,
    PasswordResetIn,
    UserCreate,
)
from openpat.web.deps import Account, AuditReader, PlatformDep, UowDep, UserManager
from openpat.web.pages.forms import form_problems, submit_form
from openpat.web.templating import render

router = APIRouter(prefix="/admin", include_in_schema=False)


def _int_or_none(value: str | None, field: str) -> int | None:
    if value is None or value.strip() == "":
        return None
    if not value.strip().isdecimal():
        raise InvalidInput.for_field(field, f"{value!r} is not a whole number")
    # The range is checked by the schema, which names the limit.
    return int(value)


@router.get("/audit")
def audit_page(
    request: Request,
    active: AuditReader,
    uow: UowDep,
    participant: str | None = None,
    user: str | None = None,
    before_seq: Annotated[int | None, Query(ge=1, le=MAX_SEQ)] = None,
) -> Response:
    """The trail, newest first, filterable by participant (code or id) and user (name or id)."""
    principal = active.principal
    participant_id, user_id, errors = audit.resolve_filter(
        uow=uow, principal=principal, participant=participant, user=user
    )
    page = (
        audit.list_events(
            uow=uow,
            principal=principal,
            participant_id=participant_id,
            user_id=user_id,
            before_seq=before_seq,
            limit=100,
        )
        if not errors
        else audit.AuditPage(items=[], next_before_seq=None)
    )
    return render(
        request,
        "audit.html",
        {
            "title": "Audit trail",
            "page": page,
            "participant": participant or "",
            "user": user or "",
            "errors": errors,
            "verify": None,
            "nav_key": "admin",
            "admin_tab": "audit",
        },
        status_code=422 if errors else 200,
    )


@router.post("/audit/verify")
def audit_verify(request: Request, active: AuditReader, uow: UowDep) -> Response:
    result = audit.verify(uow=uow, principal=active.principal)
    page = audit.list_events(uow=uow, principal=active.principal, limit=100)
    return render(
        request,
        "audit.html",
        {
            "title": "Audit trail",
            "page": page,
            "participant": "",
            "user": "",
            "errors": [],
            "verify": result,
            "nav_key": "admin",
            "admin_tab": "audit",
        },
    )


def _users_page(
    request: Request,
    active: UserManager,
    uow: UowDep,
    *,
    errors: list[FieldProblem] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "users.html",
        {
            "title": "Users",
            "users": users.list_users(uow=uow, principal=active.principal),
            "studies": studies.list_studies(uow=uow, principal=active.principal),
            "roles": list(Role),
            "errors": errors or [],
            "values": values or {},
            "saved": request.query_params.get("saved"),
            "can_audit": active.principal.has(Permission.AUDIT_READ),
            "nav_key": "admin",
            "admin_tab": "users",
        },
        status_code=status_code,
    )


@router.get("/users")
def users_page(request: Request, active: UserManager, uow: UowDep) -> Response:
    return _users_page(request, active, uow)


@router.post("/users")
def users_create(
    request: Request,
    active: UserManager,
    uow: UowDep,
    platform: PlatformDep,
    username: Annotated[str, Form()] = "",
    display_name: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
    study_id: Annotated[str, Form()] = "",
    participant_id: Annotated[str, Form()] = "",
) -> Response:
    values = {
        "username": username,
        "display_name": display_name,
        "email": email,
        "role": role,
        "study_id": study_id,
        "participant_id": participant_id,
    }
    try:
        membership = MembershipIn.model_validate(
            {
                "role": role,
                "study_id": _int_or_none(study_id, "study_id"),
                "participant_id": _int_or_none(participant_id, "participant_id"),
            }
        )
        body = UserCreate.model_validate(
            {
                "username": username,
                "display_name": display_name,
                "email": email or None,
                "password": password,
                "memberships": [membership],
            }
        )
        created = users.create_user(
            uow=uow, principal=active.principal, user_in=body, hasher=platform.hasher
        )
        uow.commit()
    except (ValidationError, OpenPatError) as exc:
        uow.rollback()
        errors, status_code = form_problems(exc, "form")
        return _users_page(
            request, active, uow, errors=errors, values=values, status_code=status_code
        )
    return RedirectResponse(f"/admin/users?saved={created.username}", status_code=303)


# -- one account: status, password reset, memberships -------------------------------------


def _user_page(
    request: Request,
    active: UserManager,
    uow: UowDep,
    user_id: int,
    *,
    errors: list[FieldProblem] | None = None,
    status_code: int = 200,
) -> Response:
    found = [u for u in users.list_users(uow=uow, principal=active.principal) if u.id == user_id]
    if not found:
        raise NotFound(f"user {user_id} not found")
    return render(
        request,
        "user.html",
        {
            "title": found[0].display_name,
            "user": found[0],
            "own": found[0].id == active.principal.user_id,
            "studies": studies.list_studies(uow=uow, principal=active.principal),
            "roles": list(Role),
            "errors": errors or [],
            "saved": request.query_params.get("saved"),
            "can_audit": active.principal.has(Permission.AUDIT_READ),
            "nav_key": "admin",
            "admin_tab": "users",
        },
        status_code=status_code,
    )


@router.get("/users/{user_id}")
def user_page(request: Request, user_id: Id, active: UserManager, uow: UowDep) -> Response:
    return _user_page(request, active, uow, user_id)


def _user_form(
    request: Request,
    active: UserManager,
    uow: UowDep,
    user_id: int,
    saved: str,
    default_field: str,
    act: Callable[[], object],
) -> Response:
    """Run one of the account page's forms; on a refusal show the page with the problem."""
    return submit_form(
        uow,
        act,
        default_field=default_field,
        done=f"/admin/users/{user_id}?saved={saved}",
        again=lambda errors, status_code: _user_page(
            request, active, uow, user_id, errors=errors, status_code=status_code
        ),
    )


@router.post("/users/{user_id}/status")
def user_status(
    request: Request,
    user_id: Id,
    active: UserManager,
    uow: UowDep,
    activate: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    def act() -> object:
        body = AccountStatusIn.model_validate({"active": activate == "yes", "reason": reason})
        return users.set_account_status(
            uow=uow, principal=active.principal, user_id=user_id, status=body
        )

    return _user_form(request, active, uow, user_id, "status", "reason", act)


@router.post("/users/{user_id}/password-reset")
def user_password_reset(
    request: Request,
    user_id: Id,
    active: UserManager,
    uow: UowDep,
    platform: PlatformDep,
    password: Annotated[str, Form()] = "",
) -> Response:
    def act() -> object:
        body = PasswordResetIn.model_validate({"password": password})
        return users.reset_password(
            uow=uow, principal=active.principal, user_id=user_id, reset=body, hasher=platform.hasher
        )

    return _user_form(request, active, uow, user_id, "password", "password", act)


@router.post("/users/{user_id}/memberships")
def user_membership_add(
    request: Request,
    user_id: Id,
    active: UserManager,
    uow: UowDep,
    role: Annotated[str, Form()] = "",
    study_id: Annotated[str, Form()] = "",
    participant_id: Annotated[str, Form()] = "",
) -> Response:
    def act() -> object:
        body = MembershipIn.model_validate(
            {
                "role": role,
                "study_id": _int_or_none(study_id, "study_id"),
                "participant_id": _int_or_none(participant_id, "participant_id"),
            }
        )
        return users.add_membership(
            uow=uow, principal=active.principal, user_id=user_id, membership_in=body
        )

    return _user_form(request, active, uow, user_id, "role-added", "role", act)


@router.post("/users/{user_id}/memberships/{membership_id}/remove")
def user_membership_remove(
    request: Request,
    user_id: Id,
    membership_id: Id,
    active: UserManager,
    uow: UowDep,
    reason: Annotated[str, Form()] = "",
) -> Response:
    def act() -> object:
        body = MembershipRemoveIn.model_validate({"reason": reason})
        return users.remove_membership(
            uow=uow,
            principal=active.principal,
            user_id=user_id,
            membership_id=membership_id,
            remove=body,
        )

    return _user_form(request, active, uow, user_id, "role-removed", "reason", act)


# -- background jobs ----------------------------------------------------------------------------


@router.get("/jobs")
def jobs_page(
    request: Request,
    active: UserManager,
    uow: UowDep,
    status: Annotated[
        str | None, Query(pattern="^(queued|running|succeeded|failed|cancelled)$")
    ] = None,
) -> Response:
    found = jobs.list_jobs(uow=uow, principal=active.principal, status=status)
    return render(
        request,
        "jobs.html",
        {
            "title": "Background jobs",
            "jobs": found,
            "status": status,
            "statuses": jobs.STATUSES,
            "admin_tab": "jobs",
        },
    )


def job_page(
    request: Request,
    active: Account,
    uow: UowDep,
    job_id: int,
    errors: list[FieldProblem] | None = None,
    status_code: int = 200,
) -> Response:
    job = jobs.get_job(uow=uow, principal=active.principal, job_id=job_id)
    return render(
        request,
        "job.html",
        {
            "title": f"Job {job.id}",
            "job": job,
            "errors": errors or [],
            "can_manage": active.principal.has(Permission.USER_MANAGE),
            "study_id": job.study_id,
        },
        status_code=status_code,
    )


def _job_action(
    request: Request,
    job_id: int,
    active: Account,
    uow: UowDep,
    act: Callable[..., object],
) -> Response:
    """Run again or cancel a job from its page; a refusal shows the page with the reason."""
    return submit_form(
        uow,
        lambda: act(uow=uow, principal=active.principal, job_id=job_id),
        default_field="status",
        done=f"/jobs/{job_id}",
        again=lambda errors, code: job_page(request, active, uow, job_id, errors, code),
    )


@router.post("/jobs/{job_id}/retry")
def job_retry(request: Request, job_id: Id, active: UserManager, uow: UowDep) -> Response:
    return _job_action(request, job_id, active, uow, jobs.retry_job)


@router.post("/jobs/{job_id}/cancel")
def job_cancel(request: Request, job_id: Id, active: UserManager, uow: UowDep) -> Response:
    return _job_action(request, job_id, active, uow, jobs.cancel_job)


@router.get("/messages")
def messages_page(request: Request, active: UserManager, uow: UowDep) -> Response:
    """The e-mail log: what was sent, what was not and why (addresses masked, no bodies)."""
    found = messaging.list_messages(uow=uow, principal=active.principal)
    return render(
        request,
        "messages.html",
        {"title": "E-mail log", "messages": found, "admin_tab": "messages"},
    )


job_router = APIRouter(include_in_schema=False)


@job_router.get("/jobs/{job_id}")
def job_detail(request: Request, job_id: Id, active: Account, uow: UowDep) -> Response:
    """One job: its progress (the page refreshes itself while it runs) and outcome."""
    return job_page(request, active, uow, job_id)
