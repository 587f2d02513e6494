"""Mock national portal (DVCQG): the partner's stand-in for development, demos and tests.

Run: ``python -m connectors.national_portal.mock --host 127.0.0.1 --port 8101 [--failure-rate 0.1 ...]``.
Credentials, ``dstcode`` and endpoint paths come from ``NationalPortalSettings`` (``HUB_PORTAL_*``), so
the connector and the mock agree by default.

It rejects what the real portal would (the rules and their codes: ``mock_rules.py``, ``GET /_mock/card``):
bad credentials or ``dstcode`` (``error_code`` "-1" [I]), an unknown or expired session ("-2" [I]),
invalid fields ("1" [I]; the message names each field and its rule: a HoSo without a field the public
integrations always send, a dossier code of the wrong shape or with an impossible date, a limit broken,
text not in NFC...), an unknown service ("2" [I]), insert of an existing dossier ("3", "... đã tồn tại"
[C]), update of or progress for an unknown dossier ("4" [I]). **Strict** mode (the default) applies every
rule; ``--lenient`` (``create_app(strict=False)``) only the protocol's. The settings given (the
connector's, ``HUB_PORTAL_*``) choose the variant: an LGSP variant's URLs are served besides the adapter's,
with its credentials checked (HTTP 401) and its shape (a bare JSON array, ``MaDinhDanhDV`` and
``isUpdating`` in the query string for Hà Giang: HTTP 400). Answers are HTTP 200 with ``error_code``, as from the real
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
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import Field

from hub import jsonbody, mockkit
from hub.codes import is_agency_code
from hub.mockkit import FaultSettings

from . import translate as tr
from .config import NationalPortalSettings
from .limits import PortalLimits
from .mock_rules import Problem, applicable, card, check_hoso, check_progress, unit_problems


class Faults(FaultSettings):
    """Fault injection. Rates are probabilities per partner call (``/_mock/*`` is never faulted)."""

    failure_rate: float = Field(default=0.0, ge=0, le=1)  # HTTP 500 with a JSON error body
    error_5xx_rate: float = Field(default=0.0, ge=0, le=1)  # HTTP 502 from the gateway in front, plain text
    latency_ms: int = Field(default=0, ge=0)  # added to every call
    timeout_rate: float = Field(default=0.0, ge=0, le=1)  # hang for hang_seconds, then 504
    hang_seconds: float = Field(default=15.0, ge=0)  # longer than the client's timeout
    session_ttl_seconds: float = Field(default=3600.0, gt=0)  # for sessions issued from now on
    outage_seconds: float = Field(default=0.0, ge=0)  # every call answers 503 for this long, from now


# ------------------------------------------------------------------ validation (mock_rules.py)
def _items(
    data: Any, check: Callable[[dict[str, Any], str, PortalLimits], list[Problem]], limits: PortalLimits, most: int
) -> tuple[list[dict[str, Any]], list[Problem]]:
    if not isinstance(data, list) or not data or not all(isinstance(x, dict) for x in data):
        return [], [Problem("envelope", "data: bắt buộc, danh sách khác rỗng (required, non-empty list of objects)")]
    problems = [p for i, x in enumerate(data) for p in check(x, f"data[{i}]", limits)]
    if len(data) > most:
        problems.append(Problem("limit", f"data: tối đa {most} bản ghi mỗi lần gọi (at most {most} items per call)"))
    return data, problems


# ------------------------------------------------------------------ state
def _by_unit(calls: Counter[tuple[str, str]]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for (unit, service), n in sorted(calls.items()):
        out.setdefault(unit, {})[service] = n
    return out


class _Portal:
    """In-memory state, guarded by one lock."""

    def __init__(self, settings: NationalPortalSettings, faults: Faults | None, strict: bool = True) -> None:
        self.settings = settings
        self.strict = strict
        self.lock = threading.RLock()
        self.reset(faults)

    def reset(self, faults: Faults | None = None) -> None:
        with self.lock:
            self.set_faults(faults or Faults(), changed=Faults.model_fields)
            self.sessions: dict[str, float] = {}  # token -> expiry (monotonic clock)
            self.tokens: dict[str, float] = {}  # oauth2 access token -> expiry (monotonic clock)
            self.tokens_issued = 0
            self.dossiers: dict[str, dict[str, Any]] = {}  # MaHoSo -> latest HoSo
            self.units: dict[str, str | None] = {}  # MaHoSo -> the unit code (madonvi) of its last sync
            self.unit_calls: Counter[tuple[str, str]] = Counter()  # (unit code or "-", service) -> accepted calls
            self.progress: dict[str, list[dict[str, Any]]] = {}  # MaHoSo -> entries, arrival order
            self.keys: set[tr.ProgressKey] = set()
            self.calls: Counter[str] = Counter()
            self.rejected: Counter[str] = Counter()  # by error_code
            self.refused_rules: Counter[str] = Counter()  # by mock_rules rule id
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
                "rejected_by_rule": dict(self.refused_rules),
                "faults_injected": dict(self.injected),
                "dossiers": len(self.dossiers),
                "progress_entries": sum(len(v) for v in self.progress.values()),
                "duplicate_progress_entries": self.duplicates,
                "active_sessions": sum(1 for exp in self.sessions.values() if exp > now),
                "tokens_issued": self.tokens_issued,
                "calls_by_unit": _by_unit(self.unit_calls),
            }

    def view(self, mahoso: str) -> dict[str, Any]:
        return {
            "MaHoSo": mahoso,
            "madonvi": self.units.get(mahoso),
            "HoSo": self.dossiers[mahoso],
            tr.PROGRESS_LIST_KEY: list(self.progress[mahoso]),
        }

    def reject(self, code: str, message: str, rule: str = "") -> JSONResponse:
        with self.lock:
            self.rejected[code] += 1
            if rule:
                self.refused_rules[rule] += 1
        return JSONResponse({"error_code": code, "message": message})

    def refuse(self, problems: list[Problem]) -> JSONResponse | None:
        """The portal's answer to the problems that apply in this mode (None: none does). The first
        problem's rule decides the code; the message lists up to ten, each naming its field."""
        found = applicable(problems, self.strict)
        if not found:
            return None
        with self.lock:
            for rule in {p.rule for p in found}:
                self.refused_rules[rule] += 1
            self.rejected["1"] += 1
        text = "; ".join(p.message for p in found[:10])
        return JSONResponse({"error_code": "1", "message": "Dữ liệu không hợp lệ (invalid data): " + text})

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
            body = jsonbody.parse(await request.body(), normalise=False)  # the mock judges the text as sent
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return JSONResponse({"error_code": "1", "message": "Body must be a JSON object"}, status_code=400)
        with self.lock:
            self.calls[str(body.get("service") or "?") if with_session else "auth"] += 1
            expiry = self.sessions.get(str(body.get("session")), 0.0)
        if request.headers.get("dstcode") != self.settings.dstcode:
            return self.reject("-1", "dstcode không hợp lệ (invalid dstcode)", "credentials")
        if not with_session:
            return body
        if expiry <= time.monotonic():
            return self.reject(
                "-2", "Phiên đăng nhập hết hạn hoặc không hợp lệ (session expired or invalid)", "session"
            )
        if not is_agency_code(body.get("madonvi")):
            return self.reject("1", "madonvi: bắt buộc, dạng 000.00.00.H56 (required, agency code)", "madonvi")
        return body

    # ---- services: validate the whole call, then store all of it under the lock
    def sync(self, flag: Any, data: Any, unit: str | None) -> JSONResponse:
        """``unit``: the call's unit code (``madonvi`` / ``MaDinhDanhDV``; None: a variant without one)."""
        if flag not in ("True", "False"):
            return self.reject("1", 'isUpdating: bắt buộc, "True" hoặc "False" (required)', "envelope")
        limits = self.settings.limits
        hosos, problems = _items(data, check_hoso, limits, limits.hoso_per_call)
        refusal = self.refuse(problems + unit_problems(hosos, unit))
        if refusal is not None or not hosos:
            return refusal or self.reject("1", "data: bắt buộc (required)", "envelope")
        codes = [str(h["MaHoSo"]) for h in hosos]
        with self.lock:
            if flag == "False":
                clash = next((c for i, c in enumerate(codes) if c in self.dossiers or c in codes[:i]), None)
                if clash:
                    return self.reject("3", f"Hồ sơ {clash} đã tồn tại (already exists)", "already-exists")
            else:
                unknown = next((c for c in codes if c not in self.dossiers), None)
                if unknown:
                    return self.reject("4", f"Hồ sơ {unknown} không tồn tại (unknown dossier)", "unknown-dossier")
            for code, hoso in zip(codes, hosos, strict=True):
                self.dossiers[code] = dict(hoso)
                self.units[code] = unit
                self.progress.setdefault(code, [])
            self.unit_calls[(unit or "-", tr.SYNC_SERVICE)] += 1
        return JSONResponse({"error_code": "0", "message": f"Đồng bộ thành công {len(hosos)} hồ sơ"})

    def append_progress(self, data: Any, unit: str | None, text_answer: bool = False) -> Response:
        limits = self.settings.limits
        entries, problems = _items(data, check_progress, limits, limits.progress_per_call)
        refusal = self.refuse(problems + unit_problems(entries, unit))
        if refusal is not None or not entries:
            return refusal or self.reject("1", "data: bắt buộc (required)", "envelope")
        with self.lock:
            unknown = next((str(e["MaHoSo"]) for e in entries if e["MaHoSo"] not in self.dossiers), None)
            if unknown:
                return self.reject("4", f"Hồ sơ {unknown} không tồn tại (unknown dossier)", "unknown-dossier")
            for entry in entries:
                key = tr.progress_key(entry)
                self.duplicates += key in self.keys
                self.keys.add(key)
                self.progress[str(entry["MaHoSo"])].append(dict(entry))
            self.unit_calls[(unit or "-", tr.PROGRESS_SERVICE)] += 1
        message = f"Cập nhật tiến độ thành công {len(entries)} bản ghi"
        if text_answer:  # [C THH] the LGSP answers progress with text, read for "thành công"
            return JSONResponse(message)
        return JSONResponse({"error_code": "0", "message": message})

    def lookup(self, mahoso: Any) -> JSONResponse:
        mahoso = str(mahoso or "").strip()
        if not mahoso:
            return self.reject("1", "mahoso: bắt buộc (required)", "envelope")
        with self.lock:
            found = mahoso in self.dossiers
            result = [self.dossiers[mahoso] | {tr.PROGRESS_LIST_KEY: list(self.progress[mahoso])}] if found else []
        return JSONResponse({"error_code": "0", "message": "Thành công", "result": result})

    # ---- the LGSP variants (config.py): credentials, then the bare array and the query string
    def token_valid(self, header: str) -> bool:
        kind, _, token = header.partition(" ")
        with self.lock:
            expires = self.tokens.get(token) if kind.lower() == "bearer" else None
        return expires is not None and time.monotonic() < expires

    def lgsp_guard(self, request: Request, body: Any, with_flag: bool) -> Response | None:
        s = self.settings
        expected = s.auth_headers()
        refused = any(not secrets.compare_digest(request.headers.get(k, ""), v) for k, v in expected.items())
        if s.auth == "oauth2" and not self.token_valid(request.headers.get("Authorization", "")):
            refused = True
        if refused:
            with self.lock:
                self.refused_rules["lgsp-auth"] += 1
            return JSONResponse({"error_code": "401", "message": "Unauthorized"}, status_code=401)
        problems = []
        if not isinstance(body, list):
            problems.append("the body must be a JSON array (mảng JSON)")
        if s.unit_in_query:
            if not is_agency_code(request.query_params.get(s.unit_param)):
                problems.append(f"{s.unit_param}: bắt buộc, mã định danh đơn vị (required, unit code)")
            if with_flag and request.query_params.get("isUpdating") not in ("True", "False"):
                problems.append('isUpdating: bắt buộc, "True" hoặc "False" (required, in the query string)')
        if problems:
            with self.lock:
                self.refused_rules["lgsp-shape"] += 1
            return JSONResponse({"error_code": "400", "message": "; ".join(problems)}, status_code=400)
        return None


# ------------------------------------------------------------------ app
def create_app(
    faults: Faults | None = None, settings: NationalPortalSettings | None = None, strict: bool = True
) -> FastAPI:
    """The mock portal. ``settings`` (the connector's) choose the variant it serves besides the adapter's
    endpoints, its credentials and limits; ``strict`` (default) applies every rule of ``mock_rules``."""
    s = settings or NationalPortalSettings()
    portal = _Portal(s, faults, strict)
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
            return portal.reject("-1", "Sai tên đăng nhập hoặc mật khẩu (wrong username or password)", "credentials")
        token = secrets.token_urlsafe(24)
        with portal.lock:
            portal.sessions[token] = time.monotonic() + portal.faults.session_ttl_seconds
        return JSONResponse({"error_code": 0, "message": "Đăng nhập thành công", "session": token})

    @app.post(s.integration_endpoint)
    async def integration(request: Request) -> Response:
        body = await portal.guard(request)
        if isinstance(body, Response):
            return body
        service = str(body.get("service"))
        unit = str(body["madonvi"])  # the guard checked it
        if service == tr.SYNC_SERVICE:
            return portal.sync(body.get("isUpdating"), body.get("data"), unit)
        if service == tr.PROGRESS_SERVICE:
            return portal.append_progress(body.get("data"), unit)
        return portal.reject("2", f"service không được hỗ trợ (unsupported service): {service[:50]}", "service")

    @app.post(s.share_endpoint)
    async def share(request: Request) -> Response:
        body = await portal.guard(request)
        if isinstance(body, Response):
            return body
        if body.get("service") != tr.LOOKUP_SERVICE:
            return portal.reject(
                "2", f"service chưa được mô phỏng (not simulated): {str(body.get('service'))[:50]}", "service"
            )
        return portal.lookup(body.get("mahoso"))

    if not s.enveloped:  # the LGSP's URLs of the configured variant
        routes = {(s.path("sync"), "sync"), (s.path("update"), "update"), (s.path("progress"), "progress")}

        def query_unit(request: Request) -> str | None:
            """The unit code of an LGSP call: in the query string (Hà Giang), or none (Thanh Hóa)."""
            return request.query_params.get(s.unit_param) if s.unit_in_query else None

        async def lgsp_body(request: Request) -> tuple[Any, Response | None]:
            fault = await portal.inject()
            if fault is not None:
                return None, fault
            try:
                body = jsonbody.parse(await request.body(), normalise=False)
            except ValueError:
                body = None
            with portal.lock:
                portal.calls[request.url.path] += 1
            return body, None

        def sync_route(update: bool | None) -> Callable[[Request], Any]:
            async def sync(request: Request) -> Response:
                body, fault = await lgsp_body(request)
                if fault is not None:
                    return fault
                refused = portal.lgsp_guard(request, body, with_flag=s.unit_in_query)
                if refused is not None:
                    return refused
                flag = request.query_params.get("isUpdating") if update is None else ("True" if update else "False")
                return portal.sync(flag, body, query_unit(request))

            return sync

        async def progress(request: Request) -> Response:
            body, fault = await lgsp_body(request)
            if fault is not None:
                return fault
            refused = portal.lgsp_guard(request, body, with_flag=False)
            return refused or portal.append_progress(
                body, query_unit(request), text_answer=s.variant == "lgsp_thanhhoa"
            )

        async def lookup(request: Request) -> Response:
            body, fault = await lgsp_body(request)
            if fault is not None:
                return fault
            refused = portal.lgsp_guard(request, [body], with_flag=False)
            return refused or portal.lookup(body.get("mahoso") if isinstance(body, dict) else None)

        if s.auth == "oauth2":

            @app.post(s.token_url)
            async def token(request: Request) -> Response:
                form = parse_qs((await request.body()).decode("utf-8", "replace"))
                given = {k: v[0] for k, v in form.items() if v}
                ok = given.get("grant_type") == "client_credentials" and all(
                    secrets.compare_digest(given.get(k, ""), want)
                    for k, want in (("client_id", s.client_id), ("client_secret", s.client_secret.get_secret_value()))
                )
                if not ok:
                    with portal.lock:
                        portal.refused_rules["lgsp-auth"] += 1
                    return JSONResponse({"error": "invalid_client"}, status_code=401)  # RFC 6749
                issued = secrets.token_urlsafe(24)
                with portal.lock:
                    portal.tokens[issued] = time.monotonic() + portal.faults.session_ttl_seconds
                    portal.tokens_issued += 1
                ttl = int(portal.faults.session_ttl_seconds)
                return JSONResponse({"access_token": issued, "token_type": "bearer", "expires_in": ttl})

        same_url = s.path("sync") == s.path("update")
        app.post(s.path("sync"))(sync_route(None if same_url else False))
        if not same_url:
            app.post(s.path("update"))(sync_route(True))
        app.post(s.path("progress"))(progress)
        app.post(s.path("lookup"))(lookup)
        del routes

    @app.get("/_mock/card")
    def capability_card() -> dict[str, Any]:
        return card(portal.strict, s.variant)

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

    def expire() -> None:  # sessions and OAuth2 tokens alike
        with portal.lock:
            portal.sessions.clear()
            portal.tokens.clear()

    mockkit.install_admin(app, portal, actions={"expire_sessions": expire}, view=view)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = mockkit.mock_parser("Mock national public service portal (DVCQG)", 8101)
    mockkit.add_fault_flags(parser, Faults)
    parser.add_argument("--lenient", action="store_true", help="apply only the protocol rules (mock_rules.py)")
    args = vars(parser.parse_args(argv))
    app = create_app(mockkit.faults_from(args, Faults), strict=not args["lenient"])
    mockkit.serve(app, args["host"], args["port"])


if __name__ == "__main__":
    main()
