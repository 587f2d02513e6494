"""The one way the hub (and its mocks) read a JSON body from outside: ``parse`` for a value,
``validate`` for a pydantic model or adapter. Either refuses, with ``JsonRefused`` (a
``ValueError``), what it cannot read safely:

- ``syntax``: not JSON (a trailing comma, a missing quote, an empty body...), or not UTF-8;
- ``too_deep``: arrays/objects nested deeper than ``MAX_DEPTH`` (the standard library's parser
  recurses once per level and raises ``RecursionError``; this one never does);
- ``not_text``: a string that is not storable text: a lone surrogate escape (``"\\ud800"``, which
  cannot be encoded, hashed or stored) or U+0000 (which PostgreSQL text cannot hold);
- ``number``: a number out of range (more than 4,300 digits, or a float that overflows to infinity);
- ``too_large``: more than ``max_bytes``, when the caller gives a bound (a partner's answer read whole).

The message names the rule and the position (line, column), never the content. The parser is
pydantic-core's (jiter: iterative, refuses lone surrogates and invalid UTF-8 by itself).

**Text is Unicode NFC** from here on: every string of what is read (keys and values, at any depth) is
normalised to NFC (``external-systems.md`` §0: input may arrive as NFD, the partners want NFC, and a
signature is computed over the bytes). This is the one place it happens for every body the hub reads: the
API's (``HubRoute``, ``read_json``, ``read_model``, the dossier ingress) and the partners' JSON answers
(``hub.http``, VNPost's client). A body already NFC (the usual case) costs one check of its bytes. The
mocks read with ``normalise=False``, to refuse text that is not NFC as the partner would.
"""

from __future__ import annotations

import math
import re
import unicodedata
from typing import Any, Literal, TypeVar

import pydantic_core
from pydantic import BaseModel, TypeAdapter, ValidationError

MAX_DEPTH = 32  # arrays/objects within each other; the hub's own bodies need 4
Reason = Literal["syntax", "too_deep", "not_text", "number", "too_large"]
M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

_NUL = b"\\u0000"
_BIG_EXPONENT = re.compile(rb"[eE][+-]?\d{3}")
_TEXT_ERRORS = ("surrogate", "hex escape", "unicode", "utf-8", "utf8")


class JsonRefused(ValueError):
    """A body the hub will not read: ``reason`` (one of ``Reason``) and a message without content."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason: Reason = reason
        self.message = message


def parse(raw: bytes | str, *, max_depth: int = MAX_DEPTH, max_bytes: int | None = None, normalise: bool = True) -> Any:
    """The JSON value of ``raw`` (its text NFC unless ``normalise=False``), or ``JsonRefused``."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    if max_bytes is not None and len(data) > max_bytes:
        raise JsonRefused("too_large", f"the body is larger than {max_bytes} bytes")
    try:
        value = pydantic_core.from_json(data, allow_inf_nan=False)
    except ValueError as exc:
        raise _refusal(str(exc)) from None
    _check(value, data, max_depth)
    return nfc(value) if normalise and not _surely_nfc(data) else value


def nfc(value: Any) -> Any:
    """``value`` (a parsed JSON value) with every string, keys included, in Unicode NFC."""
    if isinstance(value, str):
        return value if unicodedata.is_normalized("NFC", value) else unicodedata.normalize("NFC", value)
    if isinstance(value, dict):
        return {nfc(k): nfc(v) for k, v in value.items()}
    if isinstance(value, list):
        return [nfc(v) for v in value]
    return value


def _surely_nfc(raw: bytes) -> bool:
    """True when every string of the JSON text ``raw`` is NFC: the text is NFC and has no ``\\u`` escape
    (which could spell a combining mark). JSON's own characters are ASCII, which composes with nothing
    before it, so an NFC text holds NFC strings."""
    if raw.isascii():
        return b"\\u" not in raw
    if b"\\u" in raw:
        return False
    try:
        return unicodedata.is_normalized("NFC", raw.decode("utf-8"))
    except UnicodeDecodeError:
        return False


def _renormalised(raw: bytes) -> bytes | None:
    """``raw`` again with its text NFC, or None when it already is (or is not JSON: the caller refuses it)."""
    if _surely_nfc(raw):
        return None
    try:
        value = pydantic_core.from_json(raw, allow_inf_nan=False)
    except ValueError:
        return None
    return pydantic_core.to_json(nfc(value))


def validate(model: type[M], raw: bytes, *, strict: bool | None = None) -> M:
    """``raw`` parsed and validated as ``model`` in one pass (pydantic-core's JSON mode).
    Raises ``JsonRefused`` for what ``parse`` refuses, ``ValidationError`` for the rest. For
    models without free-form containers (``dict[str, Any]``...): a body the model accepts is
    then no deeper than the model, and a body it refuses is looked at by ``parse`` first."""
    raw = _renormalised(raw) or raw
    try:
        value = model.model_validate_json(raw, strict=strict)
    except ValidationError:
        parse(raw)  # the refusal of an unreadable body comes before any field error
        raise
    if _NUL in raw or _BIG_EXPONENT.search(raw):
        parse(raw)  # what one pass lets through: U+0000, a float overflowing to infinity
    return value


def validate_with(adapter: TypeAdapter[T], raw: bytes, *, strict: bool | None = None) -> T:
    """``validate`` for a ``TypeAdapter`` (e.g. a batch, ``list[Model]``)."""
    raw = _renormalised(raw) or raw
    try:
        value = adapter.validate_json(raw, strict=strict)
    except ValidationError:
        parse(raw)
        raise
    if _NUL in raw or _BIG_EXPONENT.search(raw):
        parse(raw)
    return value


def _refusal(error: str) -> JsonRefused:
    lowered = error.lower()
    if "recursion limit" in lowered:
        return _too_deep(MAX_DEPTH)
    if any(word in lowered for word in _TEXT_ERRORS):
        return JsonRefused("not_text", f"a string is not valid Unicode text ({error})")
    if "number out of range" in lowered:
        return JsonRefused("number", f"a number is out of range ({error})")
    return JsonRefused("syntax", f"the body is not valid JSON: {error}")


def _check(value: Any, raw: bytes, max_depth: int) -> None:
    """Depth, U+0000 and non-finite numbers, walking the parsed value only when the raw bytes
    say it could fail (a body with fewer brackets than the limit cannot be too deep)."""
    nul = _NUL in raw
    big = _BIG_EXPONENT.search(raw) is not None
    if not (nul or big):
        if raw.count(b"[") + raw.count(b"{") > max_depth:
            _check_depth(value, max_depth)
        return
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth > max_depth:
                raise _too_deep(max_depth)
            if isinstance(node, dict):
                if nul and any("\x00" in key for key in node):
                    raise _nul()
                node = node.values()
            stack.extend((item, depth + 1) for item in node)
        elif isinstance(node, str):
            if nul and "\x00" in node:
                raise _nul()
        elif isinstance(node, float) and not math.isfinite(node):
            raise JsonRefused("number", "a number is out of range (it overflows to infinity)")


def _check_depth(value: Any, max_depth: int) -> None:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            raise _too_deep(max_depth)
        children = node.values() if isinstance(node, dict) else node
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))


def _too_deep(max_depth: int) -> JsonRefused:
    return JsonRefused("too_deep", f"arrays and objects may be nested at most {max_depth} deep")


def _nul() -> JsonRefused:
    return JsonRefused("not_text", "a string contains U+0000, which cannot be stored")
