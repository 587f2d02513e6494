"""Mock national portal (DVCQG): the partner's stand-in for development, demos and tests.

Run: ``python -m connectors.national_portal.mock --host 127.0.0.1 --port 8101 [--failure-rate 0.1 ...]``.
Credentials, ``dstcode`` and endpoint paths come from ``NationalPortalSettings`` (``HUB_PORTAL_*``), so
the connector and the mock agree by default.

It rejects what the real portal would: bad credentials or ``dstcode`` (``error_code`` "-1" [I]), an
unknown or expired session ("-2" [I]), invalid fields ("1" [I]; the message names the field), an
unknown service ("2" [I]), insert of an existing dossier ("3", "... đã tồn tại" [C]), update of or
progress for an unknown dossier ("4" [I]). Answers are HTTP 200 with ``error_code``, as from the real
adapter (a body that is not a JSON object gets HTTP 400); a call is all or nothing: one bad item and
nothing of the call is stored. Stored progress entries are never deduplicated (the real portal appends);
``GET /_mock/stats`` counts duplicates by (MaHoSo, TrangThai, ThoiDiemXuLy) instead.

Faults (``Faults`` at start, CLI flags, or ``POST /_mock/faults``) are applied **before** anything is
stored, so a 5xx or a hang means nothing was stored. A real portal may store and then fail to answer;
the connector's ``TraCuuHoSo`` check before re-sending covers that case.

Admin (never faulted): GET ``/_mock/dossiers``, GET ``/_mock/dossiers/{mahoso}``, GET ``/_mock/stats``,
GET/POST ``/_mock/faults``, POST ``/_mock/reset``.
"""

from __future__ import annotations

import asyncio
import random
import re
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import Field

from hub import jsonbody, mockkit
from hub.canonical import AGENCY_CODE_PATTERN, DOSSIER_CODE_PATTERN, PROCEDURE_CODE_PATTERN
from hub.mockkit import FaultSettings

from . import translate as tr
from .config import NationalPortalSettings


class Faults(FaultSettings):
    """Fault injection. Rates are probabilities per partner call (``/_mock/*`` is never faulted)."""

    failure_rate: float = Field(default=0.0, ge=0, le=1)  # HTTP 500 with a JSON error body
    error_5xx_rate: float = Field(default=0.0, ge=0, le=1)  # HTTP 502 from the gateway in front, plain text
    latency_ms: int = Field(default=0, ge=0)  # added to every call
    timeout_rate: float = Field(default=0.0, ge=0, le=1)  # hang for hang_seconds, then 504
    hang_seconds: float = Field(default=15.0, ge=0)  # longer than the client's timeout
    session_ttl_seconds: float = Field(default=3600.0, gt=0)  # for sessions issued from now on
    outage_seconds: float = Field(default=0.0, ge=0)  # every call answers 503 for this long, from now


# ------------------------------------------------------------------ validation (what the portal checks)
_DATE = re.compile(r"\d{14}")
_HOSO_DATES = ("NgayTiepNhan", "NgayHenTra", "NgayTra", "NgayKetThucXuLy")
_PROGRESS_DATES = ("NgayBatDau", "NgayKetThucTheoQuyDinh")


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _code_in(value: Any, low: int, high: int) -> bool:
    """A code sent as a digit string (or an int): "2" or 2."""
    text = str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""
    return text.isdigit() and low <= int(text) <= high


def _date_ok(value: Any) -> bool:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        return False
    try:  # the regex fixed the layout; the constructor checks the calendar (strptime is 10x slower)
        datetime(int(value[:4]), int(value[4:6]), int(value[6:8]), int(value[8:10]), int(value[10:12]), int(value[12:]))
    except ValueError:
        return False
    return True


def _pattern(value: Any, pattern: str) -> bool:
    return isinstance(value, str) and re.fullmatch(pattern, value) is not None


