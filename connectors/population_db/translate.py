"""Pure translation: canonical models <-> the population database's SOAP payloads. No I/O here.

Outbound, a :class:`CitizenQuery` becomes the ordered keyword arguments of a zeep operation call
(``to_soap_request``); zeep renders them in the order of the vendored XSD:
``MaYeuCau, MaDVC, MaTichHop, MaDonVi, MaCanBo, SoDinhDanh | SoCMND, HoVaTen, NgayThangNamSinh``.

- A 12-digit ``id_number`` is sent as SoDinhDanh, a 9-digit one as SoCMND (never both) [C].
- Every text field is sent in Unicode NFC (§0); ``HoVaTen`` also has its spaces collapsed, and is
  upper-cased when configured (field clients send upper case [C]).
- ``NgayThangNamSinh`` wraps ``NgayThangNam`` (a full date, ``yyyy-mm-dd`` or ``yyyyMMdd`` as configured)
  or ``Nam`` (a year) [C].

Inbound, answers arrive as plain dicts/lists (``zeep.helpers.serialize_object``) and become
:class:`VerifyResult` / :class:`CitizenRecord`. The cases that break XML<->JSON bridges are handled
here, once: a repeated element that arrives as one object instead of a list, empty elements, nil
elements and whitespace-only text (all ``None``), booleans as ``true/false/1/0``, and birth dates in
``yyyy-mm-dd``, ``yyyyMMdd`` or ``dd/mm/yyyy``, or a year only.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from hub.citizens.port.models import (
    MATCH_FIELDS,
    Address,
    CitizenQuery,
    CitizenRecord,
    HouseholdHead,
    NameParts,
    RelatedPerson,
    VerifyResult,
    clean_text,
)
from hub.citizens.port.text import names_match as names_match

OP_VERIFY = "XacThucThongTinCongDan"  # verify citizen information
OP_LOOKUP = "TraCuuThongTinCongDan"  # look up citizen information
OPERATIONS: tuple[str, ...] = (OP_VERIFY, OP_LOOKUP)
REQUEST_NS = "http://dancuquocgia.bca"
RESPONSE_NS = "http://www.mic.gov.vn/dancu/1.0"


@dataclass(frozen=True)
class WireOptions:
    """The caller fields and formats of one operation, taken from the settings."""

    agency_code: str  # MaDonVi
    service_code: str  # MaDVC, when the query names no purpose
    integration_code: str  # MaTichHop of this operation
    birth_date_format: str = "yyyy-mm-dd"  # or "yyyymmdd"
    uppercase_names: bool = True


# ---------------------------------------------------------------- outbound
def wire_name(full_name: str, uppercase: bool) -> str:
    """HoVaTen as sent: cleaned (NFC, spaces collapsed), upper-cased if asked ("Nguyễn" -> "NGUYỄN")."""
    cleaned = clean_text(full_name)
    return unicodedata.normalize("NFC", cleaned.upper()) if uppercase else cleaned


def wire_birth_date(value: date | int, fmt: str = "yyyy-mm-dd") -> dict[str, str]:
    """NgayThangNamSinh content: ``{"NgayThangNam": "1990-01-15"}`` or ``{"Nam": "1985"}``."""
    if isinstance(value, int):
        return {"Nam": f"{value:04d}"}
    pattern = "%Y%m%d" if fmt == "yyyymmdd" else "%Y-%m-%d"
    return {"NgayThangNam": value.strftime(pattern)}


def to_soap_request(query: CitizenQuery, options: WireOptions) -> dict[str, Any]:
    """Keyword arguments of a ``XacThucThongTinCongDan`` / ``TraCuuThongTinCongDan`` call, in wire order."""
    request: dict[str, Any] = {
        "MaYeuCau": query.request_id,  # request id
        "MaDVC": query.purpose or options.service_code,  # public-service code
        "MaTichHop": options.integration_code,  # integration-service code
        "MaDonVi": options.agency_code,  # calling agency
        "MaCanBo": query.officer_code,  # querying officer
    }
    request["SoCMND" if query.is_old_id_card else "SoDinhDanh"] = query.id_number  # old ID card / ID number
    request["HoVaTen"] = wire_name(query.full_name, options.uppercase_names)  # full name
    request["NgayThangNamSinh"] = wire_birth_date(query.birth_date, options.birth_date_format)  # birth date
    return {k: unicodedata.normalize("NFC", v) if isinstance(v, str) else v for k, v in request.items()}


# ---------------------------------------------------------------- matching (also used by the mock)
# names_match (text.py): case, spacing, NFC/NFD and old/new tone placement do not matter; the letters do.


def birth_date_matches(given: date | int, recorded_date: date | None, recorded_year: int | None) -> bool:
    """A year matches the record's year. A full date matches the record's date; when the record holds
    only a year ([I] old records), a full date matches on its year (the record cannot contradict it)."""
    year = recorded_year if recorded_year is not None else (recorded_date.year if recorded_date else None)
    if isinstance(given, int):
        return year is not None and given == year
    if recorded_date is not None:
        return given == recorded_date
    return year is not None and given.year == year


def split_name(full_name: str) -> NameParts:
    """A Vietnamese full name in its usual parts: family name first, given name last, middle between."""
    words = clean_text(full_name).split(" ")
    if len(words) == 1:
        return NameParts(given=words[0])
    return NameParts(family=words[0], middle=" ".join(words[1:-1]) or None, given=words[-1])


# ---------------------------------------------------------------- inbound helpers
def text(value: Any) -> str | None:
    """Leaf text: ``None`` for missing, nil, empty and whitespace-only; otherwise cleaned."""
    if value is None or isinstance(value, Mapping | list):
        return None
    cleaned = clean_text(str(value))
    return cleaned or None


def as_list(value: Any) -> list[Any]:
    """A repeated element: ``None`` -> ``[]``, one object -> ``[object]``, a list stays a list."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [v for v in value if v is not None]
    return [value]


