"""hub.privacy: the one masker every module uses (logs, trace, connectors' messages, mocks)."""

from __future__ import annotations

from hub import privacy


def test_ids_and_names() -> None:
    assert privacy.mask_id("000090000001") == "*********001"
    assert privacy.mask_id(None) is None and privacy.mask_id("") == ""
    assert privacy.mask_name("NGUYEN  VAN AN") == "N***** V** A*"


def test_values_walk_personal_keys_and_free_text() -> None:
    masked = privacy.mask_values({"applicant": {"x": 1}, "note": "CCCD 001234567890", "list": ["123456789"]})
    assert masked == {"applicant": "***", "note": "CCCD *********890", "list": ["******789"]}


def test_scrub_one_line_bounded_numbers_and_contacts() -> None:
    assert privacy.scrub(None) == ""
    assert privacy.scrub("a\n  b 0912345678") == "a b *******678"
    assert privacy.scrub("mã 000.00.00.H56-251122-0001") == "mã 000.00.00.H56-251122-0001"
    text = privacy.scrub("gọi 0912 345 678 hoặc an@example.vn", numbers=privacy.PHONE_LIKE, emails=True)
    assert "345" not in text and "an@example.vn" not in text and text.endswith("***@***")
    assert len(privacy.scrub("x" * 1000)) == privacy.MAX_MESSAGE
