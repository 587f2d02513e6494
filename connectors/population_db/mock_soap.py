"""What the mock population database writes: SOAP envelopes, faults, answers in the two known shapes,
and the broken and hostile answers it can inject. Synthetic data only; no I/O.

Answer shapes (``Faults.answer_shape``):

- ``anb`` (default): the shape of ANB's XSD [C]: names ``{Ho, ChuDem, Ten}``, addresses as codes.
- ``thh``: what THH reads [C]: relatives' and ChuHo's ``HoVaTen`` as one string, addresses with unit
  names (``TenTinhThanh``, ``TenQuanHuyen``, ``TenPhuongXa``), and the account fields ``LoaiTaiKhoan``,
  ``MaSoThue``, ``ThuDienTu`` (synthetic values) that no schema of ours lists; the verify answer
  carries an element invented here (``ThoiDiemXacThuc``) for the same purpose.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from lxml import etree

from hub.citizens.port.models import MATCH_FIELDS, Address, CitizenRecord

from . import translate as tr
from .synthetic import SYNTHETIC_NOTE

SOAP11_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope"
AnswerShape = Literal["anb", "thh"]
# Unit names for the "thh" shape: real province names (public), synthetic lower units.
PROVINCE_NAMES = {"01": "Thành phố Hà Nội", "38": "Tỉnh Thanh Hóa", "79": "Thành phố Hồ Chí Minh"}


def envelope(content: etree._Element) -> bytes:
    """``content`` (an answer or a Fault) in a SOAP 1.1 envelope, prefixes as Spring-WS writes them."""
    env = etree.Element(f"{{{SOAP11_NS}}}Envelope", nsmap={"SOAP-ENV": SOAP11_NS})
    etree.SubElement(env, f"{{{SOAP11_NS}}}Header")
    etree.SubElement(env, f"{{{SOAP11_NS}}}Body").append(content)
    return bytes(etree.tostring(env, xml_declaration=True, encoding="UTF-8"))


def fault(code: str, message: str, error_code: str | None = None) -> bytes:
    """A SOAP 1.1 Fault envelope, with ``dan:ThongTinLoi{MaLoi, MoTaLoi}`` detail when a code is given."""
    element = etree.Element(f"{{{SOAP11_NS}}}Fault")
    etree.SubElement(element, "faultcode").text = f"SOAP-ENV:{code}"
    etree.SubElement(element, "faultstring").text = message
    if error_code is not None:
        detail = etree.SubElement(element, "detail")
        info = etree.SubElement(detail, f"{{{tr.REQUEST_NS}}}ThongTinLoi", nsmap={"dan": tr.REQUEST_NS})
        etree.SubElement(info, f"{{{tr.REQUEST_NS}}}MaLoi").text = error_code
        etree.SubElement(info, f"{{{tr.REQUEST_NS}}}MoTaLoi").text = message
    return envelope(element)


def _fill(parent: etree._Element, name: str, value: Any, ns: str) -> None:
    if value is None:
        return
    child = etree.SubElement(parent, f"{{{ns}}}{name}")
    if isinstance(value, dict):
        for key, inner in value.items():
            _fill(child, key, inner, ns)
    else:
        child.text = str(value)


def verify_answer(exists: bool, matches: dict[str, bool], shape: AnswerShape = "anb") -> bytes:
    ns = tr.REQUEST_NS
    root = etree.Element(f"{{{ns}}}KetQuaXacThucResponse", nsmap={"ns2": ns})
    etree.SubElement(root, f"{{{ns}}}TonTai").text = "true" if exists else "false"
    details = etree.SubElement(root, f"{{{ns}}}ChiTietKhop")
    for element, field in zip(("SoDinhDanh", "HoVaTen", "NgayThangNamSinh"), MATCH_FIELDS, strict=True):
        etree.SubElement(details, f"{{{ns}}}{element}").text = "true" if matches[field] else "false"
    if shape == "thh":
        etree.SubElement(root, f"{{{ns}}}ThoiDiemXacThuc").text = datetime.now(UTC).isoformat(timespec="seconds")
    return envelope(root)


def _named(a: Address | None) -> Address | None:
    if a is None:
        return None
    return a.model_copy(
        update={
            "province_name": PROVINCE_NAMES.get(a.province_code or ""),
            "district_name": f"Quận Giả Lập {a.district_code}" if a.district_code else None,
            "ward_name": f"Phường Thử Nghiệm {a.ward_code}" if a.ward_code else None,
        }
    )


def _thh_elements(person: CitizenRecord) -> list[tuple[str, Any]]:
    named = person.model_copy(
        update={
            name: _named(getattr(person, name))
            for name in ("birth_registration_place", "place_of_origin", "permanent_address", "current_address")
        }
    )
    extras = [("LoaiTaiKhoan", "1"), ("MaSoThue", "0000000000"), ("ThuDienTu", "cong.dan@example.invalid")]
    return [*tr.citizen_elements(named, plain_names=True), *extras]


def collection_answer(
    records: Iterable[CitizenRecord], note: str = SYNTHETIC_NOTE, shape: AnswerShape = "anb"
) -> bytes:
    ns = tr.RESPONSE_NS
    people = list(records)
    stamp = datetime.now(UTC).replace(microsecond=0).isoformat()
    attrs = {"SoCongDan": str(len(people)), "GhiChu": note, "ThoiDiemDuLieu": stamp}
    root = etree.Element(f"{{{ns}}}CongdanCollection", attrs, nsmap={"ns1": ns})
    for person in people:
        congdan = etree.SubElement(root, f"{{{ns}}}CongDan")
        pairs = _thh_elements(person) if shape == "thh" else tr.citizen_elements(person)
        for name, value in pairs:
            _fill(congdan, name, value, ns)
    return envelope(root)


# ---------------------------------------------------------------- broken and hostile answers
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


async def oversized_stream(total: int, head: bytes = b"", tail: bytes = b"") -> AsyncIterator[bytes]:
    """A well-formed answer padded with a comment of ``total`` bytes (inside ``head``/``tail``, e.g. JSON)."""
    yield head + f'<?xml version="1.0"?>{_HEAD}<!--'.encode()
    chunk = b"x" * 65536
    sent = 0
    while sent < total:
        yield chunk
        sent += len(chunk)
    yield f"-->{_carrier(tr.OP_VERIFY, 'true')}{_TAIL}".encode() + tail


__all__ = [
    "SOAP11_NS",
    "SOAP12_NS",
    "billion_laughs",
    "collection_answer",
    "envelope",
    "fault",
    "malformed",
    "oversized_stream",
    "verify_answer",
    "with_dtd",
    "xxe",
]
