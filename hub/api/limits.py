"""Limits on a request's body, below the routes: its size (before it is read, from
Content-Length, and while it streams) and the time it may take to arrive (``body_timeout``
seconds from the first read: a client trickling its body is cut off with 408 and the connection
closed). Paths under ``exempt_prefixes`` (the partners' callbacks) get no size answer here:
their routes stream the body against their own limit and answer in the partner's format."""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.api.problems import PROBLEM_MEDIA, raw_response


class BodyTooLarge(Exception):
    pass


class BodyTimeout(Exception):
    """The body did not arrive within the body timeout."""


class RequestLimits:
    def __init__(
        self, app: ASGIApp, max_bytes: int, body_timeout: float = 30.0, exempt_prefixes: tuple[str, ...] = ()
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.body_timeout = body_timeout
        self.exempt_prefixes = exempt_prefixes

    async def _answer(self, send: Send, code: str, detail: str) -> None:
        status, body = raw_response(code, detail)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", PROBLEM_MEDIA.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        exempt = scope.get("path", "").startswith(self.exempt_prefixes) if self.exempt_prefixes else False
        too_large = f"the request body exceeds {self.max_bytes} bytes"
        if not exempt:
            for name, value in scope.get("headers", []):
                if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                    await self._answer(send, "body_too_large", too_large)
                    return
        seen = 0
        started = False
        body_done = False
        deadline: float | None = None
        loop = asyncio.get_running_loop()

        async def limited_receive() -> Message:
            nonlocal seen, body_done, deadline
            if body_done:  # after the body: waiting for a disconnect is not bounded here
                return await receive()
            if deadline is None:
                deadline = loop.time() + self.body_timeout
            try:
                async with asyncio.timeout_at(deadline):  # no task per read (wait_for makes one)
                    message = await receive()
            except TimeoutError:
                raise BodyTimeout from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if not exempt and seen > self.max_bytes:
                    raise BodyTooLarge
                body_done = not message.get("more_body", False)
            else:
                body_done = True
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._answer(send, "body_too_large", too_large)
        except BodyTimeout:
            if not started:
                await self._answer(
                    send, "request_timeout", f"the request body did not arrive within {self.body_timeout:g} s"
                )
