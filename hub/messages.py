"""Every message type the hub carries, in one place: its name, schema version and payload model.

A ledger message's ``type`` and ``schema_version`` come from here, and so do the JSON Schemas in
``schemas/`` (``published`` types only: those local systems send or receive) and each connector's
``MESSAGE_TYPES``. Nothing else spells a type's name.

==================================  ===  ============================  ====================================
type                                v    payload model                 who sends it, who delivers it
==================================  ===  ============================  ====================================
``dossier.status.changed``          1    ``DossierStatusChange``       one-stop systems -> national portal
``dossier.fee.paid``                1    ``DossierFeePaid``            the hub (a paid fee) -> national portal
``payment.status.changed``          1    ``PaymentStatusChanged``      the hub -> webhook subscribers
``postal.order.requested``          1    ``PostalOrderRequest``        (postal domain) -> vnpost
``postal.order.cancel_requested``   1    ``CancelRequest``             (postal domain) -> vnpost
``postal.status.changed``           1    ``PostalStatusChanged``       the hub (a parcel moved) -> webhook subscribers
``dossier.postal.step``             1    ``DossierPostalStep``         the hub (a parcel moved) -> national portal
==================================  ===  ============================  ====================================

The postal commands are the hub's own (built by ``hub.postal.service`` from ``POST /v1/postal/orders``,
never sent by local systems as such): not published. The postal events are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from pydantic import BaseModel

from hub.canonical import DossierFeePaid, DossierStatusChange, PaymentStatusChanged
from hub.ledger.model import NewMessage
from hub.postal.messages import DossierPostalStep, PostalStatusChanged
from hub.postal.port import CancelRequest, PostalOrderRequest

DOSSIER_STATUS_CHANGED: Final = "dossier.status.changed"
DOSSIER_FEE_PAID: Final = "dossier.fee.paid"
PAYMENT_STATUS_CHANGED: Final = "payment.status.changed"
POSTAL_ORDER_REQUESTED: Final = "postal.order.requested"
POSTAL_CANCEL_REQUESTED: Final = "postal.order.cancel_requested"
POSTAL_STATUS_CHANGED: Final = "postal.status.changed"
DOSSIER_POSTAL_STEP: Final = "dossier.postal.step"


@dataclass(frozen=True)
class MessageType:
    name: str
    version: int  # the payload's schema version, stored with every ledger message
    model: type[BaseModel]
    published: bool = True  # its JSON Schema is in schemas/ (a contract local systems read)


TYPES: Final[dict[str, MessageType]] = {
    t.name: t
    for t in (
        MessageType(DOSSIER_STATUS_CHANGED, 1, DossierStatusChange),
        MessageType(DOSSIER_FEE_PAID, 1, DossierFeePaid),
        MessageType(PAYMENT_STATUS_CHANGED, 1, PaymentStatusChanged),
        MessageType(POSTAL_ORDER_REQUESTED, 1, PostalOrderRequest, published=False),
        MessageType(POSTAL_CANCEL_REQUESTED, 1, CancelRequest, published=False),
        MessageType(POSTAL_STATUS_CHANGED, 1, PostalStatusChanged),
        MessageType(DOSSIER_POSTAL_STEP, 1, DossierPostalStep),
    )
}
# Event types a local system may subscribe a webhook to (``/v1/subscriptions``).
EVENTS: Final[tuple[str, ...]] = (PAYMENT_STATUS_CHANGED, POSTAL_STATUS_CHANGED)


def version(name: str) -> int:
    """The schema version of a message type (``KeyError`` for a type the hub does not carry)."""
    return TYPES[name].version


def new_message(
    name: str,
    *,
    key: str,
    occurred_at: datetime,
    natural_key: str,
    connector: str,
    payload: dict[str, Any],
    correlation_id: str,
    causation_id: str | None = None,
    payload_json: str | None = None,
) -> NewMessage:
    """A ledger message of type ``name``, its schema version taken from the table above (the one
    way the domains build one: a type's version is never spelt at a call site)."""
    return NewMessage(
        type=name,
        key=key,
        occurred_at=occurred_at,
        natural_key=natural_key,
        connector=connector,
        schema_version=version(name),
        payload=payload,
        correlation_id=correlation_id,
        causation_id=causation_id,
        payload_json=payload_json,
    )


def parse(name: str, payload: Any) -> BaseModel:
    """A payload as its type's model (``KeyError`` for an unknown type, ``pydantic.ValidationError``
    for a payload that does not fit)."""
    return TYPES[name].model.model_validate(payload)


def published() -> list[MessageType]:
    return [t for t in TYPES.values() if t.published]
