"""The console's Reports page (Báo cáo): the reports of ``hub/reports.py`` (the same registry as
``lgsp reports`` and ``GET /v1/reports``) over days of the province's time zone, as a table and as
a CSV download. Reports hold counts per agency, partner and day, never personal data: viewers may
read them."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Response
from starlette.concurrency import run_in_threadpool

from hub import reports
from hub.console.web import Ctx, allowed, context, render

router = APIRouter(include_in_schema=False)
DEFAULT_DAYS = 7
MAX_DAYS = 366


def _day(value: str, fallback: date) -> date | None:
    if not value:
        return fallback
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


async def _run(ctx: Ctx, name: str, window: reports.Window) -> reports.Table:
    return await run_in_threadpool(reports.run, ctx.engine, name, window, ctx.console.hub.settings.report_timezone)


def _window(ctx: Ctx, since: str, until: str) -> tuple[reports.Window | None, str | None, dict[str, str]]:
    """The days [since, until] (both included) in the province's zone; an error text when they are not days
    or not in order."""
    tz = ZoneInfo(ctx.console.hub.settings.report_timezone)
    today = datetime.now(tz).date()
    first, last = _day(since, today - timedelta(days=DEFAULT_DAYS - 1)), _day(until, today)
    form = {"since": first.isoformat() if first else since, "until": last.isoformat() if last else until}
    if first is None or last is None:
        return None, ctx.t("reports.error.day"), form
    if last < first or (last - first).days >= MAX_DAYS:
        return None, ctx.t("reports.error.range", days=MAX_DAYS), form
    start = datetime.combine(first, time(), tz)
    end = datetime.combine(last + timedelta(days=1), time(), tz)
    return reports.Window.of(start, end), None, form


@router.get("/reports")
async def reports_page(
    name: str = Query(default="exchanges", max_length=40),
    since: str = Query(default="", max_length=10),
    until: str = Query(default="", max_length=10),
    ctx: Ctx = Depends(context),
) -> Response:
    if (no := allowed(ctx, "viewer")) is not None:
        return no
    if name not in reports.REPORTS:
        name = "exchanges"
    window, error, form = _window(ctx, since, until)
    table = await _run(ctx, name, window) if window is not None else None
    query = urlencode({"name": name, **form})
    return render(
        ctx,
        "reports.html",
        422 if error else 200,
        names=list(reports.REPORTS),
        name=name,
        form=form,
        error=error,
        table=table,
        query=query,
    )


@router.get("/reports.csv")
async def reports_csv(
    name: str = Query(default="exchanges", max_length=40),
    since: str = Query(default="", max_length=10),
    until: str = Query(default="", max_length=10),
    ctx: Ctx = Depends(context),
) -> Response:
    if (no := allowed(ctx, "viewer")) is not None:
        return no
    window, error, form = _window(ctx, since, until)
    if name not in reports.REPORTS or window is None:
        return Response(error or ctx.t("reports.error.name"), status_code=422, media_type="text/plain; charset=utf-8")
    table = await _run(ctx, name, window)
    filename = f"lgsp-{name}-{form['since']}-{form['until']}.csv"
    return Response(
        reports.to_csv(table),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
