"""One bounded HTTP POST: the only place the connector reads bytes off the network.

Each network phase is bounded by ``timeout``, and the whole answer must be in ``timeout`` after the
call started; at most ``max_bytes`` are read (a declared ``Content-Length`` over it is refused
before reading, a stream is cut past it). Only 2xx answers, and 500s where a SOAP fault may come
(``accept_500``), are handed on; any other status raises :class:`~.errors.HttpStatusError`, its
body unread beyond the limit and never kept.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from .errors import HttpStatusError, ResponseTooLarge


@dataclass(frozen=True)
class Reply:
    status_code: int
    content: bytes


def post_bounded(
    http: httpx.Client,
    url: str,
    *,
    timeout: float,
    max_bytes: int,
    headers: Mapping[str, str],
    content: bytes | None = None,
    form: Mapping[str, str] | None = None,
    accept_500: bool = True,
) -> Reply:
    deadline = time.monotonic() + timeout
    with http.stream(
        "POST", url, content=content, data=form, headers=dict(headers), timeout=httpx.Timeout(timeout)
    ) as response:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise ResponseTooLarge()
        body = bytearray()
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > max_bytes:
                raise ResponseTooLarge()
            if time.monotonic() > deadline:
                raise httpx.ReadTimeout("whole-call deadline passed", request=response.request)
    status = response.status_code
    if not (200 <= status < 300 or (accept_500 and status == 500)):
        raise HttpStatusError(status)
    return Reply(status, bytes(body))


__all__ = ["Reply", "post_bounded"]
