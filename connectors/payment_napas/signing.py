"""Signatures of both profiles, as pure functions over text (UTF-8), and the constant-time compare.

- PayGov ``MaXacThuc`` [C THH ``DvcPaymentService.CreateMaXacThuc``]: lowercase hex SHA-256 (a plain
  hash, not HMAC) of the fields joined by ``|`` with the shared secret appended as the last field.
- NAPAS notification ``checksum`` [C himlam ``NapasPayV3Security.checksumSha256``]: lowercase hex
  SHA-256 of ``data + clientSecret`` (the base64 text exactly as received, then the secret). The
  shared design notes mark the concatenation [I]; the cited source shows ``(data + key)``. The
  HMAC-SHA256 variant is kept for intermediaries that use it [I] (``HUB_NAPAS_CHECKSUM_SCHEME``).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from typing import Any

# Field orders of MaXacThuc; the secret follows the last field.
PAYGOV_INIT_FIELDS = (
    "LoaiBanTin",
    "PhienBan",
    "MaDoiTac",
    "MaThamChieu",
    "SoTien",
    "LoaiHinhThanhToan",
    "MaKenhThanhToan",
    "MaThietBi",
    "NgonNgu",
    "MaTienTe",
    "MaNganHang",
    "ThongTinGiaoDich",
    "ThoiGianGD",
    "Ip",
)  # [C]
PAYGOV_QUERY_FIELDS = ("LoaiBanTin", "PhienBan", "MaDoiTac", "MaThamChieu", "ThoiGianGD")  # [C]
PAYGOV_CONFIRM_FIELDS = (
    "LoaiBanTin",
    "MaLoi",
    "MaDoiTac",
    "MaThamChieu",
    "SoTien",
    "MaTienTe",
    "MaGiaoDich",
    "MaNganHang",
    "ThoiGianGD",
    "ThongTinGiaoDich",
)  # [C] callback (IPN); [I] also the QUERY answer, which has the confirm's shape
PAYGOV_REPLY_FIELDS = ("MaLoi", "MaDoiTac", "ThoiGianGD")  # [I] the hub's reply to a callback


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def paygov_mac(values: Sequence[str], secret: str) -> str:
    """``MaXacThuc`` = sha256_hex("v1|v2|...|vn|secret")."""
    return sha256_hex("|".join([*values, secret]))


def paygov_sign(message: Mapping[str, Any], fields: Sequence[str], secret: str) -> str:
    """``MaXacThuc`` of a message over ``fields`` in order; an absent field counts as ""."""
    return paygov_mac([_text(message.get(name)) for name in fields], secret)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def napas_checksum_sha256(data: str, secret: str) -> str:
    """[C] hex SHA-256 of ``data + secret``."""
    return sha256_hex(data + secret)


def napas_checksum_hmac(data: str, secret: str) -> str:
    """[I] hex HMAC-SHA256 keyed with the secret, over ``data``."""
    return hmac.new(secret.encode("utf-8"), data.encode("utf-8"), hashlib.sha256).hexdigest()


NAPAS_CHECKSUMS: dict[str, Callable[[str, str], str]] = {
    "sha256": napas_checksum_sha256,
    "hmac-sha256": napas_checksum_hmac,
}


def same_digest(expected: str, received: Any) -> bool:
    """Constant-time comparison of two hex digests, case-insensitive (NAPAS compares ignoring case)."""
    if not isinstance(received, str):
        return False
    return hmac.compare_digest(expected.lower().encode("utf-8"), received.strip().lower().encode("utf-8"))
