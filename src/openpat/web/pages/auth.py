"""Login and logout pages."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from openpat.errors import FieldProblem, TooManyRequests
from openpat.services import auth, users
from openpat.web.deps import LOGIN_CSRF_COOKIE, PUBLIC, Account, PlatformDep, UowDep
from openpat.web.pages.forms import submit_form
from openpat.web.session import do_login, drop_session_cookie
from openpat.web.templating import render

router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str:
    # Only same-site paths: never redirect to another host after login.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _login_page(
    request: Request,
    *,
    next_url: str,
    error: str | None = None,
    status_code: int = 200,
    username: str = "",
) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(
        request,
        "login.html",
        {
            "title": "Log in",
            "next_url": next_url,
            "error": error,
            "login_csrf": token,
            "username": username,
        },
        status_code=status_code,
    )
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/login")
    return response


@router.get("/login", dependencies=[PUBLIC], response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> Response:
    return _login_page(request, next_url=_safe_next(next))


@router.post("/login", dependencies=[PUBLIC])
async def login_submit(
    request: Request,
    platform: PlatformDep,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    next_url = _safe_next(next)
    cookie_token = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not csrf_token or not hmac.compare_digest(csrf_token, cookie_token):
        return _login_page(
            request,
            next_url=next_url,
            error="The login form expired. Please try again.",
            status_code=403,
            username=username,
        )
    if not username or not password:
        return _login_page(
            request,
            next_url=next_url,
            error="Enter your username and password.",
            status_code=422,
            username=username,
        )
    try:
        result = await run_in_threadpool(do_login, platform, request, username, password)
    except TooManyRequests as exc:
        return _login_page(
            request, next_url=next_url, error=exc.message, status_code=429, username=username
        )
    if result is None:
        return _login_page(
            request,
            next_url=next_url,
            error="The username or password is not right.",
            status_code=401,
            username=username,
        )
    active, cookie = result
    target = "/account/password" if active.must_change_password else next_url
    response = RedirectResponse(target, status_code=303)
    cookie.apply(response)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(active: Account, uow: UowDep) -> Response:
    auth.logout(uow=uow, session=active)
    uow.commit()
    response = RedirectResponse("/login", status_code=303)
    drop_session_cookie(response)
    return response


@router.get("/account/password")
def password_page(request: Request, active: Account) -> Response:
    return _password_page(request, active)


def _password_page(
    request: Request,
    active: auth.ActiveSession,
    *,
    errors: list[FieldProblem] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "account_password.html",
        {
            "title": "Change password",
            "must_change": active.must_change_password,
            "saved": request.query_params.get("saved"),
            "errors": errors or [],
        },
        status_code=status_code,
    )


@router.post("/account/password")
def password_submit(
    request: Request,
    active: Account,
    uow: UowDep,
    platform: PlatformDep,
    current_password: Annotated[str, Form(max_length=256)] = "",
    new_password: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    def act() -> None:
        body = users.PasswordChangeIn.model_validate(
            {"current_password": current_password, "new_password": new_password}
        )
        users.change_own_password(
            uow=uow, principal=active.principal, change=body, hasher=platform.hasher
        )

    return submit_form(
        uow,
        act,
        default_field="new_password",
        done="/account/password?saved=1",
        again=lambda errors, status_code: _password_page(
            request, active, errors=errors, status_code=status_code
        ),
    )
