"""The request field limits of the population database, as settings, and the one check of them.

Defaults are the documented ones (``external-systems.md`` §4.3, NDXP-DOC) [C]. The connector refuses
to send a request that breaks them (``InvalidRequest`` "field-limit", naming the field and the rule,
never the value), and the mock refuses one with a fault of its own (rule ``field-limit``): both call
:func:`violation`. Override in the environment, e.g. ``HUB_POPDB_LIMITS__HOVATEN=80`` or
``HUB_POPDB_LIMITS='{"HoVaTen": 80}'``.

The canonical request models (``models.py``) and the hub's API cap names at 100 characters, officer
codes at 20 and request ids at 40 as well: a limit set *lower* here takes effect at once; one set
higher needs those caps raised too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

BirthFormat = Literal["yyyy-mm-dd", "yyyymmdd", "yyyy"]
_STRPTIME = {
    "yyyy-mm-dd": ("%Y-%m-%d", r"\d{4}-\d{2}-\d{2}"),
    "yyyymmdd": ("%Y%m%d", r"\d{8}"),
    "yyyy": ("%Y", r"\d{4}"),
}


class FieldLimits(BaseModel):
    """Lengths in characters (after NFC), digits where the field is digits. Partner names, as in §4.3."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    MaYeuCau: int = Field(default=40, ge=1, description="String(40), required: the request id.")
    MaDVC: int = Field(default=20, ge=1, description="String(20), required: the public-service code.")
    MaTichHop: int = Field(default=20, ge=1, description="Up to 20 digits, required: the integration code.")
    MaDonVi: int = Field(default=35, ge=1, description="String(35), required: the calling agency's code.")
    MaCanBo: int = Field(default=20, ge=1, description="String(20), required: the officer's account.")
    SoDinhDanh: int = Field(default=12, ge=1, description="Exactly this many digits: the personal ID number.")
    SoCMND: int = Field(default=9, ge=1, description="Exactly this many digits: the old ID card number.")
    HoVaTen: int = Field(default=100, ge=1, description="String(100), required: the full name.")
    NgayThangNamSinh: tuple[BirthFormat, ...] = Field(
        default=("yyyy-mm-dd", "yyyymmdd", "yyyy"),
        min_length=1,
        description="Accepted birth-date forms: yyyy-mm-dd or yyyy [C, String(10)]; yyyymmdd [C, field clients].",
    )


@dataclass(frozen=True)
class Violation:
    field: str  # partner name
    rule: str  # fixed text, never the value

    def __str__(self) -> str:
        return f"{self.field}: {self.rule}"


_TEXT = ("MaYeuCau", "MaDVC", "MaDonVi", "MaCanBo", "HoVaTen")


def birth_format(value: str, formats: tuple[BirthFormat, ...]) -> BirthFormat | None:
    """Which accepted form ``value`` is in (a real calendar date), or ``None``."""
    for name in formats:
        fmt, shape = _STRPTIME[name]
        if re.fullmatch(shape, value):
            try:
                datetime.strptime(value, fmt)
            except ValueError:
                return None
            return name
    return None


def violation(fields: Mapping[str, str | None], limits: FieldLimits, required: tuple[str, ...]) -> Violation | None:
    """The first limit the flat request ``fields`` break (``NgayThangNam`` / ``Nam`` for the birth date).

    ``required`` names the fields this variant sends and must not be empty; one of ``SoDinhDanh`` /
    ``SoCMND`` is always required.
    """
    for name in required:
        if name != "NgayThangNamSinh" and not fields.get(name):
            return Violation(name, "required")
    if not (fields.get("SoDinhDanh") or fields.get("SoCMND")):
        return Violation("SoDinhDanh", "one of SoDinhDanh, SoCMND is required")
    for name in _TEXT:
        value = fields.get(name)
        if value and len(value) > getattr(limits, name):
            return Violation(name, f"at most {getattr(limits, name)} characters")
    code = fields.get("MaTichHop")
    if code and not re.fullmatch(rf"\d{{1,{limits.MaTichHop}}}", code):
        return Violation("MaTichHop", f"1 to {limits.MaTichHop} digits")
    for name in ("SoDinhDanh", "SoCMND"):
        value = fields.get(name)
        if value and not re.fullmatch(rf"\d{{{getattr(limits, name)}}}", value):
            return Violation(name, f"exactly {getattr(limits, name)} digits")
    born = fields.get("NgayThangNam") or fields.get("Nam")
    if "NgayThangNamSinh" in required and not born:
        return Violation("NgayThangNamSinh", "required")
    if born and birth_format(born, limits.NgayThangNamSinh) is None:
        return Violation("NgayThangNamSinh", "a date as " + "|".join(limits.NgayThangNamSinh))
    return None


__all__ = ["BirthFormat", "FieldLimits", "Violation", "birth_format", "violation"]
