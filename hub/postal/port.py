"""The postal port: what the hub hands a postal partner and what it gets back, whatever the partner
(VNPost direct, through a province's LGSP, or the MyVNPost-style API). No I/O here.

An order is for one dossier (``order_number`` = the dossier code MaHoSo, which VNPost receives as
``OrderNumber``) and one kind: ``pickup`` (thu gom: the postman collects the citizen's dossier and
brings it to the agency) or ``delivery`` (trả kết quả: the agency's result goes to the citizen). The
order names the two parties by role, ``agency`` and ``citizen``; who is VNPost's sender and who its
receiver follows from the kind (``sender`` / ``receiver``), in this one place.

Unit ids in a party are VNPost's own (Hà Nội is 10, not the statistics office's 01): the hub
resolves the official codes with ``hub.postal.units`` before an order reaches a connector.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Protocol, runtime_checkable

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, model_validator
from pydantic_core import PydanticCustomError

from hub.canonical import VN_TZ
from hub.codes import DOSSIER_CODE_MAX, DOSSIER_CODE_PATTERN, dossier_code_problem
from hub.partners import PartnerError, PermanentError, RetryableError

from .rules import ParcelStatus

OrderKind = Literal["pickup", "delivery"]
INITIAL_CURSOR = "0" * 24  # the tracking feed's first lastId
CURSOR_PATTERN = r"^[0-9a-f]{24}$"  # a feed id (MongoDB ObjectId, hex)
ITEM_CODE_PATTERN = r"^[A-Z]{2}\d{9}VN$"  # waybill ItemCode, UPU S10 shape: BK990032289VN
CUSTOMER_CODE_PATTERN = r"^[A-Za-z0-9_.-]{1,50}$"  # VNPost-issued customer code (mã khách hàng)
PHONE_PATTERN = r"^(\+84|0)\d{8,10}$"
EMAIL_PATTERN = r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{2,}$"
MAX_COD_AMOUNT = 1_000_000_000  # VND; integer (no minor unit)
MAX_PAGE_SIZE = 100
# VNPost's OrderNumber is the dossier code (§3.1). A dossier may have two orders (its pickup, then
# the delivery of its result), and VNPost knows one order per (CustomerCode, OrderNumber): the
# dossier's first order is sent with the dossier code, a second kind with the code and its suffix.
KIND_SUFFIX: dict[str, str] = {"pickup": "TG", "delivery": "KQ"}  # thu gom (hồ sơ) / (trả) kết quả
ORDER_NUMBER_PATTERN = DOSSIER_CODE_PATTERN.removesuffix("$") + r"(?:-(?:TG|KQ))?$"


def order_number(dossier_code: str, kind: str, second: bool) -> str:
    """The OrderNumber of a dossier's order of ``kind``: the dossier code, or (``second``: the
    dossier has an order of the other kind) the code and the kind's suffix, e.g. ``...-0001-KQ``."""
    return f"{dossier_code}-{KIND_SUFFIX[kind]}" if second else dossier_code


def dossier_of(number: str) -> str:
    """The dossier code of an OrderNumber (without a kind suffix)."""
    head, _, tail = number.rpartition("-")
    return head if head and tail in KIND_SUFFIX.values() else number


def _order_number(value: str) -> str:
    problem = dossier_code_problem(dossier_of(value))
    if problem is not None:
        raise PydanticCustomError("order_number", problem)
    return value


OrderNumber = Annotated[
    str, Field(pattern=ORDER_NUMBER_PATTERN, max_length=DOSSIER_CODE_MAX + 3), AfterValidator(_order_number)
]


def s10(prefix: str, serial: int) -> str:
    """A UPU S10 item code: 2 letters, 8 digits, check digit, "VN" (e.g. a range VNPost allocated)."""
    digits = f"{serial % 10**8:08d}"
    check = 11 - sum(int(d) * w for d, w in zip(digits, (8, 6, 4, 2, 3, 5, 9, 7), strict=True)) % 11
    return f"{prefix}{digits}{ {10: 0, 11: 5}.get(check, check) }VN"


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=VN_TZ) if value.tzinfo is None else value


AwareTime = Annotated[datetime, AfterValidator(_aware)]
Int = Annotated[int, Strict()]  # no booleans, floats or numeric strings


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class PostalParty(_Model):
    """One end of the parcel's journey. Name, phone, e-mail and address are personal data for a
    citizen: never logged (``__repr__`` keeps them out of tracebacks)."""

    name: str = Field(min_length=1, max_length=200, description="Name (SenderName / ReceiverName).")
    phone: str = Field(pattern=PHONE_PATTERN, description="Phone (SenderTel / ReceiverTel): 0xxxxxxxxx or +84...")
    email: str | None = Field(default=None, pattern=EMAIL_PATTERN, max_length=254, description="E-mail.")
    address: str = Field(min_length=1, max_length=500, description="Street address (SenderAddress / ReceiverAddress).")
    province_id: Int = Field(ge=1, le=9999, description="VNPost province id (SenderProvince / ReceiverProvince).")
    district_id: Int = Field(ge=0, le=999_999, description="VNPost district id (SenderDistrict / ReceiverDistrict).")

    def __repr__(self) -> str:
        return f"PostalParty(province_id={self.province_id}, district_id={self.district_id})"

    __str__ = __repr__


