"""The app factory: ``create_app(settings) -> FastAPI``.

    uvicorn --factory rootcause.service.app:create_app      # or: rootcause serve

Nothing happens at import. ``create_app`` builds the settings (from ``ROOTCAUSE_*``) unless
given, the database handle (no connection yet) and the app; start-up loads the engine and
applies migrations (when ``auto_migrate``). A database that is down at start-up does not stop
the service: /v1/ready reports 503 and migrations are retried on the next database request.
"""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from threadpoolctl import threadpool_limits

from rootcause.engine.assess import Engine
from rootcause.service.middleware import BodyLimitMiddleware, RequestContextMiddleware
from rootcause.service.openapi import build_openapi
from rootcause.service.problems import install_problem_handlers
from rootcause.service.routes import ROUTERS
from rootcause.service.settings import Settings
from rootcause.service.state import ServiceState
from rootcause.storage import DatabaseUnavailable
from rootcause.web import install as install_web

log = logging.getLogger("rootcause.service")

DESCRIPTION = """\
Decision support for leg pain after lumbar spine surgery: a ranked, explained differential,
triage, next steps and treatment options, for one case, a batch, or a stored patient followed
over time.

**Supports clinical decisions; does not make them.**

Authenticate with an API key: `X-API-Key: rc_…` or `Authorization: Bearer rc_…`.
Errors are `application/problem+json` with an `errors` list naming each bad field.
"""

TAGS = [
    {"name": "assess", "description": "Assess cases; nothing is stored."},
    {"name": "knowledge", "description": "The knowledge base the engine runs on (read-only)."},
    {"name": "patients", "description": "Stored patients, pain scores and assessments (audited)."},
    {"name": "interviews", "description": "The adaptive interview, one question at a time."},
    {"name": "admin", "description": "Organisations, API keys and the audit log (admin keys)."},
    {"name": "cds-hooks", "description": "CDS Hooks 2.0 for EHRs (a signed JWT, not an API key)."},
    {"name": "account", "description": "The calling key."},
    {"name": "health", "description": "Liveness and readiness (no key needed)."},
]


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> FastAPI:
    """Build the service. ``engine`` lets tests share one loaded engine between apps."""
    settings = settings or Settings()
    state = ServiceState(settings, engine)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        with contextlib.ExitStack() as stack:
            if settings.blas_threads:
                # many small matrix products from concurrent requests: extra BLAS threads only
                # fight the event loop and the other workers for the CPUs
                stack.enter_context(threadpool_limits(limits=settings.blas_threads, user_api="blas"))
            await run_in_threadpool(lambda: state.engine)
            # the knowledge base and model are long-lived: keep them out of every later
            # garbage collection, so a full collection does not stall requests
            gc.collect()
            gc.freeze()
            if settings.gc_threshold:
                default = gc.get_threshold()
                gc.set_threshold(settings.gc_threshold, *default[1:])
                stack.callback(gc.set_threshold, *default)
            try:
                await run_in_threadpool(state.migrate)
            except DatabaseUnavailable:
                log.warning("database unavailable at start-up; /v1/ready will say so until it returns")
            yield
            state.database.dispose()

    app = FastAPI(
        title="rootcause",
        version=state.software_version,
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
        docs_url="/docs" if settings.docs_enabled else None,
        redoc_url="/redoc" if settings.docs_enabled else None,
        openapi_url="/openapi.json" if settings.docs_enabled else None,
    )
    app.state.rootcause = state
    install_problem_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    install_web(app)  # the web app: pages at /, static files at /static (docs/web.md)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContextMiddleware)

    def openapi() -> dict[str, Any]:
        return build_openapi(app)

    app.openapi = openapi  # type: ignore[method-assign]
    return app
