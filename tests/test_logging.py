"""Personal data never reaches the logs in clear."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
import structlog

from hub.logging import configure
from hub.privacy import mask_text


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure("INFO", json=True, stream=stream)
    yield stream
    structlog.reset_defaults()  # later tests log to the real stderr again


def test_log_lines_mask_personal_keys_and_id_numbers(log_stream: io.StringIO) -> None:
    structlog.get_logger("t").info(
        "delivery failed",
        detail="portal said: SoDinhDanh 038090001234 không khớp; CMND 123456789",
        payload={"applicant": {"name": "Nguyễn Văn An", "id_number": "038090001234"}, "status": 2},
        ChuHoSo="Nguyễn Văn An",
        dossier="000.00.00.H56-250225-0001",
    )
    line = log_stream.getvalue()
    assert "038090001234" not in line and "123456789" not in line and "Nguyễn Văn An" not in line
    assert "*********234" in line  # last three digits kept, to correlate
    assert "000.00.00.H56-250225-0001" in line  # dossier codes are not personal data
    assert '"status": 2' in line


def test_mask_text_leaves_longer_numbers_alone() -> None:
    assert mask_text("id 001234567890 x") == "id *********890 x"
    assert mask_text("ref 12345678901234") == "ref 12345678901234"
