"""Request and answer bodies of ``/v1/citizens/*``. Strict: unknown fields are refused, and no
validation error ever echoes a value (``hide_input_in_errors``; messages are fixed text)."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, TypeVar

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    ValidationInfo,
    field_validator,
)
from pydantic.json_schema import WithJsonSchema
from pydantic_core import PydanticCustomError

from hub.canonical import timestamp_input
from hub.citizens.port.models import CODE_PATTERN, ID_NUMBER_PATTERN, MIN_YEAR, CitizenQuery, clean_text, name_key
from hub.codes import AgencyCode
from hub.privacy import ID_NUMBER

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_YEAR = re.compile(r"^\d{4}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
Q = TypeVar("Q", bound=CitizenQuery)
Since = Annotated[AwareDatetime, BeforeValidator(timestamp_input)]
EXAMPLE = {
    "id_number": "000090000001",
    "full_name": "Nguyễn Văn An",
    "birth_date": "1990-01-15",
    "purpose": "Hồ sơ 000.00.00.H56-251122-0001",
    "officer_code": "CB.H56.0042",
}


def _birth_date(value: Any) -> date | int:
    """``yyyy-mm-dd`` -> date, ``yyyy`` (string or integer) -> year; within MIN_YEAR and today."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise PydanticCustomError("birth_date_type", "expected a string yyyy-mm-dd or yyyy, or an integer year")
    if isinstance(value, str) and _DATE.fullmatch(value):
        try:
            born: date | int = date.fromisoformat(value)
        except ValueError:
            raise PydanticCustomError("birth_date_calendar", "not a calendar date") from None
    elif isinstance(value, int) or _YEAR.fullmatch(value):
        born = int(value)
    else:
        raise PydanticCustomError("birth_date_format", "expected yyyy-mm-dd or yyyy")
    today = date.today()
    too_late = born > today if isinstance(born, date) else born > today.year
    if too_late or (born if isinstance(born, int) else born.year) < MIN_YEAR:
        raise PydanticCustomError("birth_date_range", f"must be between {MIN_YEAR} and today")
    return born


BirthDate = Annotated[
    date | int,
    BeforeValidator(_birth_date),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "date"},
                {"type": "string", "pattern": r"^\d{4}$"},
                {"type": "integer", "minimum": MIN_YEAR, "maximum": 2100},
            ],
            "description": "NgayThangNamSinh (birth date): `yyyy-mm-dd`, or the year alone (`yyyy`, string or "
            "integer) when only the year is on record.",
            "examples": ["1990-01-15", "1985"],
        }
    ),
]


class CitizenQueryIn(BaseModel):
    """Who is asked about, by which officer, and why."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    id_number: str = Field(
        pattern=ID_NUMBER_PATTERN,
        description="SoDinhDanh (12-digit personal ID number, CCCD) or SoCMND (old 9-digit ID card number).",
        examples=["000090000001"],
    )
    full_name: str = Field(
        min_length=1,
        max_length=100,
        description="HoVaTen (full name) as the citizen gave it, with diacritics; case and spacing do not matter.",
        examples=["Nguyễn Văn An"],
    )
    birth_date: BirthDate
    purpose: str = Field(
        min_length=3,
        max_length=200,
        description="Why the query is made (recorded in the audit), e.g. the dossier code (MaHoSo) or the "
        "procedure. It must not contain the citizen's ID number or name.",
        examples=["Hồ sơ 000.00.00.H56-251122-0001: cấp giấy phép xây dựng"],
    )
    officer_code: str = Field(
        pattern=r"^[^\s\x00-\x1f\x7f]{1,20}$",
        description="MaCanBo: the querying officer's account at the database (one word, up to 20 characters).",
        examples=["CB.H56.0042"],
    )
    service_code: str | None = Field(
        default=None,
        min_length=1,
        max_length=20,
        pattern=CODE_PATTERN,
        description="MaDVC: the public-service code (QĐ 362/QĐ-VPCP) the query is made for; default: the hub's "
        "configured code (HUB_POPDB_SERVICE_CODE, or the agency's profile's).",
    )
    agency_code: AgencyCode | None = Field(
        default=None,
        description="The officer's agency (mã định danh điện tử), one the client is bound to (else 403 "
        "agency_not_bound): its population_db profile and MaDonVi are used (`lgsp agencies`). Omitted: the "
        "client's agency if it is bound to exactly one, else the deployment's default profile (HUB_POPDB_*).",
        examples=["000.00.00.H56"],
    )

    @field_validator("full_name", mode="before")
    @classmethod
    def _clean_name(cls, value: Any) -> Any:
        if isinstance(value, str) and _CONTROL.search(value):
            raise PydanticCustomError("control_characters", "must not contain control characters")
        return clean_text(value) if isinstance(value, str) else value

    @field_validator("purpose", mode="before")
    @classmethod
    def _clean_purpose(cls, value: Any) -> Any:
        if isinstance(value, str) and _CONTROL.search(value):
            raise PydanticCustomError("control_characters", "must not contain control characters")
        return clean_text(value) if isinstance(value, str) else value

    @field_validator("purpose")
    @classmethod
    def _no_personal_data(cls, value: str, info: ValidationInfo) -> str:
        """The purpose is stored in the audit, which holds no personal data: refuse it if it names the citizen."""
        name = info.data.get("full_name")
        if ID_NUMBER.search(value) or (name and name_key(name) in name_key(value)):
            raise PydanticCustomError("personal_data", "must not contain an ID number or the citizen's name")
        return value

    def to_query(self, kind: type[Q]) -> Q:
        """The connector's request (``purpose`` there is the MaDVC code)."""
        return kind(
            id_number=self.id_number,
            full_name=self.full_name,
            birth_date=self.birth_date,
            officer_code=self.officer_code,
            purpose=self.service_code,
        )


