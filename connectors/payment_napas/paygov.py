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
from .translate import check_fresh, json_object, nfc, parse_amount, parse_paygov_time, paygov_time

ECHOED = ("MaLoi", "ThoiGianGD", "MaXacThuc")  # [C] what THH's reply to a confirm echoes
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
        """INIT; ``ThoiGianGD`` is the order's ``opened_at`` (recorded by the hub: QUERY sends it again),
        ``now`` only for an order without one. Text in NFC: the signature is over bytes."""
        s = self.settings
        if sum(f.amount for f in order.fee_items) != order.amount:
            raise PermanentGatewayError("create_order: SoTien must be the sum of the PhiLePhi amounts")
        message: dict[str, Any] = {
            "LoaiBanTin": "INIT",
            "PhienBan": s.version,
            "MaDoiTac": s.partner_code,
            "MaThamChieu": order.reference,
            "SoTien": str(order.amount),
            **INIT_CONSTANTS,
            "ThongTinGiaoDich": nfc(order.description),
            "ThoiGianGD": paygov_time(order.opened_at or now),
            "Ip": s.client_ip,
        }
        signed = self.sign(message, PAYGOV_INIT_FIELDS)
        signed["ThongTinBienLai"] = self._bill(order)
        if s.send_return_url:
            signed["UrlTraVe"] = order.return_url
        return signed

    def _bill(self, order: PaymentOrder) -> dict[str, Any]:
        """``ThongTinBienLai`` (receipt/bill info) as THH fills it: the agency's beneficiary account and
        unit name (``order.beneficiary``, from the agency directory), the procedure's name (over
        ``procedure_name_limit`` characters: the first 200 and "..."), the payer's name and ID number
        (``anonymous_payer_id`` when absent); the fine-related keys stay empty for fees."""
        s = self.settings
        to = order.beneficiary
        if to is None or not to.account:
            raise PermanentGatewayError("create_order: the agency's beneficiary account (TKThuHuong) is not configured")
        name = nfc(order.procedure_name or order.description)
        if len(name) > s.procedure_name_limit:
            name = name[:200] + "..."
        fine_keys = (
            *("MaLoaiHinhThuPhat", "TenLoaiHinhThuPhat", "MaCoQuanQD", "TenCoQuanQD", "KhoBac", "NgayQD", "SoQD"),
            *("ThoiGianViPham", "DiaDiemViPham", "TenNguoiViPham", "TaiKhoanThuNSNN"),
        )
        return {
            "MaDichVu": s.service_code,
            "MaDVC": f"{order.procedure_code}.01",
            "TenDVC": name,
            "MaTTHC": order.procedure_code,
            "TenTTHC": name,
            "MaDonVi": order.agency_code,
            "TenDonVi": nfc(to.unit_name),
            "MaHoSo": order.dossier_code,
            "TKThuHuong": to.account,
            "MaNHThuHuong": to.bank_code,
            "TenTKThuHuong": nfc(to.account_name),
            **dict.fromkeys(fine_keys, ""),
            "NoiDungThanhToan": nfc(order.description),
            "HoTenNguoiNop": nfc(order.payer_name),
            "SoCMNDNguoiNop": order.payer_id_number or s.anonymous_payer_id,
            "DiaChiNguoiNop": "",
            "HuyenNguoiNop": "",
            "TinhNguoiNop": "",
            "PhiLePhi": [
                {"LoaiPhiLePhi": s.fee_type, "MaPhiLePhi": f.code, "TenPhiLePhi": nfc(f.name), "SoTien": str(f.amount)}
                for f in order.fee_items
            ],
            "DSKhoanNop": [{"NoiDung": nfc(f.name), "SoTien": str(f.amount)} for f in order.fee_items],
        }

    def query_body(self, reference: str, opened_at: datetime) -> dict[str, Any]:
        """QUERY with the order's original transaction time (its INIT ``ThoiGianGD``), not "now" [C THH]."""
        message = {
            "LoaiBanTin": "QUERY",
            "PhienBan": self.settings.version,
            "MaDoiTac": self.settings.partner_code,
            "MaThamChieu": reference,
            "ThoiGianGD": paygov_time(opened_at),
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
        if code not in s.query_ok_codes or "TrangThaiGD" not in body:  # the query itself did not succeed
            raise PermanentGatewayError(f"query: MaLoi {code}: {scrub(body.get('MoTaLoi'))}", code=code)
        if "MaXacThuc" in body and not self.verify(body, PAYGOV_CONFIRM_FIELDS):
            raise PermanentGatewayError("query: the answer's MaXacThuc does not match", code=code)
        body = jsonbody.nfc(body)  # verified as signed; NFC from here on
        if body.get("MaThamChieu") not in (None, reference):
            raise PermanentGatewayError("query: the answer names another order", code=code)
        state_code = str(body["TrangThaiGD"])
        state: QueryState = "pending"  # 3, and any state not listed: only a known final state settles
        if state_code in s.query_paid_states:
            state = "paid"
        elif state_code in s.query_failed_states:
            state = "failed"
        code = f"{code}/{state_code}"  # MaLoi/TrangThaiGD, in the payment's history
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
            echo={k: str(message[k]) for k in ECHOED},
        )

    def callback_reply(
        self, answer: str, now: datetime, result: PaymentResult | None = None
    ) -> tuple[int, dict[str, Any]]:
        """An accepted confirm (ok, already confirmed) echoes its ``MaLoi``, ``ThoiGianGD`` and ``MaXacThuc``
        with ``MoTaLoi`` empty [C THH], so a failed payment is answered with its own code; any other answer
        (or ``reply_echo`` off) is signed by the hub with its ``reply_codes`` [I]."""
        if answer not in REPLY_TEXTS:
            raise ValueError(f"unknown callback answer {answer!r}")
        if self.settings.reply_echo and answer in ("ok", "already_settled") and result is not None and result.echo:
            echo = result.echo
            return 200, {
                "MaLoi": echo["MaLoi"],
                "MoTaLoi": "",
                "MaDoiTac": self.settings.partner_code,
                "ThoiGianGD": echo["ThoiGianGD"],
                "MaXacThuc": echo["MaXacThuc"],
            }
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
