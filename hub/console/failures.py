"""The error class of a failed delivery, from its last error: a pure function.

A connector's outcome detail reads like ``DongBoHoSoMC: HTTP 500: error_code 1: Thiếu trường
MaTTHC`` (operation, HTTP status, the partner's own code, the partner's message), and the
ledger may put ``retry budget spent after 12 attempts: `` before it. The class keeps what names
the cause (the operation, the HTTP status, the partner's code, the message with what varies per
message taken out: dossier codes, ids, numbers, masked ID numbers) and drops the rest, so the
dead and retrying messages of one partner with one cause fall in one group.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

_EXHAUSTED = re.compile(r"^(?:retry budget spent|too old to retry) after \d+ attempts: ", re.IGNORECASE)
_SUPERSEDED = " (superseded: taken over by another worker)"
_OPERATION = re.compile(r"^([A-Za-z][A-Za-z0-9_.]*)(?: \(([^)]{1,40})\))?(?: \+ [A-Za-z][A-Za-z0-9_.]*)?: (?=.)")
_HTTP = re.compile(r"\bHTTP (\d{3})\b")
CODE_NAMES = ("error_code", "MaLoi", "ma_loi", "Status", "status", "code", "faultcode")  # partners' code fields
_CODE = re.compile(rf"\b({'|'.join(CODE_NAMES)})[ =:]+\"?([A-Za-z0-9_.+-]{{1,32}})\"?")
_VARYING: tuple[tuple[Callable[[str], bool], re.Pattern[str], str], ...] = (  # (worth trying?, pattern, placeholder)
    (lambda t: "." in t, re.compile(r"\b\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2}-\d{6}-\d{4,5}\b"), "<dossier>"),  # MaHoSo
    (lambda t: len(t) >= 26, re.compile(r"\b[0-9A-HJKMNP-TV-Z]{26}\b"), "<id>"),  # ULID
    (lambda t: "-" in t, re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I), "<id>"),
    (lambda t: "*" in t, re.compile(r"\*+\d{1,4}"), "<masked>"),  # a scrubbed ID number
    (lambda t: any(c.isdigit() for c in t), re.compile(r"\d+(?:[.,:/-]\d+)*"), "#"),
)
_NOT_SEPARATOR = re.compile(r"^[:;,.\s-]+|[:;,.\s-]+$")
MAX_LABEL = 120
SCAN = 300  # a class is decided by the first SCAN characters of the error (the database groups by them)


@dataclass(frozen=True)
class ErrorClass:
    operation: str | None  # the partner operation that failed (DongBoHoSoMC), if named
    http_status: int | None
    code: str | None  # the partner's own code, e.g. "error_code 1"
    message: str  # the partner's message with what varies per message taken out
    exhausted: bool  # the retry budget ran out (the cause was transient)

    @property
    def key(self) -> str:
        """What groups messages: everything but ``exhausted``."""
        return "|".join((self.operation or "", str(self.http_status or ""), self.code or "", self.message))

    @property
    def id(self) -> str:
        """A short stable name of the class, for URLs."""
        return hashlib.sha256(self.key.encode()).hexdigest()[:16]

    @property
    def label(self) -> str:
        parts = [p for p in (self.operation, self.http_status and f"HTTP {self.http_status}", self.code) if p]
        return ": ".join([*map(str, parts), *([self.message] if self.message else [])]) or "?"


@lru_cache(maxsize=65_536)
def classify(last_error: str | None) -> ErrorClass:
    """Pure, so its answers are cached: a page shown again classifies nothing again."""
    text = " ".join((last_error or "")[:SCAN].split())
    text = text.removesuffix(_SUPERSEDED.strip())
    exhausted = bool(_EXHAUSTED.match(text))
    text = _EXHAUSTED.sub("", text)
    operation = None
    if (m := _OPERATION.match(text)) and m.group(1) not in ("HTTP", *CODE_NAMES):
        operation = m.group(1)
        text = text[m.end() :]
    http = int(h.group(1)) if "HTTP" in text and (h := _HTTP.search(text)) else None
    text = _HTTP.sub("", text) if http else text
    code = None
    if c := _CODE.search(text):
        code = f"{c.group(1)} {c.group(2)}"
        text = text[: c.start()] + text[c.end() :]
    for worth_trying, pattern, placeholder in _VARYING:
        if worth_trying(text):
            text = pattern.sub(placeholder, text)
    message = _NOT_SEPARATOR.sub("", " ".join(text.replace(": :", ":").split()))
    if len(message) > MAX_LABEL:
        message = message[: MAX_LABEL - 1] + "…"
    return ErrorClass(operation, http, code, message or ("" if http or code else "unknown"), exhausted)
