"""Client of the population database: one call path for every variant, hardened.

1. The canonical query becomes the SOAP request fields (``translate.to_soap_request``: wire order, NFC).
2. What the configured variant sends of them is checked against the field limits (``limits.py``);
   a field over its limit is refused here (``InvalidRequest`` "field-limit"), nothing is sent.
3. The variant's request (``variants.py``): the SOAP envelope, rendered by zeep from the vendored
   WSDL (loaded from ``wsdl/`` by :class:`LocalWsdlLoader` only, never from the network; zeep does no
   I/O here), or the LGSP's JSON; credentials from ``auth.py`` (tokens cached and renewed; a 401
   drops the token and the call is tried once more with a new one).
4. One bounded POST (``transport.py``: time and size bounded, only 2xx and 500 read).
5. The answer read by ``answers.py``, the same hardened reader for every variant (raw SOAP, or the
   SOAP string inside an LGSP's JSON), then translated (``translate.py``).

Every failure leaves as one error of ``errors.py`` (``classify``), raised ``from None`` so no exception
holding the partner's answer is chained. Nothing here logs.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlparse

import httpx
import zeep
from lxml import etree
from zeep.exceptions import ExternalReferenceForbidden
from zeep.transports import Transport
from zeep.wsdl import Document

from hub.citizens.port import (
    CitizenNotFound,
    CitizenQuery,
    CitizenRecord,
    InvalidRequest,
    LookupRequest,
    Operation,
    PopulationDbError,
    UnsafeResponse,
    VerifyRequest,
    VerifyResult,
)

from . import translate as tr
from . import variants as wire
from .answers import Answer, read_json_message, read_soap
from .auth import Credentials
from .config import PopulationDbSettings
from .errors import Codes, HttpStatusError, classify
from .limits import violation
from .schema import WSDL_DIR
from .transport import post_bounded

NAME = "population_db"
WSDL_PATH = WSDL_DIR / "population_db.wsdl"
BINDING = "{http://dancuquocgia.bca/wsdl}CongDanSoapBinding"


def zeep_settings(strict: bool = True) -> zeep.Settings:
    """The hardened parse settings used for the WSDL."""
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


@lru_cache(maxsize=1)
def wsdl_document() -> Document:
    """The parsed WSDL (cached per process). Reads three local files, once."""
    return Document(str(WSDL_PATH), LocalWsdlLoader(), settings=zeep_settings())  # type: ignore[arg-type]  # zeep hints a class, takes an instance


class PopulationDbClient:
    """The ``hub.citizens.port.PopulationDb``: ``verify`` and ``lookup`` against the population database.
    Thread-safe; no I/O until the first call.

    ``http`` may be any ``httpx.Client`` (a ``TestClient`` of the mock app, a client with the hub's
    TLS settings); when not given one is created on first use and closed by :meth:`close`.
    """

    def __init__(self, settings: PopulationDbSettings | None = None, http: httpx.Client | None = None) -> None:
        self.settings = settings or PopulationDbSettings()
        s = self.settings
        self.codes = Codes.of(s.invalid_codes, s.not_authorised_codes, s.not_found_codes, s.busy_codes)
        self.credentials = Credentials(s)
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

    def _client(self) -> httpx.Client:
        with self._lock:
            if self._http is None:
                self._http = httpx.Client(follow_redirects=False)
            return self._http

    def _bound(self) -> tuple[zeep.Client, Any]:
        """zeep (for rendering envelopes only; its transport refuses any I/O) and the bound service."""
        with self._lock:
            if self._service is None:
                self._zeep = zeep.Client(wsdl_document(), transport=LocalWsdlLoader(), settings=zeep_settings())
                self._service = self._zeep.create_service(BINDING, self.settings.endpoint(tr.OP_VERIFY))
            assert self._zeep is not None
            return self._zeep, self._service

    # ---------------------------------------------------------------- requests
    def options(self, operation: str, query: CitizenQuery | None = None) -> tr.WireOptions:
        """How a query goes on the wire; its ``unit_code`` (the agency's MaDonVi) over the configured one."""
        s = self.settings
        code = s.integration_code_verify if operation == tr.OP_VERIFY else s.integration_code_lookup
        unit = (query.unit_code if query is not None else None) or s.agency_code
        return tr.WireOptions(unit, s.service_code, code, s.birth_date_format, s.uppercase_names)

    def build_envelope(self, operation: str, query: CitizenQuery) -> etree._Element:
        """The SOAP envelope a call would send (no I/O): for golden files, the benchmark, lgsp_hagiang."""
        zeep_client, service = self._bound()
        message: etree._Element = zeep_client.create_message(
            service, operation, **tr.to_soap_request(query, self.options(operation, query))
        )
        return message

    def refusal(self, operation: Operation, query: CitizenQuery) -> InvalidRequest | None:
        """The port's check before a call: why this query would not be sent, or ``None``."""
        return self._refusal(tr.OP_VERIFY if operation == "verify" else tr.OP_LOOKUP, query)

    def _refusal(self, operation: str, query: CitizenQuery) -> InvalidRequest | None:
        """Why this query would not be sent (a field over its limit, named with the rule), or ``None``."""
        fields = wire.flat(tr.to_soap_request(query, self.options(operation, query)))
        variant = self.settings.variant
        found = violation(wire.sent_fields(variant, fields), self.settings.limits, wire.required(variant))
        if found is None:
            return None
        return InvalidRequest(operation, "field-limit", fields=(found.field,), rule=found.rule)

    def _request(self, operation: str, query: CitizenQuery, http: httpx.Client) -> tuple[dict[str, str], bytes]:
        s, variant = self.settings, self.settings.variant
        if variant in ("soap", "lgsp_hagiang"):
            envelope = self.build_envelope(operation, query)
            if variant == "soap":
                headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}
                headers |= self.credentials.headers(http, operation)
                return headers, etree.tostring(envelope, xml_declaration=True, encoding="utf-8")
            body: dict[str, Any] = wire.hagiang_body(
                etree.tostring(envelope, encoding="unicode"), self.credentials.bearer(http, operation), s
            )
            return {"Content-Type": "application/json; charset=utf-8"}, wire.json_bytes(body)
        fields = wire.flat(tr.to_soap_request(query, self.options(operation, query)))
        body = wire.dongthap_body(fields, s) if variant == "lgsp_dongthap" else wire.thanhhoa_body(fields, s)
        headers = {"Content-Type": "application/json; charset=utf-8", **self.credentials.headers(http, operation)}
        return headers, wire.json_bytes(body)

    def _exchange(self, operation: str, query: CitizenQuery) -> Answer:
        s, http = self.settings, self._client()
        for attempt in (1, 2):
            headers, content = self._request(operation, query, http)
            try:
                reply = post_bounded(
                    http, s.endpoint(operation), timeout=s.timeout, max_bytes=s.max_response_bytes,
                    headers=headers, content=content,
                )  # fmt: skip
            except HttpStatusError as exc:
                if exc.status_code == 401 and self.credentials.renewable and attempt == 1:
                    self.credentials.invalidate()  # the token was refused: one more try with a new one
                    continue
                raise
            if s.answers_as == "json_message":
                return read_json_message(operation, reply.content, reply.status_code, self.codes)
            return read_soap(operation, reply.content, reply.status_code)
        raise AssertionError("unreachable")

    def _call(self, operation: str, query: CitizenQuery) -> Answer:
        refused = self._refusal(operation, query)
        if refused is not None:
            raise refused
        try:
            return self._exchange(operation, query)
        except Exception as exc:  # every failure is classified; unknown ones become PermanentError
            error = classify(operation, exc, self.codes)
        raise error from None

    # ---------------------------------------------------------------- operations
    def verify(self, req: VerifyRequest) -> VerifyResult:
        """``XacThucThongTinCongDan``: does the citizen exist, and which given fields match.

        Raises ``RetryableError`` / ``PermanentError`` (incl. ``NotAuthorised``, ``InvalidRequest``,
        ``UnsafeResponse``); a not-found MaLoi [I] is answered as "does not exist", not raised."""
        try:
            answer = self._call(tr.OP_VERIFY, req)
        except CitizenNotFound:
            return tr.to_verify_result(False, req)
        try:
            result = tr.to_verify_result(answer.payload, req)
        except (ValueError, TypeError, KeyError):
            raise UnsafeResponse(tr.OP_VERIFY, "unexpected-content") from None
        return result.model_copy(update={"ignored": answer.ignored})

    def lookup(self, req: LookupRequest) -> CitizenRecord:
        """``TraCuuThongTinCongDan``: the citizen's record (all fields; the hub filters by grant).

        Raises ``CitizenNotFound`` when the database has no match (empty ``CongdanCollection``),
        otherwise the errors of :meth:`verify`."""
        answer = self._call(tr.OP_LOOKUP, req)
        try:
            record = tr.pick_citizen(answer.payload, req.id_number)
        except (ValueError, TypeError, KeyError):
            raise UnsafeResponse(tr.OP_LOOKUP, "unexpected-content") from None
        if record is None:
            raise CitizenNotFound(tr.OP_LOOKUP, "no-such-citizen")
        return record.model_copy(update={"ignored": answer.ignored})


def build_client(settings: PopulationDbSettings | None = None, http: httpx.Client | None = None) -> PopulationDbClient:
    """The client for the hub's composition root; opens nothing until the first call."""
    return PopulationDbClient(settings or PopulationDbSettings(), http)


__all__ = [
    "BINDING",
    "NAME",
    "WSDL_DIR",
    "WSDL_PATH",
    "LocalWsdlLoader",
    "PopulationDbClient",
    "PopulationDbError",
    "build_client",
    "wsdl_document",
    "zeep_settings",
]
