"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openpat import __version__
from openpat.config import Settings, load_settings
from openpat.services.runtime import Platform
from openpat.store.notify import NotificationHub
from openpat.web.api import audit as audit_api
from openpat.web.api import auth as auth_api
from openpat.web.api import jobs as jobs_api
from openpat.web.api import knowledge as knowledge_api
from openpat.web.api import outcomes as outcomes_api
from openpat.web.api import participants as participants_api
from openpat.web.api import pharmacology as pharmacology_api
from openpat.web.api import screening as screening_api
from openpat.web.api import studies as studies_api
from openpat.web.api import system
from openpat.web.api import trial as trial_api
from openpat.web.api import users as users_api
from openpat.web.errors import API_ERROR_RESPONSES, install_error_handlers
from openpat.web.methods import AnswerOptions, MethodTable
from openpat.web.nul import RefuseNul
from openpat.web.observe import Metrics, Observe, RouteNames
from openpat.web.pages import admin, me
from openpat.web.pages import auth as auth_pages
from openpat.web.pages import knowledge as knowledge_pages
from openpat.web.pages import outcomes as outcome_pages
from openpat.web.pages import participants as participant_pages
from openpat.web.pages import pharmacology as pharmacology_pages
from openpat.web.pages import screening as screening_pages
from openpat.web.pages import studies as study_pages
from openpat.web.pages import trial as trial_pages

STATIC_DIR = Path(__file__).parent / "static"

_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'"
    ),
}


_PRIVATE_PATHS = ("/api/", "/admin", "/participants", "/studies", "/me")


class SecurityHeaders:
    """ASGI middleware: the security headers on every response, and no-store on records
    (plain ASGI rather than BaseHTTPMiddleware, which costs a task and a copy per request)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        private = scope["path"].startswith(_PRIVATE_PATHS)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if private:
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _JobsRunner:
    """Background jobs beside the web app: on PostgreSQL jobs queued here go to procrastinate
    (and, with ``run_jobs``, a procrastinate worker runs in this event loop); on SQLite, with
    ``run_jobs``, an in-process worker thread runs them."""

    def __init__(self) -> None:
        self.dispatcher: Any = None
        self.local: Any = None
        self.task: asyncio.Task[None] | None = None

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
        if self.local is not None:
            await asyncio.to_thread(self.local.stop)
        if self.dispatcher is not None:
            await asyncio.to_thread(self.dispatcher.close)


async def _start_jobs(platform: Platform) -> _JobsRunner:
    from openpat.services import worker

    runner = _JobsRunner()
    postgres = platform.engine.dialect.name == "postgresql"
    if postgres:
        runner.dispatcher = worker.install_dispatcher(platform)
    if not platform.settings.run_jobs:
        return runner
    if postgres:

        async def work() -> None:
            app = worker.make_app(platform)
            async with app.open_async():
                await app.run_worker_async(
                    queues=[worker.TASK_QUEUE],
                    install_signal_handlers=False,
                    name=worker.worker_name("web"),
                )

        runner.task = asyncio.create_task(work())
    else:
        runner.local = worker.LocalWorker(platform, poll_s=platform.settings.worker_poll_s)
        runner.local.start()
    return runner


def create_app(settings: Settings | None = None, *, platform: Platform | None = None) -> FastAPI:
    """Build the app; the database engine is created here, never at import time."""
    if platform is None:
        platform = Platform.from_settings(settings or load_settings())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        import anyio.to_thread

        from openpat import knowledge

        # Blocking work (the database, computations) runs in this many threads; with the GIL,
        # more threads add contention rather than throughput (benchmarks/serving.py).
        limiter = anyio.to_thread.current_default_thread_limiter()
        threads = platform.settings.web_threads
        if threads is None:
            threads = 2 if platform.engine.dialect.name == "sqlite" else 8
        limiter.total_tokens = threads
        # Load the knowledge base before the first request (uvicorn serves once this is done),
        # so that no user waits for it.
        await anyio.to_thread.run_sync(knowledge.default)
        hub = NotificationHub(platform.engine)
        await hub.start()
        _app.state.notification_hub = hub
        jobs_runner = await _start_jobs(platform)
        try:
            yield
        finally:
            await jobs_runner.stop()
            await hub.stop()
            _app.state.notification_hub = None
            platform.dispose()

    app = FastAPI(
        title="openpat",
        version=__version__,
        summary="Psychedelic-assisted therapy research and clinics: JSON API",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.platform = platform
    app.state.methods = MethodTable(app)
    install_error_handlers(app)
    app.add_middleware(RefuseNul)
    app.add_middleware(AnswerOptions, table=app.state.methods)
    app.add_middleware(SecurityHeaders)
    app.state.metrics = Metrics()
    app.state.route_names = RouteNames(app)
    app.add_middleware(Observe, metrics=app.state.metrics, routes=app.state.route_names)

    from swagger_ui_bundle import swagger_ui_path

    app.mount("/static/swagger", StaticFiles(directory=swagger_ui_path), name="swagger")
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    app.include_router(system.router)
    for api in (
        auth_api,
        studies_api,
        participants_api,
        audit_api,
        users_api,
        knowledge_api,
        screening_api,
        pharmacology_api,
        outcomes_api,
        trial_api,
        jobs_api,
    ):
        app.include_router(api.router, prefix="/api/v1", responses=API_ERROR_RESPONSES)
    app.include_router(studies_api.sites_router, prefix="/api/v1", responses=API_ERROR_RESPONSES)
    app.include_router(jobs_api.messages_router, prefix="/api/v1", responses=API_ERROR_RESPONSES)
    for pages in (
        auth_pages,
        study_pages,
        participant_pages,
        knowledge_pages,
        screening_pages,
        pharmacology_pages,
        outcome_pages,
        trial_pages,
        admin,
        me,
    ):
        app.include_router(pages.router)
    app.include_router(admin.job_router)
    return app


def create_served_app() -> FastAPI:
    """The app as ``openpat serve --workers N`` builds it in each worker process: settings
    from the environment, JSON logs."""
    from openpat.web.observe import configure_logging

    settings = load_settings()
    configure_logging(settings.log_level)
    return create_app(settings)