class VerifyIn(CitizenQueryIn):
    """XacThucThongTinCongDan: does a citizen with this ID number exist, and do the name and birth date match?"""


class LookupIn(CitizenQueryIn):
    """TraCuuThongTinCongDan: the citizen's record, when ID number, name and birth date all match."""


class Matches(BaseModel):
    id_number: bool = Field(description="A citizen with this ID number exists.")
    full_name: bool = Field(
        description="The given name matches the record (Unicode form, case, spacing and old or new tone placement "
        "ignored: Hoà = Hòa)."
    )
    birth_date: bool = Field(description="The given date (or year) matches the record.")


class VerifyOut(BaseModel):
    exists: bool = Field(description="TonTai: the database has a citizen with this ID number.")
    matches: Matches
    request_id: str = Field(description="MaYeuCau: this query's reference at the database and in the hub's audit.")


class LookupOut(BaseModel):
    exists: bool = Field(description="A citizen with this ID number, name and birth date was found.")
    fields: list[str] = Field(description="The record fields this client is granted (citizen.lookup:...).")
    citizen: dict[str, Any] | None = Field(
        description="The granted fields of the record (CongDan), and nothing else; null when not found. "
        "Field names and their Vietnamese elements are listed in the endpoint's description."
    )
    request_id: str = Field(description="MaYeuCau: this query's reference at the database and in the hub's audit.")


class AuditSearch(BaseModel):
    """Filters of the audit search; ``id_number`` is hashed by the hub and matched against the keyed hashes."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True, populate_by_name=True)

    client: str | None = Field(default=None, max_length=64, description="Client system code.")
    agency: str | None = Field(default=None, max_length=35, description="The officer's agency (agency code).")
    officer: str | None = Field(default=None, max_length=20, description="MaCanBo.")
    operation: str | None = Field(default=None, pattern=r"^(verify|lookup)$")
    outcome: str | None = Field(default=None, max_length=16)
    request_id: str | None = Field(default=None, max_length=40, description="MaYeuCau.")
    id_number: str | None = Field(default=None, pattern=ID_NUMBER_PATTERN, description="SoDinhDanh or SoCMND.")
    since: Since | None = Field(default=None, alias="from", description="At or after (ISO 8601 with a time zone).")
    until: Since | None = Field(default=None, alias="to", description="Before (ISO 8601 with a time zone).")
    before_id: StrictInt | None = Field(default=None, ge=1, le=2**63 - 1, description="Paging: rows older than this.")
    limit: StrictInt = Field(default=100, ge=1, le=1000)


class AuditRow(BaseModel):
    """One audited query: never an ID number (a keyed hash), a name, a birth date or an answer."""

    id: int
    at: str | None
    operation: str = Field(description="verify | lookup")
    client_code: str
    agency_code: str | None = Field(default=None, description="The officer's agency the query was made for.")
    officer_code: str | None
    purpose: str | None
    service_code: str | None
    id_hash: str | None = Field(description="Hex HMAC-SHA256 of the ID number under the hub's audit key.")
    outcome: str = Field(
        description="matched, mismatch, found, not_found, unavailable, unconfigured, refused, unsafe, forbidden, "
        "invalid"
    )
    reason: str | None
    detail: str | None
    fields: list[str] | None = Field(description="Lookup: the names of the fields disclosed.")
    request_id: str | None = Field(description="MaYeuCau")
    http_status: int
    duration_ms: int


class AuditPage(BaseModel):
    queries: list[AuditRow]
