"""The classification table: whatever a call raised -> one error class, with no personal data."""

from __future__ import annotations

import httpx
import pytest
from lxml import etree
from zeep import exceptions as zx

from connectors.population_db import classify
from connectors.population_db.errors import Codes, HostileMarkup, ResponseTooLarge
from hub.citizens.port import (
    CitizenNotFound,
    InvalidRequest,
    NotAuthorised,
    PermanentError,
    PopulationDbError,
    RetryableError,
    UnsafeResponse,
)
from hub.partners import normalise_code

from .conftest import AN_ID, AN_NAME

REQUEST = httpx.Request("POST", "http://popdb.test/dancuquocgia/soap")
OP = "TraCuuThongTinCongDan"


def fault(code: str, message: str = "", error_code: str | None = None, description: str = "") -> zx.Fault:
    detail = None
    if error_code is not None or description:
        detail = etree.fromstring(
            '<detail><dan:ThongTinLoi xmlns:dan="http://dancuquocgia.bca">'
            f"<dan:MaLoi>{error_code or ''}</dan:MaLoi><dan:MoTaLoi>{description}</dan:MoTaLoi>"
            "</dan:ThongTinLoi></detail>"
        )
    return zx.Fault(message, code=code, detail=detail)


TABLE: list[tuple[str, BaseException, type[PopulationDbError], str]] = [
    ("read timeout", httpx.ReadTimeout("slow", request=REQUEST), RetryableError, "timeout"),
    ("connect timeout", httpx.ConnectTimeout("slow", request=REQUEST), RetryableError, "timeout"),
    ("connect error", httpx.ConnectError("refused", request=REQUEST), RetryableError, "connection"),
    ("reset", httpx.ReadError("reset", request=REQUEST), RetryableError, "connection"),
    ("protocol error", httpx.RemoteProtocolError("bad", request=REQUEST), RetryableError, "connection"),
    ("bad scheme", httpx.UnsupportedProtocol("ftp", request=REQUEST), PermanentError, "bad-endpoint"),
    ("HTTP 502 html", zx.TransportError("x", status_code=502, content=b"<html>"), RetryableError, "http-error"),
    ("HTTP 503 empty", zx.TransportError("x", status_code=503), RetryableError, "http-error"),
    ("HTTP 500 no fault", zx.TransportError("x", status_code=500, content=b"oops"), RetryableError, "http-error"),
    ("HTTP 429", zx.TransportError("x", status_code=429), RetryableError, "http-error"),
    ("HTTP 408", zx.TransportError("x", status_code=408), RetryableError, "http-error"),
    ("HTTP 401", zx.TransportError("x", status_code=401), NotAuthorised, "http-error"),
    ("HTTP 403", zx.TransportError("x", status_code=403), NotAuthorised, "http-error"),
    ("HTTP 400", zx.TransportError("x", status_code=400), InvalidRequest, "http-error"),
    ("HTTP 404", zx.TransportError("x", status_code=404), PermanentError, "http-error"),
    ("HTTP 302", zx.TransportError("x", status_code=302), PermanentError, "http-error"),
    ("HTTP 200 not XML", zx.TransportError("x", status_code=200, content=b"<a"), UnsafeResponse, "malformed"),
    ("not an envelope", zx.XMLSyntaxError("root is html"), UnsafeResponse, "malformed"),
    ("outside the schema", zx.XMLParseError("Unexpected element"), UnsafeResponse, "outside-schema"),
    ("zeep DTD", zx.DTDForbidden("x", None, None), UnsafeResponse, "dtd"),
    ("zeep entities", zx.EntitiesForbidden("lol", "lol"), UnsafeResponse, "entities"),
    ("zeep external", zx.ExternalReferenceForbidden("http://evil.test/x.xsd"), UnsafeResponse, "external-reference"),
    ("transport: DTD", HostileMarkup("dtd"), UnsafeResponse, "dtd"),
    ("transport: entities", HostileMarkup("entities"), UnsafeResponse, "entities"),
    ("transport: oversized", ResponseTooLarge(), UnsafeResponse, "oversized"),
    ("request not renderable", zx.ValidationError("Missing element"), InvalidRequest, "request-not-renderable"),
    ("Client fault", fault("SOAP-ENV:Client", "Dữ liệu không hợp lệ"), InvalidRequest, "soap-fault"),
    ("Client subcode", fault("soap:Client.Validation", "x"), InvalidRequest, "soap-fault"),
    ("Server fault", fault("SOAP-ENV:Server", "Lỗi hệ thống"), RetryableError, "soap-fault"),
    ("VersionMismatch", fault("SOAP-ENV:VersionMismatch", "1.1 only"), PermanentError, "soap-fault"),
    ("busy code", fault("SOAP-ENV:Server", "x", "99"), RetryableError, "busy"),
    ("busy code on a Client fault", fault("SOAP-ENV:Client", "x", "99"), RetryableError, "busy"),
    ("busy by message", fault("SOAP-ENV:Client", "Hệ thống đang bận, vui lòng thử lại sau"), RetryableError, "busy"),
    ("busy in detail text", fault("SOAP-ENV:Client", "x", "57", "Quá tải"), RetryableError, "busy"),
    ("not authorised code", fault("SOAP-ENV:Client", "x", "02"), NotAuthorised, "soap-fault"),
    ("not authorised by message", fault("SOAP-ENV:Server", "Không có quyền truy cập"), NotAuthorised, "soap-fault"),
    ("invalid code on a Server fault", fault("SOAP-ENV:Server", "x", "1"), InvalidRequest, "soap-fault"),
    ("not found code", fault("SOAP-ENV:Client", "x", "03"), CitizenNotFound, "no-such-citizen"),
    (
        "not found by message",
        fault("SOAP-ENV:Client", "Không tìm thấy thông tin công dân"),
        CitizenNotFound,
        "no-such-citizen",
    ),
    ("unknown faultcode", fault("ns9:Weird", "?"), PermanentError, "soap-fault"),
    ("500 without a Fault (zeep)", zx.Fault("Unknown fault occured", code=None), RetryableError, "http-error"),
    ("anything else", RuntimeError("boom"), PermanentError, "unexpected-RuntimeError"),
]


