"""Every failed population database call goes through :func:`classify`, and only there: into the
port's error family (``hub.citizens.port.errors``).

==========================  ==========================================================================
``RetryableError``          timeout, connection error, HTTP 5xx / 408 / 429 (a 500 without a SOAP
                            Fault included), SOAP ``Server`` fault, a "busy" MaLoi code [I] or
                            message ("hệ thống bận", "quá tải", "busy")
``NotAuthorised``           HTTP 401 / 403, a not-authorised MaLoi [I] or message ("không có quyền",
                            "unauthorised"): the operator must fix credentials or grants
``InvalidRequest``          SOAP ``Client`` fault, an invalid-request MaLoi [I], HTTP 400 and other 4xx,
                            a request zeep refuses to render, a field over its limit (``field-limit``,
                            refused before anything is sent)
``PermanentError``          anything else that will not get better by retrying (VersionMismatch,
                            a redirect or 404: the endpoint is misconfigured, unknown faults)
``UnsafeResponse``          hostile, malformed or oversized answers: DTD, entity declarations,
                            external references, an empty or non-XML 2xx, a Body without the
                            operation's answer element, content outside the vendored schema, more
                            than ``max_response_bytes`` - permanent, never parsed further
(LGSP JSON wrappers)        ``{"error_code": <not 0>, "message": ...}``: the code read like a MaLoi, then
                            as an HTTP status (401/403 not authorised, 400 invalid), then the text;
                            anything else ``PermanentError`` ("lgsp-error")
``CitizenNotFound``         not an error of the system: the database knows no such citizen (an empty
                            ``CongdanCollection``, or a not-found MaLoi [I]); never counts against the breaker
==========================  ==========================================================================

``InvalidRequest``, ``NotAuthorised`` and ``UnsafeResponse`` are ``PermanentError``s. Each error says
whether it is ``retryable`` and whether the hub's circuit breaker should count it (``breaker_failure``).

No personal data leaves this module: messages are built from fixed words, the operation, HTTP status,
faultcode, MaLoi code and the names of request fields a fault mentions. The partner's own text
(faultstring, MoTaLoi, a broken body) is read for classification only, never kept. Exceptions are
raised ``from None`` by the client, so the original (which may hold the answer) is not chained.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import httpx
from lxml import etree
from zeep import exceptions as zeep_exc

from hub.citizens.port.errors import (
    CitizenNotFound,
    InvalidRequest,
    NotAuthorised,
    PermanentError,
    PopulationDbError,
    RetryableError,
    UnsafeResponse,
)
from hub.partners import normalise_code


# ---------------------------------------------------------------- refusals raised by the transport
class ResponseRefused(Exception):
    """Raised inside the transport before zeep sees an answer; carries no content."""

    reason = "refused"


class ResponseTooLarge(ResponseRefused):
    reason = "oversized"


class UnexpectedAnswer(ResponseRefused):
    """The SOAP Body does not hold the operation's answer element (nor a Fault), or an LGSP's JSON
    wrapper does not hold what its variant carries."""

    reason = "unexpected-content"


class MalformedAnswer(ResponseRefused):
    """Not well-formed XML (or JSON, for a wrapper): never read in recover mode."""

    reason = "malformed"


class OutsideSchema(ResponseRefused):
    """A known element in a shape it cannot be read in without guessing: text where a structure is
    due, a structure where text is due, or a field that is not repeatable given twice."""

    reason = "outside-schema"


class HttpStatusError(Exception):
    """An HTTP status the transport does not hand on to the answer reader (anything but 2xx and 500)."""

    def __init__(self, status_code: int) -> None:
        super().__init__(f"HTTP {status_code}")
        self.status_code = status_code


class HostileMarkup(ResponseRefused):
    """A DTD (``reason`` "dtd") or entity declarations ("entities") in an answer."""

    def __init__(self, reason: str = "dtd") -> None:
        super().__init__(reason)
        self.reason = reason


# ---------------------------------------------------------------- codes
@dataclass(frozen=True)
class Codes:
    """MaLoi values with a meaning [I] (normalised)."""

    invalid: frozenset[str] = frozenset({"1"})
    not_authorised: frozenset[str] = frozenset({"2"})
    not_found: frozenset[str] = frozenset({"3"})
    busy: frozenset[str] = frozenset({"99"})

    @classmethod
    def of(
        cls,
        invalid: Collection[str],
        not_authorised: Collection[str],
        not_found: Collection[str],
        busy: Collection[str],
    ) -> Codes:
        def norm(values: Collection[str]) -> frozenset[str]:
            return frozenset(c for c in (normalise_code(v) for v in values) if c is not None)

        return cls(norm(invalid), norm(not_authorised), norm(not_found), norm(busy))


DEFAULT_CODES = Codes()
REQUEST_FIELDS = (
    "MaYeuCau",
    "MaDVC",
    "MaTichHop",
    "MaDonVi",
    "MaCanBo",
    "SoDinhDanh",
    "SoCMND",
    "HoVaTen",
    "NgayThangNamSinh",
    "NgayThangNam",
    "Nam",
)
_ZEEP_NO_FAULT = "Unknown fault occured"  # zeep's message for a non-200 answer without a Fault (sic)
_FIELD_RE = re.compile(r"\b(" + "|".join(REQUEST_FIELDS) + r")\b")
_BUSY_RE = re.compile(r"bận|quá tải|thử lại sau|busy|overload|try again later|temporarily unavailable", re.I)
_NOT_AUTH_RE = re.compile(
    r"không có quyền|không được phép|chưa được cấp quyền|từ chối truy cập|"
    r"unauthori[sz]ed|not authori[sz]ed|forbidden|access denied|permission denied",
    re.I,
)
_NOT_FOUND_RE = re.compile(
    r"không tìm thấy (thông tin )?công dân|công dân không tồn tại|citizen (was )?not found", re.I
)


def _fault_parts(fault: zeep_exc.Fault) -> tuple[str | None, str | None, str]:
    """(faultcode local part, MaLoi, text to classify by) of a SOAP fault."""
    code = str(fault.code or "").strip()
    local = code.rsplit("}", 1)[-1].rsplit(":", 1)[-1].split(".", 1)[0] or None
    detail = fault.detail
    error_code: str | None = None  # as sent (e.g. "02"), compared after normalise_code
    texts = [str(fault.message or "")]
    if isinstance(detail, etree._Element):
        found = detail.xpath(".//*[local-name()='MaLoi']/text()")
        error_code = str(found[0]).strip()[:20] or None if found else None
        texts += [str(t) for t in detail.xpath(".//*[local-name()='MoTaLoi']/text()")]
    return local, error_code, " ".join(texts)


def _from_fault(operation: str, fault: zeep_exc.Fault, codes: Codes) -> PopulationDbError:
    fault_code, error_code, said = _fault_parts(fault)
    if fault_code is None and fault.message == _ZEEP_NO_FAULT:
        # zeep's stand-in for an HTTP 500 without a SOAP Fault (a server error page): server trouble
        return RetryableError(operation, "http-error", http_status=500)
    return _judge(operation, fault_code, error_code, said, codes)


def from_lgsp_error(operation: str, error_code: str | None, said: str, codes: Codes) -> PopulationDbError:
    """An LGSP's JSON refusal ``{"error_code": <not 0>, "message": ...}`` [C shape, §0]: the code is read
    like a MaLoi (the code lists in settings), as an HTTP status (401/403 not authorised, 400 invalid),
    then the text; what none of these explains is a ``PermanentError`` ("lgsp-error")."""
    code = normalise_code(error_code)
    if code in ("401", "403"):
        return NotAuthorised(operation, "lgsp-error", error_code=error_code)
    judged = _judge(operation, None, error_code, said, codes, "lgsp-error")
    if type(judged) is PermanentError and code == "400":
        return InvalidRequest(operation, "lgsp-error", error_code=error_code, fields=judged.fields)
    return judged


def _fields_in(said: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(_FIELD_RE.findall(said)))


def _judge(
    operation: str,
    fault_code: str | None,
    error_code: str | None,
    said: str,
    codes: Codes,
    reason: str = "soap-fault",
) -> PopulationDbError:
    """One refusal of the database (a SOAP fault, or an LGSP's JSON error): MaLoi first, then the text."""
    fields = _fields_in(said)
    facts: dict[str, Any] = {"fault_code": fault_code, "error_code": error_code, "fields": fields}
    code = normalise_code(error_code)
    if code in codes.not_found:
        return CitizenNotFound(operation, "no-such-citizen", **facts)
    if code in codes.busy:
        return RetryableError(operation, "busy", **facts)
    if code in codes.not_authorised:
        return NotAuthorised(operation, reason, **facts)
    if code in codes.invalid:
        return InvalidRequest(operation, reason, **facts)
    if _BUSY_RE.search(said):
        return RetryableError(operation, "busy", **facts)
    if _NOT_AUTH_RE.search(said):
        return NotAuthorised(operation, reason, **facts)
    if error_code is None and _NOT_FOUND_RE.search(said):
        return CitizenNotFound(operation, "no-such-citizen", **facts)
    if fault_code == "Server":
        return RetryableError(operation, reason, **facts)
    if fault_code == "Client":
        return InvalidRequest(operation, reason, **facts)
    return PermanentError(operation, reason, **facts)


def _from_status(operation: str, status: int | None) -> PopulationDbError:
    if status is None:
        return UnsafeResponse(operation, "malformed")
    if status >= 500 or status in (408, 429):
        return RetryableError(operation, "http-error", http_status=status)
    if status in (401, 403):
        return NotAuthorised(operation, "http-error", http_status=status)
    if 400 <= status < 500 and status not in (404, 405):
        return InvalidRequest(operation, "http-error", http_status=status)
    if 200 <= status < 300:  # a 2xx whose body is empty or not XML
        return UnsafeResponse(operation, "malformed", http_status=status)
    return PermanentError(operation, "http-error", http_status=status)


def classify(operation: str, exc: BaseException, codes: Codes = DEFAULT_CODES) -> PopulationDbError:
    """Map whatever a call raised (httpx, zeep, the transport's refusals) to one error of this module."""
    if isinstance(exc, PopulationDbError):
        return exc
    if isinstance(exc, ResponseRefused):
        return UnsafeResponse(operation, exc.reason)
    if isinstance(exc, HttpStatusError):
        return _from_status(operation, exc.status_code)
    if isinstance(exc, httpx.TimeoutException):
        return RetryableError(operation, "timeout")
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return PermanentError(operation, "bad-endpoint")
    if isinstance(exc, httpx.TransportError):
        return RetryableError(operation, "connection")
    if isinstance(exc, zeep_exc.Fault):
        return _from_fault(operation, exc, codes)
    if isinstance(exc, zeep_exc.DTDForbidden):
        return UnsafeResponse(operation, "dtd")
    if isinstance(exc, zeep_exc.EntitiesForbidden):
        return UnsafeResponse(operation, "entities")
    if isinstance(exc, zeep_exc.ExternalReferenceForbidden):
        return UnsafeResponse(operation, "external-reference")
    if isinstance(exc, zeep_exc.TransportError):
        return _from_status(operation, exc.status_code)
    if isinstance(exc, zeep_exc.XMLSyntaxError):
        return UnsafeResponse(operation, "malformed")
    if isinstance(exc, zeep_exc.XMLParseError | zeep_exc.UnexpectedElementError):
        return UnsafeResponse(operation, "outside-schema")
    if isinstance(exc, zeep_exc.ValidationError):
        return InvalidRequest(operation, "request-not-renderable")
    return PermanentError(operation, f"unexpected-{type(exc).__name__}")
