"""The gateways: HTTP (httpx), the NAPAS token cache, bounded query retries; formats come from the profiles.

``create_order`` is never retried here: neither gateway documents it as idempotent, so a call that may
have reached the gateway raises ``GatewayTimeout`` and only a status query settles it. The one repeat is
NAPAS's after HTTP 401 with a renewed token (refused, so not processed). ``query`` is a read: it is tried
up to ``query_attempts`` times on ``RetryableGatewayError`` (tenacity, with the hub's one backoff,
``hub.resilience``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, Generic, TypeVar

import httpx
import structlog
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt

from hub import jsonbody
from hub.payments.port import (
    CallbackAnswer,
    GatewayError,
    GatewayStatus,
    OrderCreated,
    PaymentOrder,
    PaymentResult,
    RetryableGatewayError,
)
from hub.resilience import backoff

from .config import NapasSettings, PayGovSettings
from .errors import from_transport
from .napas import NapasProfile
from .paygov import PayGovProfile
from .translate import utcnow

log = structlog.get_logger("connectors.payment_napas")
S = TypeVar("S", NapasSettings, PayGovSettings)


class _HttpGateway(Generic[S]):
    """What both profiles share: a lazily opened httpx client, transport errors, the query retry loop."""

    profile: str
    merchant: str

    def __init__(self, settings: S, http: httpx.Client | None, clock: Callable[[], datetime] | None) -> None:
        self.settings: S = settings
        self._http = http
        self._owns_http = http is None
        self._clock = clock or utcnow

    @property
    def http(self) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(timeout=self.settings.timeout, headers={"Accept": "application/json"})
        return self._http

    def close(self) -> None:
        if self._owns_http and self._http is not None:
            self._http.close()
            self._http = None

    def _send(self, operation: str, method: str, url: str, **kwargs: Any) -> tuple[int, Any]:
        """(HTTP status, parsed JSON or None); a request that raised becomes a classified GatewayError."""
        try:
            response = self.http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise from_transport(operation, exc) from exc
        try:
            # as sent: a signed answer is verified over its text, then made NFC by the format
            body = jsonbody.parse(response.content, normalise=False)
        except ValueError:
            body = None
        return response.status_code, body

    def _retrying(self) -> Retrying:
        s = self.settings

        def before_sleep(state: Any) -> None:
            error = state.outcome.exception() if state.outcome else None
            log.warning(
                "payment_gateway.query_retry", profile=self.profile, attempt=state.attempt_number, error=str(error)
            )

        return Retrying(
            retry=retry_if_exception_type(RetryableGatewayError),
            stop=stop_after_attempt(s.query_attempts),
            wait=lambda state: backoff(state.attempt_number - 1, s.query_backoff_seconds, s.query_backoff_max_seconds),
            before_sleep=before_sleep,
            reraise=True,
        )

    def _logged_create(self, order: PaymentOrder, call: Callable[[], OrderCreated]) -> OrderCreated:
        if not order.reference:
            raise ValueError("order.reference (the hub's payment id) is required")
        try:
            created = call()
        except GatewayError as exc:
            log.warning(
                "payment_gateway.create_failed",
                profile=self.profile,
                reference=order.reference,
                error=type(exc).__name__,
                code=exc.code,
                http_status=exc.http_status,
            )
            raise
        log.info("payment_gateway.created", profile=self.profile, reference=order.reference, amount=order.amount)
        return created

    def _logged_query(self, reference: str, call: Callable[[], GatewayStatus]) -> GatewayStatus:
        status = self._retrying()(call)
        log.info("payment_gateway.queried", profile=self.profile, reference=reference, state=status.state)
        return status


class NapasGateway(_HttpGateway[NapasSettings]):
    """NAPAS Payment v3 with an OAuth2 client-credentials token, cached until ``token_renew_margin_seconds``
    before it expires and renewed once when a call answers 401. Thread-safe."""

    profile = "napas"

    def __init__(
        self,
        settings: NapasSettings | None = None,
        http: httpx.Client | None = None,
        clock: Callable[[], datetime] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(settings or NapasSettings(), http, clock)
        self.format = NapasProfile(self.settings)
        self.merchant = self.format.merchant
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._token: str | None = None
        self._token_type = "Bearer"  # noqa: S105 - a scheme name, not a secret
        self._token_expiry = 0.0

    # ------------------------------------------------------------------ token
    def _fetch_token(self) -> str:
        try:
            status, body = self._send("token", "POST", self.format.token_url(), data=self.format.token_form())
        except GatewayError as exc:  # the payment call was not made: safe to repeat whatever happened
            raise RetryableGatewayError(str(exc)) from exc
        token = body.get("access_token") if isinstance(body, dict) else None
        if status != 200 or not isinstance(token, str) or not token:
            error = body.get("error") if isinstance(body, dict) else None
            raise RetryableGatewayError(
                f"token: HTTP {status}" + (f", {error}" if isinstance(error, str) else ""), http_status=status
            )
        try:
            lifetime = float(body.get("expires_in", 3600))
        except (TypeError, ValueError):
            lifetime = 0.0
        token_type = str(body.get("token_type") or "Bearer")
        self._token_type = "Bearer" if token_type.lower() == "bearer" else token_type
        self._token_expiry = self._monotonic() + max(0.0, lifetime - self.settings.token_renew_margin_seconds)
        self._token = token
        return token

    def _current_token(self) -> str:
        with self._lock:
            if self._token is not None and self._monotonic() < self._token_expiry:
                return self._token
            return self._fetch_token()

    def _authorized(self, operation: str, method: str, url: str, **kwargs: Any) -> tuple[int, Any]:
        for renewed in (False, True):
            token = self._current_token()
            headers = {"Authorization": f"{self._token_type} {token}"}
            status, body = self._send(operation, method, url, headers=headers, **kwargs)
            if status == 401 and not renewed:
                with self._lock:
                    if self._token == token:
                        self._token = None
                continue
            return status, body
        raise AssertionError("unreachable")  # pragma: no cover

    # ------------------------------------------------------------------ port
    def create_order(self, order: PaymentOrder) -> OrderCreated:
        def call() -> OrderCreated:
            body = self.format.order_body(order)
            status, answer = self._authorized("create_order", "PUT", self.format.order_url(order.reference), json=body)
            return self.format.read_created(order.reference, status, answer)

        return self._logged_create(order, call)

    def query(self, reference: str, opened_at: datetime | None = None) -> GatewayStatus:
        def call() -> GatewayStatus:
            status, answer = self._authorized("query", "GET", self.format.status_url(reference))
            return self.format.read_status(reference, status, answer)

        return self._logged_query(reference, call)

    def parse_callback(self, body: bytes, now: datetime | None = None) -> PaymentResult:
        return self.format.parse_callback(body, now or self._clock())

    def callback_reply(self, answer: CallbackAnswer, result: PaymentResult | None = None) -> tuple[int, dict[str, Any]]:
        return self.format.callback_reply(answer)


class PayGovGateway(_HttpGateway[PayGovSettings]):
    """PayGov / DvcPayment v1.0.6 with the static bearer token. Thread-safe (no mutable state)."""

    profile = "paygov"

    def __init__(
        self,
        settings: PayGovSettings | None = None,
        http: httpx.Client | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(settings or PayGovSettings(), http, clock)
        self.format = PayGovProfile(self.settings)
        self.merchant = self.format.merchant

    def _post(self, operation: str, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        return self._send(operation, "POST", self.settings.url(path), json=body, headers=self.format.headers())

    def create_order(self, order: PaymentOrder) -> OrderCreated:
        def call() -> OrderCreated:
            status, answer = self._post(
                "create_order", self.settings.init_path, self.format.init_body(order, self._clock())
            )
            return self.format.read_created(order.reference, status, answer)

        return self._logged_create(order, call)

    def query(self, reference: str, opened_at: datetime | None = None) -> GatewayStatus:
        """``opened_at``: the order's INIT time, which PayGov looks it up by (the hub always gives it;
        "now" only for a caller that does not know it, and PayGov may then not find the order)."""
        when = opened_at or self._clock()

        def call() -> GatewayStatus:
            status, answer = self._post("query", self.settings.query_path, self.format.query_body(reference, when))
            return self.format.read_status(reference, status, answer)

        return self._logged_query(reference, call)

    def parse_callback(self, body: bytes, now: datetime | None = None) -> PaymentResult:
        return self.format.parse_callback(body, now or self._clock())

    def callback_reply(self, answer: CallbackAnswer, result: PaymentResult | None = None) -> tuple[int, dict[str, Any]]:
        return self.format.callback_reply(answer, self._clock(), result)
