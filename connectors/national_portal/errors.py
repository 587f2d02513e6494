"""Every national portal answer goes through :func:`classify`, and only there.

Verdicts (``hub.partners.Verdict``, the one vocabulary of every connector):

==================  ======================================================================
OK                  ``error_code`` 0, ``"0"``, ``"00"`` (parsed leniently, int or string)
RETRYABLE           timeout / connection error / unreadable answer, HTTP 408, 429, 5xx, a 3xx,
                    an answer without ``error_code``, and non-zero codes listed as retryable;
                    ``maybe_processed`` when the portal may have acted on it all the same (no
                    answer after the request may have left, 5xx but 503, an answer without
                    ``error_code``): the change is then *in doubt*
AUTH                HTTP 401, ``error_code`` "-2" [I], or a message about an expired/invalid
                    session ("Phiên đăng nhập hết hạn", "session expired"): log in again once
ALREADY             ``error_code`` "3"/"-3" or a message containing "đã tồn tại" (already exists):
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
from typing import Any

from hub.http import HttpFailure
from hub.partners import Classified, PartnerError, Verdict, normalise_code
from hub.privacy import scrub


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


class PortalError(PartnerError):
    """A portal call that did not succeed, with its classification (retryable: RETRYABLE, AUTH)."""

    def __init__(self, operation: str, classified: Classified) -> None:
        super().__init__(f"{operation}: {classified.describe()}")
        self.operation = operation
        self.classified = classified
        self.retryable = classified.retryable

    @property
    def verdict(self) -> Verdict:
        return self.classified.verdict


_SESSION_RE = re.compile(r"(phiên|session|token).*(hết hạn|không hợp lệ|expired|invalid)", re.IGNORECASE)
_EXISTS_RE = re.compile(r"đã tồn tại|already exists", re.IGNORECASE)
_NOT_FOUND_RE = re.compile(r"hồ sơ.*không tồn tại|dossier.*(not found|does not exist)", re.IGNORECASE)


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
        return verdict(Verdict.AUTH)
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
        return verdict(Verdict.PERMANENT if client_error else Verdict.OK)
    if code in codes.session_expired or _SESSION_RE.search(message):
        return verdict(Verdict.AUTH)
    if code in codes.already_exists or _EXISTS_RE.search(message):
        return verdict(Verdict.ALREADY)
    if code in codes.not_found or _NOT_FOUND_RE.search(message):
        return verdict(Verdict.NOT_FOUND)
    if code in codes.retryable:
        return verdict(Verdict.RETRYABLE)
    return verdict(Verdict.PERMANENT)
