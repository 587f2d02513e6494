"""Pure helpers shared by the profiles: gateway times, amounts, JSON objects, freshness."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from hub import jsonbody
from hub.canonical import VN_TZ
from hub.payments.port import CallbackRejected

PAYGOV_TIME = "%Y%m%d%H%M%S"  # [C] yyyyMMddHHmmss, Asia/Ho_Chi_Minh (THH's "hh" is a 12-hour bug)


def nfc(text: str) -> str:
    """Unicode NFC: PayGov signs bytes, so text goes out in one normal form."""
    return unicodedata.normalize("NFC", text)


def utcnow() -> datetime:
    return datetime.now(tz=UTC)


def paygov_time(at: datetime) -> str:
    """``ThoiGianGD``: yyyyMMddHHmmss in Vietnam time."""
    return at.astimezone(VN_TZ).strftime(PAYGOV_TIME)


def parse_paygov_time(text: Any) -> datetime:
    """yyyyMMddHHmmss read as Vietnam time; ValueError if it is not exactly that."""
    if not isinstance(text, str) or len(text) != 14 or not text.isdigit():
        raise ValueError("time: yyyyMMddHHmmss expected")
    return datetime.strptime(text, PAYGOV_TIME).replace(tzinfo=VN_TZ)


def napas_time(at: datetime) -> str:
    """[I] ``timeOfRecord``: ISO 8601 in UTC with milliseconds and Z (the MPGS form NAPAS v3 follows)."""
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_napas_time(text: Any) -> datetime:
    """ISO 8601; a time without an offset is read as UTC [I]."""
    if not isinstance(text, str) or not text:
        raise ValueError("time: ISO 8601 expected")
    at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def parse_amount(value: Any) -> int:
    """An amount in VND: an integer, or a decimal string/number with no fraction ("150000", "150000.00")."""
    if isinstance(value, bool) or value is None:
        raise ValueError("amount: missing")
    if isinstance(value, int):
        number = Decimal(value)
    else:
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation as exc:
            raise ValueError("amount: not a number") from exc
    if not number.is_finite() or number.adjusted() > 15:  # 10^16 VND and more: not an amount (nor worth computing)
        raise ValueError("amount: out of range")
    if number != number.to_integral_value() or number < 0:
        raise ValueError("amount: a whole, non-negative number of VND expected")
    return int(number)


def json_object(raw: bytes | str, *, normalise: bool = True) -> dict[str, Any]:
    """A JSON object or ValueError (also for invalid UTF-8, non-object JSON, nesting too deep, and
    strings that are not text, e.g. a lone surrogate: ``hub.jsonbody``, before any signature check).
    ``normalise=False`` keeps the text as sent: a signature is checked over what the gateway signed,
    and only then is the text made NFC (``hub.jsonbody.nfc``)."""
    value = jsonbody.parse(raw, normalise=normalise)
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def check_fresh(occurred_at: datetime, now: datetime, max_age: float, max_skew: float) -> None:
    """Refuse a callback older than ``max_age`` seconds, or more than ``max_skew`` in the future."""
    age = now - occurred_at
    if age > timedelta(seconds=max_age):
        raise CallbackRejected("stale", f"{int(age.total_seconds())} s old, at most {int(max_age)} s accepted")
    if -age > timedelta(seconds=max_skew):
        raise CallbackRejected("stale", "time is in the future")
