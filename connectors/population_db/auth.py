"""Credentials of each call: static schemes from the settings, token schemes fetched, cached, renewed.

Schemes (``HUB_POPDB_AUTH_SCHEME``, §0 of ``external-systems.md``):

- ``none``, ``basic``, ``bearer``, ``header_token``, ``timestamp_hash``: headers computed from the
  settings per call (``PopulationDbSettings.auth_headers``);
- ``oauth2`` [C]: form POST ``client_id, client_secret, grant_type=client_credentials`` (and ``scope``)
  to ``token_url`` -> ``{access_token, token_type, expires_in}``; calls carry
  ``Authorization: <token_type> <access_token>``;
- ``lgsp_access_token`` [C]: form POST to ``token_url`` with header ``lgspaccesstoken: base64(JSON{AccessKey,
  SecretKey, AppName, PartnerCode, PartnerCodeCus})`` -> ``{access_token}``; calls carry
  ``Authorization: Bearer <access_token>`` and the same ``lgspaccesstoken`` header [C: OCPS's calls
  through the Đồng Tháp LGSP]; ``lgsp_hagiang`` puts both in its JSON body instead [C].

A token is kept until ``token_renew_before`` seconds before it expires (``expires_in``; a token that
states none lives ``token_default_ttl`` [I]), shared by all threads, fetched by one of them at a time.
A call refused with HTTP 401 drops it; the client then fetches a new one and tries once more.
Token answers are read bounded (64 KiB) and checked: a token must be printable ASCII without spaces
(it goes into a header). Nothing here logs; no secret is in any error.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from hub.citizens.port import NotAuthorised, PopulationDbError, RetryableError, UnsafeResponse

from .answers import parse_json_object
from .config import TOKEN_SCHEMES, PopulationDbSettings
from .errors import HttpStatusError, ResponseRefused, classify
from .transport import post_bounded

TOKEN_MAX_BYTES = 64 * 1024
_TOKEN_CHARS = frozenset(chr(c) for c in range(0x21, 0x7F))


@dataclass(frozen=True)
class Token:
    header: str  # "Bearer abc..."
    expires_at: float  # clock time


class Credentials:
    """What each call of one client carries. Thread-safe."""

    def __init__(self, settings: PopulationDbSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.clock = clock
        self.scheme = settings.auth
        self._token: Token | None = None
        self._lock = threading.Lock()
        self.fetched = 0  # tokens fetched so far (for tests and the operator)

    @property
    def renewable(self) -> bool:
        return self.scheme in TOKEN_SCHEMES

    def headers(self, http: httpx.Client, operation: str) -> dict[str, str]:
        """Headers of one call (a token scheme may fetch its token first)."""
        if not self.renewable:
            return self.settings.auth_headers()
        headers = {"Authorization": self.bearer(http, operation)}
        if self.scheme == "lgsp_access_token":
            headers["lgspaccesstoken"] = self.settings.lgsp_access_token()
        return headers

    def bearer(self, http: httpx.Client, operation: str) -> str:
        """``<type> <token>`` of the current token, fetched if there is none or it is due for renewal."""
        with self._lock:
            token = self._token
            if token is None or self.clock() >= token.expires_at - self.settings.token_renew_before:
                token = self._token = self._fetch(http, operation)
            return token.header

    def invalidate(self) -> None:
        with self._lock:
            self._token = None

    def _fetch(self, http: httpx.Client, operation: str) -> Token:
        s = self.settings
        if self.scheme == "oauth2":
            form = {"client_id": s.client_id, "client_secret": s.client_secret.get_secret_value()}
            form["grant_type"] = "client_credentials"
            if s.scope:
                form["scope"] = s.scope
            headers = {"Accept": "application/json"}
        else:
            form, headers = {}, {"Accept": "application/json", "lgspaccesstoken": s.lgsp_access_token()}
        try:
            reply = post_bounded(
                http,
                s.token_endpoint(),
                timeout=s.timeout,
                max_bytes=TOKEN_MAX_BYTES,
                headers=headers,
                form=form,
                accept_500=False,
            )
            answer = parse_json_object(reply.content)
        except HttpStatusError as exc:
            if 400 <= exc.status_code < 500 and exc.status_code not in (408, 429):
                raise NotAuthorised(operation, "token-refused", http_status=exc.status_code) from None
            raise RetryableError(operation, "token-endpoint", http_status=exc.status_code) from None
        except ResponseRefused:
            raise UnsafeResponse(operation, "token-malformed") from None
        except PopulationDbError:
            raise
        except Exception as exc:  # timeouts, connection errors: classified like any call
            raise classify(operation, exc) from None
        self.fetched += 1
        return self._token_of(answer, operation)

    def _token_of(self, answer: dict[str, object], operation: str) -> Token:
        value = answer.get("access_token")
        if not isinstance(value, str) or not 0 < len(value) <= 4096 or not set(value) <= _TOKEN_CHARS:
            raise UnsafeResponse(operation, "token-malformed")
        kind = answer.get("token_type")
        kind = "Bearer" if not isinstance(kind, str) or kind.lower() == "bearer" or not kind.isalpha() else kind
        lifetime = _seconds(answer.get("expires_in"), self.settings.token_default_ttl)
        return Token(f"{kind} {value}", self.clock() + lifetime)


def _seconds(value: object, default: float) -> float:
    """``expires_in`` as seconds (a number or digits), within a sane bound; otherwise the default."""
    if isinstance(value, bool):
        return default
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int | float) and 0 < value <= 30 * 24 * 3600:
        return float(value)
    return default


__all__ = ["Credentials", "Token"]
