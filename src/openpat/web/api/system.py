"""Health check and the API's own documentation (OpenAPI), behind login."""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from openpat import __version__, knowledge
from openpat.errors import NotAuthenticated, OpenPatError, PermissionDenied
from openpat.security import Role
from openpat.services.runtime import Actor, Platform
from openpat.web.deps import PUBLIC, ApiDocsReader, PlatformDep, SessionDep

router = APIRouter()


@router.get("/healthz", dependencies=[PUBLIC], tags=["system"])
def healthz(platform: PlatformDep) -> JSONResponse:
    ok = platform.ping()
    return JSONResponse(
        {"status": "ok" if ok else "database unavailable", "version": __version__},
        status_code=200 if ok else 503,
    )


@router.get("/livez", dependencies=[PUBLIC], tags=["system"])
def livez() -> JSONResponse:
    """Liveness: the process answers (restart it if not). Touches nothing else."""
    return JSONResponse({"status": "alive", "version": __version__})


@router.get("/readyz", dependencies=[PUBLIC], tags=["system"])
def readyz(request: Request, platform: PlatformDep) -> JSONResponse:
    """Readiness: the database answers, its schema is this version's, and the knowledge base
    is loaded (send traffic here only if 200)."""
    checks: dict[str, str] = {"database": "ok" if platform.ping() else "unavailable"}
    if checks["database"] == "ok":
        try:
            platform.require_current_schema()
            checks["schema"] = "ok"
        except OpenPatError as exc:
            checks["schema"] = exc.message
    checks["knowledge"] = "ok" if knowledge.default.cache_info().currsize else "not loaded"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status_code=200 if ready else 503,
    )


@router.get("/metrics", dependencies=[PUBLIC], include_in_schema=False)
async def metrics(request: Request, platform: PlatformDep, active: SessionDep) -> Response:
    """Prometheus metrics, for an administrator's session or the configured bearer token."""
    token = platform.settings.metrics_token
    sent = request.headers.get("authorization", "")
    by_token = bool(token) and hmac.compare_digest(sent.encode(), f"Bearer {token}".encode())
    if not by_token:
        if active is None:
            raise NotAuthenticated("log in as an administrator, or send the metrics token")
        if Role.ADMIN not in active.principal.roles:
            raise PermissionDenied("only an administrator (or the metrics token) reads metrics")
    extra = await run_in_threadpool(_database_metrics, platform)
    body = request.app.state.metrics.exposition(extra)
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")


def _database_metrics(platform: Platform) -> list[str]:
    """Site-wide figures read from the database (the same in every process)."""
    from openpat.services import jobs

    with platform.uow(actor=Actor(name="metrics"), read_only=True) as uow:
        open_alerts = uow.alerts.open_counts_by_level()
        job_counts = jobs.counts(uow=uow)
    lines = [
        "# HELP openpat_jobs Background jobs in the database, by kind and status.",
        "# TYPE openpat_jobs gauge",
    ]
    for (kind, status), n in sorted(job_counts.items()):
        lines.append(f'openpat_jobs{{kind="{kind}",status="{status}"}} {n}')
    lines += [
        "# HELP openpat_job_attempts_total Job attempts run by this process's workers, by outcome.",
        "# TYPE openpat_job_attempts_total counter",
    ]
    with jobs.RUNS_LOCK:
        runs = sorted(jobs.RUNS.items())
    for (kind, outcome), n in runs:
        lines.append(f'openpat_job_attempts_total{{kind="{kind}",outcome="{outcome}"}} {n}')
    lines += [
        "# HELP openpat_safety_alerts_open Safety alerts not yet acknowledged, by level.",
        "# TYPE openpat_safety_alerts_open gauge",
    ]
    for level, n in sorted(open_alerts.items()):
        lines.append(f'openpat_safety_alerts_open{{level="{level}"}} {n}')
    return lines


@router.get("/api/v1/openapi.json", include_in_schema=False)
def openapi_schema(request: Request, active: ApiDocsReader) -> dict[str, Any]:
    schema: dict[str, Any] = request.app.openapi()
    return schema


@router.get("/api/docs", include_in_schema=False)
def api_docs(active: ApiDocsReader) -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="/api/v1/openapi.json",
        title="openpat API",
        swagger_js_url="/static/swagger/swagger-ui-bundle.js",
        swagger_css_url="/static/swagger/swagger-ui.css",
        swagger_favicon_url="/static/favicon.svg",
    )
