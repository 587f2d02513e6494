"""JSON over HTTP for connectors that call a partner for every message.

One small port, ``JsonHttp`` (POST a JSON body, get the status and the parsed answer; ``FormHttp``: a
form, such as an OAuth2 token request), with two adapters:

- ``PooledHttp``: keep-alive connections from urllib3's pool manager. The default on the
  delivery path: here it costs ~0.2 ms of CPU per call where an ``httpx.Client`` costs
  ~0.4 ms (``python -m bench.http``), and a worker makes two calls per status change.
- ``HttpxHttp``: any ``httpx.Client``, e.g. a FastAPI ``TestClient`` around a mock partner,
  or a client whose traffic respx scripts in tests.

Both raise ``HttpFailure`` when no answer came (timeout, refused, reset); its message names
the underlying error (``ReadTimeout``...) and never carries the request, and its ``sent``
says whether the request may have left (False only when no connection was made).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlencode

import httpx
import urllib3

from hub import jsonbody


class HttpFailure(Exception):
    """No HTTP answer. ``sent``: the request may have reached the partner (True unless the
    connection itself could not be made: refused, unresolvable, connect timeout)."""

    def __init__(self, message: str, sent: bool = True) -> None:
        super().__init__(message)
        self.sent = sent


class JsonHttp(Protocol):
    def post_json(self, url: str, payload: Any, headers: Mapping[str, str]) -> tuple[int, Any]:
        """POST ``payload`` as JSON; (status, the answer parsed as JSON or None if it is not)."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class FormHttp(Protocol):
    """What both adapters also do: POST a form (``application/x-www-form-urlencoded``), e.g. an OAuth2
    token request; (status, the answer parsed as JSON or None)."""

    def post_form(self, url: str, form: Mapping[str, str], headers: Mapping[str, str]) -> tuple[int, Any]: ...


def _parse(content: bytes) -> Any:
    """The answer as JSON (``hub.jsonbody``: a partner's answer nested too deep is not JSON either)."""
    try:
        return jsonbody.parse(content)
    except ValueError:
        return None


def _encode(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


class PooledHttp:
    """``JsonHttp`` on urllib3: pooled keep-alive connections, no redirects, no retries (the
    hub decides what to retry), one timeout for the whole call (connecting and reading)."""

    def __init__(self, timeout: float, pool_size: int = 4, headers: Mapping[str, str] | None = None) -> None:
        self.pool = urllib3.PoolManager(
            num_pools=8,
            maxsize=pool_size,
            block=False,
            # one bound for the whole call (a lease budget counts on it), and for each part
            timeout=urllib3.Timeout(total=timeout, connect=timeout, read=timeout),
            retries=False,
            headers={"Content-Type": "application/json", "Accept": "application/json", **(headers or {})},
        )

    def post_json(self, url: str, payload: Any, headers: Mapping[str, str]) -> tuple[int, Any]:
        try:
            r = self.pool.urlopen("POST", url, body=_encode(payload), headers={**self.pool.headers, **headers})
        except urllib3.exceptions.HTTPError as exc:
            # NewConnectionError and NameResolutionError are ConnectTimeoutErrors too
            connected = not isinstance(exc, urllib3.exceptions.ConnectTimeoutError | urllib3.exceptions.PoolError)
            raise HttpFailure(type(exc).__name__, sent=connected) from exc
        return r.status, _parse(r.data)

    def post_form(self, url: str, form: Mapping[str, str], headers: Mapping[str, str]) -> tuple[int, Any]:
        body = urlencode(dict(form)).encode()
        form_headers = {**self.pool.headers, "Content-Type": "application/x-www-form-urlencoded", **headers}
        try:
            r = self.pool.urlopen("POST", url, body=body, headers=form_headers)
        except urllib3.exceptions.HTTPError as exc:
            connected = not isinstance(exc, urllib3.exceptions.ConnectTimeoutError | urllib3.exceptions.PoolError)
            raise HttpFailure(type(exc).__name__, sent=connected) from exc
        return r.status, _parse(r.data)

    def close(self) -> None:
        self.pool.clear()


class HttpxHttp:
    """``JsonHttp`` on an ``httpx.Client`` (which stays the caller's to close)."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def post_json(self, url: str, payload: Any, headers: Mapping[str, str]) -> tuple[int, Any]:
        try:
            r = self.client.post(url, content=_encode(payload), headers={"Content-Type": "application/json", **headers})
        except httpx.HTTPError as exc:
            connected = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
            raise HttpFailure(type(exc).__name__, sent=connected) from exc
        return r.status_code, _parse(r.content)

    def post_form(self, url: str, form: Mapping[str, str], headers: Mapping[str, str]) -> tuple[int, Any]:
        try:
            r = self.client.post(url, data=dict(form), headers=dict(headers))
        except httpx.HTTPError as exc:
            connected = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
            raise HttpFailure(type(exc).__name__, sent=connected) from exc
        return r.status_code, _parse(r.content)

    def close(self) -> None:
        pass