def check_hoso(h: dict[str, Any], where: str) -> list[str]:
    """Problems of one HoSo, each naming its field; empty strings count as absent (as OpenCPS sends them)."""
    problems = []
    if not _pattern(h.get("MaHoSo"), DOSSIER_CODE_PATTERN):
        problems.append(f"{where}.MaHoSo: bắt buộc, dạng 000.00.00.H56-yyMMdd-NNNN (required, dossier code)")
    if not _pattern(h.get("MaTTHC"), PROCEDURE_CODE_PATTERN):
        problems.append(f"{where}.MaTTHC: bắt buộc, mã TTHC quốc gia (required, national procedure code)")
    if _blank(h.get("ChuHoSo")):
        problems.append(f"{where}.ChuHoSo: bắt buộc (required)")
    status = h.get("TrangThaiHoSo")
    if not _code_in(status, 1, 10):
        problems.append(f"{where}.TrangThaiHoSo: bắt buộc, 1-10 (required, status 1-10)")
    problems += [
        f"{where}.{k}: sai định dạng yyyyMMddHHmmss" for k in _HOSO_DATES if not _blank(h.get(k)) and not _date_ok(h[k])
    ]
    if _code_in(status, 1, 10):
        n = int(str(status).strip())
        for key, needed in (("NgayTiepNhan", n >= 2), ("NgayKetThucXuLy", n == 9), ("NgayTra", n == 10)):
            if needed and _blank(h.get(key)):
                problems.append(f"{where}.{key}: bắt buộc khi TrangThaiHoSo = {n} (required for this status)")
    for key, high in (("KenhThucHien", 3), ("LoaiDoiTuong", 4)):
        if not _blank(h.get(key)) and not _code_in(h[key], 1, high):
            problems.append(f"{where}.{key}: giá trị 1-{high} (value 1-{high})")
    fees = h.get("DanhSachLePhi", [])
    if not isinstance(fees, list):
        problems.append(f"{where}.DanhSachLePhi: phải là danh sách (must be a list)")
    else:
        for i, fee in enumerate(fees):
            if not isinstance(fee, dict) or _blank(fee.get("TenPhiLePhi")) or not _code_in(fee.get("Gia"), 0, 10**12):
                problems.append(f"{where}.DanhSachLePhi[{i}]: cần TenPhiLePhi và Gia >= 0 (name and amount required)")
    return problems


def check_progress(e: dict[str, Any], where: str) -> list[str]:
    problems = []
    if not _pattern(e.get("MaHoSo"), DOSSIER_CODE_PATTERN):
        problems.append(f"{where}.MaHoSo: bắt buộc (required, dossier code)")
    if not _code_in(e.get("TrangThai"), 1, 10):
        problems.append(f"{where}.TrangThai: bắt buộc, 1-10 (required, status 1-10)")
    if not _date_ok(e.get("ThoiDiemXuLy")):
        problems.append(f"{where}.ThoiDiemXuLy: bắt buộc, yyyyMMddHHmmss (required)")
    problems += [f"{where}.{k}: bắt buộc (required)" for k in ("NguoiXuLy", "NoiDungXuLy") if _blank(e.get(k))]
    problems += [
        f"{where}.{k}: sai định dạng yyyyMMddHHmmss"
        for k in _PROGRESS_DATES
        if not _blank(e.get(k)) and not _date_ok(e[k])
    ]
    return problems


def _items(
    body: dict[str, Any], check: Callable[[dict[str, Any], str], list[str]]
) -> tuple[list[dict[str, Any]], list[str]]:
    data = body.get("data")
    if not isinstance(data, list) or not data or not all(isinstance(x, dict) for x in data):
        return [], ["data: bắt buộc, danh sách khác rỗng (required, non-empty list of objects)"]
    return data, [p for i, x in enumerate(data) for p in check(x, f"data[{i}]")]


