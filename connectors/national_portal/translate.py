"""Pure translation: canonical ``dossier.status.changed`` and ``dossier.fee.paid`` payloads ->
national portal (DVCQG) JSON.

No I/O here. Rules, applied the same way everywhere (golden files in ``tests/national_portal/golden``):

- Dates are ``yyyyMMddHHmmss`` strings in Asia/Ho_Chi_Minh; inputs with any offset are converted,
  naive inputs are read as Vietnam time (as ``hub.canonical`` does).
- Every scalar is sent as a **string**, codes and amounts included (``"TrangThaiHoSo": "2"``,
  ``"Gia": "50000"``): that is what the one-stop systems in the field send (OpenCPS ``String.valueOf``,
  the Thanh Hóa .NET DTOs type every field ``string``).
- Every field the public integrations always send (OCPS ``createSyncDossierBodyRequest``: ``MaHoSo, MaTTHC,
  TenTTHC, MaLinhVuc, TenLinhVuc, LoaiDoiTuong, Email, SoDienThoai, TrichYeuHoSo, NgayTiepNhan, NgayHenTra,
  TrangThaiHoSo, HinhThuc, DonViXuLy``, :data:`ALWAYS_SENT`) comes from the canonical message, which requires
  them; ``Email`` and ``SoDienThoai`` are sent as ``""`` when the applicant has none (OCPS sends the key
  whatever its value). No value is made up: a payload that lacks one (queued before it was required) is
  sent without it and the portal refuses it, naming the field.
- Any other optional field the canonical message lacks (None or empty) is **omitted**, never sent as ``""``
  or ``null``. The list ``DanhSachLePhi`` (fees) is always present and always a list: ``[]`` when there is
  no fee, a one-element list for one fee.
- Officer names longer than ``PortalLimits.NguoiXuLy`` (50 [C THH]) are cut as THH cuts them: the first
  ``limit - 4`` characters and ``"..."``; a summary longer than ``PortalLimits.TrichYeuHoSo`` (1000, the
  canonical cap too) is cut to it, as THH cuts it.
- Two derived values, both [I]: a status-2 (received) change without ``received_at`` takes its
  ``occurred_at`` as ``NgayTiepNhan``; a progress entry without a handler names the agency as
  ``NguoiXuLy`` (officer) and the status label as ``NoiDungXuLy`` (what was done).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from hub.canonical import DOSSIER_STATUS_LABELS

from .limits import PortalLimits

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
PORTAL_DATE_FORMAT = "%Y%m%d%H%M%S"

SYNC_SERVICE = "DongBoHoSoMC"  # "sync one-stop dossier": insert or update HoSo records
PROGRESS_SERVICE = "CapNhatTienDoHoSoMC"  # "update dossier progress": append processing steps
LOOKUP_SERVICE = "TraCuuHoSo"  # "look up dossier", on the share endpoint
# [I] Key under which a TraCuuHoSo result lists the dossier's progress entries (quá trình xử lý).
PROGRESS_LIST_KEY = "QuaTrinhXuLy"

ProgressKey = tuple[str, str, str]
# [C] The HoSo fields OCPS always sends (not marked "ko bb", not required): the mock requires each one.
ALWAYS_SENT = (
    "MaHoSo",
    "MaTTHC",
    "TenTTHC",
    "MaLinhVuc",
    "TenLinhVuc",
    "LoaiDoiTuong",
    "Email",
    "SoDienThoai",
    "TrichYeuHoSo",
    "NgayTiepNhan",
    "NgayHenTra",
    "TrangThaiHoSo",
    "HinhThuc",
    "DonViXuLy",
)
# [C] THH v2 (2025) sends these on every push too; the canonical message requires them (never defaulted).
V2_ALWAYS_SENT = ("KenhThucHien",)
# [I] of those, the ones that may be empty: a citizen without e-mail or phone still files a dossier.
MAY_BE_EMPTY = ("Email", "SoDienThoai")
# [C] progress-entry fields OCPS always sends (the others, ChucDanh, PhongBanXuLy, NgayBatDau,
# NgayKetThucTheoQuyDinh, are "ko bb").
PROGRESS_ALWAYS_SENT = ("MaHoSo", "NguoiXuLy", "ThoiDiemXuLy", "NoiDungXuLy", "TrangThai")
DEFAULT_LIMITS = PortalLimits()


def portal_time(value: str | datetime | None) -> str | None:
    """ISO-8601 (or datetime) -> ``yyyyMMddHHmmss`` in Vietnam time; None/empty -> None."""
    if value is None or value == "":
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=VN_TZ)
    return moment.astimezone(VN_TZ).strftime(PORTAL_DATE_FORMAT)


def status_label(status: int) -> str:
    """The Vietnamese label of a status code: 2 -> 'Được tiếp nhận'."""
    return DOSSIER_STATUS_LABELS[status].split(" (")[0]


def _put(target: dict[str, Any], key: str, value: Any) -> None:
    """Set ``key`` unless the value is missing; scalars become strings."""
    if value is None or value == "":
        return
    target[key] = value if isinstance(value, list | dict) else str(value)


def to_fee(fee: Mapping[str, Any]) -> dict[str, Any]:
    """One canonical fee -> one ``DanhSachLePhi`` item (fee list entry)."""
    item: dict[str, Any] = {}
    _put(item, "TenPhiLePhi", fee["name"])  # fee name
    _put(item, "MaPhiLePhi", fee.get("code"))  # fee code
    _put(item, "HinhThucThu", fee.get("collection"))  # collection form
    _put(item, "Gia", int(fee["amount"]))  # amount, VND
    _put(item, "LoaiPhiLePhi", fee.get("kind", 1))  # 1 phí (fee), 2 lệ phí (charge)
    return item


def to_hoso(payload: Mapping[str, Any], limits: PortalLimits = DEFAULT_LIMITS) -> dict[str, Any]:
    """Canonical payload -> one ``HoSo`` (dossier record) for ``DongBoHoSoMC``."""
    applicant: Mapping[str, Any] = payload["applicant"]
    status = int(payload["status"])
    received = payload.get("received_at") or (payload["occurred_at"] if status == 2 else None)
    hoso: dict[str, Any] = {}
    _put(hoso, "MaHoSo", payload["dossier_code"])  # dossier code
    _put(hoso, "MaTTHC", payload["procedure_code"])  # national procedure code
    _put(hoso, "TenTTHC", payload.get("procedure_name"))
    _put(hoso, "MaLinhVuc", payload.get("field_code"))  # field (lĩnh vực) code
    _put(hoso, "TenLinhVuc", payload.get("field_name"))
    _put(hoso, "KenhThucHien", payload.get("channel"))  # 1 in person, 2 online, 3 by post (never defaulted)
    _put(hoso, "SoBienNhan", payload.get("receipt_number"))  # receipt number
    _put(hoso, "ChuHoSo", applicant["name"])  # applicant name
    _put(hoso, "SoGiayToChuHoSo", applicant.get("id_number"))  # applicant ID number
    _put(hoso, "LoaiDoiTuong", applicant.get("type"))  # applicant type (never defaulted)
    hoso["SoDienThoai"] = str(applicant.get("phone") or "")  # always sent, "" when none (OCPS)
    hoso["Email"] = str(applicant.get("email") or "")
    _put(hoso, "ThongTinKhac", applicant.get("address"))  # other contact information
    summary = payload.get("summary")  # dossier summary, cut to its limit as THH cuts it
    _put(hoso, "TrichYeuHoSo", summary[: limits.TrichYeuHoSo] if isinstance(summary, str) else summary)
    _put(hoso, "NgayTiepNhan", portal_time(received))  # received at
    _put(hoso, "NgayHenTra", portal_time(payload.get("appointment_at")))  # appointed return date
    _put(hoso, "NgayTra", portal_time(payload.get("returned_at")))  # result returned at
    _put(hoso, "NgayKetThucXuLy", portal_time(payload.get("finished_at")))  # processing finished at
    _put(hoso, "TrangThaiHoSo", status)  # status 1-10
    _put(hoso, "HinhThuc", payload.get("result_delivery"))  # result: 0 at the desk, 1 by post
    _put(hoso, "DonViXuLy", payload.get("agency_name"))  # handling agency
    _put(hoso, "GhiChu", payload.get("note"))  # note
    hoso["DanhSachLePhi"] = [to_fee(fee) for fee in payload.get("fees") or []]
    return hoso


def officer(name: str, limits: PortalLimits = DEFAULT_LIMITS) -> str:
    """``NguoiXuLy`` within its limit, cut as THH cuts it (``limit - 4`` characters and ``"..."``)."""
    most = limits.NguoiXuLy
    return name if len(name) <= most else name[: max(most - 4, 0)] + "..."


def to_progress(payload: Mapping[str, Any], limits: PortalLimits = DEFAULT_LIMITS) -> dict[str, Any]:
    """Canonical payload -> one progress entry for ``CapNhatTienDoHoSoMC``."""
    handler: Mapping[str, Any] = payload.get("handler") or {}
    status = int(payload["status"])
    at = portal_time(payload["occurred_at"])
    entry: dict[str, Any] = {}
    _put(entry, "MaHoSo", payload["dossier_code"])
    who = handler.get("name") or payload.get("agency_name") or payload["agency_code"]
    _put(entry, "NguoiXuLy", officer(str(who), limits))  # officer
    _put(entry, "ChucDanh", handler.get("title"))  # officer's title
    _put(entry, "ThoiDiemXuLy", at)  # when the step happened
    _put(entry, "PhongBanXuLy", handler.get("unit"))  # department
    _put(entry, "NoiDungXuLy", payload.get("note") or status_label(status))  # what was done
    _put(entry, "TrangThai", status)
    _put(entry, "NgayBatDau", at)  # [I] the step starts with the change
    _put(entry, "NgayKetThucTheoQuyDinh", portal_time(payload.get("appointment_at")))  # [I] due date by rule
    return entry


# [I] The portal's status code for a progress entry about a payment when the hub does not
# know the dossier's status: 6, "financial obligation requested" (the payment answers it).
PAYMENT_STATUS = 6
GATEWAY_NAMES = {"napas": "NAPAS", "paygov": "Nền tảng thanh toán trực tuyến (PayGov)"}


def vnd(amount: int) -> str:
    """150000 -> '150.000 VND' (Vietnamese thousands separator)."""
    return f"{amount:,}".replace(",", ".") + " VND"


def fee_paid_hoso(payload: Mapping[str, Any], limits: PortalLimits = DEFAULT_LIMITS) -> dict[str, Any] | None:
    """Canonical ``dossier.fee.paid`` -> the dossier's ``HoSo`` marked paid online
    (``DuocThanhToanTrucTuyen`` "1"), or None when the hub does not know the dossier."""
    dossier = payload.get("dossier")
    if not dossier:
        return None
    hoso = to_hoso(dossier, limits)
    hoso["DuocThanhToanTrucTuyen"] = "1"  # paid online (v2 flag)
    return hoso


def fee_paid_progress(payload: Mapping[str, Any], limits: PortalLimits = DEFAULT_LIMITS) -> dict[str, Any]:
    """Canonical ``dossier.fee.paid`` -> one progress entry saying what was paid, when and how.
    Its status is the dossier's own (the payment does not change it) [I]."""
    dossier: Mapping[str, Any] = payload.get("dossier") or {}
    at = portal_time(payload["paid_at"])
    gateway = GATEWAY_NAMES.get(str(payload["profile"]), str(payload["profile"]))
    what = f"Công dân đã thanh toán trực tuyến phí, lệ phí {vnd(int(payload['amount']))} qua {gateway}"
    if payload.get("gateway_txn_id"):
        what += f", mã giao dịch {payload['gateway_txn_id']}"
    entry: dict[str, Any] = {}
    _put(entry, "MaHoSo", payload["dossier_code"])
    _put(entry, "NguoiXuLy", officer(gateway, limits))  # the step was done by the payment platform
    _put(entry, "ThoiDiemXuLy", at)
    _put(entry, "NoiDungXuLy", what)  # "the citizen paid the fees online: amount, gateway, transaction"
    _put(entry, "TrangThai", dossier.get("status") or PAYMENT_STATUS)
    _put(entry, "NgayBatDau", at)
    return entry


