"""No text may hold a NUL character (U+0000).

PostgreSQL refuses NUL in text columns, so such a value would fail at the database (a 500 on
PostgreSQL, stored on SQLite): it is refused at the door instead, naming the field, for JSON
bodies, forms and query strings alike.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openpat.errors import FieldProblem

NUL = "\x00"


def _nul_paths(value: Any, path: str = "") -> Iterator[str]:
    if isinstance(value, str):
        if NUL in value:
            yield path or "body"
    elif isinstance(value, dict):
        for key, item in value.items():
            if NUL in str(key):
                yield f"{path}.{key}" if path else str(key)
            yield from _nul_paths(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nul_paths(item, f"{path}[{index}]")


def nul_fields(content_type: str, body: bytes, query: bytes) -> list[str]:
    """The fields (machine paths) whose text holds a NUL character."""
    found = [name for name, text in parse_qsl(query.decode("latin-1")) if NUL in text + name]
    if b"\\u0000" in body and content_type.startswith("application/json"):
        # JSON the app cannot read gets the app's own error
        with contextlib.suppress(ValueError, RecursionError):
            found += list(_nul_paths(json.loads(body)))
    elif b"%00" in body and content_type.startswith("application/x-www-form-urlencoded"):
        found += [
            name
            for name, text in parse_qsl(body.decode("latin-1"), keep_blank_values=True)
            if NUL in text + name
        ]
    return found


class RefuseNul:
    """ASGI middleware: a request whose text holds NUL is answered 422 naming the fields."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks = []
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                await self.app(scope, _replay([message], receive), send)
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        headers = dict(scope.get("headers") or [])
        content_type = headers.get(b"content-type", b"").decode("latin-1").lower()
        fields = nul_fields(content_type, body, scope.get("query_string", b""))
        if fields:
            from starlette.requests import Request

            from openpat.web.errors import error_response

            problems = [
                FieldProblem(f, "holds a NUL character (\\u0000), which no text may hold")
                for f in fields
            ]
            response = error_response(
                Request(scope),
                status_code=422,
                code="invalid_input",
                message="the request is not valid: "
                + "; ".join(f"{p.label}: {p.message}" for p in problems),
                fields=problems,
            )
            await response(scope, _replay([{"type": "http.request", "body": b""}], receive), send)
            return
        await self.app(
            scope,
            _replay([{"type": "http.request", "body": body, "more_body": False}], receive),
            send,
        )


def _replay(messages: list[Message], then: Receive) -> Receive:
    """The messages already read, then the client's own (a streamed response listens for the
    client going away: it must not be told so early)."""
    pending = list(messages)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        return await then()

    return receive
