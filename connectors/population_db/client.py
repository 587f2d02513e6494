"""SOAP client of the population database: zeep over a small httpx transport, hardened.

- The WSDL and its two XSDs are read from ``wsdl/`` next to this module by :class:`LocalWsdlLoader`,
  which refuses anything else (no URL, no file outside that folder). Parsed once per process, lazily:
  constructing a client does no I/O at all.
- SOAP traffic goes through :class:`HttpxTransport`, a zeep transport built on ``httpx.Client``, so
  respx or an in-process ASGI client (``fastapi.testclient.TestClient``) sees every request. It
  bounds time (each network phase by ``timeout``, and the answer must be complete ``timeout`` after
  the call started), reads at most ``max_response_bytes`` (streamed, refused past the limit), hands
  zeep only 2xx and 500 (SOAP 1.1 fault) answers, and refuses any answer that declares a DTD or
  entities before zeep parses it.
- :class:`AnswerShape` (a zeep ingress plugin) refuses a 2xx whose Body is not exactly the
  operation's answer element: zeep would otherwise read a foreign or empty Body as empty values, and
  an empty ``CongdanCollection`` means "no such citizen".
- zeep parses with ``Settings(strict=True, xml_huge_tree=False, forbid_dtd=True, forbid_entities=True,
  forbid_external=True)``: a second line of defence, and strict (no lxml recover mode).
- Every failure leaves as one error of ``errors.py`` (``classify``), raised ``from None`` so no
  exception holding the partner's answer is chained. Nothing here logs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlparse

import httpx
import zeep
from lxml import etree
from zeep.exceptions import ExternalReferenceForbidden, TransportError
from zeep.helpers import serialize_object
from zeep.plugins import Plugin
from zeep.transports import Transport
from zeep.wsdl import Document
from zeep.wsdl.utils import etree_to_string

from . import translate as tr
from .config import PopulationDbSettings
from .errors import (
    CitizenNotFound,
    Codes,
    HostileMarkup,
    PopulationDbError,
    ResponseTooLarge,
    UnexpectedAnswer,
    UnsafeResponse,
    classify,
)
from .models import CitizenQuery, CitizenRecord, LookupRequest, VerifyRequest, VerifyResult

NAME = "population_db"
WSDL_DIR = Path(__file__).resolve().parent / "wsdl"
WSDL_PATH = WSDL_DIR / "population_db.wsdl"
BINDING = "{http://dancuquocgia.bca/wsdl}CongDanSoapBinding"


def zeep_settings(strict: bool = True) -> zeep.Settings:
    """The hardened parse settings used for the WSDL and for every answer."""
    return zeep.Settings(
        strict=strict, xml_huge_tree=False, forbid_dtd=True, forbid_entities=True, forbid_external=True
    )


class LocalWsdlLoader(Transport):
    """Loads the vendored WSDL/XSD files and nothing else. Never opens a socket."""

    def __init__(self, root: Path = WSDL_DIR) -> None:  # no super().__init__: that builds a requests.Session
        self.root = root.resolve()
        self.cache = None
        self.load_timeout = None
        self.operation_timeout = None
        self._close_session = False
        self.loaded: list[Path] = []

    def load(self, url: str) -> bytes:
        parsed = urlparse(url)
        if parsed.scheme not in ("", "file"):
            raise ExternalReferenceForbidden(url)
        path = Path(unquote(parsed.path) if parsed.scheme == "file" else url).resolve()
        if not path.is_relative_to(self.root) or path.suffix not in (".wsdl", ".xsd"):
            raise ExternalReferenceForbidden(url)
        self.loaded.append(path)
        return path.read_bytes()

    def get(self, address: str, params: Any, headers: Any) -> Any:
        raise ExternalReferenceForbidden(address)

    def post(self, address: str, message: Any, headers: Any) -> Any:
        raise ExternalReferenceForbidden(address)

    def post_xml(self, address: str, envelope: Any, headers: Any) -> Any:
        raise ExternalReferenceForbidden(address)

    def __del__(self) -> None:
        pass


@lru_cache(maxsize=2)
def wsdl_document(strict: bool = True) -> Document:
    """The parsed WSDL (cached per process and strictness). Reads three local files, once."""
    return Document(str(WSDL_PATH), LocalWsdlLoader(), settings=zeep_settings(strict))  # type: ignore[arg-type]


@dataclass(frozen=True)
class Reply:
    """What zeep reads from an HTTP answer."""

    status_code: int
    content: bytes
    headers: httpx.Headers
    encoding: str = "utf-8"


class HttpxTransport(Transport):
    """zeep transport over an ``httpx.Client``: bounded in time and size, DTD-free answers only."""

    def __init__(
        self,
        http: httpx.Client,
        *,
        timeout: float,
        max_bytes: int,
        extra_headers: Callable[[], dict[str, str]] | None = None,
    ) -> None:  # no super().__init__: that builds a requests.Session
        self.http = http
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.extra_headers: Callable[[], dict[str, str]] = extra_headers or dict
        self.cache = None
        self.load_timeout = timeout
        self.operation_timeout = timeout
        self._close_session = False
        self._local = threading.local()

    def last_status(self) -> int | None:
        """HTTP status of this thread's last answer (for the ingress check)."""
        status: int | None = getattr(self._local, "status", None)
        return status

    def load(self, url: str) -> bytes:
        raise ExternalReferenceForbidden(url)  # answers never import anything

    def get(self, address: str, params: Any, headers: Any) -> Any:
        raise ExternalReferenceForbidden(address)  # this service is POST-only

    def post_xml(self, address: str, envelope: Any, headers: Any) -> Reply:
        return self.post(address, etree_to_string(envelope), headers)

    def post(self, address: str, message: bytes, headers: Any) -> Reply:
        """POST and read the answer. Only 2xx and 500 (SOAP 1.1 faults) go on to zeep; any other
        status is raised here, its body unread beyond the limit and never kept."""
        self._local.status = None
        deadline = time.monotonic() + self.timeout
        all_headers = {**dict(headers or {}), **self.extra_headers()}
        with self.http.stream(
            "POST", address, content=message, headers=all_headers, timeout=httpx.Timeout(self.timeout)
        ) as response:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_bytes:
                raise ResponseTooLarge()
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > self.max_bytes:
                    raise ResponseTooLarge()
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout("whole-call deadline passed", request=response.request)
        content = bytes(body)
        self._local.status = response.status_code
        if not (200 <= response.status_code < 300 or response.status_code == 500):
            raise TransportError("HTTP status", status_code=response.status_code)
        if b"<!ENTITY" in content:
            raise HostileMarkup("entities")
        if b"<!DOCTYPE" in content:
            raise HostileMarkup("dtd")
        return Reply(response.status_code, content, response.headers, response.encoding or "utf-8")

    def __del__(self) -> None:
        pass


