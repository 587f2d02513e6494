"""How each variant authenticates, behind one small interface: ``headers()`` gives the headers of
the next call (fetching a token when none is cached or it is about to expire), ``invalidate()``
drops the cached token after the partner answered 401 with it, so the next ``headers()`` renews it.

- ``ClientCredentials``: OAuth2 client credentials with HTTP Basic (MITC's WSO2 API manager, and an
  LGSP token service): ``expires_in`` is honoured, renewed ``skew`` seconds early.
- ``StaticToken``: the LGSP's fixed ``access_token`` header (nothing to renew).
- ``MyVnpostLogin``: ``GetAccessToken {TenDangNhap, MatKhau}`` -> ``{IsSuccess, Token}``, sent as
  ``h-token``; the answer has no lifetime, so ``ttl`` is configuration.

Thread-safe: one token fetch at a time, and a 401 drops the token only if it is still the one used.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import httpx

from hub import jsonbody
from hub.partners import Verdict
from hub.postal.port import PostalRetryableError

from .errors import MAX_ANSWER, MAX_DEPTH, classify

Clock = Callable[[], float]


class Auth(Protocol):
    def headers(self) -> dict[str, str]: ...
    def invalidate(self, used: Mapping[str, str]) -> None: ...


class StaticToken:
    def __init__(self, header: str, token: str) -> None:
        self._headers = {header: token}

    def headers(self) -> dict[str, str]:
        return dict(self._headers)

    def invalidate(self, used: Mapping[str, str]) -> None:
        pass  # a static token cannot be renewed: the repeated call fails again and is retried later


class _Cached:
    """A token cache with expiry; subclasses fetch."""

    header = "Authorization"

    def __init__(self, variant: str, http: Callable[[], httpx.Client], clock: Clock) -> None:
        self.variant, self._http, self._clock = variant, http, clock
        self._lock = threading.Lock()
        self._value: str | None = None
        self._expires = 0.0

    def headers(self) -> dict[str, str]:
        with self._lock:
            if self._value is None or self._clock() >= self._expires:
                self._value, lifetime = self._fetch()
                self._expires = self._clock() + lifetime
            return {self.header: self._value}

    def invalidate(self, used: Mapping[str, str]) -> None:
        with self._lock:
            if used.get(self.header) == self._value:
                self._value = None

    def _fetch(self) -> tuple[str, float]:
        raise NotImplementedError

    def _token_answer(self, send: Callable[[httpx.Client], httpx.Response]) -> dict[str, Any]:
        try:
            response = send(self._http())
        except httpx.HTTPError as exc:
            raise PostalRetryableError("token", type(exc).__name__) from None
        try:
            body = jsonbody.parse(response.content, max_depth=MAX_DEPTH, max_bytes=MAX_ANSWER)
        except ValueError:
            body = None
        classified = classify(self.variant, response.status_code, body, expect="token")
        if classified.verdict is not Verdict.OK:
            raise PostalRetryableError("token", classified.message, classified.code, response.status_code)
        assert isinstance(body, dict)
        return body


class ClientCredentials(_Cached):
    def __init__(
        self,
        variant: str,
        http: Callable[[], httpx.Client],
        url: str,
        key: str,
        secret: str,
        skew: float = 30.0,
        clock: Clock = time.monotonic,
    ) -> None:
        super().__init__(variant, http, clock)
        self.url, self._basic, self.skew = url, httpx.BasicAuth(key, secret), skew

    def _fetch(self) -> tuple[str, float]:
        body = self._token_answer(
            lambda c: c.post(self.url, data={"grant_type": "client_credentials"}, auth=self._basic)
        )
        kind = body.get("token_type") if isinstance(body.get("token_type"), str) else "Bearer"
        expires = body.get("expires_in")
        lifetime = float(expires) if isinstance(expires, int | float) and not isinstance(expires, bool) else 300.0
        return f"{str(kind).capitalize()} {body['access_token']}", max(lifetime - self.skew, 1.0)


class MyVnpostLogin(_Cached):
    header = "h-token"

    def __init__(
        self,
        http: Callable[[], httpx.Client],
        url: str,
        username: str,
        password: str,
        ttl: float,
        clock: Clock = time.monotonic,
    ) -> None:
        super().__init__("myvnpost", http, clock)
        self.url, self.ttl = url, ttl
        self._credentials = {"TenDangNhap": username, "MatKhau": password}

    def _fetch(self) -> tuple[str, float]:
        body = self._token_answer(lambda c: c.post(self.url, json=self._credentials))
        return str(body["Token"]), self.ttl
