"""Health check and the API's own documentation (OpenAPI), behind login."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from openpat import __version__
from openpat.web.deps import PUBLIC, ApiDocsReader, PlatformDep

router = APIRouter()


@router.get("/healthz", dependencies=[PUBLIC], tags=["system"])
def healthz(platform: PlatformDep) -> JSONResponse:
    ok = platform.ping()
    return JSONResponse(
        {"status": "ok" if ok else "database unavailable", "version": __version__},
        status_code=200 if ok else 503,
    )


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