@pytest.mark.parametrize(("exc", "expected", "reason"), [t[1:] for t in TABLE], ids=[t[0] for t in TABLE])
def test_classify(exc: BaseException, expected: type[PopulationDbError], reason: str) -> None:
    error = classify(OP, exc)
    assert type(error) is expected
    assert error.reason == reason
    assert str(error).startswith(f"{OP}: ")


def test_retryable_and_breaker_flags() -> None:
    assert (RetryableError.retryable, RetryableError.breaker_failure) == (True, True)
    assert (InvalidRequest.retryable, InvalidRequest.breaker_failure) == (False, False)
    assert (NotAuthorised.retryable, NotAuthorised.breaker_failure) == (False, False)
    assert (UnsafeResponse.retryable, UnsafeResponse.breaker_failure) == (False, True)
    assert (CitizenNotFound.retryable, CitizenNotFound.breaker_failure) == (False, False)
    assert issubclass(UnsafeResponse, PermanentError) and issubclass(NotAuthorised, PermanentError)
    assert not issubclass(CitizenNotFound, PermanentError | RetryableError)


def test_fault_facts_are_kept_but_never_the_partners_text() -> None:
    leaky = fault(
        "SOAP-ENV:Client",
        f"SoDinhDanh {AN_ID} của {AN_NAME} không khớp HoVaTen",
        "01",
        f"Công dân {AN_NAME} ({AN_ID}) sai NgayThangNamSinh",
    )
    error = classify(OP, leaky)
    assert isinstance(error, InvalidRequest)
    assert (error.fault_code, error.error_code) == ("Client", "01")
    assert error.fields == ("SoDinhDanh", "HoVaTen", "NgayThangNamSinh")
    assert str(error) == (
        "TraCuuThongTinCongDan: invalid request (soap-fault); faultcode Client; MaLoi 01; "
        "fields SoDinhDanh, HoVaTen, NgayThangNamSinh"
    )
    for shown in (str(error), repr(error), *map(str, error.args)):
        assert AN_ID not in shown and AN_NAME not in shown


def test_transport_error_content_is_not_kept() -> None:
    error = classify(OP, zx.TransportError("boom", status_code=200, content=f"<a>{AN_ID}".encode()))
    assert AN_ID not in str(error) and error.http_status == 200


def test_codes_are_configurable() -> None:
    codes = Codes.of(invalid=["E1"], not_authorised=["E2"], not_found=["404"], busy=["503", "E9"])
    assert isinstance(classify(OP, fault("SOAP-ENV:Client", "x", "E9"), codes), RetryableError)
    assert isinstance(classify(OP, fault("SOAP-ENV:Client", "x", "0503"), codes), RetryableError)
    assert isinstance(classify(OP, fault("SOAP-ENV:Server", "x", "E2"), codes), NotAuthorised)
    assert isinstance(classify(OP, fault("SOAP-ENV:Client", "x", "404"), codes), CitizenNotFound)
    assert isinstance(classify(OP, fault("SOAP-ENV:Server", "x", "99"), codes), RetryableError)  # by faultcode now
    assert isinstance(classify(OP, fault("SOAP-ENV:Client", "x", "99"), codes), InvalidRequest)


@pytest.mark.parametrize(("raw", "expected"), [("01", "1"), (" 99 ", "99"), (2, "2"), ("E9", "E9"), ("", None),
                                               (None, None), (True, None)])  # fmt: skip
def test_normalise_code(raw: object, expected: str | None) -> None:
    assert normalise_code(raw) == expected


def test_an_already_classified_error_passes_through() -> None:
    original = RetryableError(OP, "busy")
    assert classify(OP, original) is original
