"""The console's action pages: Partners (health, hold and resume), edit and replay, bulk replay
(dry run, run, progress), Clients (create, rotate, disable, enable). Each action goes through
``operations.py``, which the admin API and the CLI use too, and is audited there."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Response
from starlette.concurrency import run_in_threadpool

from hub.console import bulk, operations, queries
from hub.console.operations import ActionRefused, Actor
from hub.console.pages import MESSAGE_ID, _when
from hub.console.web import Ctx, allowed, context, form, redirect, refused, render
from hub.envelope import utcnow
from hub.ledger import NotFound
from hub.ledger.edits import InvalidPayload

router = APIRouter(include_in_schema=False)


def actor(ctx: Ctx) -> Actor:
    return Actor(ctx.actor(), ctx.remote_addr)


@router.get("/partners")
async def partners_page(ctx: Ctx = Depends(context)) -> Response:
    if (no := allowed(ctx, "viewer")) is not None:
        return no
    return await _partners(ctx)


async def _partners(ctx: Ctx, status: int = 200, error: str = "") -> Response:
    found = await run_in_threadpool(operations.partners, ctx.console.hub.ledger, ctx.console.connectors)
    done = ctx.request.query_params.get("done", "")
    connector = ctx.request.query_params.get("connector", "")
    n = ctx.request.query_params.get("n", "0")
    notice = ""
    if done in ("hold", "resume") and connector in ctx.console.connectors:
        notice = ctx.t(f"partners.done.{done}", connector=connector, n=n if n.isdigit() else "0")
    return render(ctx, "partners.html", status, partners=found, now=utcnow(), notice=notice, error=error)


@router.post("/partners/{connector}/{do}")
async def hold_or_resume(connector: str, do: str, ctx: Ctx = Depends(context)) -> Response:
    data = await form(ctx)
    if data is None:
        return refused(ctx)
    if (no := allowed(ctx, "operator")) is not None:
        return no
    if do not in ("hold", "resume"):
        return render(ctx, "error.html", 404, title=ctx.t("error.notfound.title"), text=ctx.t("error.notfound.title"))
    ledger, names = ctx.console.hub.ledger, ctx.console.connectors
    try:
        if do == "hold":
            await run_in_threadpool(operations.hold, ledger, names, connector, actor(ctx), data.get("reason"))
            n = 0
        else:
            n = await run_in_threadpool(operations.resume, ledger, names, connector, actor(ctx), data.get("reason"))
    except ActionRefused as exc:
        return await _partners(ctx, 422, str(exc))
    return redirect(ctx, f"/partners?done={do}&connector={connector}&n={n}")


@router.post("/messages/{message_id}/edit-replay")
async def edit_replay(message_id: str, ctx: Ctx = Depends(context)) -> Response:
    data = await form(ctx)
    if data is None:
        return refused(ctx)
    if (no := allowed(ctx, "operator")) is not None:
        return no
    msg = await run_in_threadpool(queries.message, ctx.engine, message_id) if MESSAGE_ID.match(message_id) else None
    if msg is None:
        return render(ctx, "error.html", 404, title=ctx.t("error.notfound.title"), text=ctx.t("message.notfound"))
    text, reason = data.get("payload", ""), data.get("reason", "")

    def again(**errors: object) -> Response:
        return render(ctx, "message.html", 422, msg=msg, notice="", edit_text=text, edit_reason=reason, **errors)

    ledger = ctx.console.hub.ledger
    try:
        new = await run_in_threadpool(operations.edit_replay, ledger, message_id, text, actor(ctx), reason)
    except InvalidPayload as exc:
        return again(edit_errors=exc.problems)
    except ActionRefused as exc:
        if exc.field == "reason":
            return again(edit_reason_error=ctx.t("replay.reason.rule", n=operations.MAX_REASON))
        return render(ctx, "message.html", 409, msg=msg, notice="not_replayable")
    except NotFound:
        return render(ctx, "error.html", 404, title=ctx.t("error.notfound.title"), text=ctx.t("message.notfound"))
    return redirect(ctx, f"/messages/{new}?notice=edited")


SELECTION = ("connector", "class_id", "type", "source", "agency", "since", "until")


def _selection(raw: dict[str, str]) -> bulk.Selection:
    return bulk.Selection(
        connector=raw.get("connector") or None,
        type=raw.get("type") or None,
        source=raw.get("source") or None,
        agency=raw.get("agency") or None,
        since=_when(raw.get("since")),
        until=_when(raw.get("until")),
        class_id=raw.get("class_id") or None,
    )


@router.get("/bulk")
async def bulk_dry_run(
    connector: str = Query(default="", max_length=64),
    class_id: str = Query(default="", max_length=32),
    type: str = Query(default="", max_length=100),
    source: str = Query(default="", max_length=64),
    agency: str = Query(default="", max_length=64),
    since: str = Query(default="", max_length=40),
    until: str = Query(default="", max_length=40),
    ctx: Ctx = Depends(context),
) -> Response:
    if (no := allowed(ctx, "operator")) is not None:
        return no
    raw = {"connector": connector, "class_id": class_id, "type": type, "source": source, "agency": agency}
    raw |= {"since": since, "until": until}
    return await _dry_page(ctx, raw)


async def _dry_page(ctx: Ctx, raw: dict[str, str], status: int = 200, error: str = "") -> Response:
    sel = _selection(raw)
    dry = None
    try:
        dry = await run_in_threadpool(bulk.dry_run, ctx.engine, sel)
    except ActionRefused as exc:
        error, status = error or str(exc), 422
    shown = {k: v for k, v in raw.items() if v}
    return render(ctx, "bulk.html", status, dry=dry, raw=raw, selection=shown, error=error, max=bulk.MAX_MESSAGES)


@router.post("/bulk")
async def bulk_run(ctx: Ctx = Depends(context)) -> Response:
    data = await form(ctx)
    if data is None:
        return refused(ctx)
    if (no := allowed(ctx, "operator")) is not None:
        return no
    raw = {k: data.get(k, "")[:100] for k in SELECTION}
    try:
        bid, _ = await run_in_threadpool(
            bulk.start, ctx.console.hub.ledger, _selection(raw), actor(ctx), data.get("reason")
        )
    except ActionRefused as exc:
        text = ctx.t("replay.reason.rule", n=operations.MAX_REASON) if exc.field == "reason" else str(exc)
        return await _dry_page(ctx, raw, 422, text)
    bulk.run_in_background(ctx.console.hub.ledger, bid, actor(ctx))
    return redirect(ctx, f"/bulk/{bid}")


@router.post("/bulk/{bulk_id}/resume")
async def bulk_resume(bulk_id: str, ctx: Ctx = Depends(context)) -> Response:
    """Resume an interrupted bulk replay: the items it had not done."""
    data = await form(ctx)
    if data is None:
        return refused(ctx)
    if (no := allowed(ctx, "operator")) is not None:
        return no
    if not MESSAGE_ID.match(bulk_id):
        return render(ctx, "error.html", 404, title=ctx.t("error.notfound.title"), text=ctx.t("bulk.notfound"))
    ledger = ctx.console.hub.ledger
    try:
        await run_in_threadpool(bulk.resume, ledger, bulk_id, actor(ctx), data.get("reason"))
    except ActionRefused as exc:
        job = await run_in_threadpool(bulk.status, ctx.engine, bulk_id)
        if job is None:
            return render(ctx, "error.html", 404, title=ctx.t("error.notfound.title"), text=ctx.t("bulk.notfound"))
        text = ctx.t("replay.reason.rule", n=operations.MAX_REASON) if exc.field == "reason" else str(exc)
        return render(ctx, "bulk_run.html", 422, job=job, error=text)
    bulk.run_in_background(ledger, bulk_id, actor(ctx))
    return redirect(ctx, f"/bulk/{bulk_id}")


@router.get("/bulk/{bulk_id}")
async def bulk_progress(bulk_id: str, ctx: Ctx = Depends(context)) -> Response:
    if (no := allowed(ctx, "operator")) is not None:
        return no
    job = await run_in_threadpool(bulk.status, ctx.engine, bulk_id) if MESSAGE_ID.match(bulk_id) else None
    if job is None:
        return render(ctx, "error.html", 404, title=ctx.t("error.notfound.title"), text=ctx.t("bulk.notfound"))
    return render(ctx, "bulk_run.html", job=job)


@router.get("/clients")
async def clients_page(ctx: Ctx = Depends(context)) -> Response:
    if (no := allowed(ctx, "operator")) is not None:
        return no
    done, code = ctx.request.query_params.get("done", ""), ctx.request.query_params.get("code", "")[:64]
    notice = ctx.t(f"clients.done.{done}", code=code) if done in ("disable", "enable") else ""
    return await _clients(ctx, notice=notice)


async def _clients(ctx: Ctx, status: int = 200, **values: object) -> Response:
    found = await run_in_threadpool(operations.list_clients, ctx.engine, utcnow())
    return render(ctx, "clients.html", status, clients=found, **values)


@router.post("/clients")
async def create_client(ctx: Ctx = Depends(context)) -> Response:
    data = await form(ctx)
    if data is None:
        return refused(ctx)
    if (no := allowed(ctx, "admin")) is not None:
        return no
    code, grants = data.get("code", "").strip(), data.get("grants", "").replace(",", " ").split()
    try:
        key = await run_in_threadpool(
            operations.create_client,
            ctx.engine,
            code,
            data.get("name", "").strip()[:200],
            grants,
            actor(ctx),
            data.get("reason"),
        )
    except ActionRefused as exc:
        return await _clients(ctx, 422, error=str(exc))
    ctx.console.forget_keys()
    return await _clients(ctx, new_key=key, new_key_for=code)  # shown this once, never in a URL


@router.post("/clients/{code}/{do}")
async def client_action(code: str, do: str, ctx: Ctx = Depends(context)) -> Response:
    data = await form(ctx)
    if data is None:
        return refused(ctx)
    if (no := allowed(ctx, "admin")) is not None:
        return no
    if do not in ("rotate", "disable", "enable"):
        return render(ctx, "error.html", 404, title=ctx.t("error.notfound.title"), text=ctx.t("error.notfound.title"))
    reason = data.get("reason")
    try:
        if do == "rotate":
            hours = data.get("grace_hours", "24")
            grace = int(hours) * 3600 if hours.isdigit() else -1
            key = await run_in_threadpool(operations.rotate_client, ctx.engine, code, grace, actor(ctx), reason)
            ctx.console.forget_keys()
            return await _clients(ctx, new_key=key, new_key_for=code)
        disabled = do == "disable"
        await run_in_threadpool(operations.set_client_disabled, ctx.engine, code, disabled, actor(ctx), reason)
    except ActionRefused as exc:
        return await _clients(ctx, 422, error=str(exc))
    ctx.console.forget_keys()
    return redirect(ctx, f"/clients?done={do}&code={quote(code)}")
