"""The error class of a failure (hub/console/failures.py): what names the cause is kept, what
varies per message is not."""

from __future__ import annotations

import pytest

from hub.console.failures import classify


@pytest.mark.parametrize(
    ("detail", "operation", "http", "code", "message"),
    [
        (
            "DongBoHoSoMC: error_code 1: Thiếu trường MaTTHC",
            "DongBoHoSoMC",
            None,
            "error_code 1",
            "Thiếu trường MaTTHC",
        ),
        ("DongBoHoSoMC (insert): HTTP 503", "DongBoHoSoMC", 503, None, ""),
        (
            "CapNhatTienDoHoSoMC: HTTP 400: error_code 7: Sai định dạng",
            "CapNhatTienDoHoSoMC",
            400,
            "error_code 7",
            "Sai định dạng",
        ),
        ("timeout", None, None, None, "timeout"),
        ("connection error: ConnectError", None, None, None, "connection error: ConnectError"),
        ("HTTP 410", None, 410, None, ""),
        ("MaLoi: 03 - Không có quyền", None, None, "MaLoi 03", "Không có quyền"),
        (None, None, None, None, "unknown"),
    ],
)
def test_the_parts_of_a_detail(
    detail: str | None, operation: str | None, http: int | None, code: str | None, message: str
) -> None:
    e = classify(detail)
    assert (e.operation, e.http_status, e.code, e.message) == (operation, http, code, message)


def test_what_varies_per_message_does_not_split_a_class() -> None:
    a = classify("DongBoHoSoMC: error_code -3: Hồ sơ 000.00.00.H56-251122-0001 đã tồn tại")
    b = classify("DongBoHoSoMC: error_code -3: Hồ sơ 000.00.00.H57-250101-12345 đã tồn tại")
    c = classify("DongBoHoSoMC: error_code 2: Số giấy tờ *********234 không hợp lệ (lần 3)")
    d = classify("DongBoHoSoMC: error_code 2: Số giấy tờ *********981 không hợp lệ (lần 12)")
    assert a.id == b.id and a.message == "Hồ sơ <dossier> đã tồn tại"
    assert c.id == d.id and "<masked>" in c.message


def test_a_spent_retry_budget_is_the_same_cause_marked_exhausted() -> None:
    retrying = classify("DongBoHoSoMC: HTTP 503")
    dead = classify("retry budget spent after 12 attempts: DongBoHoSoMC: HTTP 503")
    old = classify("too old to retry after 40 attempts: DongBoHoSoMC: HTTP 503")
    assert retrying.id == dead.id == old.id
    assert (retrying.exhausted, dead.exhausted, old.exhausted) == (False, True, True)


def test_different_causes_are_different_classes() -> None:
    ids = {
        classify(d).id
        for d in (
            "DongBoHoSoMC: error_code 1: Thiếu trường MaTTHC",
            "DongBoHoSoMC: error_code 1: Thiếu trường NgayHenTra",
            "DongBoHoSoMC: error_code 2: Thiếu trường MaTTHC",
            "CapNhatTienDoHoSoMC: error_code 1: Thiếu trường MaTTHC",
            "DongBoHoSoMC: HTTP 503",
            "DongBoHoSoMC: HTTP 502",
        )
    }
    assert len(ids) == 6


def test_a_superseded_attempt_keeps_its_class() -> None:
    plain = classify("DongBoHoSoMC: HTTP 503")
    assert classify("DongBoHoSoMC: HTTP 503 (superseded: taken over by another worker)").id == plain.id


def test_the_label_is_readable_and_bounded() -> None:
    assert (
        classify("DongBoHoSoMC: HTTP 500: error_code 1: Thiếu").label == "DongBoHoSoMC: HTTP 500: error_code 1: Thiếu"
    )
    assert len(classify("x" * 5000).message) <= 120
