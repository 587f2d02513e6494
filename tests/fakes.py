"""A fake connector: the same port as a real one, with scripted outcomes."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from hub.payments.port import CallbackAnswer, GatewayStatus, OrderCreated, PaymentOrder, PaymentResult
from hub.ports import DeliveryItem, DeliveryPolicy, Outcome, OutcomeKind

FAST = DeliveryPolicy(timeout=1, max_attempts=100, backoff_base=0.05, backoff_max=0.2, breaker_failures=1000)


class FakeConnector:
    name: str = "national_portal"
    message_types: tuple[str, ...] = ("dossier.status.changed",)

    def __init__(
        self,
        policy: DeliveryPolicy = FAST,
        decide: Callable[[DeliveryItem], Outcome] | None = None,
    ):
        self.policy = policy
        self.decide = decide or (
            lambda item: Outcome(OutcomeKind.DELIVERED, "ok", partner_ref="ref-" + item.message_id)
        )
        self.calls: list[DeliveryItem] = []
        self.delivered: list[DeliveryItem] = []
        self.lock = threading.Lock()

    def deliver(self, items: Sequence[DeliveryItem]) -> list[Outcome]:
        out = []
        for it in items:
            o = self.decide(it)
            with self.lock:
                self.calls.append(it)
                if o.kind is OutcomeKind.DELIVERED:
                    self.delivered.append(it)
            out.append(o)
        return out

    def close(self) -> None:
        pass


class FakeGateway:
    """A payment gateway with scripted answers, for the payments service's own tests: the
    same port as the real profiles (connectors.payment_napas.PaymentGateway), no HTTP and no
    signatures (those are tested with the real profiles and the mock gateway)."""

    def __init__(self, profile: str = "napas", merchant: str = "LGSP-TEST") -> None:
        self.profile, self.merchant = profile, merchant
        self.orders: list[PaymentOrder] = []
        self.create_error: Exception | None = None  # raised by create_order while set
        self.status: dict[str, GatewayStatus] = {}  # reference -> what query answers
        self.queried: list[tuple[str, datetime | None]] = []  # (reference, opened_at) of every query

    def create_order(self, order: PaymentOrder) -> OrderCreated:
        self.orders.append(order)
        if self.create_error is not None:
            raise self.create_error
        return OrderCreated(order.reference, f"GW-{order.reference}", f"https://pay.example/{order.reference}")

    def query(self, reference: str, opened_at: datetime | None = None) -> GatewayStatus:
        self.queried.append((reference, opened_at))
        return self.status.get(reference) or GatewayStatus(reference, "unknown", None, None, None, "404")

    def parse_callback(self, body: bytes, now: datetime | None = None) -> PaymentResult:
        raise NotImplementedError("callbacks are verified by the real profiles")

    def callback_reply(self, answer: CallbackAnswer, result: PaymentResult | None = None) -> tuple[int, dict[str, Any]]:
        return 200, {"answer": answer}

    def close(self) -> None:
        pass
