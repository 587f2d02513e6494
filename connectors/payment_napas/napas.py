"""The NAPAS profile (Payment v3 via an intermediary): requests, answers, notification, reply. Pure.

[C] facts (design notes §2.4; ``talk114/himlam`` ``gw/.../channel/napas``): OAuth2 token at
``…/api/oauth/token`` -> ``Authorization: Bearer``; ``PUT {base}/{merchantId}/order/{orderId}/transaction/{transId}``
with ``{apiOperation, channel, order{amount, currency, reference}, …}``; answers ``result`` SUCCESS / ERROR with
``response.gatewayCode`` or ``error{cause, explanation}``; status ``GET {base}/{merchantId}/order/{orderId}/domestic``;
result notification ``{data: base64(JSON{paymentResult{merchantId, order{id, amount, currency, reference},
response{gatewayCode, message}, result, transaction{…}, timeOfRecord}}), checksum}`` with
``checksum = hex SHA-256(data + clientSecret)``, the order named by ``paymentResult.order.id``.

[I] (configurable or isolated here): the hosted-page order (``apiOperation`` PURCHASE, ``interaction.returnUrl``,
``order.notificationUrl``, ``order.item``; answer ``paymentUrl`` and ``session.id``), ``transId`` "1", the
gatewayCode sets (APPROVED = paid), ``timeOfRecord`` as ISO 8601, HTTP 404 = unknown order, and the reply
format of the hub to a notification (NAPAS does not publish one): ``{"result": "SUCCESS"}`` or
``{"result": "ERROR", "error": {"cause", "explanation"}}`` with an HTTP status per answer.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, quote

from hub import jsonbody
from hub.payments.port import (
    CallbackRejected,
    GatewayError,
    GatewayStatus,
    OrderCreated,
    PaymentOrder,
    PaymentResult,
    PermanentGatewayError,
    QueryState,
)

from .config import NapasSettings
from .errors import classify_napas
from .signing import NAPAS_CHECKSUMS, same_digest
from .translate import check_fresh, json_object, parse_amount, parse_napas_time

# answer -> (HTTP status, error cause or None for SUCCESS, explanation)  [I]
REPLIES: dict[str, tuple[int, str | None, str]] = {
    "ok": (200, None, "accepted"),
    "already_settled": (200, None, "already confirmed"),
    "unknown_order": (404, "ORDER_NOT_FOUND", "no such order at the merchant"),
    "amount_mismatch": (409, "AMOUNT_MISMATCH", "amount or currency differs from the order"),
    "bad_signature": (401, "INVALID_CHECKSUM", "checksum does not match"),
    "stale": (401, "EXPIRED", "notification too old"),
    "malformed": (400, "INVALID_REQUEST", "unreadable notification"),
    "wrong_merchant": (403, "MERCHANT_MISMATCH", "notification for another merchant"),
    "unavailable": (503, "SERVER_BUSY", "cannot record the notification now; send it again later"),
}


class NapasProfile:
    name = "napas"

    def __init__(self, settings: NapasSettings) -> None:
        self.settings = settings
        self._checksum = NAPAS_CHECKSUMS[settings.checksum_scheme]

    @property
    def merchant(self) -> str:
        return self.settings.merchant_id

    def _secret(self) -> str:
        return self.settings.client_secret.get_secret_value()

    # ------------------------------------------------------------------ requests
    def token_url(self) -> str:
        return self.settings.url(self.settings.token_path)

    def token_form(self) -> dict[str, str]:
        s = self.settings
        return {"grant_type": s.grant_type, "client_id": s.client_id, "client_secret": self._secret()}

    def _order_url(self, reference: str) -> str:
        return self.settings.url(
            f"{self.settings.api_path}/{quote(self.merchant, safe='')}/order/{quote(reference, safe='')}"
        )

    def order_url(self, reference: str) -> str:
        return f"{self._order_url(reference)}/transaction/{quote(self.settings.transaction_id, safe='')}"

    def status_url(self, reference: str) -> str:
        return f"{self._order_url(reference)}/domestic"

    def order_body(self, order: PaymentOrder) -> dict[str, Any]:
        """The order body. The payer's name is not sent: the hosted page asks the payer what it needs."""
        s = self.settings
        return {
            "apiOperation": s.api_operation,
            "channel": s.channel,
            "order": {
                "amount": order.amount,
                "currency": s.currency,
                "reference": order.reference,
                "description": order.description,
                "notificationUrl": s.callback_url,
                "item": [
                    {"sku": f.code, "name": f.name, "quantity": 1, "unitPrice": f.amount} for f in order.fee_items
                ],
            },
            "interaction": {"returnUrl": order.return_url},
        }

    # ------------------------------------------------------------------ answers
    def classify(self, operation: str, status: int, body: Any) -> GatewayError | None:
        s = self.settings
        return classify_napas(operation, status, body, s.retryable_causes, s.in_doubt_causes)

    def read_created(self, reference: str, status: int, body: Any) -> OrderCreated:
        body = jsonbody.nfc(body)  # read as sent (hub.payments client), NFC from here on
        error = self.classify("create_order", status, body)
        if error is not None:
            raise error
        url = body.get("paymentUrl")
        echoed = (body.get("order") or {}).get("reference") if isinstance(body.get("order"), dict) else None
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise PermanentGatewayError("create_order: accepted without a payment URL", http_status=status)
        if echoed is not None and echoed != reference:
            raise PermanentGatewayError("create_order: the answer names another order", http_status=status)
        session = body.get("session") if isinstance(body.get("session"), dict) else {}
        return OrderCreated(reference=reference, gateway_ref=str(session.get("id") or reference), payment_url=url)

    def read_status(self, reference: str, status: int, body: Any) -> GatewayStatus:
        body = jsonbody.nfc(body)  # read as sent (hub.payments client), NFC from here on
        if status == 404:
            cause = (body.get("error") or {}).get("cause") if isinstance(body, dict) else None
            return GatewayStatus(reference, "unknown", None, None, None, str(cause or "404"))
        error = self.classify("query", status, body)
        if error is not None:
            raise error
        order = body.get("order") if isinstance(body.get("order"), dict) else {}
        transaction = body.get("transaction") if isinstance(body.get("transaction"), dict) else {}
        response = body.get("response") if isinstance(body.get("response"), dict) else {}
        code = str(response.get("gatewayCode") or "")
        state: QueryState
        if code in self.settings.paid_codes:
            state = "paid"
        elif not code or code in self.settings.pending_codes:
            state = "pending"
        else:
            state = "failed"
        try:
            amount: int | None = parse_amount(order.get("amount")) if order.get("amount") is not None else None
        except ValueError as exc:
            raise PermanentGatewayError("query: unreadable amount", http_status=status) from exc
        txn = (transaction.get("receipt") or transaction.get("id")) if state != "pending" else None
        currency = order.get("currency")
        return GatewayStatus(
            reference, state, amount, str(currency) if currency else None, str(txn) if txn else None, code or "PENDING"
        )

    # ------------------------------------------------------------------ notification
    def checksum(self, data: str) -> str:
        return self._checksum(data, self._secret())

    def encode_notification(self, payment_result: dict[str, Any]) -> dict[str, str]:
        """``{data, checksum}`` for a ``paymentResult`` (used by the mock gateway)."""
        data = base64.b64encode(json.dumps({"paymentResult": payment_result}, ensure_ascii=False).encode()).decode()
        return {"data": data, "checksum": self.checksum(data)}

    def parse_callback(self, body: bytes, now: datetime) -> PaymentResult:
        """Checksum over the base64 text as received (constant time), then decode, merchant, freshness."""
        try:
            text = body.decode("utf-8")
            if text.startswith("napasResult="):  # [C] also sent form-encoded (himlam resultPurchaseOtp)
                text = parse_qs(text)["napasResult"][0]
            envelope = json_object(text)
        except (ValueError, KeyError) as exc:
            raise CallbackRejected("malformed", "body is not a JSON object") from exc
        data, checksum = envelope.get("data"), envelope.get("checksum")
        if not isinstance(data, str) or not data or not isinstance(checksum, str) or len(checksum) > 256:
            raise CallbackRejected("malformed", "data and checksum are required strings")
        if not same_digest(self.checksum(data), checksum):
            raise CallbackRejected("bad_signature", "checksum does not match")
        try:
            decoded = json_object(base64.b64decode(data, validate=True))
            result = decoded["paymentResult"]
            if not isinstance(result, dict):
                raise ValueError("paymentResult is not an object")
            return self._result(result, now)
        except (ValueError, KeyError, TypeError, AttributeError, ArithmeticError, binascii.Error) as exc:
            raise CallbackRejected("malformed", f"unreadable notification ({type(exc).__name__})") from exc

    def _result(self, result: dict[str, Any], now: datetime) -> PaymentResult:
        if result.get("merchantId") != self.merchant:
            raise CallbackRejected("wrong_merchant", "merchantId is not this merchant")
        order = result["order"]
        response = result.get("response") or {}
        transaction = result.get("transaction") or {}
        reference = order.get("id") or order.get("reference")
        if not isinstance(reference, str) or not reference:
            raise ValueError("order.id missing")
        occurred_at = parse_napas_time(result.get("timeOfRecord"))
        check_fresh(occurred_at, now, self.settings.callback_max_age_seconds, self.settings.callback_max_skew_seconds)
        code = str(response.get("gatewayCode") or "")
        if code in self.settings.pending_codes or not code:
            raise ValueError("not a final result")
        paid = str(result.get("result", "")).upper() == "SUCCESS" and code in self.settings.paid_codes
        return PaymentResult(
            profile=self.name,
            merchant=self.merchant,
            reference=reference,
            outcome="paid" if paid else "failed",
            amount=parse_amount(order.get("amount", transaction.get("amount"))),
            currency=str(order.get("currency") or transaction.get("currency") or ""),
            gateway_txn_id=str(transaction.get("receipt") or transaction.get("id") or ""),
            occurred_at=occurred_at,
            code=code,
        )

    def callback_reply(self, answer: str) -> tuple[int, dict[str, Any]]:
        if answer not in REPLIES:
            raise ValueError(f"unknown callback answer {answer!r}")
        status, cause, explanation = REPLIES[answer]
        if cause is None:
            return status, {"result": "SUCCESS", "message": explanation}
        return status, {"result": "ERROR", "error": {"cause": cause, "explanation": explanation}}
