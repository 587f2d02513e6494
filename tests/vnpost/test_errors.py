"""One classify function, per variant: every kind of answer to its verdict."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from connectors.vnpost.errors import Codes, classify, normalise_code, scrub
from hub.partners import Verdict

V = Verdict
CODES = Codes.of(("100",), ("101",), ("105",))


@pytest.mark.parametrize(
    ("variant", "status", "body", "expect", "verdict"),
    [
        ("lgsp", 200, {"Status": "100", "Message": "ok"}, "result", V.OK),
        ("lgsp", 200, {"Status": 100}, "result", V.OK),
        ("direct", 200, {"Status": "101", "Message": "đã tồn tại"}, "result", V.ALREADY),
        ("lgsp", 200, {"Status": "102", "Message": "invalid"}, "result", V.PERMANENT),
        ("lgsp", 200, {"Status": "105"}, "result", V.RETRYABLE),  # configured retryable
        ("lgsp", 200, {"Message": "no status"}, "result", V.RETRYABLE),
        ("lgsp", 200, None, "result", V.RETRYABLE),  # unreadable
        ("lgsp", 200, [1, 2], "result", V.RETRYABLE),
        ("direct", 401, {"fault": {"code": 900901, "message": "Invalid Credentials"}}, "result", V.AUTH),
        ("lgsp", 403, {"Status": "403"}, "result", V.RETRYABLE),
        ("lgsp", 429, None, "result", V.RETRYABLE),
        ("lgsp", 408, None, "result", V.RETRYABLE),
        ("lgsp", 502, None, "result", V.RETRYABLE),
        ("lgsp", 503, {"Status": "100"}, "result", V.RETRYABLE),
        ("lgsp", 302, None, "result", V.RETRYABLE),
        ("lgsp", 400, {"Status": "102"}, "result", V.PERMANENT),
        ("lgsp", 400, {"Status": "100"}, "result", V.PERMANENT),  # a 4xx is never a success
        ("lgsp", 404, None, "result", V.PERMANENT),
        ("lgsp", 409, {"Status": "101"}, "result", V.ALREADY),
        ("myvnpost", 200, {"IsSuccess": True, "Code": "100"}, "result", V.OK),
        ("myvnpost", 200, {"IsSuccess": True}, "result", V.OK),
        ("myvnpost", 200, {"IsSuccess": False, "Code": "101"}, "result", V.ALREADY),
        ("myvnpost", 200, {"IsSuccess": False, "Code": "102"}, "result", V.PERMANENT),
        ("myvnpost", 200, {"IsSuccess": False, "Code": "105"}, "result", V.RETRYABLE),
        ("myvnpost", 200, {"IsSuccess": "true", "Code": "100"}, "result", V.OK),  # not a bool: read Code
        ("direct", 200, {"_embedded": {"rh:doc": []}}, "feed", V.OK),
        ("lgsp", 200, {"Status": "102", "Message": "bad lastId"}, "feed", V.PERMANENT),
        ("direct", 200, {"access_token": "t", "token_type": "Bearer"}, "token", V.OK),
        ("direct", 200, {"token_type": "Bearer"}, "token", V.RETRYABLE),
        ("direct", 401, {"error": "invalid_client"}, "token", V.RETRYABLE),
        ("direct", 400, {"error": "unsupported_grant_type"}, "token", V.RETRYABLE),
        ("myvnpost", 200, {"IsSuccess": True, "Token": "h"}, "token", V.OK),
        ("myvnpost", 200, {"IsSuccess": False, "Token": None, "Message": "Sai mật khẩu"}, "token", V.RETRYABLE),
    ],
)
def test_classify(variant: str, status: int, body: Any, expect: Any, verdict: Verdict) -> None:
    assert classify(variant, status, body, None, CODES, expect).verdict is verdict


def test_no_answer_is_retryable_and_names_the_error() -> None:
    c = classify("lgsp", None, None, httpx.ReadTimeout("timed out"))
    assert c.verdict is V.RETRYABLE and c.message == "ReadTimeout"


def test_messages_are_scrubbed() -> None:
    c = classify("lgsp", 200, {"Status": "102", "Message": "SĐT 0912 345 678 của ngoc@example.vn sai"}, None, CODES)
    assert "0912 345 678" not in c.message and "ngoc@example.vn" not in c.message and "678" in c.message
    assert "000.00.00.H56-251122-0001" in scrub("Đơn hàng 000.00.00.H56-251122-0001 đã tồn tại")
    assert len(scrub("x" * 1000)) == 200


@pytest.mark.parametrize(("raw", "code"), [(100, "100"), (" 101 ", "101"), ("0101", "101"), (True, None), ([], None)])
def test_codes_are_normalised(raw: Any, code: str | None) -> None:
    assert normalise_code(raw) == code
