"""The payment domain's rules, as plain functions and constants (no I/O): its states, what of a
gateway's result the hub can store, and the event that announces a payment.

States: ``opening`` (the gateway has not answered yet, or could not be reached) ->
``pending`` (the citizen can pay at ``payment_url``) | ``in_doubt`` (the create call may
have reached the gateway: only a query settles it, never a guess) | ``refused`` (the gateway
refused the order). ``pending`` | ``in_doubt`` -> ``paid`` | ``failed``, once.
``in_doubt`` -> ``not_opened`` when the gateway says it never saw the order.
"""

from __future__ import annotations

import re
from typing import Any

from hub.canonical import MAX_AMOUNT_VND, MAX_TIMESTAMP_YEAR, MIN_TIMESTAMP_YEAR, PaymentStatusChanged
from hub.payments.port import PaymentResult

FINAL = ("paid", "failed", "refused", "not_opened")
UNSETTLED = ("pending", "in_doubt")
PAYMENT_ID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")  # a ULID: payments.id
MAX_TXN_ID = 100  # payments.gateway_txn_id, DossierFeePaid.gateway_txn_id
MAX_CODE = 32
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def unstorable(result: PaymentResult) -> str | None:
    """What of a verified gateway result the hub cannot store (the field and the rule, never the
    value), or None. Every field a result writes (the payment's transaction id, its history, the
    events announcing it) is bounded here, before anything is written: a result refused now is
    refused on every retry, in the gateway's format, instead of failing on a column."""
    if not 0 < result.amount <= MAX_AMOUNT_VND:
        return f"amount: must be between 1 and {MAX_AMOUNT_VND} VND"
    if not re.fullmatch(r"[A-Z]{3}", result.currency):
        return "currency: three capital letters (ISO 4217) expected"
    if len(result.gateway_txn_id) > MAX_TXN_ID or _CONTROL.search(result.gateway_txn_id):
        return f"transaction id: at most {MAX_TXN_ID} characters, no control characters"
    if len(result.code) > MAX_CODE or _CONTROL.search(result.code):
        return f"result code: at most {MAX_CODE} characters, no control characters"
    if not MIN_TIMESTAMP_YEAR <= result.occurred_at.year <= MAX_TIMESTAMP_YEAR:
        return f"time: between the years {MIN_TIMESTAMP_YEAR} and {MAX_TIMESTAMP_YEAR}"
    return None


def partner_text(value: str, limit: int) -> str:
    """A partner's text for the history: control characters dropped, bounded."""
    return _CONTROL.sub("", value)[:limit]


def event_payload(p: dict[str, Any]) -> dict[str, Any]:
    """The ``payment.status.changed`` event (hub.canonical.PaymentStatusChanged) of a payment."""
    return PaymentStatusChanged(
        payment_id=p["id"],
        client_reference=p["client_reference"],
        dossier_code=p["dossier_code"],
        state=p["state"],
        amount=p["amount"],
        currency=p["currency"],
        profile=p["profile"],
        settled_at=p["settled_at"],
    ).model_dump(mode="json")
