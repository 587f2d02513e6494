"""Mock population database (CSDL quốc gia về dân cư): the partner's stand-in for development, demos, tests.

Run: ``python -m connectors.population_db.mock --port 8103 [--latency-ms 200 --fault-rate 0.1 ...]``.
Endpoint, caller codes and credentials come from ``PopulationDbSettings`` (``HUB_POPDB_*``), so the
connector and the mock agree by default: ``POST http://127.0.0.1:8103/dancuquocgia/soap``.

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
==============  ===========  ========================  ==========  =====================================

plus ``population`` citizens generated from ``seed`` (numbers ``000`` + gender/century digit + 2-digit
year + a 6-digit serial from 100000), the same for the same seed.

**It refuses what the real one would** with a SOAP 1.1 Fault (HTTP 500): a body that is not a SOAP 1.1
envelope (``VersionMismatch`` for a SOAP 1.2 one), a header with ``mustUnderstand="1"``
(``MustUnderstand``), and as ``Client`` faults with ``dan:ThongTinLoi/dan:MaLoi`` [I]: an unknown
operation or namespace, anything the vendored XSD rejects (missing caller fields, wrong element order,
bad ID shape, over-long fields), neither SoDinhDanh nor SoCMND, a MaDonVi not shaped like an agency
code (MaLoi 01), a MaTichHop not granted for the operation (02). It parses requests hardened (no DTD,
no entities, no network, at most 64 KiB) and checks credentials when ``auth_scheme`` is set (HTTP 401).

**Answers** [I where the real semantics are not documented]: ``XacThucThongTinCongDan`` ->
``KetQuaXacThucResponse{TonTai, ChiTietKhop}``, where TonTai = a citizen with that number exists and
ChiTietKhop says which given fields match (names compared case-insensitively, NFC, spaces collapsed,
diacritics significant; a year matches the record's year). ``TraCuuThongTinCongDan`` -> the citizen's
``CongdanCollection`` when number, name and birth date all match, otherwise an empty collection
(``SoCongDan="0"``).

**Faults** (``Faults``: CLI flags at start, or ``POST /_mock/faults`` at run time; applied once the
envelope is read, before it is validated): latency, hangs longer than the client's timeout, SOAP faults (busy / server /
not_authorised / invalid), HTTP 502/503 from the gateway, malformed XML, and hostile XML
(billion laughs, XXE pointing at a local canary file, a DTD, an oversized streamed answer).

Admin views (never faulted; ID numbers masked): GET ``/_mock/stats``, ``/_mock/requests``,
``/_mock/citizens``; GET/POST ``/_mock/faults``; POST ``/_mock/reset``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import random
import re
import secrets
import tempfile
import threading
from collections import Counter, deque
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal, get_args

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import PlainTextResponse, Response, StreamingResponse
from lxml import etree
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hub import jsonbody
from hub.canonical import AGENCY_CODE_PATTERN

from . import translate as tr
from .client import WSDL_DIR
from .config import PopulationDbSettings
from .models import CitizenRecord, mask_id
from .synthetic import DEMO_CITIZENS, SYNTHETIC_NOTE, generated_citizens

SOAP11_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope"
MAX_REQUEST_BYTES = 64 * 1024
_NAME_IN_ERROR = re.compile(r"\{[^}]*\}(\w+)")

FaultKind = Literal["busy", "server", "not_authorised", "invalid"]
HostileKind = Literal["billion_laughs", "xxe", "dtd", "oversized"]


class Faults(BaseModel):
    """Fault injection. Rates are probabilities per SOAP call (``/_mock/*`` is never faulted)."""

    model_config = ConfigDict(extra="forbid")

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
    seed: int | None = None  # reproducible fault dice


# ---------------------------------------------------------------- XML helpers
def _hardened_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def load_request_schema() -> etree.XMLSchema:
    """The vendored request XSD, read with the hardened parser (it imports nothing)."""
    return etree.XMLSchema(etree.parse(str(WSDL_DIR / "dancuquocgia.xsd"), _hardened_parser()))


def _envelope(content: etree._Element) -> bytes:
    """``content`` (an answer or a Fault) in a SOAP 1.1 envelope, prefixes as Spring-WS writes them."""
    env = etree.Element(f"{{{SOAP11_NS}}}Envelope", nsmap={"SOAP-ENV": SOAP11_NS})
    etree.SubElement(env, f"{{{SOAP11_NS}}}Header")
    etree.SubElement(env, f"{{{SOAP11_NS}}}Body").append(content)
    return bytes(etree.tostring(env, xml_declaration=True, encoding="UTF-8"))


def soap_fault(code: str, message: str, error_code: str | None = None) -> Response:
    """A SOAP 1.1 Fault (HTTP 500), with ``dan:ThongTinLoi{MaLoi, MoTaLoi}`` detail when a code is given."""
    fault = etree.Element(f"{{{SOAP11_NS}}}Fault")
    etree.SubElement(fault, "faultcode").text = f"SOAP-ENV:{code}"
    etree.SubElement(fault, "faultstring").text = message
    if error_code is not None:
        detail = etree.SubElement(fault, "detail")
        info = etree.SubElement(detail, f"{{{tr.REQUEST_NS}}}ThongTinLoi", nsmap={"dan": tr.REQUEST_NS})
        etree.SubElement(info, f"{{{tr.REQUEST_NS}}}MaLoi").text = error_code
        etree.SubElement(info, f"{{{tr.REQUEST_NS}}}MoTaLoi").text = message
    return Response(_envelope(fault), status_code=500, media_type="text/xml; charset=utf-8")


def _fill(parent: etree._Element, name: str, value: Any, ns: str) -> None:
    if value is None:
        return
    child = etree.SubElement(parent, f"{{{ns}}}{name}")
    if isinstance(value, dict):
        for key, inner in value.items():
            _fill(child, key, inner, ns)
    else:
        child.text = str(value)


def verify_answer(exists: bool, matches: dict[str, bool]) -> bytes:
    ns = tr.REQUEST_NS
    root = etree.Element(f"{{{ns}}}KetQuaXacThucResponse", nsmap={"ns2": ns})
    etree.SubElement(root, f"{{{ns}}}TonTai").text = "true" if exists else "false"
    details = etree.SubElement(root, f"{{{ns}}}ChiTietKhop")
    for element, field in zip(("SoDinhDanh", "HoVaTen", "NgayThangNamSinh"), tr.MATCH_FIELDS, strict=True):
        etree.SubElement(details, f"{{{ns}}}{element}").text = "true" if matches[field] else "false"
    return _envelope(root)


def collection_answer(records: Iterable[CitizenRecord], note: str = SYNTHETIC_NOTE) -> bytes:
    ns = tr.RESPONSE_NS
    people = list(records)
    stamp = datetime.now(UTC).replace(microsecond=0).isoformat()
    attrs = {"SoCongDan": str(len(people)), "GhiChu": note, "ThoiDiemDuLieu": stamp}
    root = etree.Element(f"{{{ns}}}CongdanCollection", attrs, nsmap={"ns1": ns})
    for person in people:
        congdan = etree.SubElement(root, f"{{{ns}}}CongDan")
        for name, value in tr.citizen_elements(person):
            _fill(congdan, name, value, ns)
    return _envelope(root)


def _soap(content: bytes, status: int = 200) -> Response:
    return Response(content, status_code=status, media_type="text/xml; charset=utf-8")


# ---------------------------------------------------------------- hostile answers
_HEAD = f'<SOAP-ENV:Envelope xmlns:SOAP-ENV="{SOAP11_NS}"><SOAP-ENV:Body>'
_TAIL = "</SOAP-ENV:Body></SOAP-ENV:Envelope>"


def _carrier(operation: str, entity_ref: str) -> str:
    """A well-formed answer of ``operation`` whose one text node is ``entity_ref``."""
    if operation == tr.OP_VERIFY:
        return (
            f'<ns2:KetQuaXacThucResponse xmlns:ns2="{tr.REQUEST_NS}">'
            f"<ns2:TonTai>{entity_ref}</ns2:TonTai></ns2:KetQuaXacThucResponse>"
        )
    return (
        f'<ns1:CongdanCollection xmlns:ns1="{tr.RESPONSE_NS}" SoCongDan="1"><ns1:CongDan>'
        f"<ns1:SoDinhDanh>000090000001</ns1:SoDinhDanh><ns1:HoVaTen><ns1:Ten>{entity_ref}</ns1:Ten></ns1:HoVaTen>"
        "</ns1:CongDan></ns1:CongdanCollection>"
    )


def billion_laughs(operation: str) -> bytes:
    entities = ['<!ENTITY lol0 "lol">'] + [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)]
    doctype = f"<!DOCTYPE SOAP-ENV:Envelope [{''.join(entities)}]>"
    return f'<?xml version="1.0"?>{doctype}{_HEAD}{_carrier(operation, "&lol9;")}{_TAIL}'.encode()


def xxe(operation: str, target: Path) -> bytes:
    doctype = f'<!DOCTYPE SOAP-ENV:Envelope [<!ENTITY xxe SYSTEM "{target.resolve().as_uri()}">]>'
    return f'<?xml version="1.0"?>{doctype}{_HEAD}{_carrier(operation, "&xxe;")}{_TAIL}'.encode()


def with_dtd(operation: str) -> bytes:
    """A DTD without entities: attribute defaults would inject values into a parser that loads it."""
    doctype = (
        "<!DOCTYPE SOAP-ENV:Envelope [<!ELEMENT SOAP-ENV:Envelope ANY>"
        '<!ATTLIST ns1:CongdanCollection GhiChu CDATA "injected by a DTD default">]>'
    )
    return f'<?xml version="1.0"?>{doctype}{_HEAD}{_carrier(operation, "true")}{_TAIL}'.encode()


def malformed(operation: str) -> bytes:
    return f'<?xml version="1.0"?>{_HEAD}{_carrier(operation, "true")}'.encode()[:-40]


async def _oversized_stream(total: int) -> AsyncIterator[bytes]:
    yield f'<?xml version="1.0"?>{_HEAD}<!--'.encode()
    chunk = b"x" * 65536
    sent = 0
    while sent < total:
        yield chunk
        sent += len(chunk)
    yield f"-->{_carrier(tr.OP_VERIFY, 'true')}{_TAIL}".encode()


# ---------------------------------------------------------------- state
class _Database:
    """In-memory population, counters and fault settings, guarded by one lock."""

    def __init__(self, settings: PopulationDbSettings, faults: Faults | None, seed: int, population: int) -> None:
        self.settings = settings
        self.lock = threading.RLock()
        self.schema = load_request_schema()
        people = [*DEMO_CITIZENS, *generated_citizens(seed, population)]
        self.by_id = {p.id_number: p for p in people if p.id_number}
        self.by_old_id = {p.old_id_number: p for p in people if p.old_id_number}
        self._canary: Path | None = None
        self.reset(faults)

    def reset(self, faults: Faults | None = None) -> None:
        with self.lock:
            self.set_faults(faults or Faults(), reseed=True)
            self.calls: Counter[str] = Counter()
            self.answers: Counter[str] = Counter()
            self.rejected: Counter[str] = Counter()
            self.injected: Counter[str] = Counter()
            self.request_ids: set[str] = set()
            self.duplicate_request_ids = 0
            self.recent: deque[dict[str, Any]] = deque(maxlen=50)

    def set_faults(self, faults: Faults, reseed: bool) -> None:
        self.faults = faults
        if reseed:
            self.rng = random.Random(faults.seed)

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
            }

    def record(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self.recent.append({"at": datetime.now(UTC).isoformat(timespec="milliseconds"), **entry})

    async def inject(self, operation: str) -> Response | None:
        """Roll the fault dice for one call; a Response means: answer that and do nothing else."""
        with self.lock:
            f = self.faults
            rolls = {
                "timeout": f.timeout_rate,
                "5xx": f.error_5xx_rate,
                "soap-fault": f.fault_rate,
                "malformed": f.malformed_rate,
                "hostile": f.hostile_rate,
            }
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
            return PlainTextResponse("Gateway Timeout", status_code=504)
        if kind == "5xx":
            return PlainTextResponse("Bad Gateway" if gateway_status == 502 else "Service Unavailable", gateway_status)
        if kind == "soap-fault":
            return _INJECTED_FAULTS[f.fault_kind]()
        if kind == "malformed":
            return _soap(malformed(operation))
        if kind == "hostile":
            if f.hostile_kind == "oversized":
                return StreamingResponse(_oversized_stream(f.oversized_bytes), media_type="text/xml; charset=utf-8")
            if f.hostile_kind == "xxe":
                return _soap(xxe(operation, self.xxe_target()))
            return _soap(billion_laughs(operation) if f.hostile_kind == "billion_laughs" else with_dtd(operation))
        return None


_INJECTED_FAULTS = {
    "busy": lambda: soap_fault("Server", "Hệ thống đang bận, vui lòng thử lại sau (system busy)", "99"),
    "server": lambda: soap_fault("Server", "Lỗi hệ thống (internal error)"),
    "not_authorised": lambda: soap_fault("Client", "Không có quyền truy cập dịch vụ (not authorised)", "02"),
    "invalid": lambda: soap_fault("Client", "Dữ liệu yêu cầu không hợp lệ (invalid request)", "01"),
}


# ---------------------------------------------------------------- request handling
class Refusal(Exception):
    """A request the database refuses; becomes a SOAP fault."""

    def __init__(self, code: str, message: str, error_code: str | None = "01") -> None:
        super().__init__(message)
        self.code, self.message, self.error_code = code, message, error_code

    def response(self) -> Response:
        return soap_fault(self.code, self.message, self.error_code)


async def _read_limited(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_REQUEST_BYTES:
        raise Refusal("Client", "Yêu cầu quá lớn (request too large)")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_REQUEST_BYTES:
            raise Refusal("Client", "Yêu cầu quá lớn (request too large)")
    return bytes(body)


def parse_envelope(raw: bytes) -> etree._Element:
    """The single body element of a SOAP 1.1 request, parsed hardened; raises :class:`Refusal`."""
    if b"<!DOCTYPE" in raw or b"<!ENTITY" in raw:
        raise Refusal("Client", "Không chấp nhận DTD hoặc thực thể XML (DTD and entities are not allowed)")
    try:
        root = etree.fromstring(raw, _hardened_parser())
    except etree.XMLSyntaxError:
        raise Refusal("Client", "XML không hợp lệ (malformed XML)") from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise Refusal("Client", "Không chấp nhận DTD (DTD not allowed)")
    if root.tag == f"{{{SOAP12_NS}}}Envelope":
        raise Refusal("VersionMismatch", "Chỉ hỗ trợ SOAP 1.1 (SOAP 1.1 only)", None)
    if root.tag != f"{{{SOAP11_NS}}}Envelope":
        raise Refusal("Client", "Không phải SOAP Envelope (not a SOAP 1.1 envelope)")
    header = root.find(f"{{{SOAP11_NS}}}Header")
    if header is not None and any(h.get(f"{{{SOAP11_NS}}}mustUnderstand") == "1" for h in header):
        raise Refusal("MustUnderstand", "Không xử lý được SOAP header bắt buộc (header not understood)", None)
    body = root.find(f"{{{SOAP11_NS}}}Body")
    children = [c for c in body if isinstance(c.tag, str)] if body is not None else []
    if len(children) != 1:
        raise Refusal("Client", "Body phải có đúng một phần tử (Body must hold exactly one element)")
    return children[0]


def _schema_problem(schema: etree.XMLSchema) -> str:
    """The XSD errors as field names only (the mock never echoes values)."""
    names = []
    for error in schema.error_log:
        names += [n for n in _NAME_IN_ERROR.findall(error.message) if n not in names]
    return ", ".join(names[:6]) or "?"


def _text(element: etree._Element, name: str) -> str | None:
    found = element.find(f"{{{tr.REQUEST_NS}}}{name}")
    return found.text if found is not None and found.text else None


def _mask_name(name: str | None) -> str:
    return " ".join(word[0] + "***" for word in name.split()) if name else ""


class _Query:
    """The fields of one validated request."""

    def __init__(self, element: etree._Element) -> None:
        self.operation = etree.QName(element).localname
        self.request_id = _text(element, "MaYeuCau") or ""
        self.service_code = _text(element, "MaDVC")
        self.integration_code = _text(element, "MaTichHop")
        self.agency_code = _text(element, "MaDonVi") or ""
        self.officer = _text(element, "MaCanBo")
        self.id_number = _text(element, "SoDinhDanh")
        self.old_id = _text(element, "SoCMND")
        self.full_name = _text(element, "HoVaTen") or ""
        birth = element.find(f"{{{tr.REQUEST_NS}}}NgayThangNamSinh")
        assert birth is not None  # the XSD requires it
        full, year = _text(birth, "NgayThangNam"), _text(birth, "Nam")
        self.birth: date | int = int(year) if year else tr.parse_birth_date(full) or date.min

    def masked(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "MaYeuCau": self.request_id,
            "MaDVC": self.service_code,
            "MaTichHop": self.integration_code,
            "MaDonVi": self.agency_code,
            "MaCanBo": self.officer,
            "SoDinhDanh": mask_id(self.id_number),
            "SoCMND": mask_id(self.old_id),
            "HoVaTen": _mask_name(self.full_name),
        }


def _check_business(db: _Database, q: _Query) -> None:
    s = db.settings
    if not (q.id_number or q.old_id):
        raise Refusal("Client", "SoDinhDanh hoặc SoCMND: bắt buộc (one of SoDinhDanh, SoCMND is required)")
    if not re.fullmatch(AGENCY_CODE_PATTERN, q.agency_code):
        raise Refusal("Client", "MaDonVi: sai định dạng mã định danh cơ quan (agency code expected)")
    granted = s.integration_code_verify if q.operation == tr.OP_VERIFY else s.integration_code_lookup
    if q.integration_code != granted:
        raise Refusal("Client", "MaTichHop: không có quyền với dịch vụ này (not authorised for this service)", "02")
    if isinstance(q.birth, date) and q.birth == date.min:
        raise Refusal("Client", "NgayThangNam: ngày không hợp lệ (not a calendar date)")


def _authorised(settings: PopulationDbSettings, request: Request) -> bool:
    scheme = settings.auth_scheme
    if scheme == "none":
        return True
    given = request.headers.get("authorization", "")
    if scheme == "bearer":
        return secrets.compare_digest(given, f"Bearer {settings.token.get_secret_value()}")
    if scheme == "basic":
        return secrets.compare_digest(given, settings.auth_headers()["Authorization"])
    stamp = request.headers.get("timestamp", "")
    expected = base64.b64encode(f"{settings.username}:{settings.timestamp_hash(stamp)}".encode()).decode()
    return stamp.isdigit() and secrets.compare_digest(given, f"Basic {expected}")


async def handle(db: _Database, request: Request) -> Response:
    """One SOAP call: faults, auth, hardened parse, envelope and XSD checks, business rules, answer."""
    if not _authorised(db.settings, request):
        with db.lock:
            db.rejected["http-401"] += 1
        return PlainTextResponse("Unauthorized", status_code=401)
    try:
        raw = await _read_limited(request)
        element = parse_envelope(raw)
        operation = etree.QName(element).localname
        fault = await db.inject(operation if operation in tr.OPERATIONS else tr.OP_VERIFY)
        if fault is not None:
            return fault
        if etree.QName(element).namespace != tr.REQUEST_NS or operation not in tr.OPERATIONS:
            raise Refusal("Client", "Thao tác không được hỗ trợ (unknown operation or namespace)")
        with db.lock:
            db.calls[operation] += 1
        if not db.schema.validate(element):
            raise Refusal("Client", f"Dữ liệu không hợp lệ (invalid request): {_schema_problem(db.schema)}")
        query = _Query(element)
        _check_business(db, query)
    except Refusal as refusal:
        with db.lock:
            db.rejected[f"{refusal.code}:{refusal.error_code or '-'}"] += 1
        db.record({"outcome": f"fault {refusal.code} {refusal.error_code or ''}".strip()})
        return refusal.response()
    with db.lock:
        db.duplicate_request_ids += query.request_id in db.request_ids
        db.request_ids.add(query.request_id)
    record = db.find(query.id_number, query.old_id)
    flags = tr.match_flags(query.id_number or query.old_id or "", query.full_name, query.birth, record)
    if query.operation == tr.OP_VERIFY:
        outcome, content = ("exists" if record else "unknown"), verify_answer(record is not None, flags)
    elif record is not None and all(flags.values()):
        outcome, content = "found", collection_answer([record])
    else:
        outcome, content = "not-found", collection_answer([], "Không tìm thấy thông tin công dân (no match)")
    with db.lock:
        db.answers[f"{query.operation}:{outcome}"] += 1
    db.record({**query.masked(), "outcome": outcome})
    return _soap(content)


# ---------------------------------------------------------------- app
def create_app(
    faults: Faults | None = None,
    settings: PopulationDbSettings | None = None,
    seed: int = 1,
    population: int = 200,
) -> FastAPI:
    s = settings or PopulationDbSettings()
    db = _Database(s, faults, seed, population)
    app = FastAPI(title="Mock national population database (CSDL quốc gia về dân cư)")
    app.state.db = db

    @app.post("/" + s.endpoint_path.strip("/"))
    async def soap(request: Request) -> Response:
        return await handle(db, request)

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
                "SoDinhDanh": mask_id(p.id_number),
                "SoCMND": mask_id(p.old_id_number),
                "HoVaTen": _mask_name(p.full_name),
                "birth": p.birth_date.isoformat() if p.birth_date else p.birth_year,
            }
            for p in DEMO_CITIZENS
        ]

    @app.get("/_mock/faults")
    def get_faults() -> dict[str, Any]:
        with db.lock:
            return db.faults.model_dump()

    @app.post("/_mock/faults")
    async def set_faults(request: Request) -> dict[str, Any]:
        try:
            patch = jsonbody.parse(await request.body())
        except ValueError:
            patch = None
        if not isinstance(patch, dict):
            raise HTTPException(422, "a JSON object of Faults fields")
        with db.lock:
            try:
                new = Faults.model_validate(db.faults.model_dump() | patch)
            except ValidationError as exc:
                raise HTTPException(
                    422, exc.errors(include_url=False, include_context=False, include_input=False)
                ) from exc
            db.set_faults(new, reseed="seed" in patch)
        return get_faults()

    @app.post("/_mock/reset")
    def reset() -> dict[str, str]:
        db.reset()
        return {"status": "reset"}

    return app


def run(host: str, port: int, faults: Faults | None = None, seed: int = 1, population: int = 200) -> None:
    """Serve the mock with uvicorn until interrupted."""
    import uvicorn

    uvicorn.run(create_app(faults, seed=seed, population=population), host=host, port=port, log_level="info")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Mock national population database (SOAP 1.1)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8103)
    p.add_argument("--population-seed", type=int, default=1, help="seed of the generated citizens")
    p.add_argument("--population", type=int, default=200, help="number of generated citizens")
    for name, spec in Faults.model_fields.items():
        flag = "--" + name.replace("_", "-")
        if name in ("fault_kind", "hostile_kind"):
            p.add_argument(flag, default=spec.default, choices=_literal_choices(name))
        elif name == "xxe_target":
            p.add_argument(flag, default=None)
        else:
            p.add_argument(
                flag, type=int if name in ("latency_ms", "oversized_bytes", "seed") else float, default=spec.default
            )
    return p


def _literal_choices(name: str) -> list[str]:
    return [str(v) for v in get_args(FaultKind if name == "fault_kind" else HostileKind)]


def main(argv: list[str] | None = None) -> None:
    args = vars(parser().parse_args(argv))
    host, port = args.pop("host"), args.pop("port")
    seed, population = args.pop("population_seed"), args.pop("population")
    run(host, port, Faults(**args), seed=seed, population=population)


if __name__ == "__main__":
    main()
