"""A fake connector: the same port as a real one, with scripted outcomes."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from hub.ports import DeliveryItem, DeliveryPolicy, Outcome, OutcomeKind

FAST = DeliveryPolicy(timeout=1, max_attempts=100, backoff_base=0.05, backoff_max=0.2, breaker_failures=1000)


class FakeConnector:
    name = "national_portal"
    message_types = ("dossier.status.changed",)

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
