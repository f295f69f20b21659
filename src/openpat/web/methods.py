"""Which methods an address accepts: ``OPTIONS`` answers with them, and a 405 names them all.

Starlette answers a method an address does not accept with the methods of the *first* route
whose path matches, though one address is often served by several routes (GET and POST of a
page form, say). This table holds every route's path pattern and methods, so ``Allow`` lists
them all.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import fastapi.routing
from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send


def _served_routes(app: FastAPI) -> Iterator[Any]:
    iter_contexts = getattr(fastapi.routing, "iter_route_contexts", None)
    if iter_contexts is None:  # older FastAPI lists every route
        yield from (r for r in app.routes if isinstance(r, APIRoute))
        return
    for context in iter_contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            yield context


class MethodTable:
    """Every route's path pattern with its methods, built once from the app."""

    def __init__(self, app: FastAPI) -> None:
        self._app = app
        self._table: list[tuple[re.Pattern[str], frozenset[str]]] | None = None

    def _build(self) -> list[tuple[re.Pattern[str], frozenset[str]]]:
        table = []
        for route in _served_routes(self._app):
            regex, _format, _convertors = compile_path(route.path)
            table.append((regex, frozenset(route.methods or ())))
        return table

    def allowed(self, path: str) -> list[str]:
        """The methods some route accepts at ``path``, and OPTIONS; empty when no route
        serves the address."""
        if self._table is None:
            self._table = self._build()
        methods: set[str] = set()
        for regex, route_methods in self._table:
            if regex.match(path):
                methods |= route_methods
        if not methods:
            return []
        methods.add("OPTIONS")
        return sorted(methods)


class AnswerOptions:
    """ASGI middleware: ``OPTIONS`` on an address the app serves is answered 204 with the
    methods it accepts (no login needed: it reveals only what the API schema documents)."""

    def __init__(self, app: ASGIApp, table: MethodTable) -> None:
        self.app = app
        self.table = table

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "OPTIONS":
            allowed = self.table.allowed(scope["path"])
            if allowed:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 204,
                        "headers": [(b"allow", ", ".join(allowed).encode())],
                    }
                )
                await send({"type": "http.response.body", "body": b""})
                return
        await self.app(scope, receive, send)