EXPECTED_ANSWER = {
    tr.OP_VERIFY: f"{{{tr.REQUEST_NS}}}KetQuaXacThucResponse",
    tr.OP_LOOKUP: f"{{{tr.RESPONSE_NS}}}CongdanCollection",
}
_SOAP_FAULT = "{http://schemas.xmlsoap.org/soap/envelope/}Fault"


class AnswerShape(Plugin):
    """zeep ingress check of a 2xx answer: the Body holds exactly the operation's answer element or a Fault.

    zeep maps an unknown or missing Body element to empty values; for ``lookup`` that would read as
    "no such citizen". Anything but the expected element is refused here (``UnsafeResponse``). A 500
    is left to zeep's fault handling (a server error page there is retryable, see ``errors.py``)."""

    def __init__(self, transport: HttpxTransport) -> None:
        self.transport = transport

    def ingress(self, envelope: etree._Element, http_headers: Any, operation: Any) -> tuple[Any, Any]:
        status = self.transport.last_status()
        if status is None or not 200 <= status < 300:
            return envelope, http_headers
        body = envelope.find("{http://schemas.xmlsoap.org/soap/envelope/}Body")
        children = [c for c in body if isinstance(c.tag, str)] if body is not None else []
        expected = EXPECTED_ANSWER.get(getattr(operation, "name", ""))
        if len(children) != 1 or children[0].tag not in (expected, _SOAP_FAULT):
            raise UnexpectedAnswer()
        return envelope, http_headers


