"""Mock PayGov routes (under ``/paygov``): INIT and QUERY of DvcPayment v1.0.6. The rules and what
the mock cannot know: ``mock_rules.py`` (its capability card, ``GET /_mock/card``)."""

from __future__ import annotations

import json
import secrets
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from .mock_state import PAYGOV_STATES, MockGateway, MockOrder, fault_of, read_json
from .signing import PAYGOV_CONFIRM_FIELDS, PAYGOV_INIT_FIELDS, PAYGOV_QUERY_FIELDS
from .translate import parse_amount, parse_paygov_time, paygov_time


def _paygov_init_problem(gw: MockGateway, body: dict[str, Any]) -> tuple[str, str] | None:
    s = gw.paygov.settings
    if body.get("LoaiBanTin") != "INIT" or body.get("PhienBan") != s.version:
        return "1", f"LoaiBanTin/PhienBan: INIT {s.version} expected"
    if body.get("MaDoiTac") != s.partner_code:
        return "4", "MaDoiTac không tồn tại (unknown partner code)"
    if not gw.paygov.verify(body, PAYGOV_INIT_FIELDS):
        return "2", "Sai mã xác thực (invalid MaXacThuc)"
    fixed = {"LoaiHinhThanhToan": "PAY", "MaKenhThanhToan": "1", "MaThietBi": "1", "NgonNgu": "vi-VN"}
    fixed |= {"MaTienTe": "VND", "MaNganHang": "PAYMENT"}
    wrong = [k for k, v in fixed.items() if body.get(k) != v]
    wrong += [k for k in ("MaThamChieu", "ThongTinGiaoDich", "Ip") if not isinstance(body.get(k), str) or not body[k]]
    try:
        parse_paygov_time(body.get("ThoiGianGD"))
        if parse_amount(body.get("SoTien")) <= 0 or not str(body.get("SoTien")).isdigit():
            wrong.append("SoTien")
    except ValueError:
        wrong.append("ThoiGianGD/SoTien")
    bill = body.get("ThongTinBienLai")
    if not isinstance(bill, dict) or not bill.get("MaHoSo") or not isinstance(bill.get("PhiLePhi"), list):
        wrong.append("ThongTinBienLai")
    elif gw.strict and not wrong:
        wrong += _bill_problems(body["SoTien"], bill)
    return ("1", "Dữ liệu không hợp lệ (invalid data): " + ", ".join(wrong)) if wrong else None


def _bill_problems(amount: str, bill: dict[str, Any]) -> list[str]:
    """Strict rules of ThongTinBienLai (mock_rules: amount-is-fee-sum, beneficiary): field and rule names only."""
    wrong = []
    for key in ("PhiLePhi", "DSKhoanNop"):
        lines = bill.get(key)
        if key == "DSKhoanNop" and lines is None:
            continue
        try:
            if not isinstance(lines, list) or not all(isinstance(line, dict) for line in lines):
                raise ValueError(key)
            total = sum(parse_amount(line.get("SoTien")) for line in lines)
        except ValueError:
            wrong.append(f"{key}[].SoTien (unreadable)")
            continue
        if total != int(amount):
            wrong.append(f"SoTien (must be the sum of {key}[].SoTien)")
    wrong += [f"{k} (empty)" for k in BENEFICIARY if not isinstance(bill.get(k), str) or not bill[k].strip()]
    return wrong


BENEFICIARY = ("TKThuHuong", "MaNHThuHuong", "TenTKThuHuong", "TenDonVi")


