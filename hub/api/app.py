"""The api process: ingress, trace/operator API, health, metrics, OpenAPI docs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

import connectors
from hub.api import ingress, payments, reports, subscriptions, trace
from hub.api.citizens import router as citizens_router
from hub.api.errors import describe
from hub.api.limits import BodySizeLimit
from hub.bootstrap import Hub
from hub.canonical import DossierStatusChange
from hub.clients import Authenticator
from hub.pipeline import Pipeline
from hub.publisher import Publisher

log = structlog.get_logger("hub.api")

DESCRIPTION = """
LGSP Hub: one-stop systems publish dossier status changes here; the hub delivers them to the
National Public Service Portal (DVCQG), in order per dossier, with retries, and never loses
an accepted (202) message. Authenticate with `X-API-Key`. Trace any message or dossier.
"""


def create_app(hub: Hub, *, pipeline: bool | None = None) -> FastAPI:
    """``pipeline``: also run the relay and a worker in this process (default: when the
    transport is in-process, since nothing else could then deliver)."""
    run_pipeline = hub.settings.embedded if pipeline is None else pipeline

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pipe = Pipeline(hub) if run_pipeline else None
        if pipe:
            pipe.start()
            log.info("api.pipeline_started", transport="in-process" if hub.settings.embedded else "rabbitmq")
        app.state.pipeline = pipe
        if hub.settings.api_publishes:
            prepare = pipe.ensure_topology if pipe else (lambda: hub.transport.setup(connectors.bindings()))
            app.state.publisher = Publisher(hub.ledger, hub.transport, prepare).start()
        yield
        if app.state.publisher:
            app.state.publisher.close()
        if pipe:
            pipe.stop()

    app = FastAPI(title="LGSP Hub", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    app.state.hub = hub
    app.state.publisher = None  # set while the app runs (lifespan)
    app.state.authenticator = Authenticator(hub.engine)
    app.include_router(ingress.router)
    app.include_router(trace.router)
    app.include_router(payments.router)
    app.include_router(subscriptions.router)
    app.include_router(citizens_router)
    app.include_router(reports.router)
    app.add_middleware(BodySizeLimit, max_bytes=hub.settings.max_body_bytes)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"error": "validation_failed", "errors": describe(exc.errors())})

    @app.get("/healthz", tags=["ops"], summary="Liveness")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"], summary="Readiness: the database answers")
    async def readyz() -> JSONResponse:
        def ping() -> None:
            with hub.engine.connect() as c:
                c.execute(text("SELECT 1"))

        try:
            await run_in_threadpool(ping)
        except Exception as exc:
            return JSONResponse(status_code=503, content={"status": "unavailable", "database": type(exc).__name__})
        return JSONResponse({"status": "ready"})

    @app.get("/metrics", tags=["ops"], include_in_schema=False)
    async def metrics() -> PlainTextResponse:
        return PlainTextResponse(generate_latest().decode(), media_type=CONTENT_TYPE_LATEST)

    _add_schema(app)
    return app


def _add_schema(app: FastAPI) -> None:
    """Put the canonical model into the OpenAPI components (the ingress reads raw JSON)."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        defs = DossierStatusChange.model_json_schema(ref_template="#/components/schemas/{model}")
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(defs.pop("$defs", {}))
        components["DossierStatusChange"] = defs
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
