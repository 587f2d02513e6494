"""What each variant sends (pure: no I/O). The answers of all of them are read by ``answers.py``.

A request starts as the ordered SOAP fields of ``translate.to_soap_request`` (every text NFC); each
variant sends some of them (:data:`SENT`) in its own shape. The limits are checked on exactly what a
variant sends (``limits.violation``), before anything leaves.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .config import PopulationDbSettings

_SOAP_FIELDS = (
    "MaYeuCau",
    "MaDVC",
    "MaTichHop",
    "MaDonVi",
    "MaCanBo",
    "SoDinhDanh",
    "SoCMND",
    "HoVaTen",
    "NgayThangNamSinh",
)
# Fields each variant carries [C]; the LGSP adds the rest (MaDonVi, and for DT MaTichHop) [I].
SENT: dict[str, tuple[str, ...]] = {
    "soap": _SOAP_FIELDS,
    "lgsp_hagiang": _SOAP_FIELDS,
    "lgsp_dongthap": ("MaYeuCau", "MaDVC", "MaCanBo", "SoDinhDanh", "SoCMND", "HoVaTen", "NgayThangNamSinh"),
    "lgsp_thanhhoa": (
        "MaYeuCau",
        "MaDVC",
        "MaTichHop",
        "MaCanBo",
        "SoDinhDanh",
        "SoCMND",
        "HoVaTen",
        "NgayThangNamSinh",
    ),
}
# lgsp_thanhhoa keys in the order THH declares them [C]; camelCase is what its .NET client writes.
THANHHOA_KEYS = ("HoVaTen", "SoDinhDanh", "SoCMND", "NgayThangNam", "Nam", "MaTichHop", "MaDVC", "MaCanBo", "MaYeuCau")
DONGTHAP_KEYS = ("maYeuCau", "maDVC", "maCanBo", "soDinhDanh", "soCMND", "hoVaTen", "ngayThangNam", "userNameService")


def flat(request: Mapping[str, Any]) -> dict[str, str | None]:
    """The SOAP request fields as one level: ``NgayThangNamSinh`` becomes ``NgayThangNam`` / ``Nam``."""
    birth = request.get("NgayThangNamSinh") or {}
    fields = {k: v for k, v in request.items() if k != "NgayThangNamSinh"}
    return {**fields, "NgayThangNam": birth.get("NgayThangNam"), "Nam": birth.get("Nam")}


def required(variant: str) -> tuple[str, ...]:
    """What a variant must send non-empty (one of the two ID numbers is checked on its own)."""
    return tuple(f for f in SENT[variant] if f not in ("SoDinhDanh", "SoCMND"))


def sent_fields(variant: str, fields: Mapping[str, str | None]) -> dict[str, str | None]:
    """The flat fields a variant sends (for the limits check)."""
    keep = set(SENT[variant]) | {"NgayThangNam", "Nam"}
    return {k: v for k, v in fields.items() if k in keep}


def _camel(name: str) -> str:
    """.NET's JsonNamingPolicy.CamelCase for these names: the first letter lowered (SoCMND -> soCMND)."""
    return name[:1].lower() + name[1:]


def thanhhoa_body(fields: Mapping[str, str | None], settings: PopulationDbSettings) -> dict[str, str | None]:
    """``{HoVaTen, SoDinhDanh, SoCMND, NgayThangNam, Nam, MaTichHop, MaDVC, MaCanBo, MaYeuCau}`` [C THH];
    every key present, ``null`` when not given (as a .NET client writes an unset property)."""
    body = {name: fields.get(name) for name in THANHHOA_KEYS}
    return {_camel(k): v for k, v in body.items()} if settings.json_keys == "camel" else body


def dongthap_body(fields: Mapping[str, str | None], settings: PopulationDbSettings) -> dict[str, str]:
    """``{maYeuCau, maDVC, maCanBo, soDinhDanh, soCMND, hoVaTen, ngayThangNam, userNameService}`` [C OCPS]:
    an absent ID number is sent as ``""``; ``ngayThangNam`` carries the date, or the year alone [I]."""
    return {
        "maYeuCau": fields.get("MaYeuCau") or "",
        "maDVC": fields.get("MaDVC") or "",
        "maCanBo": fields.get("MaCanBo") or "",
        "soDinhDanh": fields.get("SoDinhDanh") or "",
        "soCMND": fields.get("SoCMND") or "",
        "hoVaTen": fields.get("HoVaTen") or "",
        "ngayThangNam": fields.get("NgayThangNam") or fields.get("Nam") or "",
        "userNameService": settings.service_username,
    }


def hagiang_body(envelope: str, bearer: str, settings: PopulationDbSettings) -> dict[str, str]:
    """``{accessToken: "Bearer <token>", lgspAccessToken, AuthHash, data: "<soapenv:Envelope...>"}`` [C OCPS]."""
    return {
        "accessToken": bearer,
        "lgspAccessToken": settings.lgsp_access_token(),
        "AuthHash": settings.auth_hash(),
        "data": envelope,
    }


def json_bytes(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


__all__ = ["DONGTHAP_KEYS", "SENT", "THANHHOA_KEYS", "dongthap_body", "flat", "hagiang_body", "thanhhoa_body"]
