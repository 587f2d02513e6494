"""The console's pages: Overview, Failures (groups, one group), Message (and replaying it),
Dossier, Audit. They read through ``queries.py``; the one action here, replaying a dead
message, goes through ``Ledger.replay`` and is audited."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Response
from starlette.concurrency import run_in_threadpool

from hub.console import audit, bulk, queries
from hub.console.web import Ctx, allowed, context, form, redirect, refused, render
from hub.envelope import utcnow
from hub.ledger import NotFound, NotReplayable
from hub.ledger.holds import PartnerHolds, circuits

router = APIRouter(include_in_schema=False)
MESSAGE_ID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
MAX_REASON = 500


def _when(value: str | None) -> datetime | None:
    """A filter's date or date-time (from an <input type=datetime-local>, province time)."""
    if not value:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    from hub.canonical import VN_TZ

    return (at.replace(tzinfo=VN_TZ) if at.tzinfo is None else at).astimezone(UTC)


def _filters(connector: str, type: str, source: str, agency: str, state: str, since: str, until: str) -> Any:
    return queries.FailureFilters(
        connector=connector or None,
        type=type or None,
        source=source or None,
        agency=agency or None,
        state=state if state in ("dead", "retrying") else None,
        since=_when(since),
        until=_when(until),
    )


@router.get("/overview")
async def overview(ctx: Ctx = Depends(context)) -> Response:
    if (no := allowed(ctx, "viewer")) is not None:
        return no
    data = await run_in_threadpool(queries.overview, ctx.engine, ctx.console.connectors, utcnow())
    ledger = ctx.console.hub.ledger
    circuit = {k: str(v["state"]) for k, v in (await run_in_threadpool(circuits, ledger)).items()}
    held = await run_in_threadpool(PartnerHolds(ledger).holds)
    charts = {
        h.connector: json.dumps(
            {"x": [int(x.timestamp()) for x in data.hours], "series": h.hourly, "labels": _series_labels(ctx)}
        )
        for h in data.connectors
    }
    return render(ctx, "overview.html", data=data, charts=charts, circuit=circuit, held=held)


def _series_labels(ctx: Ctx) -> dict[str, str]:
    return {s: ctx.t(f"series.{s}") for s in queries.SERIES}


@router.get("/failures")
async def failures(
    connector: str = "",
    type: str = "",
    source: str = "",
    agency: str = "",
    state: str = "",
    since: str = "",
    until: str = "",
    ctx: Ctx = Depends(context),
) -> Response:
    if (no := allowed(ctx, "viewer")) is not None:
        return no
    raw = {"connector": connector, "type": type, "source": source, "agency": agency, "state": state}
    raw |= {"since": since, "until": until}
    f = _filters(**raw)
    groups = await run_in_threadpool(queries.failure_groups, ctx.engine, f)
    runs = await run_in_threadpool(bulk.unfinished, ctx.engine)
    query = urlencode({k: v for k, v in raw.items() if v})
    shown: dict[str, Any] = {"groups": groups, "form": raw, "query": query, "runs": runs}
    return render(ctx, "failures.html", connectors=ctx.console.connectors, **shown)


@router.get("/failures/{connector}/{class_id}")
async def failure_group(
    connector: str,
    class_id: str,
    type: str = "",
    source: str = "",
    agency: str = "",
    state: str = "",
    since: str = "",
    until: str = "",
    after: str = Query(default="", max_length=80),
    ctx: Ctx = Depends(context),
) -> Response:
    if (no := allowed(ctx, "viewer")) is not None:
        return no
    raw = {"type": type, "source": source, "agency": agency, "state": state, "since": since, "until": until}
    f = _filters(connector="", **raw)
    page = await run_in_threadpool(queries.group_messages, ctx.engine, connector, class_id, f, after or None)
    if page.group is None:
        return render(ctx, "error.html", 404, title=ctx.t("error.notfound.title"), text=ctx.t("group.empty"))
    query = urlencode({k: v for k, v in raw.items() if v})
    return render(ctx, "group.html", page=page, connector=connector, class_id=class_id, query=query)


@router.get("/messages/{message_id}")
async def message(message_id: str, ctx: Ctx = Depends(context)) -> Response:
    if (no := allowed(ctx, "viewer")) is not None:
        return no
    msg = await run_in_threadpool(queries.message, ctx.engine, message_id) if MESSAGE_ID.match(message_id) else None
    if msg is None:
        return render(ctx, "error.html", 404, title=ctx.t("error.notfound.title"), text=ctx.t("message.notfound"))
    notice = ctx.request.query_params.get("notice", "")
    return render(
        ctx, "message.html", msg=msg, notice=notice if notice in ("replayed", "not_replayable", "edited") else ""
    )


