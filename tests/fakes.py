"""A fake connector: the same port as a real one, with scripted outcomes."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from hub.messages import DOSSIER_FEE_PAID, DOSSIER_POSTAL_STEP, DOSSIER_STATUS_CHANGED
from hub.payments.port import CallbackAnswer, GatewayStatus, OrderCreated, PaymentOrder, PaymentResult
from hub.ports import DeliveryItem, DeliveryPolicy, Outcome, OutcomeKind

FAST = DeliveryPolicy(timeout=1, max_attempts=100, backoff_base=0.05, backoff_max=0.2, breaker_failures=1000)


class FakeConnector:
    """A fake delivery connector: the same port as a real one, with scripted outcomes. It passes
    the connector contract (``tests/connector_contract.py``, ``tests/test_connector_contract.py``).

    Capability card
    ---------------
    - **Protocol**: none: a Python call to ``decide(item)``, the scripted partner.
    - **Auth**: none.
    - **Messages**: ``dossier.status.changed`` and ``dossier.fee.paid`` (the national portal's: it
      stands in for that connector, under its name); a message of another type is dead, not sent.
    - **Idempotency key**: the message id. The fake partner keeps what it was delivered
      (``delivered``); an item in doubt whose message it holds is DELIVERED again without a second
      call (the real connectors' in-doubt lookup).
    - **Answers**: the outcome ``decide`` returns, as is (by default DELIVERED, ``partner_ref``
      ``ref-<message id>``); an exception raised by ``decide`` is RETRY, in doubt.
    """

    name: str = "national_portal"

    def __init__(
        self,
        policy: DeliveryPolicy = FAST,
        decide: Callable[[DeliveryItem], Outcome] | None = None,
        message_types: tuple[str, ...] = (DOSSIER_STATUS_CHANGED, DOSSIER_FEE_PAID, DOSSIER_POSTAL_STEP),
    ):
        self.policy = policy
        self.message_types: tuple[str, ...] = message_types
        self.decide = decide or (
            lambda item: Outcome(OutcomeKind.DELIVERED, "ok", partner_ref="ref-" + item.message_id)
        )
        self.calls: list[DeliveryItem] = []
        self.delivered: list[DeliveryItem] = []
        self.held: dict[str, str | None] = {}  # message id -> partner_ref, of what the partner holds
        self.lock = threading.Lock()

    def deliver(self, items: Sequence[DeliveryItem]) -> list[Outcome]:
        return [self._one(it) for it in items]

    def _one(self, item: DeliveryItem) -> Outcome:
        if item.type not in self.message_types:
            return Outcome(OutcomeKind.DEAD, f"message type {item.type!r} not handled", in_doubt=False)
        with self.lock:
            if item.in_doubt and item.message_id in self.held:
                return Outcome(OutcomeKind.DELIVERED, "already at the partner", self.held[item.message_id])
            self.calls.append(item)
        try:
            o = self.decide(item)
        except Exception as exc:  # a bug of the scripted partner: like any connector, retry later
            return Outcome(OutcomeKind.RETRY, f"unexpected {type(exc).__name__}")
        if o.kind is OutcomeKind.DELIVERED:
            with self.lock:
                self.delivered.append(item)
                self.held[item.message_id] = o.partner_ref
        return o

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
