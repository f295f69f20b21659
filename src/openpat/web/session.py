"""Setting and clearing the session cookie (signed, HttpOnly, SameSite=Lax)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request, Response

from openpat.services import auth
from openpat.services.runtime import Actor, Platform
from openpat.web.deps import SESSION_COOKIE, policy_of, serializer


@dataclass(frozen=True, slots=True)
class SessionCookie:
    value: str
    secure: bool

    def apply(self, response: Response) -> None:
        response.set_cookie(
            SESSION_COOKIE,
            self.value,
            httponly=True,
            samesite="lax",
            secure=self.secure,
            path="/",
        )


def drop_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


def do_login(
    platform: Platform, request: Request, username: str, password: str
) -> tuple[auth.ActiveSession, SessionCookie] | None:
    """Run the login use case in its own transaction (failures are recorded too)."""
    remote = request.client.host if request.client else "unknown"
    with platform.uow(actor=Actor(name="anonymous")) as uow:
        result = auth.login(
            uow=uow,
            username=username,
            password=password,
            remote_addr=remote,
            hasher=platform.hasher,
            policy=policy_of(platform),
        )
        uow.commit()
    if result is None:
        return None
    active = auth.ActiveSession(
        principal=result.principal,
        csrf_token=result.csrf_token,
        token_hash="",
        must_change_password=result.must_change_password,
    )
    cookie = SessionCookie(
        value=serializer(platform).dumps(result.token), secure=platform.settings.cookie_secure
    )
    return active, cookie
