"""The PayGov profile (DvcPayment message format v1.0.6): INIT, QUERY, confirm callback, reply. Pure.

[C] facts (design notes §2.1; THH ``DvcPaymentService.cs``, ``ConfirmDvcPaymentCommandHandler.cs``): HTTPS POST
JSON with ``Authorization: Bearer <AccessToken>`` (static); ``MaXacThuc`` = hex SHA-256 of the ``|``-joined
fields with the secret last (orders in ``signing.py``); INIT fixed values ``LoaiHinhThanhToan=PAY,
MaKenhThanhToan=1, MaThietBi=1, NgonNgu=vi-VN, MaTienTe=VND, MaNganHang=PAYMENT``; INIT answer
``{"error_code": "0", "message": "<JSON string with UrlThanhToan>"}``; QUERY answer has the confirm's shape plus
``TrangThaiGD``; callback ``MaLoi == "00"`` = paid; reply ``{MaLoi, MoTaLoi, MaDoiTac, ThoiGianGD, MaXacThuc}``;
``MaDVC = MaTTHC + ".01"`` (THH).

[I]: the reply codes (``reply_codes`` setting, VNPay-style), the reply's ``MaXacThuc`` over
``MaLoi|MaDoiTac|ThoiGianGD|secret`` (THH echoes the request's), the callback's ``LoaiBanTin`` value
("CONFIRM", not checked), QUERY ``TrangThaiGD`` values and the "not found" ``MaLoi``, ``UrlTraVe``
(return URL; PayGov may register it per partner instead), and that the QUERY answer is signed like a confirm.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hub import jsonbody
from hub.payments.port import (
    CallbackRejected,
    GatewayError,
    GatewayStatus,
    OrderCreated,
    PaymentOrder,
    PaymentResult,
    PermanentGatewayError,
    QueryState,
)
from hub.privacy import scrub

from .config import PayGovSettings
from .errors import classify_paygov
from .signing import (
    PAYGOV_CONFIRM_FIELDS,
    PAYGOV_INIT_FIELDS,
    PAYGOV_QUERY_FIELDS,
    PAYGOV_REPLY_FIELDS,
    paygov_sign,
    same_digest,
)
from .translate import check_fresh, json_object, parse_amount, parse_paygov_time, paygov_time

INIT_CONSTANTS = {
    "LoaiHinhThanhToan": "PAY",
    "MaKenhThanhToan": "1",
    "MaThietBi": "1",
    "NgonNgu": "vi-VN",
    "MaTienTe": "VND",
    "MaNganHang": "PAYMENT",
}  # [C]
REPLY_TEXTS = {
    "ok": "Thành công (success)",
    "already_settled": "Giao dịch đã được xác nhận trước đó (already confirmed)",
    "unknown_order": "Không tìm thấy giao dịch (order not found)",
    "amount_mismatch": "Số tiền không khớp (amount mismatch)",
    "wrong_merchant": "Sai mã đối tác (wrong partner code)",
    "bad_signature": "Sai mã xác thực (invalid MaXacThuc)",
    "stale": "Giao dịch quá hạn (notification too old)",
    "malformed": "Dữ liệu không hợp lệ (invalid data)",
    "unavailable": "Hệ thống tạm thời gián đoạn, gửi lại sau (temporarily unavailable, send again later)",
}


class PayGovProfile:
    name = "paygov"

    def __init__(self, settings: PayGovSettings) -> None:
        self.settings = settings

    @property
    def merchant(self) -> str:
        return self.settings.partner_code

    def _secret(self) -> str:
        return self.settings.secret_key.get_secret_value()

    def sign(self, message: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
        """The message with its ``MaXacThuc`` over ``fields``."""
        return {**message, "MaXacThuc": paygov_sign(message, fields, self._secret())}

    def verify(self, message: dict[str, Any], fields: tuple[str, ...]) -> bool:
        """Constant-time check of a message's ``MaXacThuc``."""
        return same_digest(paygov_sign(message, fields, self._secret()), message.get("MaXacThuc"))

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.settings.access_token.get_secret_value()}"}

    # ------------------------------------------------------------------ requests
    def init_body(self, order: PaymentOrder, now: datetime) -> dict[str, Any]:
        s = self.settings
        message: dict[str, Any] = {
            "LoaiBanTin": "INIT",
            "PhienBan": s.version,
            "MaDoiTac": s.partner_code,
            "MaThamChieu": order.reference,
            "SoTien": str(order.amount),
            **INIT_CONSTANTS,
            "ThongTinGiaoDich": order.description,
            "ThoiGianGD": paygov_time(now),
            "Ip": s.client_ip,
        }
        signed = self.sign(message, PAYGOV_INIT_FIELDS)
        signed["ThongTinBienLai"] = self._bill(order)
        if s.send_return_url:
            signed["UrlTraVe"] = order.return_url
        return signed

    def _bill(self, order: PaymentOrder) -> dict[str, Any]:
        """``ThongTinBienLai`` (receipt/bill info); the fine-related keys stay empty for fees."""
        s = self.settings
        fine_keys = (
            *("MaLoaiHinhThuPhat", "TenLoaiHinhThuPhat", "MaCoQuanQD", "TenCoQuanQD", "KhoBac", "NgayQD", "SoQD"),
            *("ThoiGianViPham", "DiaDiemViPham", "TenNguoiViPham", "TaiKhoanThuNSNN"),
        )
        return {
            "MaDichVu": s.service_code,
            "MaDVC": f"{order.procedure_code}.01",
            "TenDVC": order.description,
            "MaTTHC": order.procedure_code,
            "TenTTHC": order.description,
            "MaDonVi": order.agency_code,
            "TenDonVi": "",
            "MaHoSo": order.dossier_code,
            "TKThuHuong": s.beneficiary_account,
            "MaNHThuHuong": s.beneficiary_bank,
            "TenTKThuHuong": s.beneficiary_name,
            **dict.fromkeys(fine_keys, ""),
            "NoiDungThanhToan": order.description,
            "HoTenNguoiNop": order.payer_name,
            "SoCMNDNguoiNop": "",
            "DiaChiNguoiNop": "",
            "HuyenNguoiNop": "",
            "TinhNguoiNop": "",
            "PhiLePhi": [
                {"LoaiPhiLePhi": s.fee_type, "MaPhiLePhi": f.code, "TenPhiLePhi": f.name, "SoTien": str(f.amount)}
                for f in order.fee_items
            ],
            "DSKhoanNop": [{"NoiDung": f.name, "SoTien": str(f.amount)} for f in order.fee_items],
        }

    def query_body(self, reference: str, now: datetime) -> dict[str, Any]:
        message = {
            "LoaiBanTin": "QUERY",
            "PhienBan": self.settings.version,
            "MaDoiTac": self.settings.partner_code,
            "MaThamChieu": reference,
            "ThoiGianGD": paygov_time(now),
        }
        return self.sign(message, PAYGOV_QUERY_FIELDS)

    # ------------------------------------------------------------------ answers
    def classify(self, operation: str, status: int, body: Any) -> GatewayError | None:
        return classify_paygov(operation, status, body, self.settings.retryable_codes)

    def read_created(self, reference: str, status: int, body: Any) -> OrderCreated:
        body = jsonbody.nfc(body)
        error = self.classify("create_order", status, body)
        if error is not None:
            raise error
        try:
            inner = body["message"] if isinstance(body["message"], dict) else json_object(body["message"])
        except (ValueError, TypeError, KeyError) as exc:
            raise PermanentGatewayError("create_order: message is not a JSON object", http_status=status) from exc
        url = inner.get("UrlThanhToan")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise PermanentGatewayError("create_order: accepted without UrlThanhToan", http_status=status)
        gateway_ref = inner.get("MaGiaoDich") or inner.get("MaThamChieu") or reference
        return OrderCreated(reference=reference, gateway_ref=str(gateway_ref), payment_url=url)

    def read_status(self, reference: str, status: int, body: Any) -> GatewayStatus:
        s = self.settings
        if status >= 300 or (isinstance(body, dict) and "error_code" in body):
            error = self.classify("query", status, body)
            if error is not None:
                raise error
        if not isinstance(body, dict) or "MaLoi" not in body:
            raise PermanentGatewayError("query: answer without MaLoi", http_status=status)
        code = str(body["MaLoi"])
        if code in s.query_not_found_codes:
            return GatewayStatus(reference, "unknown", None, None, None, code)
        if "TrangThaiGD" not in body:
            raise PermanentGatewayError(f"query: MaLoi {code}: {scrub(body.get('MoTaLoi'))}", code=code)
        if "MaXacThuc" in body and not self.verify(body, PAYGOV_CONFIRM_FIELDS):
            raise PermanentGatewayError("query: the answer's MaXacThuc does not match", code=code)
        body = jsonbody.nfc(body)  # verified as signed; NFC from here on
        if body.get("MaThamChieu") not in (None, reference):
            raise PermanentGatewayError("query: the answer names another order", code=code)
        state_code = str(body["TrangThaiGD"])
        state: QueryState = "pending"
        if state_code in s.query_paid_states:
            state = "paid"
        elif state_code in s.query_failed_states:
            state = "failed"
        try:
            amount = parse_amount(body["SoTien"]) if body.get("SoTien") not in (None, "") else None
        except ValueError as exc:
            raise PermanentGatewayError("query: unreadable SoTien", code=code) from exc
        return GatewayStatus(
            reference, state, amount, body.get("MaTienTe") or None, body.get("MaGiaoDich") or None, code
        )

    # ------------------------------------------------------------------ callback
    def parse_callback(self, body: bytes, now: datetime) -> PaymentResult:
        """JSON and required fields, then ``MaXacThuc`` (constant time), partner, amount and time, freshness."""
        try:
            message = json_object(body, normalise=False)  # verified as signed, then NFC
        except ValueError as exc:
            raise CallbackRejected("malformed", "body is not a JSON object") from exc
        missing = [k for k in (*PAYGOV_CONFIRM_FIELDS, "MaXacThuc") if not _scalar(message.get(k))]
        if missing:
            raise CallbackRejected("malformed", "missing or invalid: " + ", ".join(missing))
        if not self.verify(message, PAYGOV_CONFIRM_FIELDS):
            raise CallbackRejected("bad_signature", "MaXacThuc does not match")
        message = jsonbody.nfc(message)
        if message["MaDoiTac"] != self.merchant:
            raise CallbackRejected("wrong_merchant", "MaDoiTac is not this partner")
        try:
            amount = parse_amount(message["SoTien"])
            occurred_at = parse_paygov_time(message["ThoiGianGD"])
        except (ValueError, ArithmeticError) as exc:
            raise CallbackRejected("malformed", "SoTien or ThoiGianGD is not readable") from exc
        check_fresh(occurred_at, now, self.settings.callback_max_age_seconds, self.settings.callback_max_skew_seconds)
        code = str(message["MaLoi"])
        return PaymentResult(
            profile=self.name,
            merchant=self.merchant,
            reference=str(message["MaThamChieu"]),
            outcome="paid" if code in self.settings.paid_codes else "failed",
            amount=amount,
            currency=str(message["MaTienTe"]),
            gateway_txn_id=str(message["MaGiaoDich"]),
            occurred_at=occurred_at,
            code=code,
        )

    def callback_reply(self, answer: str, now: datetime) -> tuple[int, dict[str, Any]]:
        if answer not in REPLY_TEXTS:
            raise ValueError(f"unknown callback answer {answer!r}")
        reply = {
            "MaLoi": self.settings.reply_codes.get(answer, "99"),
            "MoTaLoi": REPLY_TEXTS[answer],
            "MaDoiTac": self.settings.partner_code,
            "ThoiGianGD": paygov_time(now),
        }
        return 200, self.sign(reply, PAYGOV_REPLY_FIELDS)


MAX_FIELD = 1000  # characters (or digits) of one signed field: far above any real value
_INT_BOUND: int = 10**MAX_FIELD


def _scalar(value: Any) -> bool:
    """A field value that can take part in MaXacThuc: a string or an integer (not a bool), short
    enough to sign (an integer's digits are its text: Python refuses past 4,300 of them)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -_INT_BOUND < value < _INT_BOUND
    return isinstance(value, str) and len(value) <= MAX_FIELD
