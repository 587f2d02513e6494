"""Reading an answer of the population database: one hardened path for every variant.

Whether the SOAP answer arrives as the HTTP body (``soap``, ``lgsp_hagiang``) or as a string inside an
LGSP's JSON (``lgsp_dongthap``, ``lgsp_thanhhoa``: ``{"error_code", "message": "<SOAP XML>"}``), it is
read here, and only here:

1. **Refused unread**: a DTD or entity declaration (a byte scan before parsing, and the parsed
   document's DTD after: the scan cannot see through UTF-16 or JSON escapes), malformed XML (never
   lxml's recover mode), an empty body. Size is bounded before this (``transport.py``); the XML
   inside a JSON string is part of that body.
2. **Shape**: the SOAP 1.1 Body holds exactly the operation's answer element, or a Fault (raised as a
   zeep ``Fault`` and classified in ``errors.py``). A 500 without a Fault is server trouble.
3. **Tolerant reading** against the vendored XSDs (``schema.py``): known elements are read into plain
   dicts (the shape ``translate.py`` takes); an element or attribute the schema does not list is
   skipped and **counted** (:class:`~.models.Ignored`: how many, and where - names only). A known
   element in a shape that cannot be read without guessing (a structure where text is due, text
   where a structure is due, a non-repeatable field twice) is refused (``outside-schema``): a known
   field is never dropped silently. ``HoVaTen`` may be a structure or one string (mixed).

JSON wrappers are parsed with duplicate keys refused (two ``message`` keys would let an intermediary
and the hub read different answers) and keys compared case-insensitively (.NET LGSPs).
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from dataclasses import dataclass
from typing import Any

from lxml import etree
from zeep import exceptions as zeep_exc

from hub.citizens.port.models import Ignored
from hub.partners import normalise_code

from .errors import (
    Codes,
    HostileMarkup,
    HttpStatusError,
    MalformedAnswer,
    OutsideSchema,
    UnexpectedAnswer,
    from_lgsp_error,
)
from .schema import Shape, answer_shapes
from .translate import OP_LOOKUP, OP_VERIFY, REQUEST_NS, RESPONSE_NS

SOAP11_NS = "http://schemas.xmlsoap.org/soap/envelope/"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
ANSWERS = {OP_VERIFY: (REQUEST_NS, "KetQuaXacThucResponse"), OP_LOOKUP: (RESPONSE_NS, "CongdanCollection")}
MAX_PATHS = 20  # distinct ignored locations kept (the count has them all)
_SAFE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,39}")
_local = threading.local()


@dataclass(frozen=True)
class Answer:
    """The operation's answer element as plain values, and what was read past."""

    payload: dict[str, Any]
    ignored: Ignored


# ---------------------------------------------------------------- XML, hardened
def _parser(encoding: str | None) -> etree.XMLParser:
    """One parser per thread and encoding (lxml parsers are not shared across threads)."""
    cache: dict[str | None, etree.XMLParser] = _local.__dict__.setdefault("parsers", {})
    if encoding not in cache:
        cache[encoding] = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
            recover=False,
            encoding=encoding,
        )
    return cache[encoding]


def parse_hardened(content: bytes, encoding: str | None = None) -> etree._Element:
    """Parse without a byte scan first: the second line of defence, on its own (tests call it so)."""
    try:
        root = etree.fromstring(content, _parser(encoding))
    except etree.XMLSyntaxError:
        raise MalformedAnswer() from None
    docinfo = root.getroottree().docinfo
    dtd = docinfo.internalDTD
    if dtd is not None:
        raise HostileMarkup("entities" if any(True for _ in dtd.iterentities()) else "dtd")
    if docinfo.doctype:
        raise HostileMarkup("dtd")
    return root


def parse_xml(content: bytes, encoding: str | None = None) -> etree._Element:
    if b"<!ENTITY" in content:
        raise HostileMarkup("entities")
    if b"<!DOCTYPE" in content:
        raise HostileMarkup("dtd")
    return parse_hardened(content, encoding)


def _fault(element: etree._Element) -> zeep_exc.Fault:
    return zeep_exc.Fault(
        element.findtext("faultstring") or "",
        code=(element.findtext("faultcode") or "").strip() or None,
        detail=element.find("detail"),
    )


def read_soap(operation: str, content: bytes, status: int = 200, encoding: str | None = None) -> Answer:
    """The answer of ``operation`` in a SOAP 1.1 envelope (an HTTP 2xx or 500 body, or a JSON string)."""
    if not content.strip():
        if status == 500:
            raise HttpStatusError(500)
        raise MalformedAnswer() if status == 200 else UnexpectedAnswer()
    try:
        root = parse_xml(content, encoding)
    except MalformedAnswer:
        if status == 500:  # a server's error page
            raise HttpStatusError(500) from None
        raise
    body = root.find(f"{{{SOAP11_NS}}}Body") if root.tag == f"{{{SOAP11_NS}}}Envelope" else None
    children = [c for c in body if isinstance(c.tag, str)] if body is not None else []
    if len(children) == 1 and children[0].tag == f"{{{SOAP11_NS}}}Fault":
        raise _fault(children[0])
    if status == 500:
        raise HttpStatusError(500)
    namespace, name = ANSWERS[operation]
    if len(children) != 1 or children[0].tag != f"{{{namespace}}}{name}":
        raise UnexpectedAnswer()
    return read_payload(children[0], answer_shapes()[name])


