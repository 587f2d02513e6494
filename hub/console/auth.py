"""Logging in and out, and the language switch."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from starlette.concurrency import run_in_threadpool

from hub.console import audit
from hub.console.i18n import language
from hub.console.operators import Verdict
from hub.console.sessions import LANG_COOKIE
from hub.console.web import Ctx, context, form, redirect, refused, render, safe_next

router = APIRouter(include_in_schema=False)


@router.get("/")
async def home(ctx: Ctx = Depends(context)) -> Response:
    return redirect(ctx, "/overview" if ctx.operator else "/login")


@router.get("/login")
async def login_page(next: str = "", ctx: Ctx = Depends(context)) -> Response:
    if ctx.operator is not None:
        return redirect(ctx, safe_next(next))
    return render(ctx, "login.html", next=safe_next(next), error=None)


@router.post("/login")
async def login(ctx: Ctx = Depends(context)) -> Response:
    data = await form(ctx)
    if data is None:
        return refused(ctx)
    username = data.get("username", "").strip().lower()[:64]
    password = data.get("password", "")
    decision, operator = await run_in_threadpool(ctx.console.operators.authenticate, username, password)
    known = decision.verdict is not Verdict.UNKNOWN
    await run_in_threadpool(
        audit.record,
        ctx.engine,
        audit.Action(
            username if known else "(unknown)",
            "login",
            "ok" if operator else "refused",
            detail=None if operator else decision.verdict.value,
            remote_addr=ctx.remote_addr,
        ),
    )
    if decision.locked_now:
        lock = audit.Action(username, "lockout", "ok", detail=f"until {decision.locked_until:%Y-%m-%dT%H:%M:%SZ}")
        await run_in_threadpool(audit.record, ctx.engine, lock)
    if operator is None:
        key = "login.locked" if decision.verdict is Verdict.LOCKED or decision.locked_now else "login.failed"
        return render(ctx, "login.html", 401, next=safe_next(data.get("next")), error=ctx.t(key), username=username)
    ctx.session, ctx.operator, ctx.dirty = ctx.session.logged_in(operator.id, operator.session_epoch), operator, True
    return redirect(ctx, safe_next(data.get("next")))


@router.post("/logout")
async def logout(ctx: Ctx = Depends(context)) -> Response:
    data = await form(ctx)
    if data is None:
        return refused(ctx)
    if ctx.operator is not None:
        action = audit.Action(ctx.operator.username, "logout", "ok", remote_addr=ctx.remote_addr)
        await run_in_threadpool(audit.record, ctx.engine, action)
    ctx.session, ctx.operator, ctx.dirty = type(ctx.session).anonymous(), None, True
    return redirect(ctx, "/login")


@router.post("/lang")
async def switch_language(ctx: Ctx = Depends(context)) -> Response:
    data = await form(ctx)
    if data is None:
        return refused(ctx)
    response = redirect(ctx, safe_next(data.get("next")))
    response.set_cookie(
        LANG_COOKIE, language(data.get("lang")), max_age=365 * 86400, samesite="strict", path=ctx.base or "/"
    )
    return response
