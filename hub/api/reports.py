"""Reports for the province and the ministry (grant ``admin``): ``GET /v1/reports/{name}`` as JSON or CSV."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from hub import reports
from hub.api.bodies import HubRoute
from hub.api.deps import get_client, get_engine, get_settings, require
from hub.api.openapi import errors
from hub.api.problems import ProblemError, field_error
from hub.citizens.models import Since
from hub.clients import ADMIN, Client
from hub.settings import Settings

router = APIRouter(prefix="/v1/reports", tags=["reports"], route_class=HubRoute)
NAME = r"^[a-z_]{1,40}$"


class ReportInfo(BaseModel):
    name: str = Field(examples=["portal_sync"])
    title: str
    columns: list[str]


class ReportList(BaseModel):
    reports: list[ReportInfo]


class ReportTable(BaseModel):
    report: str = Field(examples=["portal_sync"])
    since: str = Field(description="From, inclusive (ISO 8601).")
    until: str = Field(description="Before (ISO 8601).")
    columns: list[str]
    rows: list[dict[str, Any]] = Field(description="One object per row, keyed by the columns.")


@router.get("", summary="The reports available (operator)", response_model=ReportList, responses=errors(403))
async def list_reports(client: Client = Depends(get_client)) -> dict[str, Any]:
    require(ADMIN, client)
    return {"reports": [{"name": n, "title": r.title, "columns": list(r.columns)} for n, r in reports.REPORTS.items()]}


@router.get(
    "/{name}",
    summary="One report over [since, until): exchanges, portal_sync, payments, parcels (operator)",
    response_model=ReportTable,
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "JSON (default) or CSV"},
        **errors(403, 404, _404="No report of that name"),
    },
)
async def get_report(
    name: str = Path(pattern=NAME, examples=["portal_sync"]),
    since: Since = Query(description="From, inclusive (ISO 8601 with zone)"),
    until: Since = Query(description="Before (ISO 8601 with zone)"),
    format: str = Query(default="json", pattern="^(json|csv)$"),
    engine: Engine = Depends(get_engine),
    settings: Settings = Depends(get_settings),
    client: Client = Depends(get_client),
) -> Any:
    require(ADMIN, client)
    if name not in reports.REPORTS:
        raise ProblemError("not_found", f"no report {name!r}; GET /v1/reports lists them")
    try:
        window = reports.Window.of(since, until)
    except ValueError as exc:
        raise ProblemError("validation_failed", str(exc), errors=[field_error("until", "window", str(exc))]) from None
    table = await run_in_threadpool(reports.run, engine, name, window, settings.report_timezone)
    if format == "csv":
        return PlainTextResponse(reports.to_csv(table), media_type="text/csv; charset=utf-8")
    return {
        "report": name,
        "since": since.isoformat(),
        "until": until.isoformat(),
        "columns": list(table.columns),
        "rows": table.rows,
    }