def install_paygov(app: FastAPI, gw: MockGateway) -> None:
    s = gw.paygov.settings

    def authorized(request: Request) -> bool:
        expected = f"Bearer {s.access_token.get_secret_value()}".encode()
        return secrets.compare_digest(request.headers.get("authorization", "").encode(), expected)

    @app.post(f"/paygov{s.init_path}")
    async def init(request: Request) -> Response:
        with gw.lock:
            gw.calls["paygov.init"] += 1
        if not authorized(request):
            gw.reject("401")
            return JSONResponse({"error_code": "-1", "message": "Unauthorized"}, status_code=401)
        fault = await fault_of(gw)
        if fault is not None:
            return fault
        body = await read_json(request)
        problem = ("1", "Body must be a JSON object") if body is None else _paygov_init_problem(gw, body)
        if body is None or problem is not None:
            code, message = problem or ("1", "")
            gw.reject(code)
            return JSONResponse({"error_code": code, "message": message})
        if int(body["SoTien"]) > gw.max_amount:
            gw.reject("1")
            return JSONResponse({"error_code": "1", "message": f"SoTien vượt hạn mức {gw.max_amount} (above limit)"})
        reference = body["MaThamChieu"]
        raw_url = body.get("UrlTraVe")
        return_url = raw_url if isinstance(raw_url, str) else ""
        record = MockOrder(
            profile="paygov",
            reference=reference,
            amount=int(body["SoTien"]),
            currency="VND",
            description=body["ThongTinGiaoDich"],
            dossier_code=str(body["ThongTinBienLai"]["MaHoSo"]),
            return_url=return_url,
            callback_url=s.callback_url,
            gateway_ref=reference,
            created_at=gw.clock(),
            opened_time=str(body["ThoiGianGD"]),
        )
        if not gw.add_order(record):
            gw.reject("3")
            return JSONResponse({"error_code": "3", "message": "MaThamChieu đã tồn tại (reference already used)"})
        inner = {"MaDoiTac": s.partner_code, "MaThamChieu": reference, "UrlThanhToan": gw.payment_url(reference)}
        return JSONResponse({"error_code": "0", "message": json.dumps(inner, ensure_ascii=False)})

    @app.post(f"/paygov{s.query_path}")
    async def query(request: Request) -> Response:
        with gw.lock:
            gw.calls["paygov.query"] += 1
        if not authorized(request):
            gw.reject("401")
            return JSONResponse({"error_code": "-1", "message": "Unauthorized"}, status_code=401)
        fault = await fault_of(gw)
        if fault is not None:
            return fault
        body = await read_json(request) or {}
        now = paygov_time(gw.clock())
        if body.get("LoaiBanTin") != "QUERY" or body.get("MaDoiTac") != s.partner_code:
            gw.reject("99")
            return JSONResponse({"MaLoi": "99", "MoTaLoi": "Dữ liệu không hợp lệ (invalid data)", "ThoiGianGD": now})
        if not gw.paygov.verify(body, PAYGOV_QUERY_FIELDS):
            gw.reject("97")
            return JSONResponse({"MaLoi": "97", "MoTaLoi": "Sai mã xác thực (invalid MaXacThuc)", "ThoiGianGD": now})
        with gw.lock:
            order = gw.orders.get(str(body.get("MaThamChieu")))
            if order is None or order.profile != "paygov":
                return JSONResponse(
                    {"MaLoi": "01", "MoTaLoi": "Không tìm thấy giao dịch (not found)", "ThoiGianGD": now}
                )
            if gw.strict and body.get("ThoiGianGD") != order.opened_time:
                gw.reject("99")
                text = "ThoiGianGD phải là thời gian giao dịch gốc (must be the INIT ThoiGianGD)"
                return JSONResponse({"MaLoi": "99", "MoTaLoi": text, "ThoiGianGD": now})
            answer = {
                "LoaiBanTin": "QUERY",
                "MaLoi": "00",  # [C] the query itself succeeded; the payment's state is TrangThaiGD
                "MaDoiTac": s.partner_code,
                "MaThamChieu": order.reference,
                "SoTien": str(order.amount),
                "MaTienTe": "VND",
                "MaGiaoDich": order.txn_id,
                "MaNganHang": "PAYMENT",
                "ThoiGianGD": order.opened_time,
                "ThongTinGiaoDich": order.description,
            }
            state = PAYGOV_STATES[order.state]
        return JSONResponse({**gw.paygov.sign(answer, PAYGOV_CONFIRM_FIELDS), "TrangThaiGD": state})
