"""Log in and out over the API (scripts keep the cookie and send X-CSRF-Token)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from openpat.errors import NotAuthenticated
from openpat.security import Role
from openpat.services import auth, users
from openpat.web.deps import PUBLIC, Account, PlatformDep, UowDep
from openpat.web.session import do_login, drop_session_cookie

router = APIRouter(prefix="/auth", tags=["auth"])


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class WhoAmI(BaseModel):
    user_id: int
    username: str
    display_name: str
    roles: list[Role]
    must_change_password: bool = Field(
        default=False, description="an administrator set the password: change it first"
    )
    csrf_token: str = Field(description="send as X-CSRF-Token on POST, PUT, PATCH and DELETE")


def _who(active: auth.ActiveSession) -> WhoAmI:
    p = active.principal
    return WhoAmI(
        user_id=p.user_id,
        username=p.username,
        display_name=p.display_name,
        roles=sorted(p.roles),
        must_change_password=active.must_change_password,
        csrf_token=active.csrf_token,
    )


@router.post("/login", dependencies=[PUBLIC])
async def login(
    body: LoginIn, request: Request, response: Response, platform: PlatformDep
) -> WhoAmI:
    result = await run_in_threadpool(do_login, platform, request, body.username, body.password)
    if result is None:
        raise NotAuthenticated("the username or password is not right")
    active, cookie = result
    cookie.apply(response)
    return _who(active)


@router.post("/logout", status_code=204)
def logout(active: Account, uow: UowDep, response: Response) -> Response:
    auth.logout(uow=uow, session=active)
    uow.commit()
    response = Response(status_code=204)
    drop_session_cookie(response)
    return response


@router.get("/me")
def me(active: Account) -> WhoAmI:
    return _who(active)


@router.post("/password", status_code=204)
def change_password(
    body: users.PasswordChangeIn, active: Account, uow: UowDep, platform: PlatformDep
) -> Response:
    """Choose a new password, giving the current one (required after an administrator set
    it)."""
    users.change_own_password(
        uow=uow, principal=active.principal, change=body, hasher=platform.hasher
    )
    uow.commit()
    return Response(status_code=204)
