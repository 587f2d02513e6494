"""The population database port's models: what the hub passes in and gets back.

Every model holds personal data, so none of them shows it: ``repr()`` masks it, and validation errors
never echo the input (``hide_input_in_errors``). Field names of :class:`CitizenRecord` are the units
the hub grants to a caller (``CitizenRecord.restricted``); nested objects are granted whole.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.citizens.port.text import clean_text as clean_text
from hub.citizens.port.text import name_key as name_key
from hub.codes import AGENCY_CODE_MAX, AGENCY_CODE_PATTERN
from hub.privacy import mask_id

ID_NUMBER_PATTERN = r"^(\d{12}|\d{9})$"  # SoDinhDanh (12 digits) or the old SoCMND (9 digits) [C]
CODE_PATTERN = r"^[A-Za-z0-9._:\-]+$"  # codes we send (MaYeuCau, MaDVC): no spaces, no markup
MIN_YEAR, MAX_YEAR = 1850, 2200  # [I] sanity bounds of a birth year
MATCH_FIELDS: tuple[str, ...] = ("id_number", "full_name", "birth_date")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def new_request_id() -> str:
    """A fresh MaYeuCau (32 hex characters; the field allows 40)."""
    return uuid.uuid4().hex


class _Private(BaseModel):
    """Base: frozen, strict about unknown fields, and never shows its values."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    def __repr_args__(self) -> Iterable[tuple[str | None, Any]]:
        return [(name, "<masked>") for name in type(self).model_fields if getattr(self, name) is not None]


