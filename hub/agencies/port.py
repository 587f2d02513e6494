"""The agencies port: per-agency configuration, as data the operator manages.

One province has many agencies (sở, ban, ngành, UBND cấp xã ...), each with its own electronic
code (mã định danh điện tử, QĐ 20/2020/QĐ-TTg, e.g. ``000.00.00.H56``), and each partner is
configured per agency, not globally: the national portal's unit code (``madonvi``) and connector
profile, the payment gateway profile, the PayGov beneficiary account and unit name, the VNPost
customer code, variant and sender address. A profile is a *name*: its settings (URLs, variant,
credentials) stay in the environment (``HUB_PORTAL_PROFILES``; the payment profiles ``napas`` and
``paygov``), never in the database. A domain asks the directory for an agency and refuses clearly
when the agency (or its section for that partner) is missing: ``AgencyNotConfigured`` names the
agency and what is missing.

``StaticAgencies`` serves a fixed set (tests, ``lgsp dev``, a JSON file given by
``HUB_AGENCIES_FILE``); the database-backed directory (table, CLI and admin API) implements the
same protocol. No I/O at import or construction.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, Strict, model_validator

from hub.codes import AGENCY_CODE_MAX, AGENCY_CODE_PATTERN

Int = Annotated[int, Strict()]
AGENCY_CODE = r"^\d{3}\.\d{2,3}\.\d{2}\.[A-Z]\d{2}$"  # widths vary: 000.00.00.H56, 000.701.18.G12
PROVINCE_CODE = r"^[A-Z]\d{2}$"  # the last group of an agency code: H56 (a province), G12 (a ministry)
PROFILE_NAME = r"^[a-z][a-z0-9_]{0,39}$"  # a connector profile's name, as the environment names it
DEFAULT_PROFILE = "default"  # the portal connector's own HUB_PORTAL_* settings


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class PortalUnit(_Model):
    """How this agency's dossiers reach the national portal (DVCQG)."""

    madonvi: str = Field(
        pattern=AGENCY_CODE_PATTERN,
        max_length=AGENCY_CODE_MAX,
        description="Unit code sent as `madonvi` / `MaDinhDanhDV` on its calls (an agency code, QĐ 20/2020).",
    )
    madonvi_by_province: dict[Annotated[str, Field(pattern=PROVINCE_CODE)], str] = Field(
        default_factory=dict,
        max_length=20,
        description="A merged province's old prefixes: the unit code of the dossiers whose code carries that "
        'province, e.g. {"H22": "000.00.01.H22"} (each of that province); the others go under madonvi.',
    )
    profile: str = Field(
        default=DEFAULT_PROFILE,
        pattern=PROFILE_NAME,
        description="The portal connector profile its dossiers go through: `default` (the HUB_PORTAL_* settings) or "
        "a name of HUB_PORTAL_PROFILES (e.g. an LGSP-fronted variant); the settings stay in the environment.",
    )

    @model_validator(mode="after")
    def _units_of_their_province(self) -> PortalUnit:
        for province, unit in self.madonvi_by_province.items():
            if not re.match(AGENCY_CODE_PATTERN, unit) or unit.rsplit(".", 1)[-1] != province:
                raise ValueError(
                    f"madonvi_by_province.{province}: must be a unit code of {province}, e.g. 000.00.01.{province}"
                )
        return self

    def unit_for(self, province: str) -> str:
        """The unit code of a dossier whose code carries ``province``."""
        return self.madonvi_by_province.get(province, self.madonvi)


class PaymentChoice(_Model):
    """Which payment gateway profile this agency's fees are paid through."""

    profile: str = Field(
        pattern=PROFILE_NAME,
        description="A gateway profile of the hub (napas, paygov): used when a request names none; a request "
        "naming another is refused (payment_profile_of_agency).",
    )


class PayGovBeneficiary(_Model):
    """Where this agency's fees are paid (PayGov ThongTinBienLai)."""

    account: str = Field(min_length=1, max_length=50, description="TKThuHuong (beneficiary account).")
    bank_code: str = Field(min_length=1, max_length=20, description="MaNHThuHuong (beneficiary bank).")
    account_name: str = Field(min_length=1, max_length=200, description="TenTKThuHuong.")
    unit_name: str = Field(min_length=1, max_length=250, description="TenDonVi (the collecting unit's name).")


class PostalSender(_Model):
    """This agency at VNPost: its customer code, variant, and the agency's own address (the sender
    of a result delivery, the receiver of a pickup). Unit ids are VNPost's own."""

    customer_code: str = Field(min_length=1, max_length=50, description="VNPost CustomerCode (mã khách hàng).")
    variant: str = Field(default="lgsp", max_length=40, description="direct | lgsp | myvnpost.")
    name: str = Field(min_length=1, max_length=200)
    phone: str = Field(min_length=1, max_length=20)
    email: str | None = Field(default=None, max_length=254)
    address: str = Field(min_length=1, max_length=500)
    province_id: Int = Field(ge=1, le=9999)
    district_id: Int = Field(ge=0, le=999_999)


class Agency(_Model):
    code: str = Field(pattern=AGENCY_CODE, description="Electronic agency code (mã định danh điện tử).")
    name: str = Field(min_length=1, max_length=250)
    # dossier-code prefixes this agency's dossiers may carry (a merged province keeps old ones)
    province_codes: tuple[Annotated[str, Field(pattern=PROVINCE_CODE)], ...] = Field(
        default=(),
        max_length=20,
        description="MaDinhDanhTinh values, e.g. ('H56',); empty: the last group of the agency's own code.",
    )
    portal: PortalUnit | None = None
    payment: PaymentChoice | None = None
    paygov: PayGovBeneficiary | None = None
    postal: PostalSender | None = None


class AgencyNotConfigured(LookupError):
    """``agency`` is unknown, or has no ``section`` (portal, payment, paygov, postal) configured."""

    def __init__(self, agency: str, section: str | None = None) -> None:
        what = f"agency {agency} has no {section} configuration" if section else f"agency {agency} is not configured"
        super().__init__(what)
        self.agency, self.section = agency, section


@runtime_checkable
class AgencyDirectory(Protocol):
    def get(self, code: str) -> Agency | None: ...

    def all(self) -> list[Agency]: ...


def require(directory: AgencyDirectory, code: str, section: str | None = None) -> Agency:
    """The agency, with ``section`` configured, or ``AgencyNotConfigured``."""
    agency = directory.get(code)
    if agency is None or (section is not None and getattr(agency, section) is None):
        raise AgencyNotConfigured(code, section if agency is not None else None)
    return agency


class StaticAgencies:
    """A fixed directory: tests, ``lgsp dev``, or a JSON file (a list of Agency objects)."""

    def __init__(self, agencies: Iterable[Agency | Mapping[str, Any]] = ()) -> None:
        items = [a if isinstance(a, Agency) else Agency.model_validate(a) for a in agencies]
        self._by_code = {a.code: a for a in items}

    @classmethod
    def from_file(cls, path: str | Path) -> StaticAgencies:
        return cls(json.loads(Path(path).read_text(encoding="utf-8")))

    def get(self, code: str) -> Agency | None:
        return self._by_code.get(code)

    def all(self) -> list[Agency]:
        return sorted(self._by_code.values(), key=lambda a: a.code)
