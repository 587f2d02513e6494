"""Mock population database (CSDL quốc gia về dân cư): the partner's stand-in for development, demos, tests.

Run: ``python -m connectors.population_db.mock --port 8103 [--variant lgsp_thanhhoa --lenient --latency-ms 200 ...]``.
Endpoint, caller codes, limits and credentials come from ``PopulationDbSettings`` (``HUB_POPDB_*``), so
the connector and the mock agree by default: ``POST http://127.0.0.1:8103/dancuquocgia/soap``.

Capability card
---------------
**Variants** (``--variant`` at start, ``POST /_mock/mode {"variant": ...}`` at run time): ``soap``,
``lgsp_hagiang``, ``lgsp_dongthap``, ``lgsp_thanhhoa``, as in ``config.py``: the same paths, shapes and
credentials the connector uses, checked by the LGSP in front (``mock_front.py``): a request without the
variant's credentials, or not in its shape, is refused in the variant's own form before the database
sees it. Token schemes (``oauth2``, ``lgsp_access_token``) are served at ``token_url``; tokens expire after
``token_ttl`` seconds, ``POST /_mock/tokens/revoke`` expires them all at once.

**Rules** (``mock_rules.RULES``, ``GET /_mock/card``), each refused with its own faultcode subcode and a
MaLoi class: VersionMismatch, MustUnderstand, envelope, operation, schema (always); field-limit,
id-required, agency-code, integration-code, request-id-unique, text-nfc (strict mode: the default;
``--lenient`` or ``{"strict": false}`` drops them); lgsp-auth, lgsp-shape (the fronts, always).
It **cannot know** (``mock_rules.CANNOT_KNOW``) real citizens, the real name comparison, the real
error codes and texts, rate limits, and what the Đồng Tháp LGSP answers; those are [I].

**Data: synthetic only.** Every ID number starts with ``000`` (no province has code 000 [I]: no real
citizen can have such a number), and every answer's ``GhiChu`` says "Dữ liệu giả lập" (synthetic data).
Fixed demo citizens (``synthetic.DEMO_CITIZENS``; all fake):

==============  ===========  ========================  ==========  =====================================
SoDinhDanh      SoCMND       HoVaTen                   birth       notes
==============  ===========  ========================  ==========  =====================================
000090000001    -            Nguyễn Văn An             1990-01-15  full record: parents, spouse, ChuHo
000185000002    000000002    Trần Thị Bích Ngọc        1985 (year) old record: year only, has a SoCMND
000300000003    -            Lê Minh Đức               2000-02-29  sparse: empty fields, 2025 address
000192000005    -            Trần Thị Bình             1992-06-30  spouse of the first
000195000006    -            Phạm Thị Thúy Hòa         1995-03-08  new tone placement ("Thuý Hoà" matches)
==============  ===========  ========================  ==========  =====================================

plus ``population`` citizens generated from ``seed``, the same for the same seed.

**Answers** [I where the real semantics are not documented]: ``XacThucThongTinCongDan`` ->
``KetQuaXacThucResponse{TonTai, ChiTietKhop}``: TonTai = a citizen with that number exists, ChiTietKhop
which given fields match, names compared by ``text.names_match`` (the connector's own function: case,
spacing, NFC/NFD and old/new tone placement do not matter); ``TraCuuThongTinCongDan`` -> the citizen's
``CongdanCollection`` when number, name and birth date all match, otherwise an empty collection. In the
shape of ANB or, with ``answer_shape="thh"``, of THH (plain-text relatives' names, unit names in
addresses, fields no schema lists: ``mock_soap.py``). The JSON fronts answer ``{"error_code", "message":
"<SOAP XML>"}``, the code written ``0``, ``"0"`` or ``"00"`` (``error_code_style``), a fault's MaLoi when
the database refused.

**Faults** (``Faults``: CLI flags at start, or ``POST /_mock/faults`` at run time; applied once the
request passed its front, before the database rules): latency, hangs, SOAP faults (busy / server /
not_authorised / invalid), HTTP 502/503 from the gateway, malformed XML, and hostile XML (billion
laughs, XXE at a local canary file, a DTD, an oversized streamed answer) - inside the JSON of the JSON
fronts too.

Admin views (never faulted; ID numbers masked): GET ``/_mock/stats``, ``/_mock/requests``,
``/_mock/citizens``, ``/_mock/card``; GET/POST ``/_mock/faults``, ``/_mock/mode``; POST ``/_mock/reset``,
``/_mock/tokens/revoke``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import secrets
import tempfile
import threading
from collections import Counter, deque
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, get_args
from urllib.parse import parse_qsl, urlparse

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response, StreamingResponse
from lxml import etree
from pydantic import BaseModel, ConfigDict, Field

from hub import mockkit
from hub.citizens.port.models import CitizenRecord
from hub.mockkit import FaultSettings
from hub.privacy import mask_id, mask_name

from . import mock_front as front
from . import mock_rules as rules
from . import translate as tr
from .config import PopulationDbSettings, Variant
from .mock_soap import (
    AnswerShape,
    billion_laughs,
    collection_answer,
    fault,
    malformed,
    oversized_stream,
    verify_answer,
    with_dtd,
    xxe,
)
from .synthetic import DEMO_CITIZENS, generated_citizens

FaultKind = Literal["busy", "server", "not_authorised", "invalid"]
HostileKind = Literal["billion_laughs", "xxe", "dtd", "oversized"]
_INJECTED = {
    "busy": ("Server", "Hệ thống đang bận, vui lòng thử lại sau (system busy)", "99"),
    "server": ("Server", "Lỗi hệ thống (internal error)", None),
    "not_authorised": ("Client", "Không có quyền truy cập dịch vụ (not authorised)", "02"),
    "invalid": ("Client", "Dữ liệu yêu cầu không hợp lệ (invalid request)", "01"),
}


class Faults(FaultSettings):
    """Fault injection and answer shape. Rates are probabilities per call (``/_mock/*`` is never faulted)."""

    latency_ms: int = Field(default=0, ge=0)  # added to every call
    timeout_rate: float = Field(default=0.0, ge=0, le=1)  # hang for hang_seconds, then 504
    hang_seconds: float = Field(default=15.0, ge=0)  # longer than the client's timeout
    error_5xx_rate: float = Field(default=0.0, ge=0, le=1)  # 502/503 plain text from the gateway in front
    fault_rate: float = Field(default=0.0, ge=0, le=1)  # a SOAP fault of fault_kind
    fault_kind: FaultKind = "busy"
    malformed_rate: float = Field(default=0.0, ge=0, le=1)  # HTTP 200 with truncated XML
    hostile_rate: float = Field(default=0.0, ge=0, le=1)  # HTTP 200 with hostile_kind XML
    hostile_kind: HostileKind = "billion_laughs"
    oversized_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)  # size of the oversized answer
    xxe_target: str | None = None  # file the XXE entity points at; default: a canary file the mock writes
    answer_shape: AnswerShape = "anb"  # "thh": THH's shape, with elements no schema of ours lists
    error_code_style: Literal["0", "00", "int"] = "0"  # how the JSON fronts write success


class Mode(BaseModel):
    """Which partner the mock plays, and how strictly."""

    model_config = ConfigDict(extra="forbid")

    variant: Variant = "soap"
    strict: bool = True
    token_ttl: float = Field(default=300.0, gt=0)


@dataclass(frozen=True)
class SoapOut:
    """What the database answered, before a front wraps it."""

    body: bytes = b""
    status: int = 200  # 500: a fault
    maloi: str | None = None  # the fault's MaLoi
    raw: Response | None = None  # from the gateway (5xx, 504): passed on as it is
    oversized: int = 0  # stream an answer of this many bytes


# ---------------------------------------------------------------- state
class _Database:
    """In-memory population, counters, tokens, mode and faults, guarded by one lock."""

    def __init__(self, settings: PopulationDbSettings, faults: Faults | None, mode: Mode, seed: int, population: int):
        self.base_settings = settings
        self.lock = threading.RLock()
        self.schema = rules.request_schema()
        people = [*DEMO_CITIZENS, *generated_citizens(seed, population)]
        self.by_id = {p.id_number: p for p in people if p.id_number}
        self.by_old_id = {p.old_id_number: p for p in people if p.old_id_number}
        self._canary: Path | None = None
        self.initial_mode = mode
        self.reset(faults)

    def reset(self, faults: Faults | None = None) -> None:
        with self.lock:
            self.set_faults(faults or Faults(), changed=Faults.model_fields)
            self.set_mode(self.initial_mode)
            self.tokens = front.Tokens()
            self.calls: Counter[str] = Counter()
            self.answers: Counter[str] = Counter()
            self.rejected: Counter[str] = Counter()
            self.injected: Counter[str] = Counter()
            self.request_ids: set[str] = set()
            self.duplicate_request_ids = 0
            self.recent: deque[dict[str, Any]] = deque(maxlen=50)

    def set_faults(self, faults: Faults, changed: Collection[str]) -> None:
        self.faults = faults
        if "seed" in changed:
            self.rng = random.Random(faults.seed)

    def set_mode(self, mode: Mode) -> None:
        self.mode = mode
        self.settings = self.base_settings.model_copy(update={"variant": mode.variant})

    def xxe_target(self) -> Path:
        if self.faults.xxe_target:
            return Path(self.faults.xxe_target)
        if self._canary is None:
            folder = Path(tempfile.mkdtemp(prefix="popdb-mock-"))
            self._canary = folder / "xxe-canary.txt"
            self._canary.write_text(f"POPDB-MOCK-XXE-CANARY-{secrets.token_hex(8)}\n", encoding="utf-8")
        return self._canary

    def find(self, id_number: str | None, old_id: str | None) -> CitizenRecord | None:
        return (self.by_id.get(id_number or "") if id_number else None) or (
            self.by_old_id.get(old_id or "") if old_id else None
        )

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "calls": dict(self.calls),
                "answers": dict(self.answers),
                "rejected": dict(self.rejected),
                "faults_injected": dict(self.injected),
                "duplicate_request_ids": self.duplicate_request_ids,
                "citizens": len(self.by_id),
                "tokens_issued": self.tokens.count,
                **self.mode.model_dump(),
            }

    def record(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self.recent.append({"at": datetime.now(UTC).isoformat(timespec="milliseconds"), **entry})

    def refused(self, label: str) -> None:
        with self.lock:
            self.rejected[label] += 1
        self.record({"outcome": f"refused {label}"})

    async def inject(self, operation: str) -> SoapOut | None:
        """Roll the fault dice for one call; a result means: answer that and do nothing else."""
        with self.lock:
            f = self.faults
            rolls = {"timeout": f.timeout_rate, "5xx": f.error_5xx_rate, "soap-fault": f.fault_rate,
                     "malformed": f.malformed_rate, "hostile": f.hostile_rate}  # fmt: skip
            hits = [kind for kind, rate in rolls.items() if self.rng.random() < rate]
            kind = hits[0] if hits else ""
            gateway_status = self.rng.choice((502, 503))
            if kind:
                label = {"soap-fault": f"soap-fault:{f.fault_kind}", "hostile": f"hostile:{f.hostile_kind}"}
                self.injected[label.get(kind, kind)] += 1
        if f.latency_ms:
            await asyncio.sleep(f.latency_ms / 1000)
        if kind == "timeout":
            await asyncio.sleep(f.hang_seconds)
            return SoapOut(raw=PlainTextResponse("Gateway Timeout", status_code=504))
        if kind == "5xx":
            text = "Bad Gateway" if gateway_status == 502 else "Service Unavailable"
            return SoapOut(raw=PlainTextResponse(text, gateway_status))
        if kind == "soap-fault":
            code, message, maloi = _INJECTED[f.fault_kind]
            return SoapOut(fault(code, message, maloi), 500, maloi)
        if kind == "malformed":
            return SoapOut(malformed(operation))
        if kind == "hostile":
            if f.hostile_kind == "oversized":
                return SoapOut(oversized=f.oversized_bytes)
            if f.hostile_kind == "xxe":
                return SoapOut(xxe(operation, self.xxe_target()))
            return SoapOut(billion_laughs(operation) if f.hostile_kind == "billion_laughs" else with_dtd(operation))
        return None


# ---------------------------------------------------------------- the database
def _refusal(db: _Database, refusal: rules.Refusal) -> SoapOut:
    db.refused(f"{refusal.code}:{refusal.error_code or '-'}")
    return SoapOut(fault(refusal.code, refusal.message, refusal.error_code), 500, refusal.error_code)


async def database(db: _Database, element: etree._Element) -> SoapOut:
    """One SOAP request element: faults, operation, schema, strict rules, the answer."""
    operation = etree.QName(element).localname
    injected = await db.inject(operation if operation in tr.OPERATIONS else tr.OP_VERIFY)
    if injected is not None:
        return injected
    s, strict, shape = db.settings, db.mode.strict, db.faults.answer_shape
    try:
        if etree.QName(element).namespace != tr.REQUEST_NS or operation not in tr.OPERATIONS:
            raise rules.Refusal("operation", "Thao tác không được hỗ trợ (unknown operation or namespace)")
        with db.lock:
            db.calls[operation] += 1
        if not db.schema.validate(element):
            problem = rules.schema_problem(db.schema)
            raise rules.Refusal("schema", f"Dữ liệu không hợp lệ (invalid request): {problem}")
        query = rules.Query(element)
        with db.lock:
            seen = query.request_id in db.request_ids
            db.duplicate_request_ids += seen
            db.request_ids.add(query.request_id)
        if strict:
            granted = s.integration_code_verify if operation == tr.OP_VERIFY else s.integration_code_lookup
            rules.check(query, limits=s.limits, granted=granted, agency_pattern=s.agency_code_pattern,
                        seen_before=seen)  # fmt: skip
    except rules.Refusal as refusal:
        return _refusal(db, refusal)
    record = db.find(query.id_number, query.old_id)
    flags = tr.match_flags(query.id_number or query.old_id or "", query.full_name, query.birth, record)
    if query.operation == tr.OP_VERIFY:
        outcome, content = ("exists" if record else "unknown"), verify_answer(record is not None, flags, shape)
    elif record is not None and all(flags.values()):
        outcome, content = "found", collection_answer([record], shape=shape)
    else:
        outcome, content = "not-found", collection_answer([], "Không tìm thấy thông tin công dân (no match)")
    with db.lock:
        db.answers[f"{query.operation}:{outcome}"] += 1
    db.record({**query.masked(), "outcome": outcome})
    return SoapOut(content)


# ---------------------------------------------------------------- the fronts
def _route(template: str, path: str) -> str | None:
    """The operation named in ``path`` by the endpoint ``template`` ("" when it names none), or None."""
    pattern = re.escape("/" + template.strip("/")).replace(re.escape("{operation}"), "(?P<operation>[A-Za-z]+)")
    found = re.fullmatch(pattern, "/" + path.strip("/"))
    return None if found is None else found.groupdict().get("operation") or ""


def _wrap(db: _Database, out: SoapOut, json_front: bool) -> Response:
    if out.raw is not None:
        return out.raw
    if out.oversized:
        if not json_front:
            return StreamingResponse(oversized_stream(out.oversized), media_type="text/xml; charset=utf-8")
        stream = oversized_stream(out.oversized, b'{"error_code":"0","message":"', b'"}')
        return StreamingResponse(stream, media_type="application/json")
    if not json_front:
        return Response(out.body, status_code=out.status, media_type="text/xml; charset=utf-8")
    style = db.faults.error_code_style
    code: Any = (out.maloi or "1") if out.status == 500 else (0 if style == "int" else style)
    body = json.dumps({"error_code": code, "message": out.body.decode("utf-8")}, ensure_ascii=False)
    return Response(body.encode("utf-8"), media_type="application/json; charset=utf-8")


async def _read_limited(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > rules.MAX_REQUEST_BYTES:
        raise rules.Refusal("envelope", "Yêu cầu quá lớn (request too large)")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > rules.MAX_REQUEST_BYTES:
            raise rules.Refusal("envelope", "Yêu cầu quá lớn (request too large)")
    return bytes(body)


async def dispatch(db: _Database, path: str, request: Request) -> Response:
    """A POST to the partner: the token endpoint, or the current variant's endpoint."""
    s = db.settings
    if path.strip("/") == urlparse(s.token_endpoint()).path.strip("/"):
        try:
            form = dict(parse_qsl((await _read_limited(request)).decode("utf-8"), strict_parsing=False))
        except (rules.Refusal, UnicodeDecodeError):
            form = {}
        with db.lock:
            return front.issue_token(s, db.tokens, form, request.headers, db.mode.token_ttl)
    operation = _route(s.path, path)
    if operation is None:
        return PlainTextResponse("Not Found", status_code=404)
    variant = s.variant
    try:
        if variant != "lgsp_hagiang":
            with db.lock:
                authorised = front.check_headers(s, db.tokens, request.headers)
            if not authorised:
                raise front.FrontRefusal(401, "thông tin xác thực không hợp lệ (invalid credentials)", variant)
        raw = await _read_limited(request)
        if variant in ("soap", "lgsp_hagiang"):
            with db.lock:
                element = front.hagiang(raw, s, db.tokens) if variant == "lgsp_hagiang" else rules.parse_envelope(raw)
            if operation and etree.QName(element).localname != operation:
                raise front.FrontRefusal(400, "thao tác không khớp địa chỉ (operation does not match the URL)", variant)
        elif operation not in tr.OPERATIONS:
            raise front.FrontRefusal(400, "thao tác không được hỗ trợ (unknown operation)", variant)
        elif variant == "lgsp_dongthap":
            element = front.dongthap(raw, operation, s)
        else:
            element = front.thanhhoa(raw, operation, s)
    except front.FrontRefusal as refusal:
        db.refused(f"front:{refusal.status}")
        return refusal.response()
    except rules.Refusal as refusal:
        out = _refusal(db, refusal)
    else:
        out = await database(db, element)
    return _wrap(db, out, variant in ("lgsp_dongthap", "lgsp_thanhhoa"))


# ---------------------------------------------------------------- app
def create_app(
    faults: Faults | None = None,
    settings: PopulationDbSettings | None = None,
    seed: int = 1,
    population: int = 200,
    mode: Mode | None = None,
) -> FastAPI:
    s = settings or PopulationDbSettings()
    db = _Database(s, faults, mode or Mode(variant=s.variant), seed, population)
    app = FastAPI(title="Mock national population database (CSDL quốc gia về dân cư)")
    app.state.db = db

    @app.get("/_mock/stats")
    def stats() -> dict[str, Any]:
        return db.stats()

    @app.get("/_mock/requests")
    def recent() -> list[dict[str, Any]]:
        with db.lock:
            return list(db.recent)

    @app.get("/_mock/citizens")
    def citizens() -> list[dict[str, Any]]:
        """The fixed demo citizens (synthetic), IDs masked like everything else here."""
        return [
            {
                "SoDinhDanh": mask_id(p.id_number) or "",
                "SoCMND": mask_id(p.old_id_number) or "",
                "HoVaTen": mask_name(p.full_name) or "",
                "birth": p.birth_date.isoformat() if p.birth_date else p.birth_year,
            }
            for p in DEMO_CITIZENS
        ]

    @app.get("/_mock/card")
    def capability_card() -> dict[str, Any]:
        with db.lock:
            return {"variant": db.mode.variant, **rules.card(db.mode.strict)}

    mockkit.install_admin(app, db)

    @app.get("/_mock/mode")
    def get_mode() -> dict[str, Any]:
        with db.lock:
            return db.mode.model_dump()

    @app.post("/_mock/mode")
    async def set_mode(request: Request) -> dict[str, Any]:
        patch = await mockkit.read_patch(request)
        with db.lock:
            db.set_mode(mockkit.validated(Mode, db.mode.model_dump() | patch))
        return get_mode()

    @app.post("/_mock/tokens/revoke")
    def revoke() -> dict[str, str]:
        with db.lock:
            db.tokens.revoke()
        return {"status": "revoked"}

    @app.post("/{path:path}")
    async def partner(path: str, request: Request) -> Response:
        return await dispatch(db, path, request)

    return app


def parser() -> argparse.ArgumentParser:
    p = mockkit.mock_parser("Mock national population database (SOAP 1.1 and LGSP fronts)", 8103)
    p.add_argument("--population-seed", type=int, default=1, help="seed of the generated citizens")
    p.add_argument("--population", type=int, default=200, help="number of generated citizens")
    p.add_argument("--variant", default=None, choices=list(get_args(Variant)), help="default: HUB_POPDB_VARIANT")
    p.add_argument("--lenient", action="store_true", help="only the envelope and schema rules (not strict)")
    mockkit.add_fault_flags(p, Faults)
    return p


def main(argv: list[str] | None = None) -> None:
    args = vars(parser().parse_args(argv))
    host, port = args.pop("host"), args.pop("port")
    seed, population = args.pop("population_seed"), args.pop("population")
    variant, lenient = args.pop("variant"), args.pop("lenient")
    mode = Mode(variant=variant or PopulationDbSettings().variant, strict=not lenient)
    app = create_app(mockkit.faults_from(args, Faults), seed=seed, population=population, mode=mode)
    mockkit.serve(app, host, port)


__all__ = ["Faults", "Mode", "collection_answer", "create_app", "generated_citizens", "main", "parser", "verify_answer"]


if __name__ == "__main__":
    main()
