"""Structured logging (structlog) with personal data masked before anything is written."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

# Keys whose values are personal data, in the canonical model and partners' formats.
PERSONAL_KEYS = {
    "id_number", "name", "address", "phone", "email", "applicant",
    "ChuHoSo", "SoGiayToChuHoSo", "SoDienThoai", "Email", "HoVaTen", "SoDinhDanh", "SoCMND", "DiaChi",
    # citizen records (connectors/population_db) and their partner elements
    "full_name", "old_id_number", "name_parts", "birth_date", "birth_year", "citizen", "record",
    "permanent_address", "current_address", "place_of_origin", "birth_registration_place",
    "father", "mother", "spouse", "representative", "household_head",
    "NgayThangNamSinh", "NgayThangNam", "ThuongTru", "NoiOHienTai", "QueQuan", "NoiDangKyKhaiSinh",
    "Cha", "Me", "VoChong", "NguoiDaiDien", "ChuHo",
}  # fmt: skip
# 9-digit (old ID card) and 12-digit (citizen ID) numbers standing alone in free text.
ID_NUMBER = re.compile(r"(?<!\d)(\d{9}|\d{12})(?!\d)")


def mask_text(value: str) -> str:
    return ID_NUMBER.sub(lambda m: "*" * (len(m.group(1)) - 3) + m.group(1)[-3:], value)


def _mask(value: Any) -> Any:
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: ("***" if k in PERSONAL_KEYS else _mask(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask(v) for v in value]
    return value


def mask_personal_data(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for k in list(event):
        event[k] = "***" if k in PERSONAL_KEYS else _mask(event[k])
    return event


def configure(level: str = "INFO", json: bool = False, stream: TextIO | None = None) -> None:
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        mask_personal_data,
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False),
    ]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=stream or sys.stderr),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=level.upper(), stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("pika").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per partner call (population database)
