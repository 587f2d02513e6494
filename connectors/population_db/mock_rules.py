"""The rules the mock population database applies, each with its own fault, and what it cannot know.

Every refusal is a SOAP 1.1 Fault whose faultcode names the rule (SOAP 1.1's dotted subcodes,
``SOAP-ENV:Client.field-limit``) and whose detail carries the MaLoi class (``01`` invalid, ``02`` not
authorised [I]). Faultstrings name fields and rules, never values. In **strict** mode (the default,
and the tests') every rule applies; **lenient** mode keeps only the envelope and schema rules, for
trying out a client that is not finished. :data:`RULES` is the mock's capability card (also at
``GET /_mock/card``); ``docs/partners.md`` ties each to the fact it stands for and its tests.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any

from lxml import etree

from hub.privacy import mask_id, mask_name

from . import translate as tr
from .limits import FieldLimits, birth_format, violation
from .mock_soap import SOAP11_NS, SOAP12_NS
from .schema import REQUEST_XSD, WSDL_DIR

MAX_REQUEST_BYTES = 64 * 1024
_NAME_IN_ERROR = re.compile(r"\{[^}]*\}(\w+)")


@dataclass(frozen=True)
class Rule:
    id: str  # the faultcode subcode (Client.<id>), or the front's error
    facts: tuple[str, ...]  # the facts it stands for (docs/partners.md row ids)
    basis: str  # "C": the fact is documented; "I": we infer the database enforces it
    fault: str  # faultcode and MaLoi (or the LGSP front's answer)
    strict_only: bool
    what: str


RULES: tuple[Rule, ...] = (
    Rule("VersionMismatch", ("S0-06",), "C", "SOAP-ENV:VersionMismatch", False, "a SOAP 1.2 envelope"),
    Rule("MustUnderstand", ("S0-06",), "C", "SOAP-ENV:MustUnderstand", False, "a mustUnderstand header"),
    Rule(
        "envelope",
        ("S4.1-01",),
        "C",
        "Client.envelope / 01",
        False,
        "not XML, not a SOAP 1.1 envelope, a DTD, entities, over 64 KiB, a Body without exactly one element",
    ),
    Rule(
        "operation",
        ("S4.1-01", "S4.2-01"),
        "C",
        "Client.operation / 01",
        False,
        "a body element that is not an operation served here, or not in http://dancuquocgia.bca",
    ),
    Rule(
        "schema",
        ("S4.3-10",),
        "C",
        "Client.schema / 01",
        False,
        "the vendored XSD refuses it: a caller field "
        "missing, fields out of order, an unknown field, a structure where text is due",
    ),
    Rule(
        "field-limit",
        tuple(f"S4.3-0{n}" for n in range(1, 10)),
        "C",
        "Client.field-limit / 01",
        True,
        "a field over its limit (limits.py: lengths, digits, birth-date forms), the one check the connector runs too",
    ),
    Rule("id-required", ("S4.3-07",), "C", "Client.id-required / 01", True, "neither SoDinhDanh nor SoCMND"),
    Rule(
        "agency-code",
        ("S4.3-04", "S6-01"),
        "C",
        "Client.agency-code / 01",
        True,
        "MaDonVi not a QĐ 20/2020 agency code",
    ),
    Rule(
        "integration-code",
        ("S4.3-03",),
        "I",
        "Client.integration-code / 02",
        True,
        "a MaTichHop not granted for the operation (037 lookup [C], 033 verify [I])",
    ),
    Rule("request-id-unique", ("S4.3-01",), "I", "Client.request-id-unique / 01", True, "a MaYeuCau used before"),
    Rule("text-nfc", ("S0-07",), "I", "Client.text-nfc / 01", True, "a text field not in Unicode NFC"),
    Rule(
        "lgsp-auth",
        ("S0-02", "S0-03", "S0-04"),
        "C",
        "HTTP 401 in the variant's own form",
        False,
        "a request without the variant's credentials, or with wrong or expired ones",
    ),
    Rule(
        "lgsp-shape",
        ("S4.1-03", "S4.1-04", "S4.1-05"),
        "C",
        "HTTP 400 in the variant's own form",
        False,
        "a request not in the variant's shape (keys, types, the SOAP inside)",
    ),
)
RULE_IDS = frozenset(r.id for r in RULES)
CANNOT_KNOW: tuple[str, ...] = (
    "whether a citizen exists, and their record: every answer is synthetic (ID numbers 000...)",
    "how the real database compares names; this mock uses the hub's comparison (text.names_match)",
    "the real MaLoi codes, fault texts and subcodes, and the LGSPs' error formats (all [I])",
    "whether the per-field ChiTietKhop block exists in real verify answers [I]",
    "whether HoVaTen must be upper case or without diacritics, and the window of MaYeuCau uniqueness",
    "rate limits, quotas, IP allow-lists, TLS client certificates, real token lifetimes",
    "what the Đồng Tháp LGSP answers [I: the JSON wrapper], and what an LGSP adds (MaDonVi, MaTichHop) [I]",
    "the operations of §4.2 other than TraCuuThongTinCongDan and XacThucThongTinCongDan (refused here)",
)


class Refusal(Exception):
    """A request the database refuses; becomes a SOAP fault ``<code>.<rule>`` with MaLoi ``error_code``."""

    def __init__(self, rule: str, message: str, error_code: str | None = "01", code: str = "Client") -> None:
        assert rule in RULE_IDS, rule
        super().__init__(message)
        self.rule, self.message, self.error_code = rule, message, error_code
        self.code = rule if rule in ("VersionMismatch", "MustUnderstand") else f"{code}.{rule}"


def hardened_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False,
        remove_comments=True, remove_pis=True,
    )  # fmt: skip


def request_schema() -> etree.XMLSchema:
    """The vendored request XSD for structure; its length and digit facets are left to ``limits.violation``
    (configurable, one check for the connector and the mock), so they are loosened here."""
    tree = etree.parse(str(WSDL_DIR / REQUEST_XSD), hardened_parser())
    xs = "{http://www.w3.org/2001/XMLSchema}"
    for simple in tree.getroot().iterfind(f"{xs}simpleType"):
        restriction = simple.find(f"{xs}restriction")
        if restriction is not None:
            for facet in list(restriction):
                restriction.remove(facet)
    return etree.XMLSchema(tree)


def parse_envelope(raw: bytes) -> etree._Element:
    """The single body element of a SOAP 1.1 request, parsed hardened; raises :class:`Refusal`."""
    if len(raw) > MAX_REQUEST_BYTES:
        raise Refusal("envelope", "Yêu cầu quá lớn (request too large)")
    if b"<!DOCTYPE" in raw or b"<!ENTITY" in raw:
        raise Refusal("envelope", "Không chấp nhận DTD hoặc thực thể XML (DTD and entities are not allowed)")
    try:
        root = etree.fromstring(raw, hardened_parser())
    except etree.XMLSyntaxError:
        raise Refusal("envelope", "XML không hợp lệ (malformed XML)") from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise Refusal("envelope", "Không chấp nhận DTD (DTD not allowed)")
    if root.tag == f"{{{SOAP12_NS}}}Envelope":
        raise Refusal("VersionMismatch", "Chỉ hỗ trợ SOAP 1.1 (SOAP 1.1 only)", None)
    if root.tag != f"{{{SOAP11_NS}}}Envelope":
        raise Refusal("envelope", "Không phải SOAP Envelope (not a SOAP 1.1 envelope)")
    header = root.find(f"{{{SOAP11_NS}}}Header")
    if header is not None and any(h.get(f"{{{SOAP11_NS}}}mustUnderstand") == "1" for h in header):
        raise Refusal("MustUnderstand", "Không xử lý được SOAP header bắt buộc (header not understood)", None)
    body = root.find(f"{{{SOAP11_NS}}}Body")
    children = [c for c in body if isinstance(c.tag, str)] if body is not None else []
    if len(children) != 1:
        raise Refusal("envelope", "Body phải có đúng một phần tử (Body must hold exactly one element)")
    return children[0]


def schema_problem(schema: etree.XMLSchema) -> str:
    """The XSD errors as field names only (the mock never echoes values)."""
    names: list[str] = []
    for error in schema.error_log:
        names += [n for n in _NAME_IN_ERROR.findall(error.message) if n not in names]
    return ", ".join(names[:6]) or "?"


def _text(element: etree._Element, name: str) -> str | None:
    found = element.find(f"{{{tr.REQUEST_NS}}}{name}")
    return found.text if found is not None and found.text else None


class Query:
    """The fields of one request that passed the schema."""

    def __init__(self, element: etree._Element) -> None:
        self.operation = etree.QName(element).localname
        self.fields: dict[str, str | None] = {
            name: _text(element, name)
            for name in ("MaYeuCau", "MaDVC", "MaTichHop", "MaDonVi", "MaCanBo", "SoDinhDanh", "SoCMND", "HoVaTen")
        }
        birth = element.find(f"{{{tr.REQUEST_NS}}}NgayThangNamSinh")
        self.fields["NgayThangNam"] = _text(birth, "NgayThangNam") if birth is not None else None
        self.fields["Nam"] = _text(birth, "Nam") if birth is not None else None
        self.request_id = self.fields["MaYeuCau"] or ""
        self.id_number, self.old_id = self.fields["SoDinhDanh"], self.fields["SoCMND"]
        self.full_name = self.fields["HoVaTen"] or ""
        full, year = self.fields["NgayThangNam"], self.fields["Nam"]
        self.birth: date | int = int(year) if year and year.isdigit() else tr.parse_birth_date(full) or date.min

    def masked(self) -> dict[str, Any]:
        f = self.fields
        return {
            "operation": self.operation, "MaYeuCau": f["MaYeuCau"], "MaDVC": f["MaDVC"], "MaTichHop": f["MaTichHop"],
            "MaDonVi": f["MaDonVi"], "MaCanBo": f["MaCanBo"], "SoDinhDanh": mask_id(f["SoDinhDanh"]) or "",
            "SoCMND": mask_id(f["SoCMND"]) or "", "HoVaTen": mask_name(f["HoVaTen"]) or "",
        }  # fmt: skip


def check(q: Query, *, limits: FieldLimits, granted: str, agency_pattern: str, seen_before: bool) -> None:
    """The strict rules on a request that passed the schema; raises :class:`Refusal` for the first broken."""
    if not (q.id_number or q.old_id):
        raise Refusal("id-required", "SoDinhDanh hoặc SoCMND: bắt buộc (one of SoDinhDanh, SoCMND is required)")
    found = violation(q.fields, limits, ("MaYeuCau", "MaDVC", "MaTichHop", "MaDonVi", "MaCanBo", "HoVaTen",
                                          "NgayThangNamSinh"))  # fmt: skip
    if found is not None:
        raise Refusal("field-limit", f"Dữ liệu không hợp lệ (invalid field) {found}")
    if not re.fullmatch(agency_pattern, q.fields["MaDonVi"] or ""):
        raise Refusal("agency-code", "MaDonVi: sai định dạng mã định danh cơ quan (agency code expected)")
    if q.fields["MaTichHop"] != granted:
        raise Refusal("integration-code", "MaTichHop: không có quyền với dịch vụ này (not authorised for this service)",
                      "02")  # fmt: skip
    for name, value in q.fields.items():
        if value and unicodedata.normalize("NFC", value) != value:
            raise Refusal("text-nfc", f"{name}: phải ở dạng Unicode NFC (must be Unicode NFC)")
    if seen_before:
        raise Refusal("request-id-unique", "MaYeuCau: đã được sử dụng (request id used before)")


def birth_element(value: str | None, formats: tuple[Any, ...]) -> tuple[str, str | None]:
    """A JSON variant's birth date as the SOAP child it becomes: ``Nam`` for a year, else ``NgayThangNam``."""
    return ("Nam", value) if value and birth_format(value, ("yyyy",)) else ("NgayThangNam", value)


def card(strict: bool) -> dict[str, Any]:
    return {
        "mode": "strict" if strict else "lenient",
        "enforces": [r.__dict__ for r in RULES if strict or not r.strict_only],
        "not_enforced_in_this_mode": [r.id for r in RULES if r.strict_only and not strict],
        "cannot_know": list(CANNOT_KNOW),
    }


__all__ = ["CANNOT_KNOW", "RULES", "Query", "Refusal", "Rule", "card", "check", "parse_envelope", "request_schema"]
