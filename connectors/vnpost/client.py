"""``VnpostClient``: the postal port (``hub.postal.port.PostalGateway``) over HTTP, for each variant.

Every call: headers from the variant's ``Auth`` -> the request -> :func:`errors.classify`. A 401
drops the token and repeats the call once with a fresh one; a second 401 is retryable (the
operator's credentials, not the message). Verdicts become values or the port's errors:
OK / ALREADY -> ``OrderAccepted`` / ``CancelResult`` (ALREADY sets ``already_registered`` /
``already_cancelled``); RETRYABLE -> ``PostalRetryableError``; PERMANENT -> ``PostalPermanentError``
(``CancelRefused`` for a cancel). Nothing connects at construction.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from hub import jsonbody
from hub.partners import Classified, Verdict
from hub.postal.port import (
    INITIAL_CURSOR,
    MAX_PAGE_SIZE,
    CancelRefused,
    CancelRequest,
    CancelResult,
    OrderAccepted,
    PostalGateway,
    PostalOrderRequest,
    PostalPermanentError,
    PostalRetryableError,
    TrackingPage,
)

from . import translate as tr
from .auth import Auth, ClientCredentials, MyVnpostLogin, StaticToken
from .config import VnpostSettings
from .errors import MAX_ANSWER, MAX_DEPTH, Codes, Expect, classify


def make_auth(s: VnpostSettings, http: Callable[[], httpx.Client], clock: Callable[[], float]) -> Auth:
    if s.variant == "direct":
        return ClientCredentials(
            "direct",
            http,
            s.url(s.token_path),
            s.consumer_key,
            s.consumer_secret.get_secret_value(),
            s.token_skew,
            clock,
        )
    if s.variant == "myvnpost":
        password = s.myvnpost_password.get_secret_value()
        return MyVnpostLogin(
            http, s.url(s.myvnpost_token_path), s.myvnpost_username, password, s.myvnpost_token_ttl, clock
        )
    if s.lgsp_auth == "static":
        return StaticToken("access_token", s.lgsp_access_token.get_secret_value())
    secret = s.lgsp_consumer_secret.get_secret_value()
    return ClientCredentials("lgsp", http, s.url(s.lgsp_token_path), s.lgsp_consumer_key, secret, s.token_skew, clock)


class VnpostClient:
    """One VNPost partner (one variant, one set of credentials). Thread-safe."""

    def __init__(
        self,
        settings: VnpostSettings | None = None,
        http: httpx.Client | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = s = settings or VnpostSettings()
        self.variant: str = s.variant
        self._http, self._owns_http = http, http is None
        self._http_lock = threading.Lock()
        self.auth = make_auth(s, self.http, clock)
        self.codes = Codes.of(s.success_codes, s.already_codes, s.retryable_codes)
        self.table = s.table()

    def http(self) -> httpx.Client:
        with self._http_lock:
            if self._http is None:  # opened on first use
                self._http = httpx.Client(timeout=self.settings.timeout, follow_redirects=False)
            return self._http

    def close(self) -> None:
        with self._http_lock:
            if self._owns_http and self._http is not None:
                self._http.close()
                self._http = None

    # ---------------------------------------------------------------- one call
    def _endpoint(self, operation: str) -> tuple[str, dict[str, str]]:
        s = self.settings
        if s.variant == "lgsp":
            op = {"order": s.lgsp_op_order, "cancel": s.lgsp_op_cancel, "tracking": s.lgsp_op_tracking}[operation]
            return s.url(s.lgsp_path), {"service": op}
        paths = {
            "direct": {"order": s.order_path, "cancel": s.cancel_path, "tracking": s.tracking_path},
            "myvnpost": {
                "order": s.myvnpost_order_path,
                "cancel": s.myvnpost_cancel_path,
                "tracking": s.myvnpost_tracking_path,
            },
        }
        return s.url(paths[s.variant][operation]), {}

    def _call(
        self, operation: str, expect: Expect, body: dict[str, Any] | None = None, params: dict[str, str] | None = None
    ) -> tuple[Classified, Any]:
        url, query = self._endpoint(operation)
        query = {**query, **(params or {})}
        for renewed in (False, True):
            headers = self.auth.headers()
            try:
                if body is None:
                    response = self.http().get(url, params=query, headers=headers)
                else:
                    response = self.http().post(url, params=query, json=body, headers=headers)
            except httpx.HTTPError as exc:
                return classify(self.variant, None, None, exc, self.codes, expect), None
            try:
                data = jsonbody.parse(response.content, max_depth=MAX_DEPTH, max_bytes=MAX_ANSWER)
            except ValueError:
                data = None
            classified = classify(self.variant, response.status_code, data, None, self.codes, expect)
            if classified.verdict is Verdict.AUTH and not renewed:
                self.auth.invalidate(headers)
                continue
            return classified, data
        raise AssertionError("unreachable")  # pragma: no cover

    def _raise(
        self, operation: str, c: Classified, permanent: type[PostalPermanentError] = PostalPermanentError
    ) -> None:
        if c.verdict in (Verdict.RETRYABLE, Verdict.AUTH):  # AUTH here: 401 again right after a renewal
            raise PostalRetryableError(operation, c.message or c.verdict.value, c.code, c.http_status)
        raise permanent(operation, c.message or c.verdict.value, c.code, c.http_status)

    # ---------------------------------------------------------------- the port
    def create_order(self, order: PostalOrderRequest) -> OrderAccepted:
        body = tr.order_body(order, self.variant, self.settings.flag_config)
        c, data = self._call("order", "result", body)
        if c.verdict not in (Verdict.OK, Verdict.ALREADY):
            self._raise("order", c)
        return OrderAccepted(
            customer_code=order.customer_code,
            order_number=order.order_number,
            item_code=order.item_code or tr.answer_item_code(data),
            already_registered=c.verdict is Verdict.ALREADY,
            partner_code=c.code or "",
            message=c.message,
        )

    def cancel_order(self, request: CancelRequest) -> CancelResult:
        c, _ = self._call("cancel", "result", tr.cancel_body(request))
        if c.verdict not in (Verdict.OK, Verdict.ALREADY):
            self._raise("cancel", c, CancelRefused)
        return CancelResult(
            customer_code=request.customer_code,
            order_number=request.order_number,
            already_cancelled=c.verdict is Verdict.ALREADY,
            partner_code=c.code or "",
            message=c.message,
        )

    def tracking(self, customer_code: str, cursor: str = INITIAL_CURSOR, page_size: int = 50) -> TrackingPage:
        size = max(1, min(page_size, MAX_PAGE_SIZE))
        c, data = self._call("tracking", "feed", params=tr.tracking_params(customer_code, cursor, size))
        if c.verdict is not Verdict.OK:
            self._raise("tracking", c)
        try:
            return tr.parse_feed(data, self.table, cursor, customer_code)
        except ValueError as exc:  # a page we cannot read: try again later, never skip it
            raise PostalRetryableError("tracking", f"unreadable feed page: {str(exc)[:100]}") from None


def _conforms(client: VnpostClient) -> PostalGateway:
    return client  # mypy checks that the client satisfies the port
