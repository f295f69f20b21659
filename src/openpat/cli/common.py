"""What every command shares: settings, the platform, red errors and exit codes."""

from __future__ import annotations

import getpass
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console

from openpat.config import load_settings
from openpat.errors import OpenPatError
from openpat.services.runtime import Actor, Platform

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
                f"\n  {p.field}: {p.message}" for p in exc.fields if p.message not in exc.message
            ]
            fail(exc.message + "".join(details), EXIT_CODES.get(exc.code, 1))
            raise  # unreachable: fail() exits

    return wrapper


def cli_actor() -> Actor:
    """Changes made from the command line are recorded as the operating-system user."""
    try:
        user = getpass.getuser()
    except Exception:  # no user name in some containers
        user = "unknown"
    return Actor(name=f"cli:{user}")


@contextmanager
def platform(*, check_schema: bool = True) -> Iterator[Platform]:
    settings = load_settings()
    plat = Platform.from_settings(settings)
    try:
        if check_schema:
            plat.require_current_schema()
        yield plat
    finally:
        plat.dispose()
