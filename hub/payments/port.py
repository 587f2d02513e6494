"""The payment port: what the hub hands a gateway and what it gets back, whatever the gateway,
and the gateway's error family. ``connectors/payment_napas`` implements it (NAPAS and PayGov).

Amounts are integers in VND (the currency has no minor unit). ``reference`` is always the hub's
payment id (a 26-character ULID); every profile uses it as the gateway's order reference, so a
status query or a callback names the payment the hub knows.

Errors (classified by each profile, ``connectors/payment_napas/errors.py``):

==========================  =================================================================
``RetryableGatewayError``   surely not processed: the same call may be made again later
``GatewayTimeout``          in doubt, the call may have reached the gateway: only a status
                            query settles it (never retried blindly)
``PermanentGatewayError``   the gateway refused the request; repeating it would be refused again
``CallbackRejected``        a result callback that must not be applied (bad signature, stale,
                            malformed, another merchant)
==========================  =================================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

from hub.agencies.port import PayGovBeneficiary
from hub.partners import PartnerError, PermanentError, RetryableError

Outcome = Literal["paid", "failed"]
QueryState = Literal["paid", "failed", "pending", "unknown"]
CallbackAnswer = Literal[
    "ok",
    "already_settled",
    "unknown_order",
    "amount_mismatch",
    "bad_signature",
    "stale",
    "malformed",
    "wrong_merchant",
    "unavailable",
]
RejectReason = Literal["bad_signature", "stale", "malformed", "wrong_merchant"]

CALLBACK_ANSWERS: tuple[CallbackAnswer, ...] = (
    "ok",
    "already_settled",
    "unknown_order",
    "amount_mismatch",
    "bad_signature",
    "stale",
    "malformed",
    "wrong_merchant",
    "unavailable",  # the hub cannot record it now (its database is down): the gateway should send it again
)
REJECT_REASONS: tuple[RejectReason, ...] = ("bad_signature", "stale", "malformed", "wrong_merchant")


@dataclass(frozen=True)
class FeeItem:
    """One fee or charge of a dossier (PayGov ``PhiLePhi`` item: ``MaPhiLePhi``, ``TenPhiLePhi``, ``SoTien``)."""

    code: str
    name: str
    amount: int


@dataclass(frozen=True)
class PaymentOrder:
    """A fee payment to open at the gateway. ``payer_name`` and ``payer_id_number`` are personal
    data: sent only where the gateway needs them (the PayGov receipt), never logged or stored.

    ``beneficiary`` is the agency's PayGov configuration (``hub.agencies``: TKThuHuong, MaNHThuHuong,
    TenTKThuHuong, TenDonVi), set by the service for the paygov profile. ``opened_at`` is the
    transaction time given to the gateway (PayGov INIT ``ThoiGianGD``); a status query sends it again."""

    reference: str
    dossier_code: str
    procedure_code: str
    agency_code: str
    amount: int
    description: str
    fee_items: tuple[FeeItem, ...]
    payer_name: str
    return_url: str
    procedure_name: str = ""
    payer_id_number: str = ""
    beneficiary: PayGovBeneficiary | None = None
    opened_at: datetime | None = None

    def __repr__(self) -> str:  # keep the payer's name out of tracebacks and logs
        return f"PaymentOrder(reference={self.reference!r}, dossier_code={self.dossier_code!r}, amount={self.amount})"


@dataclass(frozen=True)
class OrderCreated:
    """The gateway accepted the order: send the citizen to ``payment_url``."""

    reference: str
    gateway_ref: str
    payment_url: str


@dataclass(frozen=True)
class GatewayStatus:
    """The answer of a status query. ``unknown``: the gateway never saw that order."""

    reference: str
    state: QueryState
    amount: int | None
    currency: str | None
    gateway_txn_id: str | None
    code: str


@dataclass(frozen=True)
class PaymentResult:
    """A verified payment result callback (signature, freshness and merchant checked)."""

    profile: str
    merchant: str
    reference: str
    outcome: Outcome
    amount: int
    currency: str
    gateway_txn_id: str
    occurred_at: datetime  # timezone-aware
    code: str
    # the callback's fields the gateway expects echoed in the reply (PayGov: MaLoi, ThoiGianGD, MaXacThuc)
    echo: Mapping[str, str] = field(default_factory=dict)


@runtime_checkable
class PaymentGateway(Protocol):
    """One gateway profile behind one interface. No I/O happens before the first call."""

    profile: str
    merchant: str

    def create_order(self, order: PaymentOrder) -> OrderCreated:
        """Open the order; never retried blindly (raises ``GatewayTimeout`` when in doubt)."""
        ...

    def query(self, reference: str, opened_at: datetime | None = None) -> GatewayStatus:
        """The gateway's view of the order; retryable failures are retried a bounded number of times.
        ``opened_at``: the order's ``PaymentOrder.opened_at`` (PayGov queries with it, not "now")."""
        ...

    def parse_callback(self, body: bytes, now: datetime | None = None) -> PaymentResult:
        """Verify a result callback (constant-time signature check, freshness, merchant) or raise
        ``CallbackRejected`` with its reason."""
        ...

    def callback_reply(self, answer: CallbackAnswer, result: PaymentResult | None = None) -> tuple[int, dict[str, Any]]:
        """HTTP status and JSON body acknowledging a callback, in the gateway's own format; ``result``
        (when the callback was read) gives the fields the gateway expects echoed."""
        ...

    def close(self) -> None: ...


# ---------------------------------------------------------------- errors
class GatewayError(PartnerError):
    """A gateway call that did not succeed. Its message carries the HTTP status, the gateway's code
    and its explanation shortened, ID-like digit runs masked; never a token, a secret or the payer's name."""

    def __init__(self, message: str, *, code: str | None = None, http_status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.http_status = http_status


class GatewayTimeout(GatewayError, RetryableError):
    """The call may have reached the gateway: in doubt. Nothing was refused, so it is retryable in
    the shared sense (``hub.partners``); but what is tried again is a status query, which settles
    it, never the call itself (a second order)."""


class RetryableGatewayError(GatewayError, RetryableError):
    """Surely not processed by the gateway; the same call may be made again later."""


class PermanentGatewayError(GatewayError, PermanentError):
    """The gateway refused the request; repeating it would be refused again."""


class CallbackRejected(Exception):
    """A callback that must not be applied. ``reason``: bad_signature, stale, malformed, wrong_merchant."""

    def __init__(self, reason: RejectReason, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason: RejectReason = reason
        self.detail = detail
