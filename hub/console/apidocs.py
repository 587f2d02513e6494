"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) served offline: their scripts, style and
favicon come from the assets the ``fastapi-offline`` package ships, served by the hub at
``/static-offline-docs/``; no CDN and no Google font (a provincial network often has no internet)."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

ASSETS = Path(fastapi_offline.__file__).parent / "static"
STATIC = "/static-offline-docs"
# ReDoc's side menu shows Redocly's logo from their CDN: the hub serves its script with that one
# URL pointed at a local copy of the favicon instead (the attribution text stays).
REDOC_CDN_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


def install_docs(app: FastAPI) -> None:
    """Serve the docs pages; the app must be made with ``docs_url=None, redoc_url=None``."""
    redoc_js = (
        (ASSETS / "redoc.standalone.js").read_text(encoding="utf-8").replace(REDOC_CDN_LOGO, f"{STATIC}/favicon.png")
    )

    @app.get(f"{STATIC}/redoc.standalone.js", include_in_schema=False)
    async def redoc_script() -> Response:  # before the mount: this one file is served patched
        return Response(redoc_js, media_type="text/javascript", headers={"Cache-Control": "public, max-age=86400"})

    app.mount(STATIC, StaticFiles(directory=ASSETS), name="static-offline-docs")
    openapi_url = app.openapi_url or "/openapi.json"
    redirect_url = app.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    async def swagger(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=app.title + " - Swagger UI",
            oauth2_redirect_url=root + redirect_url,
            swagger_js_url=f"{root}{STATIC}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{STATIC}/swagger-ui.css",
            swagger_favicon_url=f"{root}{STATIC}/favicon.png",
            swagger_ui_parameters={"validatorUrl": None},  # else a badge image from validator.swagger.io
        )

    @app.get(redirect_url, include_in_schema=False)
    async def swagger_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=root + openapi_url,
            title=app.title + " - ReDoc",
            redoc_js_url=f"{root}{STATIC}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{STATIC}/favicon.png",
            with_google_fonts=False,
        )
