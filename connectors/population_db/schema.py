"""What the connector knows of an answer, read once from the vendored XSDs (``wsdl/``).

The answer reader (``answers.py``) walks an answer against these shapes: an element the shape lists
is read, one it does not is skipped and counted. So the XSDs stay the single statement of "known",
and adding an element there is all it takes to read it.

A :class:`Shape` is one element's content: ``None`` children for text (a leaf), a mapping of child
shapes for a structure, ``mixed`` for a structure that may also come as one string (``HoVaTen``).
Only the XSD constructs the vendored files use are understood (named and inline complex types,
``xs:all`` / ``xs:sequence`` / ``xs:choice``, ``maxOccurs``, attributes, ``mixed``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from lxml import etree

WSDL_DIR = Path(__file__).resolve().parent / "wsdl"
XS = "{http://www.w3.org/2001/XMLSchema}"
REQUEST_XSD = "dancuquocgia.xsd"  # namespace http://dancuquocgia.bca: requests, the verify answer, faults
RESPONSE_XSD = "congdan.xsd"  # namespace http://www.mic.gov.vn/dancu/1.0: CongdanCollection


@dataclass(frozen=True)
class Shape:
    children: Mapping[str, Shape] | None = None  # None: text content
    mixed: bool = False  # a structure that may also arrive as one string
    repeated: frozenset[str] = frozenset()  # children that may occur more than once
    attributes: frozenset[str] = field(default_factory=frozenset)


LEAF = Shape()


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, remove_comments=True)


class _Schema:
    """One vendored XSD file: its named complex types and global elements, as shapes."""

    def __init__(self, path: Path) -> None:
        self.root = etree.parse(str(path), _parser()).getroot()
        self.types = {t.get("name"): t for t in self.root.iterfind(f"{XS}complexType")}
        self.elements = {e.get("name"): e for e in self.root.iterfind(f"{XS}element")}
        self._built: dict[str, Shape] = {}

    def element(self, name: str) -> Shape:
        return self._of_element(self.elements[name])

    def _of_element(self, element: etree._Element) -> Shape:
        inline = element.find(f"{XS}complexType")
        if inline is not None:
            return self._of_type(inline)
        local = (element.get("type") or "xs:string").rsplit(":", 1)[-1]
        if local not in self.types:  # a simple type (xs:string, a restriction...): text
            return LEAF
        if local not in self._built:
            self._built[local] = self._of_type(self.types[local])
        return self._built[local]

    def _of_type(self, complex_type: etree._Element) -> Shape:
        children: dict[str, Shape] = {}
        repeated: set[str] = set()
        for particle in _particles(complex_type):
            name = particle.get("name")
            if name is None:
                raise ValueError(
                    f"type {complex_type.get('name')!r}: an xs:element without a name (ref= is unsupported)"
                )
            children[name] = self._of_element(particle)
            if particle.get("maxOccurs", "1") not in ("0", "1"):
                repeated.add(name)
        attributes = frozenset(
            attr for a in complex_type.iterfind(f"{XS}attribute") if (attr := a.get("name")) is not None
        )
        return Shape(children, complex_type.get("mixed") == "true", frozenset(repeated), attributes)


def _particles(node: etree._Element) -> list[etree._Element]:
    """The xs:element particles of a type's model groups (not the elements of nested inline types)."""
    found: list[etree._Element] = []
    for child in node:
        if child.tag == f"{XS}element":
            found.append(child)
        elif child.tag in (f"{XS}all", f"{XS}sequence", f"{XS}choice"):
            found += _particles(child)
    return found


@lru_cache(maxsize=1)
def answer_shapes() -> dict[str, Shape]:
    """Shapes of the two answer elements, by local name (``KetQuaXacThucResponse``, ``CongdanCollection``)."""
    request, response = _Schema(WSDL_DIR / REQUEST_XSD), _Schema(WSDL_DIR / RESPONSE_XSD)
    return {
        "KetQuaXacThucResponse": request.element("KetQuaXacThucResponse"),
        "CongdanCollection": response.element("CongdanCollection"),
    }


__all__ = ["LEAF", "WSDL_DIR", "Shape", "answer_shapes"]
