"""The mock VNPost's HTTP side: faults, the three auth schemes, safe body parsing, order validation,
the answers in each variant's shape, and the tracking feed (see ``mock.py`` for what is refused)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
import secrets
import time
from collections.abc import Mapping
from typing import Any, TypeGuard
from urllib.parse import parse_qs

from fastapi import Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from hub import jsonbody
from hub.canonical import VN_TZ
from hub.postal.port import ITEM_CODE_PATTERN
from hub.postal.rules import ParcelStatus

from .config import DEFAULT_TABLES, Variant, VnpostSettings
from .errors import MAX_DEPTH
from .mock_state import Event, MockState

MAX_BODY = 64 * 1024
_HEX24 = re.compile(r"[0-9a-f]{24}")
_PHONE = re.compile(r"\+?[0-9 .]{8,15}")
_TEXT: tuple[str, ...] = ("CustomerCode", "OrderNumber", "SenderName", "SenderAddress", "SenderTel")
_TEXT += ("ReceiverName", "ReceiverAddress", "ReceiverTel", "Description")
LABELS: dict[ParcelStatus, str] = {
    ParcelStatus.ACCEPTED: "Đã tiếp nhận đơn hàng",
    ParcelStatus.PICKUP_FAILED: "Thu gom không thành công",
    ParcelStatus.PICKED_UP: "Đã nhận bưu gửi",
    ParcelStatus.IN_TRANSIT: "Đang vận chuyển",
    ParcelStatus.OUT_FOR_DELIVERY: "Đang phát",
    ParcelStatus.DELIVERY_FAILED: "Phát không thành công",
    ParcelStatus.RETURNING: "Đang chuyển hoàn",
    ParcelStatus.DELIVERED: "Phát thành công",
    ParcelStatus.RETURNED: "Đã chuyển hoàn",
    ParcelStatus.CANCELLED: "Đã hủy",
}


def raw_codes(variant: Variant) -> dict[ParcelStatus, str]:
    """Canonical status -> the first raw code of the variant's table (what the mock's feed sends)."""
    codes: dict[ParcelStatus, str] = {}
    for raw, status in DEFAULT_TABLES[variant].items():
        if status is not None:
            codes.setdefault(status, raw)
    return codes


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def problems_of(body: dict[str, Any], variant: Variant, known: Mapping[int, set[int]], zero_ok: bool) -> list[str]:
    """What VNPost would refuse in an ``MOrder`` body, each naming its field."""
    problems = []
    for key in _TEXT:
        value = body.get(key)
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{key}: bắt buộc (required)")
        elif len(value) > 500:
            problems.append(f"{key}: quá dài (longer than 500)")
    for key in ("SenderTel", "ReceiverTel"):
        if isinstance(body.get(key), str) and not _PHONE.fullmatch(body[key]):
            problems.append(f"{key}: sai định dạng (not a phone number)")
    for side in ("Sender", "Receiver"):
        province, district = body.get(f"{side}Province"), body.get(f"{side}District")
        if not _is_int(province):
            problems.append(f"{side}Province: phải là số nguyên (must be an integer)")
        elif province not in known:
            problems.append(f"{side}Province: {province} không tồn tại (unknown VNPost province id)")
        if not _is_int(district):
            problems.append(f"{side}District: phải là số nguyên (must be an integer)")
        elif district == 0 and not zero_ok:
            problems.append(f"{side}District: bắt buộc, khác 0 (required, not 0)")
        elif district != 0 and _is_int(province) and district not in known.get(province, set()):
            problems.append(f"{side}District: {district} không thuộc tỉnh {province} (unknown district of province)")
    cod = body.get("CODAmount")
    if not isinstance(cod, int | float) or isinstance(cod, bool) or cod < 0 or cod > 10**10:
        problems.append("CODAmount: số tiền >= 0 (required, amount >= 0)")
    item = body.get("ItemCode")
    if item is not None and not (isinstance(item, str) and re.fullmatch(ITEM_CODE_PATTERN, item)):
        problems.append("ItemCode: sai định dạng (S10 waybill number expected)")
    if variant == "lgsp" and "FlagConfig" in body and not _is_int(body["FlagConfig"]):
        problems.append("FlagConfig: phải là số nguyên (must be an integer)")
    for key in ("SenderEmail", "ReceiverEmail", "SenderDesc"):
        if body.get(key) is not None and not isinstance(body[key], str):
            problems.append(f"{key}: phải là chuỗi (must be text)")
    return problems


class MockHttp:
    def __init__(self, state: MockState, settings: VnpostSettings) -> None:
        self.state, self.s = state, settings

    # ---------------------------------------------------------------- answers
    @staticmethod
    def answer(
        variant: Variant, code: str, message: str, http: int = 200, item_code: str | None = None
    ) -> JSONResponse:
        extra = {"ItemCode": item_code} if item_code else {}
        if variant == "myvnpost":
            return JSONResponse({"IsSuccess": code == "100", "Code": code, "Message": message, **extra}, http)
        return JSONResponse({"Status": code, "Message": message, **extra}, http)

    async def inject(self, token: bool = False) -> Response | None:
        st = self.state
        with st.lock:
            f = st.faults
            outage, failed = time.monotonic() < st.outage_until, st.roll(f.error_5xx_rate)
            if outage or failed:
                st.count("outage" if outage else "5xx", "injected")
        delay = f.token_latency_ms if token else f.latency_ms
        if delay:
            await asyncio.sleep(delay / 1000)
        if outage:
            return PlainTextResponse("Service Unavailable", 503)
        return PlainTextResponse("Bad Gateway", 502) if failed else None

    def _unauthorised(self, variant: Variant, missing: bool) -> JSONResponse:
        if variant == "direct":  # WSO2 API manager
            fault = (900902, "Missing Credentials") if missing else (900901, "Invalid Credentials")
            return JSONResponse(
                {"fault": {"code": fault[0], "message": fault[1], "description": "Access failure"}}, 401
            )
        text = "Thiếu token (missing token)" if missing else "Token không hợp lệ hoặc đã hết hạn (invalid or expired)"
        return self.answer(variant, "401", text, 401)

    def check_auth(self, request: Request, variant: Variant) -> Response | None:
        h, st = request.headers, self.state
        bearer = h.get("authorization", "")
        token = bearer[7:].strip() if bearer.lower().startswith("bearer ") else None
        if variant == "myvnpost":
            token = h.get("h-token")
        if variant == "lgsp" and h.get("access_token") is not None:
            static = self.s.lgsp_access_token.get_secret_value()
            ok = secrets.compare_digest(h["access_token"].encode(), static.encode())
            return None if ok else self._unauthorised(variant, missing=False)
        if not token:
            return self._unauthorised(variant, missing=True)
        with st.lock:
            valid = token.startswith(variant + "-") and st.token_valid(token)
        return None if valid else self._unauthorised(variant, missing=False)

    async def guarded(self, request: Request, variant: Variant) -> dict[str, Any] | Response:
        """Faults, then auth, then the body: a JSON object, safely parsed."""
        fault = await self.inject()
        if fault is not None:
            return fault
        with self.state.lock:
            self.state.count(f"{variant} {request.method} {request.url.path}")
        refused = self.check_auth(request, variant)
        if refused is not None:
            return refused
        try:
            body = jsonbody.parse(await request.body(), max_depth=MAX_DEPTH, max_bytes=MAX_BODY, normalise=False)
        except ValueError as exc:
            return self.answer(variant, "102", f"body: {exc}", 400)
        if not isinstance(body, dict):
            return self.answer(variant, "102", "body: phải là đối tượng JSON (must be a JSON object)", 400)
        return body

    # ---------------------------------------------------------------- tokens
    async def oauth_token(self, request: Request, variant: Variant) -> Response:
        fault = await self.inject(token=True)
        if fault is not None:
            return fault
        form = parse_qs((await request.body())[:4096].decode("utf-8", "replace"))
        if form.get("grant_type") != ["client_credentials"]:
            return JSONResponse(
                {"error": "unsupported_grant_type", "error_description": "client_credentials only"}, 400
            )
        key, secret = (
            (self.s.consumer_key, self.s.consumer_secret)
            if variant == "direct"
            else (self.s.lgsp_consumer_key, self.s.lgsp_consumer_secret)
        )
        expected = base64.b64encode(f"{key}:{secret.get_secret_value()}".encode()).decode()
        given = request.headers.get("authorization", "")
        try:
            ok = given.startswith("Basic ") and secrets.compare_digest(
                base64.b64decode(given[6:], validate=True), base64.b64decode(expected)
            )
        except (binascii.Error, ValueError):
            ok = False
        if not ok:
            return JSONResponse({"error": "invalid_client", "error_description": "Client Authentication failed."}, 401)
        with self.state.lock:
            token = self.state.issue_token(variant)
        ttl = int(self.state.options.token_ttl_seconds)
        return JSONResponse({"access_token": token, "token_type": "Bearer", "expires_in": ttl, "scope": "default"})

    async def myvnpost_token(self, request: Request) -> Response:
        fault = await self.inject(token=True)
        if fault is not None:
            return fault
        try:
            body = jsonbody.parse(await request.body(), max_depth=MAX_DEPTH, max_bytes=MAX_BODY, normalise=False)
        except ValueError as exc:
            return JSONResponse({"IsSuccess": False, "Token": None, "Message": f"body: {exc}"}, 400)
        user, password = (body.get(k) if isinstance(body, dict) else None for k in ("TenDangNhap", "MatKhau"))
        ok = (
            isinstance(user, str)
            and isinstance(password, str)
            and secrets.compare_digest(user.encode(), self.s.myvnpost_username.encode())
            and secrets.compare_digest(password.encode(), self.s.myvnpost_password.get_secret_value().encode())
        )
        if not ok:
            return JSONResponse({"IsSuccess": False, "Token": None, "Message": "Sai tên đăng nhập hoặc mật khẩu"})
        with self.state.lock:
            token = self.state.issue_token("myvnpost")
        return JSONResponse({"IsSuccess": True, "Token": token, "Message": "Đăng nhập thành công"})

    # ---------------------------------------------------------------- feed
    def _doc(self, e: Event, variant: Variant, codes: dict[ParcelStatus, str]) -> dict[str, Any]:
        raw = codes[e.status]
        return {
            "_id": {"$oid": e.oid},
            "CustomerCode": e.customer,
            "OrderNumber": e.number,
            "ItemCode": e.item_code,
            "StatusCode": raw if variant == "lgsp" else int(raw),  # the LGSP proxy stringifies [I]
            "StatusMessage": LABELS[e.status],
            "EventTime": e.at.astimezone(VN_TZ).isoformat(timespec="seconds"),
            "POSID": e.post_office,
            "Notes": "",
        }

    async def feed(self, request: Request, variant: Variant) -> Response:
        fault = await self.inject()
        if fault is not None:
            return fault
        refused = self.check_auth(request, variant)
        if refused is not None:
            return refused
        q, st = request.query_params, self.state
        customer, last_id, size_text = q.get("CustomerCode", ""), q.get("lastId", "0" * 24).lower(), q.get("pagesize")
        size = int(size_text) if size_text and size_text.isdigit() else 50 if size_text is None else 0
        if customer not in st.pools:
            return self.answer(variant, "106", "CustomerCode: không tồn tại (unknown customer)", 400)
        if not 1 <= size <= st.options.max_page_size or not _HEX24.fullmatch(last_id):
            return self.answer(variant, "102", "pagesize 1-100 và lastId 24 hex (pagesize, lastId)", 400)
        with st.lock:
            st.count(f"{variant} tracking")
            events, total = st.page(customer, last_id, size, q.get("OrderNumber"))
            lost = st.roll(st.faults.lose_page_rate)
            if lost:
                st.count("lose_page", "injected")
            one_as_object = st.faults.one_as_object
        if lost:  # the page was computed; its answer never arrives
            return PlainTextResponse("Bad Gateway", 502)
        codes = raw_codes(variant)
        docs: Any = [self._doc(e, variant, codes) for e in events]
        if one_as_object and len(docs) == 1:
            docs = docs[0]
        pages = (total + size - 1) // size
        return JSONResponse(
            {"_embedded": {"rh:doc": docs}, "_returned": len(events), "_size": total, "_total_pages": pages}
        )
