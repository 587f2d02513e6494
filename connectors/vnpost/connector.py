"""``VnpostConnector``: the ledger's ``hub.ports.Connector`` for postal commands.

- ``postal.order.requested`` (payload: ``PostalOrderRequest``) -> ``create_order``;
- ``postal.order.cancel_requested`` (payload: ``CancelRequest``) -> ``cancel_order``.

One partner call per item, in order; one ``Outcome`` per item, same order. Partner failures are
outcomes: retryable -> RETRY, permanent -> DEAD (a refused cancel too, with its reason); any other
exception is a bug and becomes RETRY. An unknown message type or a payload that does not fit its
model is DEAD. When an item of an order is not delivered, the later items of the same order in
the batch are RETRY without a call (a cancel never overtakes its order).

A redelivery in doubt is harmless without a lookup: ``create_order`` is idempotent on
(CustomerCode, OrderNumber) — VNPost answers "already registered" (``101``), which is DELIVERED —
and cancelling a cancelled order is a success.

The gateway is chosen by the payload's customer code (``gateways``: one per agency's customer code,
each with its own variant and credentials), else the default gateway.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import ValidationError

from hub.messages import POSTAL_CANCEL_REQUESTED, POSTAL_ORDER_REQUESTED, parse
from hub.ports import Connector, DeliveryItem, Outcome, OutcomeKind
from hub.postal.port import CancelRequest, OrderAccepted, PostalError, PostalGateway, PostalOrderRequest

from .client import VnpostClient
from .config import VnpostSettings

NAME = "vnpost"
MESSAGE_TYPES: tuple[str, ...] = (POSTAL_ORDER_REQUESTED, POSTAL_CANCEL_REQUESTED)


class VnpostConnector:
    name: str = NAME
    message_types: tuple[str, ...] = MESSAGE_TYPES

    def __init__(
        self,
        settings: VnpostSettings | None = None,
        gateway: PostalGateway | None = None,
        gateways: Mapping[str, PostalGateway] | None = None,
    ) -> None:
        self.settings = settings or VnpostSettings()
        self.gateway: PostalGateway = gateway or VnpostClient(self.settings)
        self.gateways = dict(gateways or {})
        self.policy = self.settings.policy()

    def close(self) -> None:
        for gw in {id(g): g for g in [self.gateway, *self.gateways.values()]}.values():
            gw.close()

    def deliver(self, items: Sequence[DeliveryItem]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        blocked: set[str] = set()
        for item in items:
            if item.key in blocked:
                outcome = Outcome(OutcomeKind.RETRY, "an earlier message of this order was not delivered")
            else:
                try:
                    outcome = self._one(item)
                except Exception as exc:  # a bug, not a partner answer: try again later
                    outcome = Outcome(OutcomeKind.RETRY, f"unexpected {type(exc).__name__}")
            if outcome.kind is not OutcomeKind.DELIVERED:
                blocked.add(item.key)
            outcomes.append(outcome)
        return outcomes

    def _one(self, item: DeliveryItem) -> Outcome:
        if item.type not in MESSAGE_TYPES:
            return Outcome(OutcomeKind.DEAD, f"message type {item.type!r} not handled")
        try:
            command = parse(item.type, item.payload)
        except ValidationError as exc:  # validated upstream: a contract bug; name the fields only
            fields = sorted({".".join(str(p) for p in e["loc"]) or "payload" for e in exc.errors()})
            return Outcome(OutcomeKind.DEAD, f"payload does not fit {item.type}: {', '.join(fields)[:200]}")
        if not isinstance(command, PostalOrderRequest | CancelRequest):  # MESSAGE_TYPES holds these two only
            raise TypeError(f"no postal command model for {item.type}")
        gateway = self.gateways.get(command.customer_code, self.gateway)
        sent = command.model_dump(mode="json")  # the evidence log keeps keyed digests of what was asked and answered
        try:
            if isinstance(command, PostalOrderRequest):
                accepted = gateway.create_order(command)
                detail = "already registered at VNPost" if accepted.already_registered else "order registered"
                got = accepted.model_dump(mode="json")
                return Outcome(
                    OutcomeKind.DELIVERED,
                    f"{detail} ({gateway.variant})",
                    accepted.partner_ref,
                    _excerpt(accepted),
                    request=sent,
                    answer=got,
                )
            result = gateway.cancel_order(command)
            detail = "already cancelled" if result.already_cancelled else "order cancelled"
            got = result.model_dump(mode="json")
            return Outcome(
                OutcomeKind.DELIVERED, f"{detail} ({gateway.variant})", command.order_number, request=sent, answer=got
            )
        except PostalError as exc:
            kind = OutcomeKind.RETRY if exc.retryable else OutcomeKind.DEAD
            return Outcome(kind, exc.describe(), response=exc.code, request=sent)  # answer: its code (response)


def _excerpt(accepted: OrderAccepted) -> str | None:
    return f"{accepted.partner_code} {accepted.message}".strip() or None


def _conforms(connector: VnpostConnector) -> Connector:
    return connector  # mypy checks that the connector satisfies the hub's port
