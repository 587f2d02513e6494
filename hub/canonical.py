"""Canonical messages that local systems send to the hub.

These are the hub's own, partner-neutral models (English field names). Each field
names the national portal (DVCQG) field it maps to, so a one-stop vendor can read the
contract without the partner's guide. JSON Schema exports live in ``schemas/``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, model_validator
from pydantic_core import PydanticCustomError

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")

# Electronic agency code (mã định danh điện tử cơ quan, QĐ 20/2020/QĐ-TTg): 000.00.00.H56
AGENCY_CODE_PATTERN = r"^\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2}$"
# Dossier code (MaHoSo): {agency code}-{yyMMdd}-{4 or 5 digits}: 000.00.00.H56-250225-0001
DOSSIER_CODE_PATTERN = r"^\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2}-\d{6}-\d{4,5}$"
# National procedure code (MaTTHC): 2.002492, optionally suffixed with an agency code.
PROCEDURE_CODE_PATTERN = r"^\d\.\d{6}(\.\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2})?$"
# Citizen ID (CCCD, 12 digits), old ID card (9 digits), or a business/tax code (10 or 13 chars).
ID_NUMBER_PATTERN = r"^(\d{9}|\d{12}|\d{10}(-\d{3})?)$"

MAX_FUTURE_SKEW = timedelta(minutes=5)
# Bounds of every amount (VND, an integer: the currency has no minor unit) and of every timestamp.
MAX_AMOUNT_VND = 10_000_000_000
MIN_TIMESTAMP_YEAR, MAX_TIMESTAMP_YEAR = 1990, 2100
TIMESTAMP_FORM = "ISO 8601 with its offset, e.g. 2025-11-22T09:00:00+07:00"

DOSSIER_STATUS_LABELS: dict[int, str] = {
    1: "Mới đăng ký (newly submitted online)",
    2: "Được tiếp nhận (received)",
    3: "Không được tiếp nhận (rejected at reception)",
    4: "Đang xử lý (being processed)",
    5: "Yêu cầu bổ sung giấy tờ (supplement requested)",
    6: "Yêu cầu thực hiện nghĩa vụ tài chính (payment requested)",
    7: "Công dân yêu cầu rút hồ sơ (withdrawn by citizen)",
    8: "Dừng xử lý (processing stopped)",
    9: "Đã xử lý xong (processing finished)",
    10: "Đã trả kết quả (result returned)",
}


def timestamp_input(value: Any) -> Any:
    """A timestamp is text in ISO 8601 (or a datetime, inside the hub): never a number, and never
    digits alone, which pydantic would read as seconds since 1970 (``20251122090000``, the
    portal's own form, would be the year 643,000)."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise PydanticCustomError("timestamp_type", "expected a string: " + TIMESTAMP_FORM)
    if value.strip().lstrip("+-").replace(".", "", 1).isdigit():
        raise PydanticCustomError(
            "timestamp_digits",
            "digits alone are not a timestamp here (not yyyyMMddHHmmss, not Unix time): " + TIMESTAMP_FORM,
        )
    return value


def _as_vn_aware(value: datetime) -> datetime:
    """Within the bounds; naive datetimes are read as Asia/Ho_Chi_Minh local time, the portal's zone."""
    if not MIN_TIMESTAMP_YEAR <= value.year <= MAX_TIMESTAMP_YEAR:
        raise PydanticCustomError(
            "timestamp_range", f"must be between the years {MIN_TIMESTAMP_YEAR} and {MAX_TIMESTAMP_YEAR}"
        )
    if value.tzinfo is None:
        return value.replace(tzinfo=VN_TZ)
    return value


def _strict_int(value: Any) -> Any:
    """Codes and counts are JSON integers: not booleans (``true`` is not 1), floats or numeric strings."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    return value


Timestamp = Annotated[datetime, BeforeValidator(timestamp_input), AfterValidator(_as_vn_aware)]
IntCode = BeforeValidator(_strict_int)  # on a Literal[1, 2, ...]: the code as a strict integer
AmountVND = Annotated[StrictInt, Field(ge=0, le=MAX_AMOUNT_VND)]
PositiveAmountVND = Annotated[StrictInt, Field(gt=0, le=MAX_AMOUNT_VND)]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Applicant(_Frozen):
    """The dossier's owner (ChuHoSo)."""

    name: str = Field(min_length=1, max_length=200, description="Applicant's full name (ChuHoSo).")
    id_number: str | None = Field(
        default=None,
        pattern=ID_NUMBER_PATTERN,
        description="ID number (SoGiayToChuHoSo): 12-digit citizen ID, 9-digit old card, or tax code.",
    )
    type: Annotated[Literal[1, 2, 3, 4], IntCode] = Field(
        default=1,
        description="Applicant type (LoaiDoiTuong): 1 citizen, 2 business, 3 state agency, 4 other organisation.",
    )
    phone: str | None = Field(default=None, max_length=20, description="SoDienThoai")
    email: str | None = Field(default=None, max_length=200, description="Email")
    address: str | None = Field(default=None, max_length=500, description="Contact address (ThongTinKhac).")


class Fee(_Frozen):
    """One fee or charge (DanhSachLePhi item)."""

    code: str | None = Field(default=None, max_length=50, description="MaPhiLePhi")
    name: str = Field(min_length=1, max_length=500, description="TenPhiLePhi")
    amount: AmountVND = Field(description=f"Amount in VND, an integer from 0 to {MAX_AMOUNT_VND:,} (Gia).")
    kind: Annotated[Literal[1, 2], IntCode] = Field(
        default=1, description="LoaiPhiLePhi: 1 fee (phí), 2 charge (lệ phí)."
    )
    collection: StrictInt | None = Field(default=None, ge=0, le=9, description="HinhThucThu (collection form code).")


class Handler(_Frozen):
    """The officer who made this change (progress entry: NguoiXuLy, ChucDanh, PhongBanXuLy)."""

    name: str = Field(min_length=1, max_length=200, description="NguoiXuLy")
    title: str | None = Field(default=None, max_length=200, description="ChucDanh")
    unit: str | None = Field(default=None, max_length=300, description="PhongBanXuLy")


class DossierStatusChange(_Frozen):
    """A dossier (hồ sơ) status change, published by a one-stop system.

    Message type ``dossier.status.changed``. The hub delivers it to the national portal
    as ``DongBoHoSoMC`` (dossier upsert) followed by ``CapNhatTienDoHoSoMC`` (progress entry).
    Its natural key is (dossier_code, status, occurred_at): sending the same change twice,
    from one client or two, creates one delivery.
    """

    dossier_code: str = Field(
        pattern=DOSSIER_CODE_PATTERN, description="Dossier code (MaHoSo), e.g. 000.00.00.H56-250225-0001."
    )
    procedure_code: str = Field(
        pattern=PROCEDURE_CODE_PATTERN, description="National procedure code (MaTTHC), e.g. 2.002492."
    )
    procedure_name: str | None = Field(default=None, max_length=1000, description="TenTTHC")
    field_code: str | None = Field(default=None, max_length=50, description="Field code (MaLinhVuc), e.g. G03-GD09.")
    field_name: str | None = Field(default=None, max_length=500, description="TenLinhVuc")
    agency_code: str = Field(
        pattern=AGENCY_CODE_PATTERN, description="Electronic code of the handling agency (madonvi), e.g. 000.00.00.H56."
    )
    agency_name: str | None = Field(default=None, max_length=500, description="DonViXuLy")
    status: StrictInt = Field(
        ge=1,
        le=10,
        description="Dossier status (TrangThaiHoSo), 1-10: "
        + "; ".join(f"{k} {v}" for k, v in DOSSIER_STATUS_LABELS.items()),
    )
    occurred_at: Timestamp = Field(
        description="When the change happened (ThoiDiemXuLy). Naive times are Asia/Ho_Chi_Minh."
    )
    received_at: Timestamp | None = Field(default=None, description="NgayTiepNhan")
    appointment_at: Timestamp | None = Field(default=None, description="Appointed return date (NgayHenTra).")
    finished_at: Timestamp | None = Field(default=None, description="Processing finished (NgayKetThucXuLy).")
    returned_at: Timestamp | None = Field(default=None, description="Result returned (NgayTra).")
    channel: Annotated[Literal[1, 2, 3], IntCode] = Field(
        default=2, description="KenhThucHien: 1 in person, 2 online, 3 by post (BCCI)."
    )
    receipt_number: str | None = Field(default=None, max_length=100, description="SoBienNhan")
    summary: str | None = Field(default=None, max_length=1000, description="TrichYeuHoSo")
    applicant: Applicant
    fees: list[Fee] = Field(default_factory=list, max_length=100, description="DanhSachLePhi")
    handler: Handler | None = Field(default=None, description="Officer who made the change.")
    note: str | None = Field(default=None, max_length=2000, description="GhiChu / NoiDungXuLy")

    @model_validator(mode="after")
    def _dates_consistent(self) -> DossierStatusChange:
        problems: list[str] = []
        now = datetime.now(tz=VN_TZ)
        if self.occurred_at > now + MAX_FUTURE_SKEW:
            problems.append("occurred_at: must not be in the future")
        if self.received_at and self.appointment_at and self.appointment_at < self.received_at:
            problems.append("appointment_at: must not be before received_at")
        if self.received_at and self.finished_at and self.finished_at < self.received_at:
            problems.append("finished_at: must not be before received_at")
        if self.finished_at and self.returned_at and self.returned_at < self.finished_at:
            problems.append("returned_at: must not be before finished_at")
        if self.received_at and self.occurred_at < self.received_at and self.status != 1:
            problems.append("occurred_at: must not be before received_at")
        if self.status == 9 and self.finished_at is None:
            problems.append("finished_at: required when status is 9 (processing finished)")
        if self.status == 10 and self.returned_at is None:
            problems.append("returned_at: required when status is 10 (result returned)")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def natural_key(self) -> str:
        """(dossier, status, time) — identical changes share it, whoever sends them."""
        at = self.occurred_at.astimezone(VN_TZ).strftime("%Y%m%d%H%M%S")
        return f"{self.dossier_code}|{self.status}|{at}"


class FeeItem(_Frozen):
    """One fee paid (PhiLePhi item of the payment)."""

    code: str = Field(min_length=1, max_length=50, description="Fee code (MaPhiLePhi).")
    name: str = Field(min_length=1, max_length=200, description="Fee name (TenPhiLePhi).")
    amount: PositiveAmountVND = Field(description=f"VND, an integer from 1 to {MAX_AMOUNT_VND:,}.")


class PaymentStatusChanged(_Frozen):
    """A dossier fee payment reached a final state at the gateway, announced once.

    Message type ``payment.status.changed``, delivered to every webhook subscribed to it
    (signed the Standard Webhooks way). ``payment_id`` is the hub's id of the payment (the
    gateway's order reference); ``client_reference`` the opening client's own id for it.
    """

    type: Literal["payment.status.changed"] = "payment.status.changed"
    payment_id: str = Field(max_length=26, description="The hub's payment id (order reference at the gateway).")
    client_reference: str = Field(max_length=100, description="The id the opening client gave the payment.")
    dossier_code: str = Field(pattern=DOSSIER_CODE_PATTERN, description="Dossier code (MaHoSo).")
    state: Literal["paid", "failed"] = Field(description="paid, or failed (declined, cancelled, expired).")
    amount: PositiveAmountVND = Field(description=f"VND, an integer from 1 to {MAX_AMOUNT_VND:,}.")
    currency: Literal["VND"] = "VND"
    profile: Literal["napas", "paygov"] = Field(description="Gateway profile that settled it.")
    settled_at: Timestamp = Field(description="When the hub recorded the gateway's result.")


class DossierFeePaid(_Frozen):
    """A dossier's fee was paid online: reported to the national portal (message type
    ``dossier.fee.paid``, produced by the hub, not by local systems).

    The portal gets a progress entry (CapNhatTienDoHoSoMC) saying what was paid, when and
    through which gateway, and, when the hub knows the dossier, the dossier again with
    ``DuocThanhToanTrucTuyen`` ("paid online") set (DongBoHoSoMC). It goes in order with the
    dossier's status changes (same ordering key).
    """

    dossier_code: str = Field(pattern=DOSSIER_CODE_PATTERN, description="Dossier code (MaHoSo).")
    agency_code: str = Field(pattern=AGENCY_CODE_PATTERN, description="Agency (madonvi) that opened the payment.")
    payment_id: str = Field(max_length=26)
    paid_at: Timestamp = Field(description="When the gateway reported it paid (progress ThoiDiemXuLy).")
    amount: PositiveAmountVND = Field(description=f"VND, an integer from 1 to {MAX_AMOUNT_VND:,}.")
    profile: Literal["napas", "paygov"]
    gateway_txn_id: str = Field(default="", max_length=100, description="The gateway's transaction id.")
    fee_items: list[FeeItem] = Field(min_length=1, max_length=50)
    dossier: DossierStatusChange | None = Field(
        default=None, description="The dossier's latest status change the hub delivered, if any."
    )

    def natural_key(self) -> str:
        return f"{self.dossier_code}|paid|{self.payment_id}"


# message type -> (model, schema version); one registry line per canonical message.
