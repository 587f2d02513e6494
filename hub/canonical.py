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

from hub.codes import AgencyCode, DossierCode, ProcedureCode

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")

# The codes' rules live in hub.codes (agency, dossier and procedure codes: shapes and the dossier date).
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


def portal(name: str) -> dict[str, Any]:
    """``json_schema_extra`` of a field: the national portal's name for it (``x-portal``), which a 422
    names beside ours (``portal_names``)."""
    return {"x-portal": name}


class Applicant(_Frozen):
    """The dossier's owner (ChuHoSo)."""

    name: str = Field(
        min_length=1,
        max_length=200,
        description="Applicant's full name (ChuHoSo).",
        json_schema_extra=portal("ChuHoSo"),
    )
    id_number: str | None = Field(
        default=None,
        pattern=ID_NUMBER_PATTERN,
        description="ID number (SoGiayToChuHoSo): 12-digit citizen ID, 9-digit old card, or tax code.",
        json_schema_extra=portal("SoGiayToChuHoSo"),
    )
    type: Annotated[Literal[1, 2, 3, 4], IntCode] = Field(
        description="Applicant type (LoaiDoiTuong), required (no default: the national reports count by it): "
        "1 citizen, 2 business, 3 state agency, 4 other organisation. A client may be configured with one "
        "default (HUB_DOSSIER_DEFAULTS).",
        json_schema_extra=portal("LoaiDoiTuong"),
    )
    phone: str | None = Field(
        default=None, max_length=20, description="SoDienThoai", json_schema_extra=portal("SoDienThoai")
    )
    email: str | None = Field(default=None, max_length=200, description="Email", json_schema_extra=portal("Email"))
    address: str | None = Field(
        default=None,
        max_length=500,
        description="Contact address (ThongTinKhac).",
        json_schema_extra=portal("ThongTinKhac"),
    )


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

    dossier_code: DossierCode = Field(
        description="Dossier code (MaHoSo), e.g. 000.00.00.H56-250225-0001.", json_schema_extra=portal("MaHoSo")
    )
    procedure_code: ProcedureCode = Field(
        description="National procedure code (MaTTHC), e.g. 2.002492.", json_schema_extra=portal("MaTTHC")
    )
    procedure_name: str = Field(
        min_length=1, max_length=1000, description="Procedure name (TenTTHC).", json_schema_extra=portal("TenTTHC")
    )
    field_code: str = Field(
        min_length=1,
        max_length=50,
        description="Field (lĩnh vực) code (MaLinhVuc), e.g. G03-GD09.",
        json_schema_extra=portal("MaLinhVuc"),
    )
    field_name: str = Field(
        min_length=1, max_length=500, description="Field name (TenLinhVuc).", json_schema_extra=portal("TenLinhVuc")
    )
    agency_code: AgencyCode = Field(
        description="Electronic code of the handling agency (madonvi), e.g. 000.00.00.H56.",
        json_schema_extra=portal("madonvi"),
    )
    agency_name: str = Field(
        min_length=1,
        max_length=500,
        description="Name of the handling agency (DonViXuLy).",
        json_schema_extra=portal("DonViXuLy"),
    )
    status: StrictInt = Field(
        json_schema_extra=portal("TrangThaiHoSo"),
        ge=1,
        le=10,
        description="Dossier status (TrangThaiHoSo), 1-10: "
        + "; ".join(f"{k} {v}" for k, v in DOSSIER_STATUS_LABELS.items()),
    )
    occurred_at: Timestamp = Field(
        description="When the change happened (ThoiDiemXuLy). Naive times are Asia/Ho_Chi_Minh.",
        json_schema_extra=portal("ThoiDiemXuLy"),
    )
    received_at: Timestamp | None = Field(
        default=None,
        description="Received at (NgayTiepNhan): required from status 3 on (a status 2 change without it is "
        "received when it happened).",
        json_schema_extra=portal("NgayTiepNhan"),
    )
    appointment_at: Timestamp | None = Field(
        default=None,
        description="Appointed return date (NgayHenTra): required except at status 1 (submitted, not received) "
        "and 3 (not received).",
        json_schema_extra=portal("NgayHenTra"),
    )
    finished_at: Timestamp | None = Field(
        default=None, description="Processing finished (NgayKetThucXuLy).", json_schema_extra=portal("NgayKetThucXuLy")
    )
    returned_at: Timestamp | None = Field(
        default=None, description="Result returned (NgayTra).", json_schema_extra=portal("NgayTra")
    )
    channel: Annotated[Literal[1, 2, 3], IntCode] = Field(
        description="Channel (KenhThucHien), required (no default: a walk-in dossier sent as online inflates the "
        "province's online-service share): 1 in person, 2 online, 3 by post (BCCI). A client may be configured "
        "with one default (HUB_DOSSIER_DEFAULTS).",
        json_schema_extra=portal("KenhThucHien"),
    )
    result_delivery: Annotated[Literal[0, 1], IntCode] = Field(
        description="How the result reaches the applicant (HinhThuc), required: 0 at the one-stop desk, 1 by post "
        "(BCCI). A client may be configured with one default (HUB_DOSSIER_DEFAULTS).",
        json_schema_extra=portal("HinhThuc"),
    )
    receipt_number: str | None = Field(
        default=None, max_length=100, description="SoBienNhan", json_schema_extra=portal("SoBienNhan")
    )
    summary: str = Field(
        min_length=1,
        max_length=1000,
        description="What the dossier asks for (TrichYeuHoSo).",
        json_schema_extra=portal("TrichYeuHoSo"),
    )
    applicant: Applicant = Field(json_schema_extra=portal("ChuHoSo"))
    fees: list[Fee] = Field(
        default_factory=list, max_length=100, description="DanhSachLePhi", json_schema_extra=portal("DanhSachLePhi")
    )
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
        if self.status >= 3 and self.received_at is None:
            problems.append(f"received_at: required when status is {self.status} (the national portal's NgayTiepNhan)")
        if self.status not in (1, 3) and self.appointment_at is None:
            problems.append(f"appointment_at: required when status is {self.status} (the national portal's NgayHenTra)")
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


