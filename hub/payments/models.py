"""Request and answer bodies of ``/v1/payments`` and of the gateways' callbacks."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator

from hub.canonical import ID_NUMBER_PATTERN, MAX_AMOUNT_VND, PositiveAmountVND
from hub.codes import AgencyCode, DossierCode, ProcedureCode

EXAMPLE = {
    "client_reference": "HS-0001-LEPHI",
    "dossier_code": "000.00.00.H56-251122-0001",
    "procedure_code": "2.002492",
    "procedure_name": "Cấp giấy phép xây dựng",
    "agency_code": "000.00.00.H56",
    "amount": 150000,
    "fee_items": [{"code": "LP01", "name": "Lệ phí cấp giấy phép", "amount": 150000}],
    "description": "Lệ phí cấp giấy phép xây dựng",
    "payer": {"name": "Nguyen Van A"},
    "return_url": "https://onegate.example/return",
    "profile": "napas",
}


class FeeItemIn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    code: str = Field(min_length=1, max_length=50, description="Fee code (MaPhiLePhi).")
    name: str = Field(min_length=1, max_length=200, description="Fee name (TenPhiLePhi).")
    amount: PositiveAmountVND = Field(description=f"VND, an integer from 1 to {MAX_AMOUNT_VND:,}.")


class PayerIn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str = Field(min_length=1, max_length=200, description="Payer's full name (HoTenNguoiNop); never logged.")
    id_number: str | None = Field(
        default=None,
        pattern=ID_NUMBER_PATTERN,
        description="Payer's ID number (SoCMNDNguoiNop: CCCD 12 digits, CMND 9, or a tax code); sent to PayGov "
        'only ("000000000" when absent, as the public integrations send), never stored or logged.',
    )


class OpenPayment(BaseModel):
    """Open a fee payment for a dossier. ``client_reference`` is the client's own id for it:
    sending the same request again returns the same payment."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    client_reference: str = Field(pattern=r"^[A-Za-z0-9._:-]{1,100}$")
    dossier_code: DossierCode = Field(description="Dossier code (MaHoSo).")
    procedure_code: ProcedureCode = Field(description="National procedure code (MaTTHC).")
    procedure_name: str | None = Field(
        default=None,
        min_length=1,
        max_length=2000,
        pattern=r"^[^\x00-\x1f\x7f]*$",
        description="The procedure's name (TenTTHC; PayGov's receipt shows it). Required for the paygov profile.",
    )
    agency_code: AgencyCode = Field(description="Agency code (MaDonVi).")
    amount: PositiveAmountVND = Field(
        description=f"Total in VND, an integer from 1 to {MAX_AMOUNT_VND:,}: the sum of the fee items."
    )
    currency: Literal["VND"] = "VND"
    fee_items: list[FeeItemIn] = Field(min_length=1, max_length=50)
    description: str = Field(min_length=1, max_length=210, description="Shown to the payer (NoiDungThanhToan).")
    payer: PayerIn
    return_url: HttpUrl = Field(max_length=2000, description="Where the gateway sends the citizen after paying.")
    profile: Literal["napas", "paygov"] | None = Field(
        default=None,
        description="Gateway; default: the agency's (`lgsp agencies`: payment.profile), else HUB_PAYMENT_PROFILE. A "
        "request naming another than its agency's is refused (payment_profile_of_agency).",
    )

    @model_validator(mode="after")
    def _total(self) -> OpenPayment:
        if sum(f.amount for f in self.fee_items) != self.amount:
            raise ValueError("amount: must equal the sum of fee_items amounts")
        return self


class HistoryEntry(BaseModel):
    at: str | None
    kind: str = Field(description="open, callback, query, announce")
    outcome: str = Field(description="e.g. requested, pending, paid, already_settled, amount_mismatch, unstorable")
    detail: str | None


class PaymentView(BaseModel):
    id: str = Field(description="The hub's payment id (the gateway's order reference).")
    client_reference: str
    dossier_code: str
    profile: str
    state: Literal["opening", "pending", "in_doubt", "refused", "paid", "failed", "not_opened"]
    amount: int = Field(ge=1, le=MAX_AMOUNT_VND)
    currency: str
    payment_url: str | None = Field(description="Send the citizen here to pay.")
    created_at: str | None
    settled_at: str | None


class PaymentDetail(PaymentView):
    details: dict[str, Any] = Field(description="Fee items, description, procedure, agency (no payer data).")
    last_error: str | None
    history: list[HistoryEntry]


# ---------------------------------------------------------------- the gateways' callbacks (their formats)
class NapasNotification(BaseModel):
    """NAPAS result notification: ``data`` is base64 of JSON ``{"paymentResult": {...}}``; ``checksum`` is hex
    SHA-256 of ``data`` + the client secret. Also accepted form-encoded as ``napasResult=<this JSON>``."""

    data: str
    checksum: str


class NapasReply(BaseModel):
    """The hub's answer to NAPAS: ``{"result": "SUCCESS"}`` or ``{"result": "ERROR", "error": {...}}``."""

    result: Literal["SUCCESS", "ERROR"]
    message: str | None = None
    error: dict[str, str] | None = None


class PayGovConfirm(BaseModel):
    """PayGov (DvcPayment v1.0.6) payment confirmation, signed with ``MaXacThuc``."""

    model_config = ConfigDict(extra="allow")
    LoaiBanTin: str
    MaLoi: str = Field(description='"00" = paid')
    MaDoiTac: str
    MaThamChieu: str = Field(description="The hub's payment id.")
    SoTien: str
    MaTienTe: str
    MaGiaoDich: str
    MaNganHang: str
    ThoiGianGD: str = Field(description="yyyyMMddHHmmss, Asia/Ho_Chi_Minh")
    ThongTinGiaoDich: str
    MaXacThuc: str


class PayGovReply(BaseModel):
    """The hub's answer to PayGov: ``{MaLoi, MoTaLoi, MaDoiTac, ThoiGianGD, MaXacThuc}``; an accepted confirm's
    own ``MaLoi``, ``ThoiGianGD`` and ``MaXacThuc`` echoed, a refusal signed by the hub with its code."""

    MaLoi: str
    MoTaLoi: str
    MaDoiTac: str
    ThoiGianGD: str
    MaXacThuc: str