def as_bool(value: Any) -> bool | None:
    """xs:boolean from any bridge: True/False, "true"/"false", "1"/"0"; anything else -> None."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        return {"true": True, "1": True, "false": False, "0": False}.get(value.strip().lower())
    return None


def parse_birth_date(value: Any) -> date | None:
    """``yyyy-mm-dd``, ``yyyyMMdd``, ``dd/mm/yyyy`` (or a datetime string: its date); else ``None``."""
    raw = text(value)
    if raw is None:
        return None
    candidates = (raw[:10], raw)
    for fmt in ("%Y-%m-%d", "%Y%m%d", "%d/%m/%Y"):
        for candidate in candidates:
            try:
                return datetime.strptime(candidate, fmt).date()
            except ValueError:
                continue
    return None


def parse_year(value: Any) -> int | None:
    raw = text(value)
    return int(raw) if raw is not None and raw.isdigit() and len(raw) == 4 else None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _name(value: Any) -> tuple[str | None, NameParts | None]:
    """HoVaTen as {Ho, ChuDem, Ten} (or, leniently, one string) -> (full name, parts)."""
    if isinstance(value, str):
        return text(value), None
    parts = _mapping(value)
    family, middle, given = text(parts.get("Ho")), text(parts.get("ChuDem")), text(parts.get("Ten"))
    full = " ".join(p for p in (family, middle, given) if p) or None
    if full is None:
        return None, None
    return full, NameParts(family=family, middle=middle, given=given)


def _address(value: Any) -> Address | None:
    a = _mapping(value)
    address = Address(
        province_code=text(a.get("MaTinhThanh")),
        district_code=text(a.get("MaQuanHuyen")),
        ward_code=text(a.get("MaPhuongXa")),
        detail=text(a.get("ChiTiet")),
        country=text(a.get("QuocGia")),
        province_name=text(a.get("TenTinhThanh")),
        district_name=text(a.get("TenQuanHuyen")),
        ward_name=text(a.get("TenPhuongXa")),
    )
    return address if address.model_dump(exclude_none=True) else None


def _person(value: Any) -> RelatedPerson | None:
    p = _mapping(value)
    person = RelatedPerson(
        full_name=_name(p.get("HoVaTen"))[0],
        nationality=text(p.get("QuocTich")),
        id_number=text(p.get("SoDinhDanh")),
        old_id_number=text(p.get("SoCMND")),
    )
    return person if person.model_dump(exclude_none=True) else None


def _household_head(value: Any) -> HouseholdHead | None:
    h = _mapping(value)
    head = HouseholdHead(
        relationship=text(h.get("QuanHe")),
        full_name=_name(h.get("HoVaTen"))[0],
        id_number=text(h.get("SoDinhDanh")),
        old_id_number=text(h.get("SoCMND")),
    )
    return head if head.model_dump(exclude_none=True) else None


def _data_as_of(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    raw = text(value)
    if raw is None:
        return None
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        return None


# ---------------------------------------------------------------- inbound
def to_citizen_record(congdan: Mapping[str, Any], data_as_of: Any = None) -> CitizenRecord:
    """One ``CongDan`` (as a dict) -> :class:`CitizenRecord`."""
    full_name, parts = _name(congdan.get("HoVaTen"))
    birth = _mapping(congdan.get("NgayThangNamSinh"))
    birth_date = parse_birth_date(birth.get("NgayThangNam"))
    birth_year = parse_year(birth.get("Nam")) or (birth_date.year if birth_date else None)
    return CitizenRecord(
        id_number=text(congdan.get("SoDinhDanh")),
        old_id_number=text(congdan.get("SoCMND")),
        full_name=full_name,
        name_parts=parts,
        birth_date=birth_date,
        birth_year=birth_year,
        gender=text(congdan.get("GioiTinh")),
        ethnicity=text(congdan.get("DanToc")),
        religion=text(congdan.get("TonGiao")),
        marital_status=text(congdan.get("TinhTrangHonNhan")),
        blood_type=text(congdan.get("NhomMau")),
        nationality=text(congdan.get("QuocTich")),
        birth_registration_place=_address(congdan.get("NoiDangKyKhaiSinh")),
        place_of_origin=_address(congdan.get("QueQuan")),
        permanent_address=_address(congdan.get("ThuongTru")),
        current_address=_address(congdan.get("NoiOHienTai")),
        father=_person(congdan.get("Cha")),
        mother=_person(congdan.get("Me")),
        spouse=_person(congdan.get("VoChong")),
        representative=_person(congdan.get("NguoiDaiDien")),
        household_head=_household_head(congdan.get("ChuHo")),
        household_book_number=text(congdan.get("SoSoHoKhau")),
        data_as_of=_data_as_of(data_as_of),
    )


def pick_citizen(collection: Mapping[str, Any], id_number: str) -> CitizenRecord | None:
    """The record of ``id_number`` in a ``CongdanCollection`` (as a dict), or ``None`` when there is none.

    The record must carry the asked number (SoDinhDanh or SoCMND). A lone record without any number
    is taken as the answer; a collection of other people's records is not an answer for this one.
    Raises ``ValueError`` when ``SoCongDan`` (the count) disagrees with the records read: something
    was lost on the way, and "no such citizen" must never be the answer to that.
    """
    records = [r for r in as_list(collection.get("CongDan")) if isinstance(r, Mapping)]
    stated = text(collection.get("SoCongDan"))
    if stated is not None and stated.isdigit() and int(stated) != len(as_list(collection.get("CongDan"))):
        raise ValueError("SoCongDan disagrees with the records")
    for record in records:
        if id_number in (text(record.get("SoDinhDanh")), text(record.get("SoCMND"))):
            return to_citizen_record(record, collection.get("ThoiDiemDuLieu"))
    if len(records) == 1 and not (text(records[0].get("SoDinhDanh")) or text(records[0].get("SoCMND"))):
        return to_citizen_record(records[0], collection.get("ThoiDiemDuLieu"))
    return None


def to_verify_result(answer: Any, query: CitizenQuery) -> VerifyResult:
    """``KetQuaXacThucResponse`` (a dict, or the bare ``TonTai`` boolean) -> :class:`VerifyResult`.

    ``TonTai`` [C] is "exists". With the [I] ``ChiTietKhop`` block each given field gets its own flag;
    without it (deployments that answer TonTai only) ``TonTai`` is read as the combined check, so every
    field gets its value. A citizen that does not exist matches nothing.
    Raises ``ValueError`` when the answer has no readable ``TonTai``.
    """
    body = _mapping(answer)
    exists = as_bool(answer) if not body else as_bool(body.get("TonTai"))
    if exists is None:
        raise ValueError("answer without a readable TonTai")
    details = _mapping(body.get("ChiTietKhop"))
    if not exists:
        matches = dict.fromkeys(MATCH_FIELDS, False)
    elif details:
        flags = (details.get("SoDinhDanh"), details.get("HoVaTen"), details.get("NgayThangNamSinh"))
        matches = {field: as_bool(flag) is True for field, flag in zip(MATCH_FIELDS, flags, strict=True)}
    else:
        matches = dict.fromkeys(MATCH_FIELDS, True)
    return VerifyResult(exists=exists, matches=matches, request_id=query.request_id)


def match_flags(
    id_number: str, full_name: str, birth_date: date | int, record: CitizenRecord | None
) -> dict[str, bool]:
    """Which given fields a record matches (the database's side of ``verify``; used by the mock)."""
    if record is None:
        return dict.fromkeys(MATCH_FIELDS, False)
    return {
        "id_number": id_number in (record.id_number, record.old_id_number),
        "full_name": names_match(full_name, record.full_name),
        "birth_date": birth_date_matches(birth_date, record.birth_date, record.birth_year),
    }


def citizen_elements(record: CitizenRecord, plain_names: bool = False) -> Sequence[tuple[str, Any]]:
    """A record as (CongDan child name, value) pairs in the documented order; the mock renders these.

    ``plain_names``: relatives' and ChuHo's ``HoVaTen`` as one string, as THH reads them [C]; unit names
    (``TenTinhThanh``...) are written when the address has them."""

    def name(full: str | None, parts: NameParts | None) -> dict[str, str | None] | str | None:
        if plain_names and parts is None:
            return full
        parts = parts or (split_name(full) if full else None)
        return None if parts is None else {"Ho": parts.family, "ChuDem": parts.middle, "Ten": parts.given}

    def address(a: Address | None) -> dict[str, str | None] | None:
        if a is None:
            return None
        return {
            "MaTinhThanh": a.province_code,
            "MaQuanHuyen": a.district_code,
            "MaPhuongXa": a.ward_code,
            "ChiTiet": a.detail,
            "QuocGia": a.country,
            "TenTinhThanh": a.province_name,
            "TenQuanHuyen": a.district_name,
            "TenPhuongXa": a.ward_name,
        }

    def person(p: RelatedPerson | None) -> dict[str, Any] | None:
        if p is None:
            return None
        return {
            "HoVaTen": name(p.full_name, None),
            "QuocTich": p.nationality,
            "SoDinhDanh": p.id_number,
            "SoCMND": p.old_id_number,
        }

    head = record.household_head
    birth = (
        {"NgayThangNam": record.birth_date.isoformat() if record.birth_date else None, "Nam": str(record.birth_year)}
        if record.birth_year
        else None
    )
    return [
        ("SoDinhDanh", record.id_number),
        ("SoCMND", record.old_id_number),
        ("HoVaTen", name(record.full_name, record.name_parts)),
        ("GioiTinh", record.gender),
        ("DanToc", record.ethnicity),
        ("TonGiao", record.religion),
        ("TinhTrangHonNhan", record.marital_status),
        ("NhomMau", record.blood_type),
        ("NgayThangNamSinh", birth),
        ("NoiDangKyKhaiSinh", address(record.birth_registration_place)),
        ("QueQuan", address(record.place_of_origin)),
        ("ThuongTru", address(record.permanent_address)),
        ("NoiOHienTai", address(record.current_address)),
        ("QuocTich", record.nationality),
        ("Cha", person(record.father)),
        ("Me", person(record.mother)),
        ("VoChong", person(record.spouse)),
        ("NguoiDaiDien", person(record.representative)),
        (
            "ChuHo",
            None
            if head is None
            else {
                "QuanHe": head.relationship,
                "SoDinhDanh": head.id_number,
                "SoCMND": head.old_id_number,
                "HoVaTen": name(head.full_name, None),
            },
        ),
        ("SoSoHoKhau", record.household_book_number),
    ]
