"""How the api is served: uvicorn, with what uvicorn lacks against slow or greedy clients.

uvicorn itself bounds only the idle time between two requests of a keep-alive connection
(``timeout_keep_alive``): a client that opens a connection and sends nothing, or trickles its
request line and headers a byte at a time, holds the connection for ever (its keep-alive timer
is cancelled by the first byte, and nothing replaces it). ``GuardedHttpTools`` adds:

- a **header timeout** (``HUB_HEADER_TIMEOUT``, 10 s): the request line and headers must be
  complete within it, counted from the connection (or from the first byte of a later request on
  it); else 408 and the connection is closed;
- a **header size** limit (``HUB_MAX_HEADER_BYTES``, 32 KiB): beyond it, 431 and closed;
- a **connection cap** (``HUB_MAX_CONNECTIONS``): a request arriving while the process has that
  many connections open (or requests in progress) gets 503 with ``Retry-After`` and is closed;
  uvicorn's own ``limit_concurrency`` answers a plain-text 503, this one answers problem details.

The body's timeout is the ASGI middleware's (``hub/api/limits.py``, ``HUB_BODY_TIMEOUT``).
"""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from hub.api.problems import PROBLEM_MEDIA, raw_response
from hub.settings import Settings

STATUS_LINES = {
    408: b"408 Request Timeout",
    431: b"431 Request Header Fields Too Large",
    503: b"503 Service Unavailable",
}


def raw_problem(status: int, code: str, detail: str, retry_after: int | None = None) -> bytes:
    """A whole HTTP/1.1 response (problem details, ``connection: close``), written below ASGI."""
    status, body = raw_response(code, detail, status=status, retry_after=retry_after)
    head = [
        b"HTTP/1.1 " + STATUS_LINES[status],
        b"content-type: " + PROBLEM_MEDIA.encode(),
        b"content-length: " + str(len(body)).encode(),
        b"connection: close",
    ]
    if retry_after is not None:
        head.append(b"retry-after: " + str(retry_after).encode())
    return b"\r\n".join(head) + b"\r\n\r\n" + body


class GuardedHttpTools(HttpToolsProtocol):
    header_timeout = 10.0
    max_header_bytes = 32_768
    max_connections = 1000
    retry_after = 5

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limit_concurrency = None  # uvicorn's own (plain text): replaced by ``max_connections``
        self._header_timer: asyncio.TimerHandle | None = None
        self._header_bytes = 0
        self._in_headers = True

    # -------------------------------------------------------------- header timeout and size
    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self._refuse(408, "request_timeout", f"the request headers did not arrive within {self.header_timeout:g} s")

    def _refuse(self, status: int, code: str, detail: str, retry_after: int | None = None) -> None:
        if self.cycle is None or self.cycle.response_complete:  # no response of ours is under way
            self.transport.write(raw_problem(status, code, detail, retry_after))
        self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # as uvicorn's own
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._in_headers:
            self._header_bytes += len(data)
        super().data_received(data)
        if self._in_headers and self._header_bytes > self.max_header_bytes and not self.transport.is_closing():
            self._refuse(431, "headers_too_large", f"request line and headers exceed {self.max_header_bytes} bytes")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_headers = True
        if self._header_timer is None:
            self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        self._in_headers = False
        self._header_bytes = 0
        busy = len(self.connections) > self.max_connections or len(self.tasks) >= self.max_connections
        if not busy:
            super().on_headers_complete()
            return
        saved, self.app = self.app, _busy(self.max_connections, self.retry_after)
        try:
            super().on_headers_complete()
        finally:
            self.app = saved


def _busy(limit: int, retry_after: int) -> Any:
    status, body = raw_response(
        "server_busy", f"the hub is serving {limit} connections: retry after {retry_after} s", retry_after=retry_after
    )

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", PROBLEM_MEDIA.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(retry_after).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return app


def protocol(settings: Settings) -> type[GuardedHttpTools]:
    """The protocol class with the settings' limits."""
    return type(
        "HubHttpProtocol",
        (GuardedHttpTools,),
        {
            "header_timeout": settings.header_timeout,
            "max_header_bytes": settings.max_header_bytes,
            "max_connections": settings.max_connections,
            "retry_after": settings.database_retry_after,
        },
    )


def config(app: Any, settings: Settings, host: str, port: int, **kwargs: Any) -> uvicorn.Config:
    """The uvicorn configuration of the api: its protocol, keep-alive timeout, no access log; its
    loggers left to the hub's logging (``hub.logging.configure``: JSON in JSON mode)."""
    kwargs.setdefault("log_level", "warning")
    kwargs.setdefault("log_config", None)
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=protocol(settings),
        timeout_keep_alive=max(1, round(settings.keep_alive_timeout)),
        **kwargs,
    )


def run(app: Any, settings: Settings, host: str, port: int) -> None:
    uvicorn.Server(config(app, settings, host, port)).run()
