"""The postal domain's ledger messages: their types, schema versions and payload models.

- ``postal.order.requested``: payload = ``PostalOrderRequest`` (JSON form); delivered by the
  ``vnpost`` connector as a create-order call. Ordering key: ``order_key(customer, order number)``.
- ``postal.order.cancel_requested``: payload = ``CancelRequest``; same connector, same key, so a
  cancel never overtakes its order.
- ``postal.status.changed``: payload = ``PostalStatusChanged``; the event to subscribers (webhooks),
  one per new canonical status of a parcel, in order.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .port import AwareTime, CancelRequest, OrderKind, PostalOrderRequest
from .rules import ParcelStatus

ORDER_REQUESTED = "postal.order.requested"
CANCEL_REQUESTED = "postal.order.cancel_requested"
STATUS_CHANGED = "postal.status.changed"
SCHEMA_VERSIONS: dict[str, int] = {ORDER_REQUESTED: 1, CANCEL_REQUESTED: 1, STATUS_CHANGED: 1}
PAYLOADS: dict[str, type[BaseModel]] = {ORDER_REQUESTED: PostalOrderRequest, CANCEL_REQUESTED: CancelRequest}


def order_key(customer_code: str, order_number: str) -> str:
    """The ordering key of an order's messages: one VNPost order is (customer code, order number)."""
    return f"{customer_code}:{order_number}"


def parse_command(message_type: str, payload: Any) -> PostalOrderRequest | CancelRequest:
    """The payload of a postal command as its model (raises ``KeyError`` for another type,
    ``pydantic.ValidationError`` for a payload that does not fit)."""
    model = PAYLOADS[message_type]
    parsed = model.model_validate(payload)
    assert isinstance(parsed, PostalOrderRequest | CancelRequest)
    return parsed


class PostalStatusChanged(BaseModel):
    """A parcel reached a new status (event to subscribers). Carries no personal data."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    order_id: str = Field(description="The hub's order id.")
    dossier_code: str = Field(description="MaHoSo (VNPost OrderNumber).")
    kind: OrderKind
    item_code: str | None = Field(default=None, description="Waybill number (ItemCode).")
    status: ParcelStatus
    previous_status: ParcelStatus | None = None
    occurred_at: AwareTime = Field(description="When VNPost says it happened (EventTime).")
    post_office: str | None = Field(default=None, description="POSID.")
    raw_status: str = Field(description="VNPost's status code.")
    final: bool = Field(description="Delivered, returned or cancelled: no further status will follow.")
