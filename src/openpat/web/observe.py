"""What an operator sees: a request id on every request, one JSON log line per request, and
metrics in the Prometheus text format.

Logs carry no personal data: the request line names the route's template
(``/api/v1/participants/{participant_id}``), never the query string or a path's values (a
form link's path is its secret), and the user by id, not by name. Database errors are logged
without their parameters (the engines are made with ``hide_parameters``).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import logging
import os
import re
import secrets
import threading
import time
from collections import defaultdict
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "x-request-id"
_GOOD_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Seconds; the upper bounds of the latency histogram's buckets.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

access_log = logging.getLogger("openpat.access")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and the record's extra fields
    named in ``FIELDS``; a traceback goes in ``exc``."""

    FIELDS = ("request_id", "method", "route", "status", "duration_ms", "user_id", "pid")

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in self.FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                out[name] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def configure_logging(level: str = "INFO") -> None:
    """JSON lines on standard error for openpat's loggers and uvicorn's (``openpat serve``)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    for name in ("openpat", "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(level)
        logger.propagate = False


class Metrics:
    """Counters and a latency histogram per route, kept per process (each web process is
    scraped, or reports, on its own; the ``pid`` label tells them apart)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self.buckets: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * len(BUCKETS))
        self.sums: dict[tuple[str, str], float] = defaultdict(float)
        self.counts: dict[tuple[str, str], int] = defaultdict(int)
        self.in_flight = 0

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self.requests[(method, route, status)] += 1
            key = (method, route)
            counts = self.buckets[key]
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    counts[i] += 1
            self.sums[key] += seconds
            self.counts[key] += 1

    def exposition(self, extra: list[str]) -> str:
        """The Prometheus text format (version 0.0.4)."""
        pid = os.getpid()
        lines = [
            "# HELP openpat_http_requests_total HTTP requests answered, by route and status.",
            "# TYPE openpat_http_requests_total counter",
        ]
        with self._lock:
            for (method, route, status), n in sorted(self.requests.items()):
                labels = _labels(pid=pid, method=method, route=route, status=status)
                lines.append(f"openpat_http_requests_total{{{labels}}} {n}")
            lines += [
                "# HELP openpat_http_request_duration_seconds Time to answer, by route.",
                "# TYPE openpat_http_request_duration_seconds histogram",
            ]
            for (method, route), counts in sorted(self.buckets.items()):
                base = _labels(pid=pid, method=method, route=route)
                for bound, n in zip(BUCKETS, counts, strict=True):
                    lines.append(
                        f'openpat_http_request_duration_seconds_bucket{{{base},le="{bound}"}} {n}'
                    )
                total = self.counts[(method, route)]
                lines.append(
                    f'openpat_http_request_duration_seconds_bucket{{{base},le="+Inf"}} {total}'
                )
                lines.append(
                    f"openpat_http_request_duration_seconds_sum{{{base}}} "
                    f"{self.sums[(method, route)]:.6f}"
                )
                lines.append(f"openpat_http_request_duration_seconds_count{{{base}}} {total}")
            lines += [
                "# HELP openpat_http_requests_in_flight Requests being answered now.",
                "# TYPE openpat_http_requests_in_flight gauge",
                f"openpat_http_requests_in_flight{{{_labels(pid=pid)}}} {self.in_flight}",
            ]
        return "\n".join(lines + extra) + "\n"


def _labels(**values: object) -> str:
    def esc(v: object) -> str:
        return str(v).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    return ",".join(f'{k}="{esc(v)}"' for k, v in values.items())


class RouteNames:
    """The full path template of the route that served a request (``scope["route"]`` is the
    route as declared, without the prefix of the router that includes it)."""

    def __init__(self, app: Any) -> None:
        self._app = app
        self._full: dict[int, str] | None = None

    def _build(self) -> dict[int, str]:
        import fastapi.routing

        iter_contexts = getattr(fastapi.routing, "iter_route_contexts", None)
        if iter_contexts is None:  # older FastAPI lists every route with its full path
            return {id(r): r.path for r in self._app.routes if hasattr(r, "path")}
        return {id(c.original_route): c.path for c in iter_contexts(self._app.routes)}

    def of(self, scope: Scope) -> str:
        route = scope.get("route")
        if route is not None:
            if self._full is None:
                self._full = self._build()
            path = self._full.get(id(route), getattr(route, "path", None))
            if isinstance(path, str):
                return path
        return "static" if scope["path"].startswith("/static/") else "unmatched"


# Request ids: unique, not secret. A prefix drawn once per process and a counter (reading the
# system's random source for every request showed in the serving profile).
_ID_PREFIX = secrets.token_hex(4)
_ID_COUNTER = itertools.count(1)


def _next_request_id() -> str:
    return f"{_ID_PREFIX}{next(_ID_COUNTER):08x}"


class Observe:
    """ASGI middleware: the request id (the client's ``X-Request-ID`` if it is a plain token,
    else a new one; echoed on the response), the access log line and the metrics."""

    def __init__(self, app: ASGIApp, metrics: Metrics, routes: RouteNames) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = (
            dict(scope.get("headers") or []).get(REQUEST_ID_HEADER.encode(), b"").decode("latin-1")
        )
        request_id = sent if _GOOD_ID.match(sent) else _next_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        self.metrics.in_flight += 1
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self.metrics.in_flight -= 1
            seconds = time.perf_counter() - started
            route = self.routes.of(scope)
            self.metrics.observe(scope["method"], route, status, seconds)
            state = scope.get("state") or {}
            active = state.get("active_session")
            access_log.info(
                "request",
                extra={
                    "request_id": request_id,
                    "method": scope["method"],
                    "route": route,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 1),
                    "user_id": active.principal.user_id if active is not None else None,
                    "pid": os.getpid(),
                },
            )