# Postal steps (dossier.postal.step): the markers of a dossier that goes by post [C] field names,
# values [I]: KenhThucHien 3 "qua BCCI" (handed in by post), HinhThuc 1 "qua bưu chính" (result by post).
BY_POST_CHANNEL = 3
RESULT_BY_POST = 1
POSTAL_ACTOR = "Bưu điện (VNPost, bưu chính công ích)"


def postal_step_hoso(payload: Mapping[str, Any], limits: PortalLimits = DEFAULT_LIMITS) -> dict[str, Any] | None:
    """Canonical ``dossier.postal.step`` -> the dossier's ``HoSo`` with its postal markers (and, once
    the result was delivered, ``NgayTra``), or None when the hub does not know the dossier."""
    dossier = payload.get("dossier")
    if not dossier:
        return None
    hoso = to_hoso(dossier, limits)
    if payload["kind"] == "pickup":
        _put(hoso, "KenhThucHien", BY_POST_CHANNEL)
    else:
        _put(hoso, "HinhThuc", RESULT_BY_POST)
    _put(hoso, "NgayTra", portal_time(payload.get("returned_at")))
    return hoso


def postal_step_progress(payload: Mapping[str, Any], limits: PortalLimits = DEFAULT_LIMITS) -> dict[str, Any]:
    """Canonical ``dossier.postal.step`` -> one progress entry (``TrangThai`` 9 as provinces write them)."""
    at = portal_time(payload["occurred_at"])
    entry: dict[str, Any] = {}
    _put(entry, "MaHoSo", payload["dossier_code"])
    _put(entry, "NguoiXuLy", officer(POSTAL_ACTOR, limits))
    _put(entry, "ThoiDiemXuLy", at)
    _put(entry, "NoiDungXuLy", payload["text"])  # e.g. "... sang hệ thống VNPost với mã vận đơn: ..."
    _put(entry, "TrangThai", payload.get("progress_status") or 9)
    _put(entry, "NgayBatDau", at)
    return entry


