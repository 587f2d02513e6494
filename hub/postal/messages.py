"""The postal domain's ledger messages (their names and versions are in ``hub.messages``):

- ``postal.order.requested``: payload = ``PostalOrderRequest`` (JSON form); delivered by the
  ``vnpost`` connector as a create-order call. Ordering key: ``order_key(customer, order number)``.
- ``postal.order.cancel_requested``: payload = ``CancelRequest``; same connector, same key, so a
  cancel never overtakes its order.
- ``postal.status.changed``: payload = :class:`PostalStatusChanged`; the event to subscribers
  (webhooks), one per new canonical status of a parcel, in order.
- ``dossier.postal.step``: payload = :class:`DossierPostalStep`; the same step told to the national
  portal as a progress entry (``TrangThai`` 9, the text below), keyed by the dossier so it goes in
  order with the dossier's status changes; with the dossier's latest status change, when the hub
  has one, synced again with the postal markers (``KenhThucHien`` 3 for a dossier handed in by
  post, ``HinhThuc`` 1 for a result sent by post) and, once the result is delivered, its return date.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from hub.canonical import DossierStatusChange
from hub.codes import AGENCY_CODE_PATTERN, DOSSIER_CODE_PATTERN

from .port import AwareTime, OrderKind
from .rules import ParcelStatus

S = ParcelStatus
PORTAL_PROGRESS_STATUS = 9  # the progress entries provinces write for postal steps (THH: TrangThai "9")
PORTAL_ACTOR = "Bưu điện (VNPost, bưu chính công ích)"


def order_key(customer_code: str, order_number: str) -> str:
    """The ordering key of an order's messages: one VNPost order is (customer code, order number)."""
    return f"{customer_code}:{order_number}"


class PostalStatusChanged(BaseModel):
    """A parcel reached a new status (event to subscribers). Carries no personal data."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["postal.status.changed"] = "postal.status.changed"
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


# What the portal's progress entry says of each step (NoiDungXuLy), per kind; English in comments.
_TEXT: dict[ParcelStatus, tuple[str, str]] = {  # (delivery of the result, pickup of the dossier)
    # "result-receiving / pickup information handed to VNPost, waybill ..."
    S.ACCEPTED: (
        "Chuyển thông tin nhận kết quả sang hệ thống VNPost",
        "Chuyển thông tin thu gom hồ sơ sang hệ thống VNPost",
    ),
    S.PICKUP_FAILED: ("Bưu điện chưa nhận được kết quả", "Thu gom hồ sơ không thành công"),  # collection failed
    S.PICKED_UP: ("Bưu điện đã nhận kết quả để phát", "Bưu điện đã thu gom hồ sơ"),  # collected
    S.IN_TRANSIT: ("Kết quả đang được vận chuyển", "Hồ sơ đang được vận chuyển"),  # in transit
    S.OUT_FOR_DELIVERY: ("Bưu tá đang phát kết quả", "Bưu tá đang chuyển hồ sơ đến cơ quan"),  # out for delivery
    S.DELIVERY_FAILED: ("Phát kết quả không thành công", "Chuyển hồ sơ không thành công"),  # attempt failed
    S.RETURNING: ("Kết quả đang được chuyển hoàn", "Hồ sơ đang được chuyển hoàn"),  # on its way back
    S.DELIVERED: ("Đã trả kết quả qua bưu chính công ích", "Bưu điện đã giao hồ sơ cho cơ quan"),  # delivered
    S.RETURNED: ("Kết quả đã được chuyển hoàn về cơ quan", "Hồ sơ đã được chuyển hoàn cho công dân"),  # returned
    S.CANCELLED: ("Thu hồi yêu cầu trả kết quả qua BCCI", "Hủy yêu cầu thu gom hồ sơ qua BCCI"),  # cancelled
}


def step_text(kind: OrderKind, status: ParcelStatus, item_code: str | None) -> str:
    """The portal's NoiDungXuLy of a postal step, e.g. "Chuyển thông tin nhận kết quả sang hệ thống
    VNPost với mã vận đơn: EB100000015VN"."""
    text = _TEXT[status][0 if kind == "delivery" else 1]
    return f"{text} với mã vận đơn: {item_code}" if item_code else text


class DossierPostalStep(BaseModel):
    """A postal step of a dossier, for the national portal (one progress entry). No personal data."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dossier_code: str = Field(pattern=DOSSIER_CODE_PATTERN, description="MaHoSo.")
    agency_code: str = Field(pattern=AGENCY_CODE_PATTERN, description="The agency (madonvi) of the order.")
    order_id: str = Field(max_length=26, description="The hub's postal order id.")
    feed_id: str = Field(max_length=24, description="The tracking event this step comes from.")
    kind: OrderKind
    status: ParcelStatus
    item_code: str | None = Field(default=None, max_length=20, description="Waybill number (ItemCode).")
    occurred_at: AwareTime = Field(description="When VNPost says it happened (progress ThoiDiemXuLy).")
    text: str = Field(max_length=300, description="What happened, in Vietnamese (progress NoiDungXuLy).")
    progress_status: int = Field(default=PORTAL_PROGRESS_STATUS, ge=1, le=10, description="Progress TrangThai.")
    returned_at: AwareTime | None = Field(
        default=None, description="The result reached the citizen (HoSo NgayTra): a delivery's delivered step."
    )
    dossier: DossierStatusChange | None = Field(
        default=None, description="The dossier's latest status change the hub has, synced again with the markers."
    )

    def natural_key(self) -> str:
        return f"{self.dossier_code}|postal|{self.order_id}|{self.feed_id}"
