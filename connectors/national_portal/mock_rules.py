"""The rules the mock national portal applies, each with the portal's error code, and what it cannot know.

Refusals are the portal's own shape, HTTP 200 ``{"error_code": "<code>", "message": "..."}`` (codes [I]:
the guide is not public; "3" / "đã tồn tại" is observed [C]). Messages name fields and rules, never
values. In **strict** mode (the default, and the tests') every rule applies; **lenient** mode keeps only
the protocol rules (not ``strict_only``), for trying out a one-stop system that is not finished.
:data:`RULES` is the mock's capability card (also at ``GET /_mock/card``); ``docs/partners.md`` ties each
rule to the facts it stands for and its tests.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from hub.codes import agency_prefix_of, dossier_code_problem, is_agency_code, is_procedure_code, unit_of

from . import translate as tr
from .limits import PortalLimits, hoso_violations, progress_violations


@dataclass(frozen=True)
class Rule:
    id: str
    facts: tuple[str, ...]  # docs/partners.md row ids
    basis: str  # "C": the fact is documented; "I": we infer the portal enforces it
    error_code: str  # the answer's error_code (or the HTTP status of an LGSP front)
    strict_only: bool
    what: str


RULES: tuple[Rule, ...] = (
    Rule("credentials", ("S0-08",), "C", "-1", False, "a login with wrong username, password or dstcode"),
    Rule("session", ("S0-08",), "C", "-2", False, "a call without a live session (unknown, expired)"),
    Rule("envelope", ("S1.1-01", "S1.1-02"), "C", "1", False, 'not a JSON object; isUpdating not "True"/"False"'),
    Rule(
        "service", ("S1.1-01",), "C", "2", False, "a service that is not DongBoHoSoMC, CapNhatTienDoHoSoMC, TraCuuHoSo"
    ),
    Rule("madonvi", ("S6-03",), "C", "1", False, "madonvi / MaDinhDanhDV not an agency code (QĐ 20/2020)"),
    Rule(
        "unit-province",
        ("S6-05", "S6-06"),
        "I",
        "1",
        True,
        "a HoSo or progress entry whose MaHoSo is not of the province of the call's unit code (madonvi / "
        "MaDinhDanhDV; a variant without one is not checked)",
    ),
    Rule("date-format", ("S0-09",), "C", "1", False, "a date that is not yyyyMMddHHmmss, or not a day and time"),
    Rule("status", ("S1.4-01",), "C", "1", False, "TrangThaiHoSo / TrangThai not 1-10"),
    Rule("already-exists", ("S1.1-03",), "C", "3", False, "an insert (isUpdating False) of a known dossier"),
    Rule("unknown-dossier", ("S1.1-02",), "I", "4", False, "an update of, or progress for, an unknown dossier"),
    Rule(
        "required",
        ("S1.2-01", "S1.2-03"),
        "C",
        "1",
        True,
        "a HoSo without a field OCPS always sends (MaHoSo, MaTTHC, TenTTHC, MaLinhVuc, TenLinhVuc, LoaiDoiTuong, "
        "Email, SoDienThoai, TrichYeuHoSo, NgayTiepNhan, NgayHenTra, TrangThaiHoSo, HinhThuc, DonViXuLy, and THH "
        "v2's KenhThucHien; Email "
        "and SoDienThoai may be empty [I]; NgayTiepNhan from status 2, NgayHenTra but at status 1 and 3 [I]); a "
        "progress entry without MaHoSo, NguoiXuLy, ThoiDiemXuLy, NoiDungXuLy, TrangThai",
    ),
    Rule("codes", ("S1.2-02",), "C", "1", True, "KenhThucHien not 1-3, LoaiDoiTuong not 1-4, HinhThuc not 0-1"),
    Rule(
        "dossier-code",
        ("S6-02",),
        "C",
        "1",
        True,
        "MaHoSo not {agency code}-{yyMMdd}-{digits}, or a date not in the calendar",
    ),
    Rule("procedure-code", ("S6-04",), "C", "1", True, "MaTTHC not a national procedure code"),
    Rule("status-dates", ("S1.2-03",), "I", "1", True, "NgayKetThucXuLy missing at status 9, NgayTra at status 10"),
    Rule(
        "limit",
        ("S1.2-04",),
        "C",
        "1",
        True,
        "a field over its limit, or more items in a call than allowed (limits.py)",
    ),
    Rule("text-nfc", ("S0-10",), "I", "1", True, "a text field not in Unicode NFC"),
    Rule(
        "lgsp-auth",
        ("S0-11",),
        "C",
        "HTTP 401",
        False,
        "an LGSP variant's call without its credentials (an OAuth2 token it did not issue, or expired)",
    ),
    Rule(
        "lgsp-shape",
        ("S1.1-04",),
        "C",
        "HTTP 400",
        False,
        "an LGSP variant's call that is not a bare JSON array, or (Hà Giang) lacks MaDinhDanhDV / isUpdating",
    ),
)
RULE_IDS = frozenset(r.id for r in RULES)
STRICT_ONLY = frozenset(r.id for r in RULES if r.strict_only)
CANNOT_KNOW: tuple[str, ...] = (
    "the portal's real error codes and messages (only '3' / 'đã tồn tại' is observed): all others are [I]",
    "whether the portal refuses a dossier code of another province than its call's unit code (the mock does, [I] "
    "§6), or one of an agency the unit does not own (the mock does not: it knows no unit's agencies)",
    "whether TenTTHC / MaLinhVuc / TenLinhVuc match the national procedure database (LayThuTuc): not checked",
    "which of MaTTHC, MaLinhVuc the portal knows, and the real code lists of KenhThucHien and HinhThuc [I]",
    "the real limits (the defaults are THH's, which it applies on its side) and rate limits, quotas, IP lists",
    "the LGSPs' real paths other than /api/SynsTTHCC/DongBoHoSoMC, their error formats and token lifetimes",
    "whether attachment URLs (DuongDanTaiTepTin) are downloadable by the portal: the hub sends none",
    "the KPI the portal computes from the dates (on time, supplement pauses): it stores what it is sent",
)


@dataclass(frozen=True)
class Problem:
    rule: str
    message: str


_DATE = re.compile(r"\d{14}")
_HOSO_DATES = ("NgayTiepNhan", "NgayHenTra", "NgayTra", "NgayKetThucXuLy")
_PROGRESS_DATES = ("ThoiDiemXuLy", "NgayBatDau", "NgayKetThucTheoQuyDinh")


def blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def code_in(value: Any, low: int, high: int) -> bool:
    """A code sent as a digit string (or an int): "2" or 2."""
    text = str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""
    return text.isdigit() and low <= int(text) <= high


def date_ok(value: Any) -> bool:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        return False
    try:  # the regex fixed the layout; the constructor checks the calendar
        datetime(int(value[:4]), int(value[4:6]), int(value[6:8]), int(value[8:10]), int(value[10:12]), int(value[12:]))
    except ValueError:
        return False
    return True


def _texts(value: Any, where: str) -> list[tuple[str, str]]:
    """(path, text) of every string inside ``value``."""
    if isinstance(value, str):
        return [(where, value)]
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in _texts(v, f"{where}.{k}")]
    if isinstance(value, list):
        return [t for i, v in enumerate(value) for t in _texts(v, f"{where}[{i}]")]
    return []


def _nfc(item: Mapping[str, Any], where: str) -> list[Problem]:
    return [
        Problem("text-nfc", f"{path}: phải ở dạng Unicode NFC (must be Unicode NFC)")
        for path, text in _texts(dict(item), where)
        if not unicodedata.is_normalized("NFC", text)
    ]


def check_hoso(h: Mapping[str, Any], where: str, limits: PortalLimits) -> list[Problem]:
    """Problems of one HoSo, each naming its field and rule; empty strings count as absent."""
    found: list[Problem] = []
    code_problem = dossier_code_problem(h.get("MaHoSo"))
    if blank(h.get("MaHoSo")) or not isinstance(h.get("MaHoSo"), str):
        found.append(Problem("envelope", f"{where}.MaHoSo: bắt buộc (required)"))
    elif code_problem:
        found.append(Problem("dossier-code", f"{where}.MaHoSo: sai định dạng mã hồ sơ ({code_problem})"))
    if blank(h.get("MaTTHC")):
        found.append(Problem("required", f"{where}.MaTTHC: bắt buộc (required)"))
    elif not is_procedure_code(h.get("MaTTHC")):
        found.append(Problem("procedure-code", f"{where}.MaTTHC: sai định dạng mã TTHC (national procedure code)"))
    status = h.get("TrangThaiHoSo")
    if not code_in(status, 1, 10):
        found.append(Problem("status", f"{where}.TrangThaiHoSo: bắt buộc, 1-10 (required, status 1-10)"))
    n = int(str(status).strip()) if code_in(status, 1, 10) else 0
    for key in tr.ALWAYS_SENT + tr.V2_ALWAYS_SENT:
        if key in ("MaHoSo", "MaTTHC", "TrangThaiHoSo"):
            continue
        needed = {"NgayTiepNhan": n >= 2, "NgayHenTra": n not in (1, 3)}.get(key, True)
        if key in tr.MAY_BE_EMPTY:
            if key not in h or not isinstance(h[key], str):
                found.append(Problem("required", f"{where}.{key}: bắt buộc, có thể rỗng (required, may be empty)"))
        elif needed and blank(h.get(key)):
            found.append(Problem("required", f"{where}.{key}: bắt buộc (required)"))
    for key, needed in (("NgayKetThucXuLy", n == 9), ("NgayTra", n == 10)):
        if needed and blank(h.get(key)):
            found.append(Problem("status-dates", f"{where}.{key}: bắt buộc khi TrangThaiHoSo = {n} (required)"))
    found += [
        Problem("date-format", f"{where}.{k}: sai định dạng yyyyMMddHHmmss")
        for k in _HOSO_DATES
        if not blank(h.get(k)) and not date_ok(h[k])
    ]
    for key, low, high in (("KenhThucHien", 1, 3), ("LoaiDoiTuong", 1, 4), ("HinhThuc", 0, 1)):
        if not blank(h.get(key)) and not code_in(h[key], low, high):
            found.append(Problem("codes", f"{where}.{key}: giá trị {low}-{high} (value {low}-{high})"))
    fees = h.get("DanhSachLePhi", [])
    if not isinstance(fees, list):
        found.append(Problem("envelope", f"{where}.DanhSachLePhi: phải là danh sách (must be a list)"))
    else:
        for i, fee in enumerate(fees):
            if not isinstance(fee, dict) or blank(fee.get("TenPhiLePhi")) or not code_in(fee.get("Gia"), 0, 10**12):
                found.append(Problem("required", f"{where}.DanhSachLePhi[{i}]: cần TenPhiLePhi và Gia >= 0"))
    found += [Problem("limit", text) for text in hoso_violations(h, limits, where)]
    return found + _nfc(h, where)


def check_progress(e: Mapping[str, Any], where: str, limits: PortalLimits) -> list[Problem]:
    found: list[Problem] = []
    problem = dossier_code_problem(e.get("MaHoSo"))
    if blank(e.get("MaHoSo")) or not isinstance(e.get("MaHoSo"), str):
        found.append(Problem("envelope", f"{where}.MaHoSo: bắt buộc (required)"))
    elif problem:
        found.append(Problem("dossier-code", f"{where}.MaHoSo: sai định dạng mã hồ sơ ({problem})"))
    if not code_in(e.get("TrangThai"), 1, 10):
        found.append(Problem("status", f"{where}.TrangThai: bắt buộc, 1-10 (required, status 1-10)"))
    if blank(e.get("ThoiDiemXuLy")):
        found.append(Problem("required", f"{where}.ThoiDiemXuLy: bắt buộc (required)"))
    found += [
        Problem("required", f"{where}.{k}: bắt buộc (required)")
        for k in ("NguoiXuLy", "NoiDungXuLy")
        if blank(e.get(k))
    ]
    found += [
        Problem("date-format", f"{where}.{k}: sai định dạng yyyyMMddHHmmss")
        for k in _PROGRESS_DATES
        if not blank(e.get(k)) and not date_ok(e[k])
    ]
    found += [Problem("limit", text) for text in progress_violations(e, limits, where)]
    return found + _nfc(e, where)


def unit_problems(items: Sequence[Mapping[str, Any]], unit: str | None) -> list[Problem]:
    """[I] §6: a dossier code carries its province, and the portal refuses other provinces' codes, so each
    item's MaHoSo must be of the province of the call's unit code (a merged province needs one unit code per
    old prefix). Items whose MaHoSo is malformed are the other rules' to refuse; no unit: nothing to check."""
    if unit is None or not is_agency_code(unit):
        return []
    own = unit_of(unit)
    found = []
    for i, item in enumerate(items):
        code = item.get("MaHoSo")
        if isinstance(code, str) and dossier_code_problem(code) is None and unit_of(agency_prefix_of(code)) != own:
            found.append(
                Problem(
                    "unit-province", f"data[{i}].MaHoSo: không thuộc tỉnh của đơn vị gọi (not of the unit's province)"
                )
            )
    return found


def applicable(problems: list[Problem], strict: bool) -> list[Problem]:
    return [p for p in problems if strict or p.rule not in STRICT_ONLY]


def card(strict: bool, variant: str) -> dict[str, Any]:
    return {
        "partner": "national_portal",
        "variant": variant,
        "mode": "strict" if strict else "lenient",
        "enforces": [asdict(r) for r in RULES if strict or not r.strict_only],
        "not_enforced_in_this_mode": [r.id for r in RULES if r.strict_only and not strict],
        "cannot_know": list(CANNOT_KNOW),
    }


__all__ = [
    "CANNOT_KNOW",
    "RULES",
    "Problem",
    "Rule",
    "applicable",
    "card",
    "check_hoso",
    "check_progress",
    "unit_problems",
]
