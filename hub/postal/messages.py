"""The postal domain's ledger messages (their names and versions are in ``hub.messages``):

- ``postal.order.requested``: payload = ``PostalOrderRequest`` (JSON form); delivered by the
  ``vnpost`` connector as a create-order call. Ordering key: ``order_key(customer, order number)``.
- ``postal.order.cancel_requested``: payload = ``CancelRequest``; same connector, same key, so a
  cancel never overtakes its order.
- ``postal.status.changed``: payload = :class:`PostalStatusChanged`; the event to subscribers
  (webhooks), one per new canonical status of a parcel, in order.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from .port import AwareTime, OrderKind
from .rules import ParcelStatus


def order_key(customer_code: str, order_number: str) -> str:
    """The ordering key of an order's messages: one VNPost order is (customer code, order number)."""
    return f"{customer_code}:{order_number}"


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
