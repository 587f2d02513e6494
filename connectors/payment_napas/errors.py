"""The one place where each profile's answers are classified into the port's errors
(``hub.payments.port``: ``GatewayError`` and its family).

==========================  =================================================================
``RetryableGatewayError``   surely not processed: connection refused / connect timeout, HTTP 429,
                            500, 502, 503 (before processing), credentials refused (401/403 after
                            one token renewal: the operator's to fix, not the order's fault),
                            NAPAS ``error.cause`` SERVER_BUSY, configured retryable PayGov codes
``GatewayTimeout``          in doubt, the call may have reached the gateway: read/write timeout,
                            connection lost after sending, HTTP 504, NAPAS SERVER_FAILED [I],
                            a 2xx answer that cannot be read
``PermanentGatewayError``   the gateway refused the order: any other 4xx, NAPAS ``result`` ERROR
                            or FAILURE (INVALID_REQUEST, REQUEST_REJECTED, ...), PayGov
                            ``error_code`` other than 0 (unless configured retryable)
==========================  =================================================================

Messages carry the HTTP status, the gateway's code and its explanation shortened, with ID-like
digit runs masked; never a token, a secret or the payer's name (which only PayGov receives).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import httpx

from hub.payments.port import GatewayError, GatewayTimeout, PermanentGatewayError, RetryableGatewayError
from hub.privacy import scrub


def from_transport(operation: str, exc: httpx.HTTPError) -> GatewayError:
    """A request that raised instead of answering. Connecting failed: nothing was sent. Anything
    later (timeout while writing or reading, connection dropped): the gateway may have it."""
    name = type(exc).__name__
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout | httpx.UnsupportedProtocol):
        return RetryableGatewayError(f"{operation}: not sent ({name})")
    if isinstance(exc, httpx.TimeoutException):
        return GatewayTimeout(f"{operation}: no answer in time ({name})")
    return GatewayTimeout(f"{operation}: connection lost after sending ({name})")


def _by_status(operation: str, status: int, code: str | None, text: str) -> GatewayError | None:
    """Verdicts that the HTTP status alone decides (None: read the body)."""
    detail = f"{operation}: HTTP {status}" + (f", {code}" if code else "") + (f": {text}" if text else "")
    if status == 504:
        return GatewayTimeout(detail, code=code, http_status=status)
    if status in (401, 403, 408, 425, 429) or status >= 500:
        return RetryableGatewayError(detail, code=code, http_status=status)
    if 300 <= status < 400:
        return RetryableGatewayError(detail, code=code, http_status=status)
    return None


def classify_napas(
    operation: str,
    status: int,
    body: Any,
    retryable_causes: Collection[str] = ("SERVER_BUSY",),
    in_doubt_causes: Collection[str] = ("SERVER_FAILED",),
) -> GatewayError | None:
    """One NAPAS answer (HTTP status + parsed JSON body or None). None: a usable success.

    NAPAS Payment v3 answers ``{"result": "SUCCESS"|"PENDING"|"FAILURE"|"ERROR", ...}`` and on ERROR
    ``{"error": {"cause", "explanation"}}`` [C: himlam ``Error.java``, ``NapasServiceImpl.processReq``].
    """
    data: dict[str, Any] = body if isinstance(body, dict) else {}
    raw_error = data.get("error")
    error: dict[str, Any] = raw_error if isinstance(raw_error, dict) else {}
    cause = str(error.get("cause")) if error.get("cause") is not None else None
    text = scrub(error.get("explanation"))
    by_status = _by_status(operation, status, cause, text)
    if by_status is not None:
        return by_status
    detail = f"{operation}: HTTP {status}" + (f", {cause}" if cause else "") + (f": {text}" if text else "")
    if cause in retryable_causes:
        return RetryableGatewayError(detail, code=cause, http_status=status)
    if cause in in_doubt_causes:
        return GatewayTimeout(detail, code=cause, http_status=status)
    result = str(data.get("result", "")).upper()
    if 400 <= status < 500 or result in ("ERROR", "FAILURE"):
        return PermanentGatewayError(detail, code=cause or result or None, http_status=status)
    if not isinstance(body, dict) or not result:
        return GatewayTimeout(f"{operation}: HTTP {status}, unreadable answer", http_status=status)
    return None


def _code(value: Any) -> str | None:
    """0, "0", "00" -> "0"; other values stripped; None -> None (PayGov codes are read leniently)."""
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    return str(int(text)) if text.lstrip("+-").isdigit() else text or None


def classify_paygov(
    operation: str, status: int, body: Any, retryable_codes: Collection[str] = ()
) -> GatewayError | None:
    """One PayGov answer to INIT: ``{"error_code": "0", "message": "<JSON string>"}`` [C: THH
    ``DvcPaymentService.InitPayment``]. ``error_code`` is read leniently (0, "0", "00"); QUERY
    answers carry ``MaLoi`` instead and are read by the profile. None: a usable success."""
    data = body if isinstance(body, dict) else {}
    code = _code(data.get("error_code"))
    text = scrub(data.get("message")) if code not in (None, "0") else ""
    by_status = _by_status(operation, status, code, text)
    if by_status is not None:
        return by_status
    detail = f"{operation}: HTTP {status}" + (f", error_code {code}" if code else "") + (f": {text}" if text else "")
    if code is not None and code != "0" and code in {_code(c) for c in retryable_codes}:
        return RetryableGatewayError(detail, code=code, http_status=status)
    if 400 <= status < 500 or (code is not None and code != "0"):
        return PermanentGatewayError(detail, code=code, http_status=status)
    if code is None:
        return GatewayTimeout(f"{operation}: HTTP {status}, answer without error_code", http_status=status)
    return None