def progress_key(entry: Mapping[str, Any]) -> ProgressKey:
    """Natural key of a progress entry: (MaHoSo, TrangThai, ThoiDiemXuLy), as strings."""
    return (str(entry.get("MaHoSo", "")), str(entry.get("TrangThai", "")), str(entry.get("ThoiDiemXuLy", "")))


def sync_envelope(
    session: str, madonvi: str, hoso_list: Sequence[Mapping[str, Any]], is_updating: bool
) -> dict[str, Any]:
    """Body of a ``DongBoHoSoMC`` call; ``isUpdating`` is the string "True" or "False"."""
    return {
        "session": session,
        "madonvi": madonvi,
        "service": SYNC_SERVICE,
        "isUpdating": "True" if is_updating else "False",
        "data": [dict(h) for h in hoso_list],
    }


def progress_envelope(session: str, madonvi: str, entries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Body of a ``CapNhatTienDoHoSoMC`` call."""
    return {"session": session, "madonvi": madonvi, "service": PROGRESS_SERVICE, "data": [dict(e) for e in entries]}


def lookup_envelope(session: str, madonvi: str, mahoso: str) -> dict[str, Any]:
    """Body of a ``TraCuuHoSo`` call (share endpoint); the key is lower-case ``mahoso`` as in the field."""
    return {"session": session, "madonvi": madonvi, "service": LOOKUP_SERVICE, "mahoso": mahoso}
