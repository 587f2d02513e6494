"""The classification table: every kind of portal answer -> one verdict."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from connectors.national_portal.errors import Codes, PortalError, classify
from hub.partners import Verdict, normalise_code
from hub.privacy import scrub

D, R, P = Verdict.OK, Verdict.RETRYABLE, Verdict.PERMANENT
S, E, N = Verdict.AUTH, Verdict.ALREADY, Verdict.NOT_FOUND
REQUEST = httpx.Request("POST", "http://portal.test/integration")

TABLE: list[tuple[str, int | None, dict[str, Any] | None, Exception | None, Verdict]] = [
    ("int zero", 200, {"error_code": 0, "message": "ok"}, None, D),
    ("string zero", 200, {"error_code": "0", "message": "Đồng bộ thành công"}, None, D),
    ("double zero", 200, {"error_code": "00"}, None, D),
    ("padded zero", 200, {"error_code": " 0 "}, None, D),
    ("read timeout", None, None, httpx.ReadTimeout("slow", request=REQUEST), R),
    ("connect error", None, None, httpx.ConnectError("refused", request=REQUEST), R),
    ("unreadable answer", None, None, ValueError("not JSON"), R),
    ("500", 500, {"error_code": "99", "message": "Lỗi hệ thống"}, None, R),
    ("502 without body", 502, None, None, R),
    ("503", 503, None, None, R),
    ("429", 429, None, None, R),
    ("408", 408, None, None, R),
    ("redirect", 302, None, None, R),
    ("200 without error_code", 200, {"message": "?"}, None, R),
    ("200 not JSON", 200, None, None, R),
    ("401", 401, None, None, S),
    ("400", 400, None, None, P),
    ("404", 404, {"detail": "Not Found"}, None, P),
    ("422 with success code", 422, {"error_code": 0}, None, P),
    ("session code", 200, {"error_code": "-2", "message": "Phiên đăng nhập hết hạn"}, None, S),
    ("session code as int", 200, {"error_code": -2}, None, S),
    ("session by message", 200, {"error_code": "99", "message": "Phiên đăng nhập không hợp lệ"}, None, S),
    ("session in English", 200, {"error_code": 7, "message": "Session expired"}, None, S),
    ("exists code 3", 200, {"error_code": "3", "message": "Hồ sơ X đã tồn tại"}, None, E),
    ("exists code -3", 200, {"error_code": -3}, None, E),
    ("exists by message", 200, {"error_code": "12", "message": "Mã hồ sơ đã tồn tại trên hệ thống"}, None, E),
    ("not found code", 200, {"error_code": "4", "message": "Hồ sơ X không tồn tại"}, None, N),
    ("not found by message", 200, {"error_code": "17", "message": "Hồ sơ không tồn tại"}, None, N),
    ("validation", 200, {"error_code": "1", "message": "data[0].MaTTHC: bắt buộc"}, None, P),
    ("unknown procedure", 200, {"error_code": "9", "message": "Thủ tục không tồn tại"}, None, P),
    ("unknown code", 200, {"error_code": "57", "message": "?"}, None, P),
    ("non-numeric code", 200, {"error_code": "E_BUSY"}, None, P),
]


@pytest.mark.parametrize(("status", "body", "exc", "expected"), [t[1:] for t in TABLE], ids=[t[0] for t in TABLE])
def test_classify(status: int | None, body: dict[str, Any] | None, exc: Exception | None, expected: Verdict) -> None:
    assert classify(status, body, exc).verdict is expected


def test_unknown_codes_can_be_configured_retryable() -> None:
    codes = Codes.of(session_expired=["-2"], already_exists=["3"], not_found=["4"], retryable=["57", "E_BUSY"])
    assert classify(200, {"error_code": 57}, None, codes).verdict is R
    assert classify(200, {"error_code": "E_BUSY"}, None, codes).verdict is R
    assert classify(200, {"error_code": "58"}, None, codes).verdict is P


def test_session_code_is_configurable() -> None:
    codes = Codes.of(session_expired=["-99"], already_exists=["3"], not_found=["4"], retryable=[])
    assert classify(200, {"error_code": "-99", "message": "?"}, None, codes).verdict is S
    assert classify(200, {"error_code": "-2", "message": "?"}, None, codes).verdict is P


@pytest.mark.parametrize(
    ("raw", "expected"), [(0, "0"), ("00", "0"), ("-03", "-3"), (" 3 ", "3"), ("E1", "E1"), (None, None), (True, None)]
)
def test_normalise_code(raw: Any, expected: str | None) -> None:
    assert normalise_code(raw) == expected


def test_classified_keeps_code_and_scrubbed_message() -> None:
    c = classify(200, {"error_code": "1", "message": "SoGiayToChuHoSo 038099012345 không hợp lệ"}, None)
    assert (c.code, c.verdict) == ("1", P)
    assert "038099012345" not in c.message and c.message.endswith("*********345 không hợp lệ")
    assert "error_code 1" in PortalError("DongBoHoSoMC", c).classified.describe()


def test_scrub_keeps_dates_and_dossier_codes_and_shortens() -> None:
    assert scrub("000.00.00.H56-250225-0001 lúc 20250225083000") == "000.00.00.H56-250225-0001 lúc 20250225083000"
    assert scrub("gọi 0912345678") == "gọi *******678"
    assert len(scrub("x" * 1000)) == 200
