"""State of the mock gateway: orders, tokens, faults, and the signed callbacks it sends to the hub.

Callbacks are built with the same profile classes the hub uses (``napas.py``, ``paygov.py``); the
known-answer tests pin those signatures independently, so the mock cannot drift with a bug in them.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import threading
from collections import Counter
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import httpx
from fastapi import Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import Field

from hub import jsonbody
from hub.mockkit import FaultSettings

from .config import NapasSettings, PayGovSettings
from .napas import NapasProfile
from .paygov import PayGovProfile
from .signing import PAYGOV_CONFIRM_FIELDS
from .translate import napas_time, paygov_time, utcnow

PAYGOV_DECLINED = "24"  # [I] MaLoi of a confirm for a declined / cancelled payment (VNPay's "customer cancelled")
PAYGOV_STATES = {"pending": "3", "paid": "1", "failed": "4"}  # [C] TrangThaiGD of a QUERY answer (MaLoi "00")


class Faults(FaultSettings):
    """Fault injection, at start (CLI flags) or at run time (``POST /_mock/faults``)."""

    duplicate_callbacks: int = Field(default=1, ge=1, le=50, description="Copies of each callback sent.")
    parallel_duplicates: bool = Field(default=False, description="Send the copies at the same time.")
    callback_delay_seconds: float = Field(default=0.0, ge=0, description="Send callbacks this late (background).")
    drop_callbacks: bool = Field(default=False, description="Never send callbacks (the hub must query).")
    bad_signature: bool = Field(default=False, description="Sign callbacks with a wrong secret.")
    amount_delta: int = Field(default=0, description="Callbacks carry the order amount plus this (mismatch).")
    timeout_rate: float = Field(default=0.0, ge=0, le=1, description="Create/query calls that hang, then 504.")
    hang_seconds: float = Field(default=15.0, ge=0, description="How long a hang lasts (> the client timeout).")
    error_5xx_rate: float = Field(default=0.0, ge=0, le=1, description="Create/query calls answered 503 unprocessed.")
    token_ttl_seconds: float = Field(default=3600.0, gt=0, description="expires_in of NAPAS tokens issued from now.")


State = Literal["pending", "paid", "failed"]


@dataclass
class MockOrder:
    profile: str
    reference: str
    amount: int
    currency: str
    description: str
    dossier_code: str
    return_url: str
    callback_url: str
    gateway_ref: str
    created_at: datetime
    state: State = "pending"
    abandoned: bool = False
    txn_id: str = ""
    settled_at: datetime | None = None
    last_callback: dict[str, Any] | None = None
    opened_time: str = ""  # PayGov: the INIT ThoiGianGD, as sent (QUERY must repeat it)

    def view(self) -> dict[str, Any]:
        out = asdict(self)
        out["created_at"] = self.created_at.isoformat()
        out["settled_at"] = self.settled_at.isoformat() if self.settled_at else None
        return out


@dataclass
class SentCallback:
    reference: str
    profile: str
    url: str
    copy: int
    body: dict[str, Any]
    resent: bool = False
    sent_at: str = ""
    status: int | None = None
    answer: Any = None
    error: str | None = None
    seq: int = field(default=0)
    echoed: bool | None = None  # PayGov: the reply echoed MaLoi, ThoiGianGD and MaXacThuc (None: not PayGov)


class MockGateway:
    """All mutable state behind one lock; callbacks are sent outside it."""

    def __init__(
        self,
        napas: NapasSettings,
        paygov: PayGovSettings,
        public_url: str,
        faults: Faults | None = None,
        http_factory: Callable[[], httpx.Client] | None = None,
        clock: Callable[[], datetime] = utcnow,
        max_amount: int = 500_000_000,
        strict: bool = True,
        paygov_callback_time: Literal["opening", "payment"] = "opening",
    ) -> None:
        self.napas, self.paygov = NapasProfile(napas), PayGovProfile(paygov)
        self.strict = strict  # mock_rules.RULES: strict-only rules apply
        self.paygov_callback_time = paygov_callback_time  # which time a PayGov confirm signs
        self.public_url = public_url.rstrip("/")
        self.http_factory = http_factory or (lambda: httpx.Client(timeout=10.0))
        self.clock = clock
        self.max_amount = max_amount
        self.lock = threading.RLock()
        self.reset(faults)

    def reset(self, faults: Faults | None = None) -> None:
        with self.lock:
            self.set_faults(faults or Faults(), changed=Faults.model_fields)
            self.orders: dict[str, MockOrder] = {}
            self.tokens: dict[str, datetime] = {}
            self.callbacks: list[SentCallback] = []
            self.calls: Counter[str] = Counter()
            self.rejected: Counter[str] = Counter()
            self.injected: Counter[str] = Counter()

    def set_faults(self, faults: Faults, changed: Collection[str]) -> None:
        with self.lock:
            self.faults = faults
            if "seed" in changed:
                self.rng = random.Random(faults.seed)

    def roll(self) -> Literal["timeout", "5xx"] | None:
        """The fault dice for one create/query call."""
        with self.lock:
            hang = self.rng.random() < self.faults.timeout_rate
            fail = self.rng.random() < self.faults.error_5xx_rate
            kind: Literal["timeout", "5xx"] | None = "timeout" if hang else "5xx" if fail else None
            if kind:
                self.injected[kind] += 1
            return kind

    def reject(self, code: str) -> None:
        with self.lock:
            self.rejected[code] += 1

    # ------------------------------------------------------------------ tokens, orders
    def issue_token(self) -> tuple[str, float]:
        token = secrets.token_urlsafe(24)
        with self.lock:
            ttl = self.faults.token_ttl_seconds
            self.tokens[token] = self.clock() + timedelta(seconds=ttl)
        return token, ttl

    def token_ok(self, authorization: str | None) -> bool:
        scheme, _, token = (authorization or "").partition(" ")
        with self.lock:
            expiry = self.tokens.get(token)
            return scheme.lower() == "bearer" and expiry is not None and self.clock() < expiry

    def add_order(self, order: MockOrder) -> bool:
        """False if the reference is taken (in either profile)."""
        with self.lock:
            if order.reference in self.orders:
                return False
            self.orders[order.reference] = order
            return True

    def payment_url(self, reference: str) -> str:
        return f"{self.public_url}/pay/{reference}"

    def settle(self, reference: str, action: Literal["pay", "decline", "abandon"]) -> MockOrder:
        """Apply a payer's action; KeyError if unknown, ValueError if the order is already settled."""
        with self.lock:
            order = self.orders[reference]
            if order.state != "pending":
                raise ValueError(f"order {reference} is already {order.state}")
            if action == "abandon":
                order.abandoned = True
                return order
            order.state = "paid" if action == "pay" else "failed"
            order.settled_at = self.clock()
            order.txn_id = f"{self.rng.randrange(10**11, 10**12)}"
            return order

    # ------------------------------------------------------------------ callbacks
    def callback_body(self, order: MockOrder) -> dict[str, Any]:
        """The signed callback of a settled order, with the callback faults applied."""
        f = self.faults
        at = order.settled_at or self.clock()
        amount = order.amount + f.amount_delta
        if order.profile == "napas":
            paid = order.state == "paid"
            result = {
                "apiOperation": self.napas.settings.api_operation,
                "merchantId": self.napas.merchant,
                "order": {"id": order.reference, "reference": order.reference, "amount": amount, "currency": "VND"},
                "response": {"gatewayCode": "APPROVED" if paid else "DECLINED", "message": "Mock"},
                "result": "SUCCESS" if paid else "FAILURE",
                "transaction": {"id": self.napas.settings.transaction_id, "receipt": order.txn_id, "amount": amount},
                "timeOfRecord": napas_time(at),
            }
            body = self.napas.encode_notification(result)
            if f.bad_signature:
                body["checksum"] = self.napas.checksum(body["data"] + "tampered")
            return body
        message = {
            "LoaiBanTin": "CONFIRM",
            "MaLoi": "00" if order.state == "paid" else PAYGOV_DECLINED,
            "MaDoiTac": self.paygov.merchant,
            "MaThamChieu": order.reference,
            "SoTien": str(amount),
            "MaTienTe": "VND",
            "MaGiaoDich": order.txn_id,
            "MaNganHang": "PAYMENT",
            # [I] the opening (INIT) time by default: a citizen may take long on the payment page
            "ThoiGianGD": order.opened_time if self.paygov_callback_time == "opening" else paygov_time(at),
            "ThongTinGiaoDich": order.description,
        }
        signed = self.paygov.sign(message, PAYGOV_CONFIRM_FIELDS)
        if f.bad_signature:
            signed["MaXacThuc"] = self.paygov.sign({**message, "MaLoi": "tampered"}, PAYGOV_CONFIRM_FIELDS)["MaXacThuc"]
        return signed

    def dispatch(self, order: MockOrder) -> str:
        """Send the callback of a just-settled order as the faults say: 'sent', 'scheduled' or 'dropped'."""
        f = self.faults
        if f.drop_callbacks:
            with self.lock:
                self.injected["dropped_callback"] += 1
            return "dropped"
        body = self.callback_body(order)
        with self.lock:
            order.last_callback = body
        if f.callback_delay_seconds > 0:
            timer = threading.Timer(f.callback_delay_seconds, self._send_copies, (order, body, f))
            timer.daemon = True
            timer.start()
            return "scheduled"
        self._send_copies(order, body, f)
        return "sent"

    def resend(self, reference: str) -> SentCallback:
        """Send the last callback of an order again, unchanged (an old, replayed callback)."""
        with self.lock:
            order = self.orders[reference]
            body = order.last_callback
        if body is None:
            raise ValueError(f"no callback was built for order {reference}")
        return self._send(order, body, 1, resent=True)

    def _send_copies(self, order: MockOrder, body: dict[str, Any], f: Faults) -> None:
        copies = range(1, f.duplicate_callbacks + 1)
        if f.parallel_duplicates and f.duplicate_callbacks > 1:
            with ThreadPoolExecutor(max_workers=f.duplicate_callbacks) as pool:
                list(pool.map(lambda n: self._send(order, body, n), copies))
        else:
            for n in copies:
                self._send(order, body, n)

    def _send(self, order: MockOrder, body: dict[str, Any], copy: int, resent: bool = False) -> SentCallback:
        record = SentCallback(order.reference, order.profile, order.callback_url, copy, body, resent)
        record.sent_at = self.clock().isoformat()
        try:
            with self.http_factory() as client:
                response = client.post(order.callback_url, json=body)
            record.status = response.status_code
            try:
                record.answer = jsonbody.parse(response.content)
            except ValueError:
                record.answer = response.text[:500]
            if order.profile == "paygov":
                answer = record.answer if isinstance(record.answer, dict) else {}
                record.echoed = all(answer.get(k) == body.get(k) for k in ("MaLoi", "ThoiGianGD", "MaXacThuc"))
        except httpx.HTTPError as exc:
            record.error = type(exc).__name__
        with self.lock:
            record.seq = len(self.callbacks) + 1
            self.callbacks.append(record)
        return record

    # ------------------------------------------------------------------ views
    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "orders": dict(Counter(o.state for o in self.orders.values())),
                "abandoned": sum(o.abandoned for o in self.orders.values()),
                "calls": dict(self.calls),
                "rejected_by_code": dict(self.rejected),
                "faults_injected": dict(self.injected),
                "callbacks_sent": len(self.callbacks),
                "callback_answers": dict(Counter(str(c.status or c.error) for c in self.callbacks)),
                "paygov_replies_not_echoed": sum(c.echoed is False for c in self.callbacks),
                "strict": self.strict,
            }


# ------------------------------------------------------------------ helpers of the protocol routes
async def read_json(request: Request) -> dict[str, Any] | None:
    """The body as a JSON object (``hub.jsonbody``: depth limit, storable text), or None."""
    try:
        body = jsonbody.parse(await request.body(), normalise=False)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


async def fault_of(gw: MockGateway) -> Response | None:
    kind = gw.roll()
    if kind == "timeout":
        await asyncio.sleep(gw.faults.hang_seconds)
        return PlainTextResponse("Gateway Timeout", status_code=504)
    if kind == "5xx":
        return PlainTextResponse("Service Unavailable", status_code=503)
    return None


def as_object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
