"""Reports for the province and the ministry (grant ``admin``): ``GET /v1/reports/{name}`` as JSON or CSV."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.responses import PlainTextResponse
from pydantic import AwareDatetime
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from hub import reports
from hub.api.deps import get_client, get_engine, get_settings, require
from hub.api.openapi import errors
from hub.clients import ADMIN, Client
from hub.settings import Settings

router = APIRouter(prefix="/v1/reports", tags=["reports"])


@router.get(
    "", summary="The reports available (operator)", responses=errors(403, _403="The client is not granted `admin`")
)
async def list_reports(client: Client = Depends(get_client)) -> dict[str, Any]:
    require(ADMIN, client)
    return {"reports": [{"name": n, "title": r.title, "columns": list(r.columns)} for n, r in reports.REPORTS.items()]}


@router.get(
    "/{name}",
    summary="One report over [since, until): exchanges, portal_sync, payments (operator)",
    responses={
        200: {"content": {"text/csv": {}}, "description": "JSON (default) or CSV (format=csv)"},
        **errors(403, 404, _403="The client is not granted `admin`", _404="No such report"),
    },
)
async def get_report(
    name: str = Path(max_length=40),
    since: AwareDatetime = Query(description="From, inclusive (ISO 8601 with zone)"),
    until: AwareDatetime = Query(description="Before (ISO 8601 with zone)"),
    format: str = Query(default="json", pattern="^(json|csv)$"),
    engine: Engine = Depends(get_engine),
    settings: Settings = Depends(get_settings),
    client: Client = Depends(get_client),
) -> Any:
    require(ADMIN, client)
    if name not in reports.REPORTS:
        raise HTTPException(status_code=404, detail={"error": "not_found", "message": f"no report {name!r}"})
    try:
        window = reports.Window.of(since, until)
    except ValueError as exc:
        raise HTTPException(status_code=422, detail={"error": "validation_failed", "message": str(exc)}) from None
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
