"""Who may query the national population database, and which fields of a record each caller sees.

Grants are strings in the client's ``grants`` list (``clients.grants``), like the message types a
client may publish. Deny by default, and ``admin`` does **not** imply them (an operator traces
messages; reading citizens' records needs its own grant):

- ``citizen.verify`` - ``POST /v1/citizens/verify``: does the citizen exist, which given fields match.
- ``citizen.lookup:<field>,<field>,...`` - ``POST /v1/citizens/lookup``, answering with the listed
  fields of the record only, e.g. ``citizen.lookup:full_name,birth_date,permanent_address``.
  Several lookup grants add up. Field names are those of ``CitizenRecord`` (``LOOKUP_FIELDS``);
  there is no wildcard, so a field added to the record later is granted to nobody until listed.

``lgsp clients create --grant ...`` refuses a ``citizen.*`` grant that is not one of these.
"""

from __future__ import annotations

from collections.abc import Iterable

from hub.citizens.port import CITIZEN_FIELDS
from hub.clients import Client

VERIFY = "citizen.verify"
LOOKUP_PREFIX = "citizen.lookup:"

# The grantable fields, with the population database's own element names (CongDan children).
LOOKUP_FIELDS: dict[str, str] = {
    "id_number": "SoDinhDanh: 12-digit personal ID number",
    "old_id_number": "SoCMND: old 9-digit ID card number",
    "full_name": "HoVaTen: full name",
    "name_parts": "HoVaTen{Ho, ChuDem, Ten}: family, middle and given name",
    "birth_date": "NgayThangNamSinh/NgayThangNam: birth date",
    "birth_year": "NgayThangNamSinh/Nam: birth year",
    "gender": "GioiTinh: gender (code)",
    "ethnicity": "DanToc: ethnicity (code)",
    "religion": "TonGiao: religion (code)",
    "marital_status": "TinhTrangHonNhan: marital status (code)",
    "blood_type": "NhomMau: blood type (code)",
    "nationality": "QuocTich: nationality (code)",
    "birth_registration_place": "NoiDangKyKhaiSinh: where the birth was registered (address)",
    "place_of_origin": "QueQuan: place of origin (address)",
    "permanent_address": "ThuongTru: permanent residence (address)",
    "current_address": "NoiOHienTai: current residence (address)",
    "father": "Cha: father (name, nationality, ID numbers)",
    "mother": "Me: mother",
    "spouse": "VoChong: spouse",
    "representative": "NguoiDaiDien: legal representative",
    "household_head": "ChuHo: head of household and relationship (QuanHe)",
    "household_book_number": "SoSoHoKhau: household book number",
    "data_as_of": "CongdanCollection@ThoiDiemDuLieu: when the database's data was current",
}
assert set(LOOKUP_FIELDS) == set(CITIZEN_FIELDS), "every record field needs a gloss here"

# What `lgsp dev` grants its demo client, so the README's examples work.
DEMO_GRANTS = (VERIFY, LOOKUP_PREFIX + "full_name,birth_date,gender,permanent_address")


class GrantError(ValueError):
    pass


def lookup_grant_fields(grant: str) -> frozenset[str]:
    """The fields of one ``citizen.lookup:...`` grant; raises :class:`GrantError` if it is not one."""
    if not grant.startswith(LOOKUP_PREFIX):
        raise GrantError(f"unknown citizen grant {grant!r}: use {VERIFY} or {LOOKUP_PREFIX}<field>,<field>,...")
    names = [n.strip() for n in grant.removeprefix(LOOKUP_PREFIX).split(",")]
    unknown = [n for n in names if n not in LOOKUP_FIELDS]
    if unknown or not names:
        raise GrantError(
            f"{grant!r}: unknown field(s) {', '.join(unknown) or '(none listed)'}; "
            f"grantable: {', '.join(LOOKUP_FIELDS)}"
        )
    return frozenset(names)


def check_grants(grants: Iterable[str]) -> None:
    """Refuse a ``citizen.*`` grant the hub would not understand (it would silently grant nothing)."""
    for grant in grants:
        if grant == VERIFY or not grant.startswith("citizen."):
            continue
        lookup_grant_fields(grant)


def may_verify(client: Client) -> bool:
    return VERIFY in client.grants


def lookup_fields(client: Client) -> frozenset[str]:
    """Union of the fields of the client's valid lookup grants; empty = may not look up."""
    fields: set[str] = set()
    for grant in client.grants:
        if grant.startswith(LOOKUP_PREFIX):
            try:
                fields |= lookup_grant_fields(grant)
            except GrantError:
                continue  # a malformed grant grants nothing
    return frozenset(fields)