def portal_names(model: type[BaseModel], prefix: str = "") -> dict[str, str]:
    """Our field path -> the national portal's name (``x-portal``), nested models included:
    ``{"procedure_name": "TenTTHC", "applicant.type": "LoaiDoiTuong", ...}``."""
    names: dict[str, str] = {}
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra
        if isinstance(extra, dict) and isinstance(extra.get("x-portal"), str):
            names[prefix + name] = str(extra["x-portal"])
        nested = info.annotation
        if isinstance(nested, type) and issubclass(nested, BaseModel):
            names.update(portal_names(nested, f"{prefix}{name}."))
    return names


class DossierDefaults(_Frozen):
    """The one default a client may be configured with for each code the national reports count by
    (``HUB_DOSSIER_DEFAULTS``, keyed by client code): used only when the client's message lacks the field,
    never over a value it sent. Without one, the field is required."""

    channel: Annotated[Literal[1, 2, 3], IntCode] | None = Field(default=None, description="KenhThucHien")
    applicant_type: Annotated[Literal[1, 2, 3, 4], IntCode] | None = Field(default=None, description="LoaiDoiTuong")
    result_delivery: Annotated[Literal[0, 1], IntCode] | None = Field(default=None, description="HinhThuc")

    def apply(self, item: dict[str, Any]) -> dict[str, Any]:
        """``item`` (a JSON object as sent) with the missing defaultable fields filled in; other values as they are."""
        filled = dict(item)
        for key, value in (("channel", self.channel), ("result_delivery", self.result_delivery)):
            if value is not None and key not in filled:
                filled[key] = value
        applicant = filled.get("applicant")
        if self.applicant_type is not None and isinstance(applicant, dict) and "type" not in applicant:
            filled["applicant"] = {**applicant, "type": self.applicant_type}
        return filled

    @property
    def empty(self) -> bool:
        return self.channel is None and self.applicant_type is None and self.result_delivery is None


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
    dossier_code: DossierCode = Field(description="Dossier code (MaHoSo).")
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

    dossier_code: DossierCode = Field(description="Dossier code (MaHoSo).")
    agency_code: AgencyCode = Field(description="Agency (madonvi) that opened the payment.")
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
