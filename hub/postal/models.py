"""What a one-stop system sends to order a postal pickup or delivery, and what it reads back.

Parties carry the official administrative unit codes (the statistics office's, 2004 or 2025 scheme,
``hub.postal.units``); the hub resolves them to VNPost's own ids. The agency's side may be left out:
it is then the agency's configured VNPost sender (``hub.agencies.port.PostalSender``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, model_validator

from hub.codes import AGENCY_CODE_PATTERN, DOSSIER_CODE_PATTERN

from .port import EMAIL_PATTERN, ITEM_CODE_PATTERN, MAX_COD_AMOUNT, PHONE_PATTERN, OrderKind
from .rules import ParcelStatus

Int = Annotated[int, Strict()]
ORDER_ID = r"^[0-9A-HJKMNP-TV-Z]{26}$"  # the hub's ids are ULIDs


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class PartyIn(_In):
    """One end of the parcel's journey: personal data for a citizen (never logged, masked in traces)."""

    name: str = Field(min_length=1, max_length=200, description="Full name.")
    phone: str = Field(pattern=PHONE_PATTERN, description="0xxxxxxxxx or +84xxxxxxxxx.")
    email: str | None = Field(default=None, pattern=EMAIL_PATTERN, max_length=254)
    address: str = Field(min_length=1, max_length=500, description="Street address (số nhà, đường, thôn...).")
    province_code: str = Field(pattern=r"^\d{2}$", description="Official province code (01 Hà Nội, 38 Thanh Hóa).")
    district_code: str | None = Field(
        default=None, pattern=r"^\d{3}$", description="Official district code: the address is in the 2004 scheme."
    )
    commune_code: str | None = Field(
        default=None,
        pattern=r"^\d{5}$",
        description="Official commune code: without a district, a 2025 commune (34 provinces, from 1 July 2025).",
    )

    def __repr__(self) -> str:
        return f"PartyIn(province_code={self.province_code!r}, district_code={self.district_code!r})"

    __str__ = __repr__


class PostalOrderIn(_In):
    """Order a pickup of a dossier (the postman collects it from the citizen and brings it to the
    agency) or a delivery of its result (from the agency to the citizen). One order per dossier and
    kind: the same order again returns the first."""

    dossier_code: str = Field(pattern=DOSSIER_CODE_PATTERN, description="MaHoSo; VNPost's OrderNumber.")
    agency_code: str = Field(pattern=AGENCY_CODE_PATTERN, description="The agency (its VNPost customer code).")
    kind: OrderKind = Field(description="`pickup` (thu gom hồ sơ) or `delivery` (trả kết quả).")
    sender: PartyIn | None = Field(
        default=None, description="Who hands the parcel over: the citizen of a pickup; a delivery's agency."
    )
    receiver: PartyIn | None = Field(
        default=None, description="Who gets it: the citizen of a delivery; a pickup's agency."
    )
    cod_amount: Int = Field(
        default=0, ge=0, le=MAX_COD_AMOUNT, description="Fee collected at the door, VND (CODAmount); 0 for pickups."
    )
    description: str = Field(min_length=1, max_length=500, description="What the parcel holds.")
    note: str | None = Field(default=None, max_length=500, description="A note for the postman.")
    item_code: str | None = Field(
        default=None,
        pattern=ITEM_CODE_PATTERN,
        description="A waybill number (ItemCode) allocated beforehand: a free number of the agency's waybill "
        "pool when the hub keeps one (left out: the pool's next free number; no pool: VNPost numbers the parcel).",
    )

    @model_validator(mode="after")
    def _the_citizen_is_named(self) -> PostalOrderIn:
        if self.kind == "pickup" and self.cod_amount:
            raise ValueError("cod_amount: must be 0 for a pickup (nothing is collected from the citizen)")
        if self.kind == "delivery" and self.receiver is None:
            raise ValueError("receiver: a delivery names the citizen who receives the result")
        if self.kind == "pickup" and self.sender is None:
            raise ValueError("sender: a pickup names the citizen whose dossier is collected")
        return self


EXAMPLE: dict[str, Any] = {
    "dossier_code": "000.00.00.H56-251122-0001",
    "agency_code": "000.00.00.H56",
    "kind": "delivery",
    "receiver": {
        "name": "Nguyễn Văn A",
        "phone": "0912345678",
        "address": "Số 12 ngõ 34 phố Ngọc Hà",
        "province_code": "01",
        "commune_code": "00004",
    },
    "cod_amount": 0,
    "description": "Giấy phép xây dựng (kết quả)",
}


class TrackingEntry(BaseModel):
    feed_id: str = Field(description="The feed's id of the event (_id.$oid).")
    status: ParcelStatus | None = Field(description="Canonical status; null when the code is not in the table.")
    raw_status: str = Field(description="VNPost's StatusCode.")
    occurred_at: str = Field(description="EventTime.")
    post_office: str | None = None
    note: str | None = None
    verdict: str = Field(description="applied, stale (older than the status), after_final, unknown_status...")
    source: Literal["poll", "push"]
    received_at: str


class MessageRef(BaseModel):
    id: str
    type: str
    state: str = Field(description="The ledger state: queued, delivering, delivered, retrying, held, dead.")
    last_error: str | None = None


class PostalOrderView(BaseModel):
    id: str = Field(description="The hub's order id.")
    dossier_code: str
    agency_code: str
    kind: OrderKind
    order_number: str = Field(
        description="VNPost OrderNumber: the dossier code; with -TG (pickup) or -KQ (delivery) for the "
        "dossier's second kind (VNPost knows one order per OrderNumber)."
    )
    customer_code: str = Field(description="VNPost CustomerCode of the agency.")
    item_code: str | None = Field(
        description="Waybill number (ItemCode): the caller's, the agency's pool's, or VNPost's once it tells."
    )
    status: ParcelStatus | None = Field(description="The parcel's status; null until VNPost's first event.")
    status_at: str | None
    final: bool = Field(description="Delivered, returned or cancelled: no further status will follow.")
    cancel_requested: bool
    created_at: str
    duplicate: bool = Field(default=False, description="This dossier and kind were ordered before: that order.")


class PostalOrderDetail(PostalOrderView):
    cod_amount: int
    description: str
    units: dict[str, Any] = Field(description="The VNPost unit ids each party was sent with, and how they were found.")
    messages: list[MessageRef] = Field(description="The order's messages to VNPost (the order, a cancel).")
    history: list[TrackingEntry] = Field(description="Every tracking event seen, in event-time order.")


class PushAnswer(BaseModel):
    """The callback's answer, in the LGSP's shape (``Status "100"`` = received)."""

    Status: str
    Message: str
