"""The api process: ingress, trace/operator API, health, metrics, OpenAPI docs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from hub import console, opsdata
from hub.api import admin, agencies, openapi, operations, reports, trace
from hub.api.bodies import HubRoute
from hub.api.deps import database_unavailable
from hub.api.errors import describe
from hub.api.limits import RequestLimits
from hub.api.problems import ProblemError, field_error, problem
from hub.canonical import DossierStatusChange
from hub.citizens import api as citizens_api
from hub.citizens.api import router as citizens_router
from hub.clients import Authenticator
from hub.dossiers import api as ingress
from hub.payments import api as payments
from hub.pipeline import Pipeline
from hub.postal import api as postal
from hub.postal.admin import router as waybills_router
from hub.publisher import Publisher
from hub.services import Hub
from hub.subscriptions import api as subscriptions

log = structlog.get_logger("hub.api")

DESCRIPTION = """
LGSP Hub: one-stop systems publish dossier status changes here; the hub delivers them to the
National Public Service Portal (DVCQG), in order per dossier, with retries, and never loses
an accepted (202) message. Authenticate with `X-API-Key` (or `Authorization: Bearer`).
Trace any message or dossier.

Every error of this API is problem details (RFC 9457, `application/problem+json`): `type`
(`urn:lgsp:problem:<code>`), `title`, `status`, `detail`, and `errors` (`[{field, rule, message}]`).
The payment gateways' callbacks answer in each gateway's own format.
"""
STATUS_TEXT = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
}


class Health(BaseModel):
    status: str = Field(description="`ok` (liveness) or `ready` (readiness).", examples=["ok"])


def create_app(hub: Hub, *, pipeline: bool | None = None) -> FastAPI:
    """The api over what the composition root built (``hub.bootstrap.bootstrap``); routes take their
    services from ``app.state.hub`` through ``hub.api.deps``. ``pipeline``: also run the relay and a
    worker in this process (default: when the transport is in-process, since nothing else could
    then deliver)."""
    run_pipeline = hub.settings.embedded if pipeline is None else pipeline

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pipe = Pipeline(hub) if run_pipeline else None
        if pipe:
            pipe.start()
            log.info("api.pipeline_started", transport="in-process" if hub.settings.embedded else "rabbitmq")
        app.state.pipeline = pipe
        if hub.settings.api_publishes:
            prepare = pipe.ensure_topology if pipe else (lambda: hub.transport.setup(hub.routing.bindings()))
            app.state.publisher = Publisher(hub.ledger, hub.transport, prepare).start()
        yield
        if app.state.publisher:
            app.state.publisher.close()
        if pipe:
            pipe.stop()

    app = FastAPI(
        title="LGSP Hub", version="0.1.0", description=DESCRIPTION, lifespan=lifespan, docs_url=None, redoc_url=None
    )
    app.router.route_class = HubRoute
    app.state.hub = hub
    opsdata.watch(hub.engine, hub.routing.names, hub.transport)  # the backlog gauges of /metrics
    app.state.publisher = None  # set while the app runs (lifespan)
    app.state.authenticator = Authenticator(hub.engine, ttl=hub.settings.auth_cache_seconds)
    for router in (ingress.router, trace.router, payments.router, postal.router, subscriptions.router, citizens_router):
        app.include_router(router)
    app.include_router(admin.router)
    app.include_router(agencies.router)
    app.include_router(waybills_router)  # hub/postal/admin.py
    app.include_router(operations.router)
    app.include_router(reports.router)
    app.include_router(_ops(hub))
    app.add_middleware(
        RequestLimits,
        max_bytes=hub.settings.max_body_bytes,
        body_timeout=hub.settings.body_timeout,
        exempt_prefixes=(payments.CALLBACKS,),
    )
    console.install(app, hub)  # /console, and /docs + /redoc served offline
    _handlers(app, hub)
    openapi.install(app, _extend_schema)
    return app


def _handlers(app: FastAPI, hub: Hub) -> None:
    retry_after = hub.settings.database_retry_after

    @app.exception_handler(ProblemError)
    async def _problem(_: Request, exc: ProblemError) -> Response:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        if any(e["type"] == "json_invalid" for e in errors):
            error = field_error("(body)", "syntax", "the body is not valid JSON")
            return problem("malformed_json", "the body is not valid JSON", errors=[error])
        return problem("validation_failed", "the request is invalid", errors=describe(errors))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> Response:
        code = STATUS_TEXT.get(exc.status_code, "internal_error" if exc.status_code >= 500 else "bad_request")
        detail = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        return problem(code, detail, status=exc.status_code, headers=exc.headers)

    async def _database(request: Request, exc: Exception) -> Response:
        if not database_unavailable(exc):
            raise exc
        cause = type(getattr(exc, "orig", None) or exc).__name__
        # a fresh logger: the line goes where logging is configured now (an error path, not a hot one)
        structlog.get_logger("hub.api").warning(
            "api.database_unavailable", method=request.method, path=request.url.path, error=cause
        )
        return problem(
            "database_unavailable",
            f"the hub's database cannot be reached; nothing was done: retry after {retry_after} s",
            retry_after=retry_after,
        )

    app.add_exception_handler(sa_exc.DBAPIError, _database)
    app.add_exception_handler(sa_exc.TimeoutError, _database)

    @app.exception_handler(Exception)
    async def _internal(_: Request, exc: Exception) -> Response:  # a bug: the traceback is logged too
        return problem("internal_error", "the hub failed to answer this request; it is logged")


def _ops(hub: Hub) -> APIRouter:
    router = APIRouter(tags=["ops"], route_class=HubRoute)

    @router.get("/healthz", summary="Liveness", response_model=Health)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary="Readiness: the database answers",
        response_model=Health,
        responses=openapi.errors(503, _503="The database does not answer"),
    )
    async def readyz() -> dict[str, str]:
        def ping() -> None:
            with hub.engine.connect() as c:
                c.execute(text("SELECT 1"))

        await run_in_threadpool(ping)  # a database out of reach: 503 by the handler
        return {"status": "ready"}

    @router.get("/metrics", include_in_schema=False)
    async def metrics() -> PlainTextResponse:
        return PlainTextResponse(generate_latest().decode(), media_type=CONTENT_TYPE_LATEST)

    return router


def _extend_schema(schema: dict[str, Any]) -> None:
    """Put the canonical model into the OpenAPI components (the ingress reads raw JSON)."""
    defs = DossierStatusChange.model_json_schema(ref_template="#/components/schemas/{model}")
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(defs.pop("$defs", {}))
    components["DossierStatusChange"] = defs
    payments.extend_schema(schema)
    postal.extend_schema(schema)
    citizens_api.extend_schema(schema)
