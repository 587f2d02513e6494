"""The national portal's limits, as settings, and the one check of them (the connector and the mock).

Defaults are the public integrations' values (``external-systems.md`` §1.2, THH ``SyncLocalDataToDVCQGService.cs``)
[C as THH's values; I as the portal's own limits]: THH posts progress entries in chunks of 10, cuts
``NguoiXuLy`` to 50 characters, ``TrichYeuHoSo`` to 1000, ``TenTepDinhKem`` to 4000 and keeps a result
document's ``TenGiayTo`` under 2000. The connector honours them (progress calls of at most
``progress_per_call`` entries, officer names cut as THH cuts them, the canonical summary capped at 1000);
the strict mock refuses a call that breaks one (``error_code`` "1", rule ``limit``), naming the field and
its limit. Override in the environment, e.g. ``HUB_PORTAL_LIMITS__NGUOIXULY=100`` or
``HUB_PORTAL_LIMITS='{"progress_per_call": 20}'``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class PortalLimits(BaseModel):
    """Lengths in characters; counts of items per call."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    progress_per_call: int = Field(default=10, ge=1, le=500, description="CapNhatTienDoHoSoMC entries per call.")
    hoso_per_call: int = Field(default=50, ge=1, le=500, description="[I] DongBoHoSoMC records per call.")
    NguoiXuLy: int = Field(default=50, ge=5, description="Officer name of a progress entry.")
    TrichYeuHoSo: int = Field(default=1000, ge=1, description="Dossier summary.")
    TenTepDinhKem: int = Field(default=4000, ge=1, description="Name of a submitted file (TaiLieuNop).")
    TenGiayTo: int = Field(default=1999, ge=1, description="Name of a result document (under 2000).")


# which limit applies to which field of a HoSo (lists: the field of each of their items)
_HOSO_FIELDS = ("TrichYeuHoSo",)
_HOSO_LISTS = (("TaiLieuNop", "TenTepDinhKem"), ("DanhSachGiayToKetQua", "TenGiayTo"))


def hoso_violations(hoso: Mapping[str, Any], limits: PortalLimits, where: str) -> list[str]:
    """The limits one HoSo breaks, each naming the field and its limit (never the value)."""
    found: list[str] = []
    for name in _HOSO_FIELDS:
        value = hoso.get(name)
        most = int(getattr(limits, name))
        if isinstance(value, str) and len(value) > most:
            found.append(f"{where}.{name}: tối đa {most} ký tự (at most {most} characters)")
    for list_name, name in _HOSO_LISTS:
        items = hoso.get(list_name)
        most = int(getattr(limits, name))
        for i, entry in enumerate(items if isinstance(items, list) else []):
            value = entry.get(name) if isinstance(entry, dict) else None
            if isinstance(value, str) and len(value) > most:
                found.append(f"{where}.{list_name}[{i}].{name}: tối đa {most} ký tự (at most {most} characters)")
    return found


def progress_violations(entry: Mapping[str, Any], limits: PortalLimits, where: str) -> list[str]:
    value = entry.get("NguoiXuLy")
    if isinstance(value, str) and len(value) > limits.NguoiXuLy:
        return [f"{where}.NguoiXuLy: tối đa {limits.NguoiXuLy} ký tự (at most {limits.NguoiXuLy} characters)"]
    return []


__all__ = ["PortalLimits", "hoso_violations", "progress_violations"]
