"""Every national portal answer goes through :func:`classify`, and only there.

Verdicts:

==================  ======================================================================
DELIVERED           ``error_code`` 0, ``"0"``, ``"00"`` (parsed leniently, int or string)
RETRYABLE           timeout / connection error / unreadable answer, HTTP 408, 429, 5xx, a 3xx,
                    an answer without ``error_code``, and non-zero codes listed as retryable;
                    ``maybe_processed`` when the portal may have acted on it all the same (no
                    answer after the request may have left, 5xx but 503, an answer without
                    ``error_code``): the change is then *in doubt*
SESSION_EXPIRED     HTTP 401, ``error_code`` "-2" [I], or a message about an expired/invalid
                    session ("Phiên đăng nhập hết hạn", "session expired"): log in again once
ALREADY_EXISTS      ``error_code`` "3"/"-3" or a message containing "đã tồn tại" (already exists):
                    an insert of a known dossier; re-send as an update
NOT_FOUND           ``error_code`` "4" [I] or "hồ sơ ... không tồn tại" (dossier does not exist):
                    an update of an unknown dossier; re-send as an insert
PERMANENT           any other 4xx, validation rejections (mock: ``error_code`` "1"), and any
                    other non-zero code unless configured retryable (``retryable_codes``)
==================  ======================================================================

Codes marked [I] are inferred (the portal's guide is not public) and configurable in settings.
Messages are shortened and ID-like digit runs are masked before they reach an ``Outcome``.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from hub.http import HttpFailure


class Verdict(Enum):
    DELIVERED = "delivered"
    RETRYABLE = "retryable"
    PERMANENT = "permanent"
    SESSION_EXPIRED = "session-expired"
    ALREADY_EXISTS = "already-exists"
    NOT_FOUND = "not-found"


@dataclass(frozen=True)
class Codes:
    """The portal's ``error_code`` values with a special meaning (normalised strings)."""

    session_expired: frozenset[str] = frozenset({"-2"})
    already_exists: frozenset[str] = frozenset({"3", "-3"})
    not_found: frozenset[str] = frozenset({"4"})
    retryable: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(
        cls,
        session_expired: Collection[str],
        already_exists: Collection[str],
        not_found: Collection[str],
        retryable: Collection[str],
    ) -> Codes:
        def norm(values: Collection[str]) -> frozenset[str]:
            return frozenset(c for c in (normalise_code(v) for v in values) if c is not None)

        return cls(norm(session_expired), norm(already_exists), norm(not_found), norm(retryable))


@dataclass(frozen=True)
class Classified:
    verdict: Verdict
    code: str | None = None  # normalised error_code, if the answer had one
    message: str = ""  # the portal's message, shortened and scrubbed
    http_status: int | None = None
    # the portal may have acted on the call although it did not say so: no answer after the
    # request may have left, a server error (500, 502, 504...), an answer it cannot have meant.
    # False for a definite answer: an error_code, 4xx, 503 and 429 (refused before any work).
    maybe_processed: bool = False

    def describe(self) -> str:
        parts = [f"HTTP {self.http_status}"] if self.http_status is not None and self.http_status >= 300 else []
        if self.code is not None:
            parts.append(f"error_code {self.code}")
        if self.message:
            parts.append(self.message)
        return ": ".join(parts) or self.verdict.value


class PortalError(Exception):
    """A portal call that did not succeed, with its classification."""

    def __init__(self, operation: str, classified: Classified) -> None:
        super().__init__(f"{operation}: {classified.describe()}")
        self.operation = operation
        self.classified = classified

    @property
    def verdict(self) -> Verdict:
        return self.classified.verdict

    @property
    def retryable(self) -> bool:
        return self.classified.verdict in (Verdict.RETRYABLE, Verdict.SESSION_EXPIRED)


_SESSION_RE = re.compile(r"(phiên|session|token).*(hết hạn|không hợp lệ|expired|invalid)", re.IGNORECASE)
_EXISTS_RE = re.compile(r"đã tồn tại|already exists", re.IGNORECASE)
_NOT_FOUND_RE = re.compile(r"hồ sơ.*không tồn tại|dossier.*(not found|does not exist)", re.IGNORECASE)
_ID_LIKE = re.compile(r"(?<!\d)\d{9,13}(?!\d)")  # citizen IDs, tax codes, phone numbers (not 14-digit dates)
MAX_MESSAGE = 200


def normalise_code(raw: Any) -> str | None:
    """0, "0", "00", " 0 " -> "0"; "-03" -> "-3"; other strings kept stripped; None/bool -> None."""
    if raw is None or isinstance(raw, bool):
        return None
    text = str(raw).strip()
    if re.fullmatch(r"[+-]?\d+", text):
        return str(int(text))
    return text or None


def scrub(message: Any) -> str:
    """Shorten a partner message and mask ID-like numbers in it (no personal data in outcomes)."""
    if message is None:
        return ""
    text = " ".join(str(message).split())
    text = _ID_LIKE.sub(lambda m: "*" * (len(m.group()) - 3) + m.group()[-3:], text)
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


DEFAULT_CODES = Codes()


def classify(
    http_status: int | None,
    body: dict[str, Any] | None,
    exc: Exception | None,
    codes: Codes = DEFAULT_CODES,
) -> Classified:
    """Map one portal answer (or the exception raised instead of one) to a :class:`Verdict`."""
    if exc is not None:  # no answer; an HttpFailure's message names what happened (ReadTimeout...)
        name = str(exc) if isinstance(exc, HttpFailure) and str(exc) else type(exc).__name__
        sent = exc.sent if isinstance(exc, HttpFailure) else True
        return Classified(Verdict.RETRYABLE, message=name, http_status=http_status, maybe_processed=sent)
    has_code = isinstance(body, dict) and "error_code" in body
    code = normalise_code(body.get("error_code")) if isinstance(body, dict) and has_code else None
    message = scrub(body.get("message")) if isinstance(body, dict) else ""

    def verdict(v: Verdict) -> Classified:
        return Classified(v, code, message, http_status)

    if http_status == 401:
        return verdict(Verdict.SESSION_EXPIRED)
    if http_status is not None and (http_status in (408, 429) or http_status >= 500 or 300 <= http_status < 400):
        server_error = http_status >= 500 and http_status != 503
        return Classified(Verdict.RETRYABLE, code, message, http_status, maybe_processed=server_error)
    client_error = http_status is not None and 400 <= http_status < 500
    if code is None:
        if not message and not has_code:
            message = "answer without error_code"
        kind = Verdict.PERMANENT if client_error else Verdict.RETRYABLE
        return Classified(kind, None, message, http_status, maybe_processed=not client_error)
    if code == "0":
        return verdict(Verdict.PERMANENT if client_error else Verdict.DELIVERED)
    if code in codes.session_expired or _SESSION_RE.search(message):
        return verdict(Verdict.SESSION_EXPIRED)
    if code in codes.already_exists or _EXISTS_RE.search(message):
        return verdict(Verdict.ALREADY_EXISTS)
    if code in codes.not_found or _NOT_FOUND_RE.search(message):
        return verdict(Verdict.NOT_FOUND)
    if code in codes.retryable:
        return verdict(Verdict.RETRYABLE)
    return verdict(Verdict.PERMANENT)
