"""The console's plumbing: the sub-application mounted at /console, its security headers,
sessions, CSRF checks, roles, languages and template rendering. Pages are in ``pages.py`` and
``auth.py``."""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool

from hub.console import audit
from hub.console.i18n import LANGUAGES, Translator, language
from hub.console.operators import Operator, Operators
from hub.console.sessions import COOKIE, LANG_COOKIE, Session, SessionCodec
from hub.console.settings import ConsoleSettings

if TYPE_CHECKING:
    from hub.services import Database

log = logging.getLogger("hub.console")  # the standard library's: safe to call at app creation
HERE = Path(__file__).parent
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


@dataclass
class Console:
    """What every console request needs (one per mounted console)."""

    hub: Database  # the engine and the ledger, from the composition root
    settings: ConsoleSettings
    operators: Operators
    codec: SessionCodec
    templates: Environment
    connectors: Sequence[str]
    # forgets the api's cached client keys (set by ``install``): a disabled or rotated key stops at once here
    forget_keys: Callable[[], None] = lambda: None


@dataclass
class Ctx:
    """One request: its session, operator (if logged in), language and base path."""

    request: Request
    console: Console
    session: Session
    operator: Operator | None
    t: Translator
    base: str
    dirty: bool = False  # the session changed: send the cookie again

    @property
    def engine(self) -> Any:
        return self.console.hub.engine

    @property
    def remote_addr(self) -> str | None:
        return self.request.client.host if self.request.client else None

    def actor(self) -> str:
        return self.operator.username if self.operator else "(anonymous)"


def create_console(
    hub: Database,
    connectors: Sequence[str],
    settings: ConsoleSettings | None = None,
    operators: Operators | None = None,
) -> FastAPI:
    settings = settings or ConsoleSettings()
    secret = settings.secret_key.get_secret_value() if settings.secret_key else None
    if secret is None:
        secret = secrets.token_urlsafe(32)
        log.warning("console: HUB_CONSOLE_SECRET_KEY is not set; sessions end when this process stops")
    console = Console(
        hub=hub,
        settings=settings,
        operators=operators
        or Operators(hub.engine, max_failures=settings.max_failures, lockout_minutes=settings.lockout_minutes),
        codec=SessionCodec(secret, settings.idle_minutes * 60, settings.session_hours * 3600),
        templates=Environment(
            loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True), trim_blocks=True
        ),
        connectors=list(connectors),
    )
    app = FastAPI(title="LGSP Hub console", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.console = console
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.middleware("http")
    async def headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        if not request.url.path.startswith(request.scope.get("root_path", "") + "/static/"):
            response.headers["Cache-Control"] = "no-store"
        return response

    from hub.console import actions, auth, pages, reports

    app.include_router(auth.router)
    app.include_router(pages.router)
    app.include_router(actions.router)
    app.include_router(reports.router)
    return app


# ------------------------------------------------------------------ per request
async def context(request: Request) -> Ctx:
    console: Console = request.app.state.console
    session = console.codec.load(request.cookies.get(COOKIE))
    dirty = session is None
    session = session or Session.anonymous()
    operator = None
    if session.operator_id is not None:
        operator = await run_in_threadpool(console.operators.get, session.operator_id)
        if operator is None or operator.session_epoch != session.epoch:  # disabled, or password reset since
            operator, session, dirty = None, Session.anonymous(), True
    t = Translator(language(request.cookies.get(LANG_COOKIE)))
    return Ctx(request, console, session, operator, t, request.scope.get("root_path", ""), dirty or bool(operator))


def render(ctx: Ctx, template: str, status_code: int = 200, **values: Any) -> Response:
    page = ctx.console.templates.get_template(template).render(
        t=ctx.t,
        base=ctx.base,
        csrf=ctx.session.csrf,
        me=ctx.operator,
        lang=ctx.t.lang,
        languages=LANGUAGES,
        path=ctx.request.url.path,
        **values,
    )
    return finish(ctx, HTMLResponse(page, status_code=status_code))


def finish(ctx: Ctx, response: Response) -> Response:
    if ctx.dirty:
        secure = ctx.request.url.scheme == "https" or ctx.console.settings.cookie_secure
        response.set_cookie(
            COOKIE,
            ctx.console.codec.dump(ctx.session),
            httponly=True,
            samesite="strict",
            secure=secure,
            path=ctx.base or "/",
        )
    return response


def redirect(ctx: Ctx, to: str) -> Response:
    return finish(ctx, RedirectResponse(ctx.base + to, status_code=303))


def login_redirect(ctx: Ctx) -> Response:
    here = ctx.request.url.path.removeprefix(ctx.base) + (f"?{ctx.request.url.query}" if ctx.request.url.query else "")
    return redirect(ctx, "/login?next=" + quote(here, safe=""))


def allowed(ctx: Ctx, role: str) -> Response | None:
    """None when the operator may see this; otherwise the answer (login, or 403)."""
    if ctx.operator is None:
        return login_redirect(ctx)
    if not ctx.operator.may(role):
        return render(ctx, "error.html", 403, title=ctx.t("error.forbidden.title"), text=ctx.t("error.forbidden.text"))
    return None


async def form(ctx: Ctx) -> dict[str, str] | None:
    """The POSTed form if it carries this session's CSRF token and comes from this origin; else
    None, with the refusal recorded (the caller answers 403)."""
    data = {k: v for k, v in (await ctx.request.form()).items() if isinstance(v, str)}
    origin = ctx.request.headers.get("origin")
    same_origin = origin is None or _origin(origin) == _origin(str(ctx.request.base_url))
    if same_origin and hmac.compare_digest(data.get("csrf", ""), ctx.session.csrf):
        return data
    log.warning("console: CSRF check refused a POST to %s (operator %s)", ctx.request.url.path, ctx.actor())
    if ctx.operator is not None:
        action = audit.Action(
            ctx.operator.username,
            "csrf.refused",
            "refused",
            target=ctx.request.url.path[:200],
            detail="foreign origin" if not same_origin else "missing or wrong CSRF token",
            remote_addr=ctx.remote_addr,
        )
        await run_in_threadpool(audit.record, ctx.engine, action)
    return None


def refused(ctx: Ctx) -> Response:
    return render(ctx, "error.html", 403, title=ctx.t("error.csrf.title"), text=ctx.t("error.csrf.text"))


def _origin(url: str) -> tuple[str, str]:
    u = urlsplit(url)
    return u.scheme, u.netloc


def safe_next(value: str | None) -> str:
    """A path inside the console to go to after the login (never another site)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/overview"
    return value