# ------------------------------------------------------------------ state
class _Portal:
    """In-memory state, guarded by one lock."""

    def __init__(self, settings: NationalPortalSettings, faults: Faults | None) -> None:
        self.settings = settings
        self.lock = threading.RLock()
        self.reset(faults)

    def reset(self, faults: Faults | None = None) -> None:
        with self.lock:
            self.set_faults(faults or Faults(), changed=Faults.model_fields)
            self.sessions: dict[str, float] = {}  # token -> expiry (monotonic clock)
            self.dossiers: dict[str, dict[str, Any]] = {}  # MaHoSo -> latest HoSo
            self.progress: dict[str, list[dict[str, Any]]] = {}  # MaHoSo -> entries, arrival order
            self.keys: set[tr.ProgressKey] = set()
            self.calls: Counter[str] = Counter()
            self.rejected: Counter[str] = Counter()  # by error_code
            self.injected: Counter[str] = Counter()
            self.duplicates = 0

    def set_faults(self, faults: Faults, changed: Collection[str]) -> None:
        self.faults = faults
        if "seed" in changed:
            self.rng = random.Random(faults.seed)
        if "outage_seconds" in changed:
            self.outage_until = time.monotonic() + faults.outage_seconds

    def stats(self) -> dict[str, Any]:
        with self.lock:
            now = time.monotonic()
            return {
                "calls": dict(self.calls),
                "rejected_calls": sum(self.rejected.values()),
                "rejected_by_code": dict(self.rejected),
                "faults_injected": dict(self.injected),
                "dossiers": len(self.dossiers),
                "progress_entries": sum(len(v) for v in self.progress.values()),
                "duplicate_progress_entries": self.duplicates,
                "active_sessions": sum(1 for exp in self.sessions.values() if exp > now),
            }

    def view(self, mahoso: str) -> dict[str, Any]:
        return {"MaHoSo": mahoso, "HoSo": self.dossiers[mahoso], tr.PROGRESS_LIST_KEY: list(self.progress[mahoso])}

    def reject(self, code: str, message: str) -> JSONResponse:
        with self.lock:
            self.rejected[code] += 1
        return JSONResponse({"error_code": code, "message": message})

    async def inject(self) -> Response | None:
        """Roll the fault dice for one call; a Response means: answer that and do nothing else."""
        with self.lock:
            f = self.faults
            hang, fail, gateway = (self.rng.random() < r for r in (f.timeout_rate, f.failure_rate, f.error_5xx_rate))
            outage = time.monotonic() < self.outage_until
            kind = "outage" if outage else "timeout" if hang else "failure" if fail else "5xx" if gateway else ""
            if kind:
                self.injected[kind] += 1
        if f.latency_ms:
            await asyncio.sleep(f.latency_ms / 1000)
        if kind == "timeout":
            await asyncio.sleep(f.hang_seconds)
            return PlainTextResponse("Gateway Timeout", status_code=504)
        if kind == "failure":
            return JSONResponse({"error_code": "99", "message": "Lỗi hệ thống (mock fault)"}, status_code=500)
        if kind:
            return PlainTextResponse(
                "Service Unavailable" if outage else "Bad Gateway", status_code=503 if outage else 502
            )
        return None

    async def guard(self, request: Request, with_session: bool = True) -> dict[str, Any] | Response:
        """Faults first, then the checks every call gets: JSON body, dstcode, and (data calls) session, madonvi."""
        fault = await self.inject()
        if fault is not None:
            return fault
        try:
            body = jsonbody.parse(await request.body())
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return JSONResponse({"error_code": "1", "message": "Body must be a JSON object"}, status_code=400)
        with self.lock:
            self.calls[str(body.get("service") or "?") if with_session else "auth"] += 1
            expiry = self.sessions.get(str(body.get("session")), 0.0)
        if request.headers.get("dstcode") != self.settings.dstcode:
            return self.reject("-1", "dstcode không hợp lệ (invalid dstcode)")
        if not with_session:
            return body
        if expiry <= time.monotonic():
            return self.reject("-2", "Phiên đăng nhập hết hạn hoặc không hợp lệ (session expired or invalid)")
        if not _pattern(body.get("madonvi"), AGENCY_CODE_PATTERN):
            return self.reject("1", "madonvi: bắt buộc, dạng 000.00.00.H56 (required, agency code)")
        return body

    # ---- services: validate the whole call, then store all of it under the lock
    def sync(self, body: dict[str, Any]) -> JSONResponse:
        flag = body.get("isUpdating")
        if flag not in ("True", "False"):
            return self.reject("1", 'isUpdating: bắt buộc, "True" hoặc "False" (required)')
        hosos, problems = _items(body, check_hoso)
        if problems:
            return self.reject("1", "Dữ liệu không hợp lệ (invalid data): " + "; ".join(problems[:10]))
        codes = [str(h["MaHoSo"]) for h in hosos]
        with self.lock:
            if flag == "False":
                clash = next((c for i, c in enumerate(codes) if c in self.dossiers or c in codes[:i]), None)
                if clash:
                    return self.reject("3", f"Hồ sơ {clash} đã tồn tại (already exists)")
            else:
                unknown = next((c for c in codes if c not in self.dossiers), None)
                if unknown:
                    return self.reject("4", f"Hồ sơ {unknown} không tồn tại (unknown dossier)")
            for code, hoso in zip(codes, hosos, strict=True):
                self.dossiers[code] = dict(hoso)
                self.progress.setdefault(code, [])
        return JSONResponse({"error_code": "0", "message": f"Đồng bộ thành công {len(hosos)} hồ sơ"})

    def append_progress(self, body: dict[str, Any]) -> JSONResponse:
        entries, problems = _items(body, check_progress)
        if problems:
            return self.reject("1", "Dữ liệu không hợp lệ (invalid data): " + "; ".join(problems[:10]))
        with self.lock:
            unknown = next((str(e["MaHoSo"]) for e in entries if e["MaHoSo"] not in self.dossiers), None)
            if unknown:
                return self.reject("4", f"Hồ sơ {unknown} không tồn tại (unknown dossier)")
            for entry in entries:
                key = tr.progress_key(entry)
                self.duplicates += key in self.keys
                self.keys.add(key)
                self.progress[str(entry["MaHoSo"])].append(dict(entry))
        return JSONResponse({"error_code": "0", "message": f"Cập nhật tiến độ thành công {len(entries)} bản ghi"})