# ---------------------------------------------------------------- tolerant reading
class _Reader:
    def __init__(self, namespace: str | None) -> None:
        self.namespace = namespace
        self.count = 0
        self.paths: list[str] = []

    def skip(self, path: str) -> None:
        self.count += 1
        if path not in self.paths and len(self.paths) < MAX_PATHS:
            self.paths.append(path)

    def attributes(self, element: etree._Element, shape: Shape, path: str) -> None:
        for key in element.attrib:
            qname = etree.QName(key)
            if qname.namespace == XSI_NS or (qname.namespace is None and qname.localname in shape.attributes):
                continue
            self.skip(f"{path}/@{_safe(qname.localname)}" if path else f"@{_safe(qname.localname)}")

    def node(self, element: etree._Element, shape: Shape, path: str) -> Any:
        if element.get(f"{{{XSI_NS}}}nil") in ("true", "1"):
            return None
        self.attributes(element, shape, path)
        kids = [c for c in element if isinstance(c.tag, str)]
        if shape.children is None:  # text
            if kids:
                raise OutsideSchema()
            return element.text
        text = (element.text or "").strip() or any((c.tail or "").strip() for c in kids)
        if text and kids:
            raise OutsideSchema()
        if text:
            if not shape.mixed:
                raise OutsideSchema()
            return element.text
        values: dict[str, Any] = {}
        for kid in kids:
            qname = etree.QName(kid)
            known = shape.children.get(qname.localname) if qname.namespace in (self.namespace, None) else None
            where = f"{path}/{_safe(qname.localname)}" if path else _safe(qname.localname)
            if known is None:
                self.skip(where)
                continue
            value = self.node(kid, known, where)
            if qname.localname in shape.repeated:
                values.setdefault(qname.localname, []).append(value)
            elif qname.localname in values:
                raise OutsideSchema()  # which of the two would be the citizen's?
            else:
                values[qname.localname] = value
        return values


def _safe(name: str) -> str:
    """An element name as recorded: partner-chosen, so only plain names, never a run of digits."""
    return name if _SAFE_NAME.fullmatch(name) and not re.search(r"\d{3}", name) else "?"


def read_payload(element: etree._Element, shape: Shape) -> Answer:
    """An answer element against its shape: known content as dicts, the rest counted."""
    reader = _Reader(etree.QName(element).namespace)
    values = reader.node(element, shape, "")
    payload: dict[str, Any] = values if isinstance(values, dict) else {}
    payload.update({a: element.get(a) for a in shape.attributes if element.get(a) is not None})
    return Answer(payload, Ignored(count=reader.count, paths=tuple(reader.paths)))


# ---------------------------------------------------------------- JSON wrappers
def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    folded = [key.casefold() for key, _ in pairs]
    if len(set(folded)) != len(folded):
        raise MalformedAnswer()
    return dict(pairs)


def parse_json_object(content: bytes) -> dict[str, Any]:
    """A JSON object, case-insensitive keys folded; duplicates, non-objects and deep nesting refused."""
    try:
        value = json.loads(content.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (ValueError, RecursionError, UnicodeDecodeError):
        raise MalformedAnswer() from None
    if not isinstance(value, dict):
        raise UnexpectedAnswer()
    return {key.casefold(): item for key, item in value.items()}


def read_json_message(operation: str, content: bytes, status: int, codes: Codes) -> Answer:
    """``{"error_code": 0|"0"|"00", "message": "<SOAP XML>"}`` [C THH; §0 lenient code]; a non-zero code
    is a refusal: a SOAP Fault in ``message`` is read as one, anything else by ``from_lgsp_error``."""
    try:
        wrapper = parse_json_object(content)
    except MalformedAnswer:
        if status == 500:
            raise HttpStatusError(500) from None
        raise
    if "error_code" not in wrapper:
        raise UnexpectedAnswer()
    raw_code, message = wrapper["error_code"], wrapper.get("message")
    code = normalise_code(raw_code)
    xml = message.strip() if isinstance(message, str) else ""
    if code == "0":
        if not xml.startswith("<"):
            raise UnexpectedAnswer()
        return read_soap(operation, xml.encode("utf-8"), 200, encoding="utf-8")
    if xml.startswith("<"):
        with contextlib.suppress(HttpStatusError):  # XML but not a Fault: judged by the code below
            read_soap(operation, xml.encode("utf-8"), 500, encoding="utf-8")  # raises the Fault it holds
    said = message if isinstance(message, str) and not xml.startswith("<") else ""
    raise from_lgsp_error(operation, None if raw_code is None else str(raw_code)[:20], said[:500], codes)


__all__ = ["ANSWERS", "Answer", "parse_hardened", "parse_json_object", "parse_xml", "read_json_message", "read_soap"]
