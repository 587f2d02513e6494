"""The operator console at ``/console``: server-rendered pages (Jinja2) for the people who run
the hub, in Vietnamese (English switchable), every asset served by the hub. See README.md,
"Operator console". ``install(app, hub)`` is the one hook the api calls, with what the composition
root built: it mounts the console and serves ``/docs`` and ``/redoc`` offline."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI

if TYPE_CHECKING:
    from hub.services import Hub


def install(app: FastAPI, hub: Hub) -> None:
    from hub.console.apidocs import install_docs
    from hub.console.web import create_console

    console = create_console(hub, list(hub.routing.names))
    authenticator = getattr(app.state, "authenticator", None)
    if authenticator is not None:  # a client change in the console ends this process's cached keys at once
        console.state.console.forget_keys = authenticator.forget
    app.mount("/console", console)
    install_docs(app)
