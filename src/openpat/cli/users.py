"""openpat users: accounts."""

from __future__ import annotations

import typer
from pydantic import ValidationError

from openpat.cli.common import cli_actor, console, fail, handles_errors, platform
from openpat.errors import field_problems
from openpat.security import Principal
from openpat.security.permissions import parse_role
from openpat.services import users
from openpat.services.users import MembershipIn, UserCreate

app = typer.Typer(help="User accounts.", no_args_is_help=True)


@app.command("add")
@handles_errors
def add(
    username: str = typer.Argument(..., help="Login name (lower-case letters, digits, . _ -)."),
    role: str = typer.Option(
        ...,
        help="admin, investigator, coordinator, facilitator, "
        "blinded_rater, monitor or participant.",
    ),
    name: str = typer.Option(None, "--name", help="Full name shown in the app."),
    email: str = typer.Option(None, help="Email address."),
    study: int = typer.Option(None, help="Study id (default: every study)."),
    site: int = typer.Option(None, help="Site id within the study (default: every site)."),
    participant: int = typer.Option(None, help="Participant id, for the participant role."),
    password: str = typer.Option(
        ...,
        prompt=True,
        hide_input=True,
        confirmation_prompt=True,
        envvar="OPENPAT_NEW_USER_PASSWORD",
        help="Asked for if not given.",
    ),
) -> None:
    """Create a user with one role (in a study and site, or everywhere)."""
    try:
        parsed_role = parse_role(role)
    except ValueError as exc:
        fail(f"--role: {exc}", 2)
        return
    try:
        body = UserCreate(
            username=username,
            display_name=name or username,
            email=email,
            password=password,
            memberships=[
                MembershipIn(
                    role=parsed_role, study_id=study, site_id=site, participant_id=participant
                )
            ],
        )
    except ValidationError as exc:
        problems = "; ".join(f"{p.field}: {p.message}" for p in field_problems(exc.errors()))
        fail(problems, 2)
        return
    with platform() as plat, plat.uow(actor=cli_actor(), reason="user added") as uow:
        created = users.create_user(
            uow=uow, principal=Principal.system("cli"), user_in=body, hasher=plat.hasher
        )
        uow.commit()
    scope = f"study {study}" if study else "every study"
    console.print(f"user [bold]{created.username}[/] created: {parsed_role.label} in {scope}")