class PopulationDbClient:
    """``verify`` and ``lookup`` against the population database. Thread-safe; no I/O until the first call.

    ``http`` may be any ``httpx.Client`` (a ``TestClient`` of the mock app, a client with the hub's
    TLS settings); when not given one is created on first use and closed by :meth:`close`.
    """

    def __init__(self, settings: PopulationDbSettings | None = None, http: httpx.Client | None = None) -> None:
        self.settings = settings or PopulationDbSettings()
        s = self.settings
        self.codes = Codes.of(s.invalid_codes, s.not_authorised_codes, s.not_found_codes, s.busy_codes)
        self._http = http
        self._owns_http = http is None
        self._service: Any = None
        self._zeep: zeep.Client | None = None
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- lifecycle
    def __enter__(self) -> PopulationDbClient:
        return self

    def __exit__(self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            if self._owns_http and self._http is not None:
                self._http.close()
            self._http = None if self._owns_http else self._http
            self._service = self._zeep = None

    def _bound(self) -> Any:
        """The zeep service proxy bound to the configured endpoint (built on first use)."""
        with self._lock:
            if self._service is None:
                if self._http is None:
                    self._http = httpx.Client(follow_redirects=False)
                s = self.settings
                transport = HttpxTransport(
                    self._http, timeout=s.timeout, max_bytes=s.max_response_bytes, extra_headers=s.auth_headers
                )
                self._zeep = zeep.Client(
                    wsdl_document(s.strict_xml),
                    transport=transport,
                    settings=zeep_settings(s.strict_xml),
                    plugins=[AnswerShape(transport)],
                )
                self._service = self._zeep.create_service(BINDING, s.endpoint())
            return self._service

    # ---------------------------------------------------------------- operations
    def options(self, operation: str) -> tr.WireOptions:
        s = self.settings
        code = s.integration_code_verify if operation == tr.OP_VERIFY else s.integration_code_lookup
        return tr.WireOptions(s.agency_code, s.service_code, code, s.birth_date_format, s.uppercase_names)

    def build_envelope(self, operation: str, query: CitizenQuery) -> etree._Element:
        """The SOAP envelope a call would send (no I/O): for golden files and the benchmark."""
        service = self._bound()
        assert self._zeep is not None
        message: etree._Element = self._zeep.create_message(
            service, operation, **tr.to_soap_request(query, self.options(operation))
        )
        return message

    def _call(self, operation: str, query: CitizenQuery) -> Any:
        try:
            service = self._bound()
            answer = getattr(service, operation)(**tr.to_soap_request(query, self.options(operation)))
            return serialize_object(answer, dict)
        except Exception as exc:  # every failure is classified; unknown ones become PermanentError
            error = classify(operation, exc, self.codes)
        raise error from None

    def verify(self, req: VerifyRequest) -> VerifyResult:
        """``XacThucThongTinCongDan``: does the citizen exist, and which given fields match.

        Raises ``RetryableError`` / ``PermanentError`` (incl. ``NotAuthorised``, ``InvalidRequest``,
        ``UnsafeResponse``); a not-found MaLoi [I] is answered as "does not exist", not raised."""
        try:
            answer = self._call(tr.OP_VERIFY, req)
        except CitizenNotFound:
            return tr.to_verify_result(False, req)
        try:
            return tr.to_verify_result(answer, req)
        except (ValueError, TypeError, KeyError):
            raise UnsafeResponse(tr.OP_VERIFY, "unexpected-content") from None

    def lookup(self, req: LookupRequest) -> CitizenRecord:
        """``TraCuuThongTinCongDan``: the citizen's record (all fields; the hub filters by grant).

        Raises ``CitizenNotFound`` when the database has no match (empty ``CongdanCollection``),
        otherwise the errors of :meth:`verify`."""
        answer = self._call(tr.OP_LOOKUP, req)
        if not isinstance(answer, dict):  # e.g. an empty HTTP 202: not an answer, certainly not "not found"
            raise UnsafeResponse(tr.OP_LOOKUP, "unexpected-content")
        try:
            record = tr.pick_citizen(answer, req.id_number)
        except (ValueError, TypeError, KeyError):
            raise UnsafeResponse(tr.OP_LOOKUP, "unexpected-content") from None
        if record is None:
            raise CitizenNotFound(tr.OP_LOOKUP, "no-such-citizen")
        return record


def build_client(settings: PopulationDbSettings | None = None, http: httpx.Client | None = None) -> PopulationDbClient:
    """The client for the hub's composition root; opens nothing until the first call."""
    return PopulationDbClient(settings or PopulationDbSettings(), http)


__all__ = [
    "BINDING",
    "NAME",
    "WSDL_PATH",
    "HttpxTransport",
    "LocalWsdlLoader",
    "PopulationDbClient",
    "PopulationDbError",
    "build_client",
    "wsdl_document",
    "zeep_settings",
]