class CitizenQuery(_Private):
    """Who is asked about, by whom, and why. Shared by :class:`VerifyRequest` and :class:`LookupRequest`.

    - ``id_number``: 12-digit personal number (SoDinhDanh), or a 9-digit old ID card (SoCMND) [C].
    - ``full_name``: as the citizen gave it; cleaned (NFC, spaces collapsed) before use.
    - ``birth_date``: a full date, or an ``int`` year when only the year is known [C].
    - ``purpose``: [I] the public-service code (MaDVC, QĐ 362/QĐ-VPCP, up to 20 characters) the query is
      made for; ``None`` uses the configured ``service_code``. The hub records the free-text reason itself.
    - ``officer_code``: the officer's account at the database (MaCanBo, up to 20 characters) [C].
    - ``request_id``: MaYeuCau, unique per call, up to 40 characters [C]; generated when not given.
    - ``unit_code``: MaDonVi, the calling agency's electronic code (QĐ 20/2020) [C]; ``None`` uses the
      connector's configured ``agency_code`` (the hub sets it from the agency's ``population_db`` section).
    """

    id_number: str = Field(pattern=ID_NUMBER_PATTERN)
    full_name: str = Field(min_length=1, max_length=100)
    birth_date: date | int
    purpose: str | None = Field(default=None, min_length=1, max_length=20, pattern=CODE_PATTERN)
    officer_code: str = Field(min_length=1, max_length=20)
    request_id: str = Field(default_factory=new_request_id, min_length=1, max_length=40, pattern=CODE_PATTERN)
    unit_code: str | None = Field(default=None, pattern=AGENCY_CODE_PATTERN, max_length=AGENCY_CODE_MAX)

    @field_validator("id_number", mode="before")
    @classmethod
    def _strip_id(cls, value: Any) -> Any:
        return value.strip() if isinstance(value, str) else value

    @field_validator("full_name", mode="before")
    @classmethod
    def _clean_name(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        if _CONTROL.search(value):
            raise ValueError("full_name contains control characters")
        return clean_text(value)

    @field_validator("officer_code", mode="before")
    @classmethod
    def _clean_officer(cls, value: Any) -> Any:
        if isinstance(value, str) and (_CONTROL.search(value) or any(c.isspace() for c in value.strip())):
            raise ValueError("officer_code must be one word of printable characters")
        return value.strip() if isinstance(value, str) else value

    @field_validator("birth_date")
    @classmethod
    def _sane_birth_date(cls, value: date | int) -> date | int:
        year = value if isinstance(value, int) else value.year
        if isinstance(value, bool) or not MIN_YEAR <= year <= MAX_YEAR:
            raise ValueError(f"birth year must be between {MIN_YEAR} and {MAX_YEAR}")
        return value

    def audit_view(self) -> dict[str, str | None]:
        """What an audit record may keep of this query: codes, and the ID number masked (no name, no birth date)."""
        return {
            "request_id": self.request_id,
            "officer_code": self.officer_code,
            "purpose": self.purpose,
            "id_number": mask_id(self.id_number),
        }

    @property
    def is_old_id_card(self) -> bool:
        """True for a 9-digit SoCMND, sent instead of SoDinhDanh."""
        return len(self.id_number) == 9


class VerifyRequest(CitizenQuery):
    """Input of ``verify`` (XacThucThongTinCongDan)."""


class LookupRequest(CitizenQuery):
    """Input of ``lookup`` (TraCuuThongTinCongDan)."""


class Ignored(BaseModel):
    """What an answer carried that the vendored schema does not list: read past, never kept, counted.

    ``count`` is every ignored element or attribute; ``paths`` their distinct locations below the answer
    element (``CongDan/ThuDienTu``, ``CongDan/ThuongTru/@loai``), names only - never a value."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    count: int = 0
    paths: tuple[str, ...] = ()


class VerifyResult(_Private):
    """All that leaves ``verify``: does the citizen exist, and which of the given fields match.

    ``matches`` has the keys ``id_number``, ``full_name`` and ``birth_date``; ``request_id`` is the
    MaYeuCau that was sent (the audit reference at the database).
    """

    exists: bool
    matches: dict[str, bool]
    request_id: str
    ignored: Ignored = Ignored()

    def __repr_args__(self) -> Iterable[tuple[str | None, Any]]:
        return [("exists", self.exists), ("matches", self.matches), ("request_id", self.request_id)]


class NameParts(_Private):
    """HoVaTen in parts: Ho (family name), ChuDem (middle name), Ten (given name)."""

    family: str | None = None
    middle: str | None = None
    given: str | None = None


class Address(_Private):
    """DiaChi: GSO codes (pre- or post-2025; MaQuanHuyen may be empty after 07/2025), a detail line, and
    the unit names when the answer carries them (``TenTinhThanh``... [C]: THH's reading); the codes are
    the reference, names absent from an answer are resolved locally by whoever displays them."""

    province_code: str | None = None  # MaTinhThanh
    district_code: str | None = None  # MaQuanHuyen
    ward_code: str | None = None  # MaPhuongXa
    detail: str | None = None  # ChiTiet
    country: str | None = None  # QuocGia
    province_name: str | None = None  # TenTinhThanh
    district_name: str | None = None  # TenQuanHuyen
    ward_name: str | None = None  # TenPhuongXa


class RelatedPerson(_Private):
    """Cha (father), Me (mother), VoChong (spouse), NguoiDaiDien (legal representative)."""

    full_name: str | None = None  # HoVaTen
    nationality: str | None = None  # QuocTich
    id_number: str | None = None  # SoDinhDanh
    old_id_number: str | None = None  # SoCMND


class HouseholdHead(_Private):
    """ChuHo: head of the household the citizen is registered in."""

    relationship: str | None = None  # QuanHe (relationship to the head)
    full_name: str | None = None  # HoVaTen
    id_number: str | None = None  # SoDinhDanh
    old_id_number: str | None = None  # SoCMND


class CitizenRecord(_Private):
    """One CongDan of a CongdanCollection. Codes stay codes (GioiTinh, DanToc, TonGiao …): the hub
    resolves names from its own code lists. A field the database left empty is ``None``."""

    id_number: str | None = None  # SoDinhDanh
    old_id_number: str | None = None  # SoCMND
    full_name: str | None = None  # HoVaTen, parts joined
    name_parts: NameParts | None = None  # HoVaTen{Ho, ChuDem, Ten}
    birth_date: date | None = None  # NgayThangNamSinh/NgayThangNam
    birth_year: int | None = None  # NgayThangNamSinh/Nam, or the year of birth_date
    gender: str | None = None  # GioiTinh (code)
    ethnicity: str | None = None  # DanToc (code)
    religion: str | None = None  # TonGiao (code)
    marital_status: str | None = None  # TinhTrangHonNhan (code)
    blood_type: str | None = None  # NhomMau (code)
    nationality: str | None = None  # QuocTich (code)
    birth_registration_place: Address | None = None  # NoiDangKyKhaiSinh
    place_of_origin: Address | None = None  # QueQuan
    permanent_address: Address | None = None  # ThuongTru
    current_address: Address | None = None  # NoiOHienTai
    father: RelatedPerson | None = None  # Cha
    mother: RelatedPerson | None = None  # Me
    spouse: RelatedPerson | None = None  # VoChong
    representative: RelatedPerson | None = None  # NguoiDaiDien
    household_head: HouseholdHead | None = None  # ChuHo
    household_book_number: str | None = None  # SoSoHoKhau
    data_as_of: datetime | None = None  # CongdanCollection@ThoiDiemDuLieu
    ignored: Ignored = Ignored()  # not a record field: never granted

    def restricted(self, allowed: Iterable[str]) -> dict[str, Any]:
        """JSON-ready dict of the granted fields only; unknown names are ignored (deny by default)."""
        names = set(allowed) & set(CITIZEN_FIELDS)
        return self.model_dump(mode="json", include=names)


CITIZEN_FIELDS: tuple[str, ...] = tuple(name for name in CitizenRecord.model_fields if name != "ignored")
