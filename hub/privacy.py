"""Personal data, masked in one place: what counts as personal, and how each kind is hidden.

Used by the logs (``hub/logging.py``), the trace and the console (``hub/trace.py``), the evidence
log's retention, the citizens' audit, every connector's error messages (``scrub``) and the mocks'
admin views. No I/O, no state.

- :func:`mask_id`: an ID number keeps its last three digits (``*********001``).
- :func:`mask_name`: a name keeps each word's initial (``N***** V** A*``).
- :func:`mask_text`: free text with every stand-alone 9- or 12-digit number (old ID card, citizen
  ID) masked like an ID number.
- :func:`mask_values`: a structure walked: the values of :data:`PERSONAL_KEYS` become ``***``,
  every string is :func:`mask_text`-ed.
- :func:`scrub`: a partner's message made safe to keep (in an outcome, an exception, the trace):
  whitespace collapsed, ID-like digit runs masked (and, for partners that echo contact data,
  phone numbers and e-mail addresses), shortened to :data:`MAX_MESSAGE` characters.
"""

from __future__ import annotations

import re
from typing import Any

# Keys whose values are personal data, in the canonical model and partners' formats.
PERSONAL_KEYS = frozenset({
    "id_number", "name", "address", "phone", "email", "applicant",
    "ChuHoSo", "SoGiayToChuHoSo", "SoDienThoai", "Email", "HoVaTen", "SoDinhDanh", "SoCMND", "DiaChi",
    # citizen records (the population database) and their partner elements
    "full_name", "old_id_number", "name_parts", "birth_date", "birth_year", "citizen", "record",
    "permanent_address", "current_address", "place_of_origin", "birth_registration_place",
    "father", "mother", "spouse", "representative", "household_head",
    "NgayThangNamSinh", "NgayThangNam", "ThuongTru", "NoiOHienTai", "QueQuan", "NoiDangKyKhaiSinh",
    "Cha", "Me", "VoChong", "NguoiDaiDien", "ChuHo",
})  # fmt: skip
# The top-level fields of a ledger payload that hold personal data (the applicant, the officer, free
# texts): what retention replaces by a digest once a message is final.
PAYLOAD_PERSONAL_FIELDS = frozenset({"applicant", "handler", "summary", "note", "payer", "citizen"})

# 9-digit (old ID card) and 12-digit (citizen ID) numbers standing alone in free text.
ID_NUMBER = re.compile(r"(?<!\d)(\d{9}|\d{12})(?!\d)")
# In partners' messages: citizen IDs, tax codes, phone numbers (not 14-digit timestamps).
ID_LIKE = re.compile(r"(?<!\d)\d{9,13}(?!\d)")
# Phone numbers as partners that echo contact data write them (spaces allowed; not dotted codes).
PHONE_LIKE = re.compile(r"(?<![\d.])\+?\d[\d ]{7,14}\d(?![\d.])")
EMAIL = re.compile(r"[^@\s\"']+@[^@\s\"']+")
MAX_MESSAGE = 200


def _keep_last(match: re.Match[str]) -> str:
    digits = match.group()
    return "*" * (len(digits) - 3) + digits[-3:]


def mask_id(value: str | None) -> str | None:
    """An ID number for logs, traces and audit views: the last three digits kept."""
    if not value:
        return value
    return "*" * max(len(value) - 3, 0) + value[-3:]


def mask_name(value: str | None) -> str | None:
    """A personal name: initials only (NGUYEN VAN AN -> N***** V** A*)."""
    if not value:
        return value
    return " ".join(w[0] + "*" * (len(w) - 1) for w in re.split(r"\s+", value.strip()) if w)


def mask_text(value: str) -> str:
    """Free text with every stand-alone 9- or 12-digit number masked."""
    return ID_NUMBER.sub(_keep_last, value)


def mask_values(value: Any) -> Any:
    """A structure (dicts, lists, strings) with personal data masked: values under
    :data:`PERSONAL_KEYS` become ``***``, strings pass :func:`mask_text`."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: ("***" if k in PERSONAL_KEYS else mask_values(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_values(v) for v in value]
    return value


def scrub(message: Any, *, numbers: re.Pattern[str] = ID_LIKE, emails: bool = False, limit: int = MAX_MESSAGE) -> str:
    """A partner's message, safe to keep: one line, ``numbers`` masked (the last three digits
    kept), e-mail addresses hidden when ``emails``, at most ``limit`` characters."""
    if message is None:
        return ""
    text = numbers.sub(_keep_last, " ".join(str(message).split()))
    if emails:
        text = EMAIL.sub("***@***", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