class PostalOrderRequest(_Model):
    """Order a pickup or a delivery (VNPost ``MOrder``)."""

    customer_code: str = Field(pattern=CUSTOMER_CODE_PATTERN, description="VNPost customer code (CustomerCode).")
    order_number: OrderNumber = Field(
        description="OrderNumber: the dossier code MaHoSo (with -TG / -KQ for the dossier's second kind)."
    )
    kind: OrderKind
    agency: PostalParty = Field(description="The agency: sender of a delivery, receiver of a pickup.")
    citizen: PostalParty = Field(description="The citizen: receiver of a delivery, sender of a pickup.")
    cod_amount: Int = Field(
        default=0, ge=0, le=MAX_COD_AMOUNT, description="Cash on delivery, VND (CODAmount); 0 for pickups."
    )
    description: str = Field(min_length=1, max_length=500, description="What the parcel holds (Description).")
    note: str | None = Field(default=None, max_length=500, description="Note for the postman (SenderDesc).")
    item_code: str | None = Field(
        default=None, pattern=ITEM_CODE_PATTERN, description="Pre-allocated waybill number (ItemCode), S10 shape."
    )

    @model_validator(mode="after")
    def _pickup_collects_nothing(self) -> PostalOrderRequest:
        if self.kind == "pickup" and self.cod_amount:
            raise ValueError("cod_amount: must be 0 for a pickup (nothing is collected from the citizen)")
        return self

    @property
    def sender(self) -> PostalParty:
        return self.agency if self.kind == "delivery" else self.citizen

    @property
    def receiver(self) -> PostalParty:
        return self.citizen if self.kind == "delivery" else self.agency


class CancelRequest(_Model):
    """Cancel an order (``cancelOrder(CustomerCode, OrderNumber)``)."""

    customer_code: str = Field(pattern=CUSTOMER_CODE_PATTERN)
    order_number: OrderNumber
    reason: str | None = Field(default=None, max_length=500, description="Kept by the hub; VNPost takes none.")


class OrderAccepted(_Model):
    """VNPost registered the order, now or before (``already_registered``: it answered "already
    registered", e.g. LGSP ``Status "101"``, so a repeated order is a success, not a second order)."""

    customer_code: str
    order_number: str
    item_code: str | None = None
    already_registered: bool = False
    partner_code: str = Field(description="The partner's status code, e.g. '100' or '101'.")
    message: str = Field(default="", max_length=300, description="The partner's message, scrubbed.")

    @property
    def partner_ref(self) -> str:
        """The reference the ledger records: the waybill number if known, else the order number."""
        return self.item_code or self.order_number


class CancelResult(_Model):
    customer_code: str
    order_number: str
    already_cancelled: bool = False
    partner_code: str
    message: str = Field(default="", max_length=300)


class TrackingEvent(_Model):
    """One entry of VNPost's tracking feed (``_embedded["rh:doc"][i]``)."""

    feed_id: str = Field(pattern=CURSOR_PATTERN, description="_id.$oid: the feed's cursor value.")
    customer_code: str = Field(max_length=50)
    order_number: str = Field(max_length=100, description="OrderNumber (the dossier code, as sent).")
    item_code: str | None = Field(default=None, max_length=20, description="ItemCode (waybill number).")
    raw_status: str = Field(max_length=20, description="StatusCode as VNPost sent it.")
    status: ParcelStatus | None = Field(description="Canonical status; None when the code is not in the table.")
    occurred_at: AwareTime = Field(description="EventTime.")
    post_office: str | None = Field(default=None, max_length=50, description="POSID (bưu cục).")
    note: str | None = Field(default=None, max_length=500, description="StatusMessage / Notes, scrubbed.")


class TrackingPage(_Model):
    events: tuple[TrackingEvent, ...]
    next_cursor: str = Field(pattern=CURSOR_PATTERN, description="lastId for the next call.")
    skipped: tuple[str, ...] = Field(
        default=(), description="Feed ids of entries that could not be read (no time, no order): passed over."
    )

    @property
    def empty(self) -> bool:
        return not self.events


# ------------------------------------------------------------------ errors
class PostalError(PartnerError):
    """A postal call that did not succeed. ``message`` is the partner's, shortened and scrubbed:
    never a name, phone or address."""

    def __init__(self, operation: str, message: str, code: str | None = None, http_status: int | None = None) -> None:
        self.operation, self.message, self.code, self.http_status = operation, message, code, http_status
        super().__init__(self.describe())

    def describe(self) -> str:
        parts = [self.operation]
        if self.http_status is not None and self.http_status >= 300:
            parts.append(f"HTTP {self.http_status}")
        if self.code is not None:
            parts.append(f"code {self.code}")
        if self.message:
            parts.append(self.message)
        return ": ".join(parts)


class PostalRetryableError(PostalError, RetryableError):
    """Try again later: no answer, timeout, 5xx, 429, a token that could not be had, a busy code."""


class PostalPermanentError(PostalError, PermanentError):
    """The partner refused the content (invalid field, unknown unit or waybill, cancel after pickup):
    sending it again changes nothing."""


class CancelRefused(PostalPermanentError):
    """The partner will not cancel: the parcel was picked up already (or the order is unknown)."""


# ------------------------------------------------------------------ the port
@runtime_checkable
class PostalGateway(Protocol):
    """One postal partner behind one interface. No I/O happens before the first call."""

    variant: str  # "direct" | "lgsp" | "myvnpost"

    def create_order(self, order: PostalOrderRequest) -> OrderAccepted:
        """Register the order. Idempotent on (customer_code, order_number): repeating it answers
        ``already_registered``. Raises ``PostalRetryableError`` / ``PostalPermanentError``."""
        ...

    def cancel_order(self, request: CancelRequest) -> CancelResult:
        """Cancel before pickup; ``CancelRefused`` once picked up. Cancelling twice is a success."""
        ...

    def tracking(self, customer_code: str, cursor: str = INITIAL_CURSOR, page_size: int = 50) -> TrackingPage:
        """The customer's tracking feed after ``cursor`` (oldest first, at most ``page_size``)."""
        ...

    def close(self) -> None: ...
