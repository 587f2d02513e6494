"""Mock PayGov routes (under ``/paygov``): INIT and QUERY of DvcPayment v1.0.6. See ``mock.py``."""

from __future__ import annotations

import json
import secrets
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from .mock_state import PAYGOV_DECLINED, PAYGOV_PENDING, PAYGOV_STATES, MockGateway, MockOrder, fault_of, read_json
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
    return ("1", "Dữ liệu không hợp lệ (invalid data): " + ", ".join(wrong)) if wrong else None


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
            code = {"pending": PAYGOV_PENDING, "paid": "00", "failed": PAYGOV_DECLINED}[order.state]
            answer = {
                "LoaiBanTin": "QUERY",
                "MaLoi": code,
                "MaDoiTac": s.partner_code,
                "MaThamChieu": order.reference,
                "SoTien": str(order.amount),
                "MaTienTe": "VND",
                "MaGiaoDich": order.txn_id,
                "MaNganHang": "PAYMENT",
                "ThoiGianGD": paygov_time(order.settled_at or order.created_at),
                "ThongTinGiaoDich": order.description,
            }
            state = PAYGOV_STATES[order.state]
        return JSONResponse({**gw.paygov.sign(answer, PAYGOV_CONFIRM_FIELDS), "TrangThaiGD": state})
