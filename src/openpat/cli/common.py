"""What every command shares: settings, the platform, red errors and exit codes."""

from __future__ import annotations

import datetime as dt
import getpass
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import TYPE_CHECKING, ParamSpec, TypeVar

import typer
from rich.console import Console

from openpat.clock import Clock
from openpat.errors import OpenPatError
from openpat.labels import readable, shown_field

if TYPE_CHECKING:
    from openpat.services.runtime import Actor, Platform

# The settings and the platform (SQLAlchemy, Alembic, the services) are imported by the
# functions that use them, so that commands which need neither start quickly.

console = Console()
err_console = Console(stderr=True)

P = ParamSpec("P")
R = TypeVar("R")

EXIT_CODES = {"invalid_input": 2, "not_found": 3, "conflict": 4, "rule_violation": 5}


def fail(message: str, code: int = 1) -> None:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def handles_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Print an OpenPatError as one red line and exit non-zero (never a traceback)."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except OpenPatError as exc:
            details = [
                f"\n  {shown_field(p.field)}: {p.message}"
                for p in exc.fields
                if p.message not in exc.message
            ]
            message = readable(exc.message, command_line=True)
            fail(message + "".join(details), EXIT_CODES.get(exc.code, 1))
            raise  # unreachable: fail() exits

    return wrapper


def cli_actor() -> Actor:
    """Changes made from the command line are recorded as the operating-system user."""
    from openpat.services.runtime import Actor

    try:
        user = getpass.getuser()
    except Exception:  # no user name in some containers
        user = "unknown"
    return Actor(name=f"cli:{user}")


def local_today() -> dt.date:
    """Today on this machine, from the clock the settings give (``OPENPAT_CLOCK_START``)."""
    from openpat.config import load_settings

    return Clock(start=load_settings().clock_start).today()


@contextmanager
def platform(*, check_schema: bool = True) -> Iterator[Platform]:
    from openpat.config import load_settings
    from openpat.services.runtime import Platform

    settings = load_settings()
    plat = Platform.from_settings(settings)
    try:
        if check_schema:
            plat.require_current_schema()
        yield plat
    finally:
        plat.dispose()