# ------------------------------------------------------------------ app
def create_app(faults: Faults | None = None, settings: NationalPortalSettings | None = None) -> FastAPI:
    s = settings or NationalPortalSettings()
    portal = _Portal(s, faults)
    app = FastAPI(title="Mock national public service portal (DVCQG)")
    app.state.portal = portal

    @app.post(s.auth_endpoint)
    async def auth(request: Request) -> Response:
        body = await portal.guard(request, with_session=False)
        if isinstance(body, Response):
            return body
        ok_user = secrets.compare_digest(str(body.get("username", "")), s.username)
        ok_password = secrets.compare_digest(str(body.get("password", "")), s.password.get_secret_value())
        if not (ok_user and ok_password):
            return portal.reject("-1", "Sai tên đăng nhập hoặc mật khẩu (wrong username or password)")
        token = secrets.token_urlsafe(24)
        with portal.lock:
            portal.sessions[token] = time.monotonic() + portal.faults.session_ttl_seconds
        return JSONResponse({"error_code": 0, "message": "Đăng nhập thành công", "session": token})

    @app.post(s.integration_endpoint)
    async def integration(request: Request) -> Response:
        body = await portal.guard(request)
        if isinstance(body, Response):
            return body
        handlers = {tr.SYNC_SERVICE: portal.sync, tr.PROGRESS_SERVICE: portal.append_progress}
        handler = handlers.get(str(body.get("service")))
        if handler is None:
            return portal.reject(
                "2", f"service không được hỗ trợ (unsupported service): {str(body.get('service'))[:50]}"
            )
        return handler(body)

    @app.post(s.share_endpoint)
    async def share(request: Request) -> Response:
        body = await portal.guard(request)
        if isinstance(body, Response):
            return body
        if body.get("service") != tr.LOOKUP_SERVICE:
            return portal.reject("2", f"service chưa được mô phỏng (not simulated): {str(body.get('service'))[:50]}")
        mahoso = str(body.get("mahoso") or "").strip()
        if not mahoso:
            return portal.reject("1", "mahoso: bắt buộc (required)")
        with portal.lock:
            found = mahoso in portal.dossiers
            result = [portal.dossiers[mahoso] | {tr.PROGRESS_LIST_KEY: list(portal.progress[mahoso])}] if found else []
        return JSONResponse({"error_code": "0", "message": "Thành công", "result": result})

    @app.get("/_mock/dossiers")
    def dossiers() -> list[dict[str, Any]]:
        with portal.lock:
            return [portal.view(code) for code in portal.dossiers]

    @app.get("/_mock/dossiers/{mahoso}")
    def dossier(mahoso: str) -> dict[str, Any]:
        with portal.lock:
            if mahoso not in portal.dossiers:
                raise HTTPException(404, "unknown dossier")
            return portal.view(mahoso)

    @app.get("/_mock/stats")
    def stats() -> dict[str, Any]:
        return portal.stats()

    def view() -> dict[str, Any]:
        remaining = max(0.0, portal.outage_until - time.monotonic())
        return portal.faults.model_dump() | {"outage_remaining_seconds": round(remaining, 3)}

    mockkit.install_admin(app, portal, actions={"expire_sessions": lambda: portal.sessions.clear()}, view=view)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = mockkit.mock_parser("Mock national public service portal (DVCQG)", 8101)
    mockkit.add_fault_flags(parser, Faults)
    args = vars(parser.parse_args(argv))
    mockkit.serve(create_app(mockkit.faults_from(args, Faults)), args["host"], args["port"])


if __name__ == "__main__":
    main()