@router.post("/messages/{message_id}/replay")
async def replay(message_id: str, ctx: Ctx = Depends(context)) -> Response:
    data = await form(ctx)
    if data is None:
        return refused(ctx)
    if (no := allowed(ctx, "operator")) is not None:
        if ctx.operator is not None:  # logged in, but not allowed: that too is recorded
            await _audit_replay(ctx, message_id[:26], data.get("reason", "")[:MAX_REASON], "refused", "role")
        return no
    assert ctx.operator is not None
    if not MESSAGE_ID.match(message_id):
        return render(ctx, "error.html", 404, title=ctx.t("error.notfound.title"), text=ctx.t("message.notfound"))
    reason = " ".join(data.get("reason", "").split())
    if not 3 <= len(reason) <= MAX_REASON:
        msg = await run_in_threadpool(queries.message, ctx.engine, message_id)
        if msg is None:
            return render(ctx, "error.html", 404, title=ctx.t("error.notfound.title"), text=ctx.t("message.notfound"))
        return render(
            ctx, "message.html", 422, msg=msg, notice="", reason_error=ctx.t("replay.reason.rule", n=MAX_REASON)
        )
    outcome, detail, notice = "ok", "queued with a fresh retry budget", "replayed"
    try:
        await run_in_threadpool(ctx.console.hub.ledger.replay, message_id, f"operator:{ctx.operator.username}")
    except NotFound:
        outcome, detail, notice = "refused", "no such message", ""
    except NotReplayable as exc:
        outcome, detail, notice = "refused", str(exc), "not_replayable"
    except Exception as exc:
        outcome, detail = "error", type(exc).__name__
        await _audit_replay(ctx, message_id, reason, outcome, detail)
        raise
    await _audit_replay(ctx, message_id, reason, outcome, detail)
    if not notice:
        return render(ctx, "error.html", 404, title=ctx.t("error.notfound.title"), text=ctx.t("message.notfound"))
    return redirect(ctx, f"/messages/{message_id}?notice={notice}")


async def _audit_replay(ctx: Ctx, message_id: str, reason: str, outcome: str, detail: str) -> None:
    assert ctx.operator is not None
    action = audit.Action(ctx.operator.username, "message.replay", outcome, message_id, reason, detail, ctx.remote_addr)
    await run_in_threadpool(audit.record, ctx.engine, action)


@router.get("/find")
async def find(q: str = Query(default="", max_length=120), ctx: Ctx = Depends(context)) -> Response:
    if (no := allowed(ctx, "viewer")) is not None:
        return no
    q = q.strip()
    if MESSAGE_ID.match(q.upper()):
        return redirect(ctx, f"/messages/{q.upper()}")
    return redirect(ctx, "/dossiers?" + urlencode({"code": q}) if q else "/dossiers")


@router.get("/dossiers")
async def dossier(code: str = Query(default="", max_length=100), ctx: Ctx = Depends(context)) -> Response:
    if (no := allowed(ctx, "viewer")) is not None:
        return no
    code = code.strip()
    found = await run_in_threadpool(queries.dossier, ctx.engine, code) if code else None
    status = 404 if code and found is None else 200
    now = utcnow()
    return render(ctx, "dossier.html", status, code=code, d=found, now=now)


@router.get("/audit")
async def audit_page(
    operator: str = Query(default="", max_length=64),
    action: str = Query(default="", max_length=32),
    target: str = Query(default="", max_length=200),
    text: str = Query(default="", max_length=100),
    since: str = "",
    until: str = "",
    before: int | None = None,
    ctx: Ctx = Depends(context),
) -> Response:
    if (no := allowed(ctx, "operator")) is not None:
        return no
    f = audit.Filters(
        operator=operator or None,
        action=action or None,
        target=target or None,
        text=text or None,
        since=_when(since),
        until=_when(until),
        before_id=before,
    )
    rows = await run_in_threadpool(audit.search, ctx.engine, f)
    raw = {"operator": operator, "action": action, "target": target, "text": text, "since": since, "until": until}
    query = urlencode({k: v for k, v in raw.items() if v})
    more = rows[-1]["id"] if len(rows) == f.limit else None
    return render(ctx, "audit.html", rows=rows, form=raw, actions=audit.ACTIONS, query=query, more=more)
