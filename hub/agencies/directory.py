"""The database-backed agency directory: the ``agencies`` table (migration 0012), managed by the
operator with ``lgsp agencies`` and ``/v1/admin/agencies``.

Every row is read back through ``port.Agency``, so what the table holds is what the model allows; a
change is validated as a whole before it is written (``AgencyInvalid`` names the field and the rule).
Reads go to the database each time (one primary-key select): an operator's change takes effect at
once in every process.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.engine import Row

from hub.agencies.port import Agency, PayGovBeneficiary, PaymentChoice, PortalUnit, PostalSender
from hub.db.schema import agencies
from hub.envelope import utcnow

SECTION_MODELS: dict[str, type[BaseModel]] = {
    "portal": PortalUnit,
    "payment": PaymentChoice,
    "paygov": PayGovBeneficiary,
    "postal": PostalSender,
}
SECTIONS = tuple(SECTION_MODELS)
# the agency of the examples and of `lgsp dev` (development values: not a real treasury account)
DEV_AGENCY = Agency(
    code="000.00.00.H56",
    name="Văn phòng UBND tỉnh (development)",
    province_codes=("H56",),
    portal=PortalUnit(madonvi="000.00.00.H56"),
    paygov=PayGovBeneficiary(
        account="0000000000", bank_code="KBNN", account_name="Development account", unit_name="Development unit"
    ),
)


class AgencyExists(Exception):
    pass


class AgencyNotFound(LookupError):
    pass


class AgencyInvalid(ValueError):
    """A change the model refuses; ``errors`` are ``(field, rule, message)`` triples."""

    def __init__(self, errors: list[tuple[str, str, str]]) -> None:
        super().__init__("; ".join(f"{f}: {m}" for f, _, m in errors))
        self.errors = errors


def validate(data: Mapping[str, Any]) -> Agency:
    """An Agency from plain data, or ``AgencyInvalid`` naming each field and its rule."""
    try:
        return Agency.model_validate(dict(data))
    except ValidationError as exc:
        raise AgencyInvalid(
            [(".".join(str(p) for p in e["loc"]) or "(body)", e["type"], e["msg"]) for e in exc.errors()]
        ) from None


def _agency(row: Row[Any]) -> Agency:
    return Agency.model_validate(
        {
            "code": row.code,
            "name": row.name,
            "province_codes": tuple(row.province_codes or ()),
            **{s: getattr(row, s) for s in SECTIONS},
        }
    )


def _columns(agency: Agency) -> dict[str, Any]:
    data = agency.model_dump(mode="json")
    return {
        "name": data["name"],
        "province_codes": list(data["province_codes"]),
        **{s: data[s] for s in SECTIONS},
    }


class DbAgencies:
    """``port.AgencyDirectory`` over the ``agencies`` table, with the operator's changes."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, code: str) -> Agency | None:
        with self.engine.connect() as c:
            row = c.execute(select(agencies).where(agencies.c.code == code)).first()
        return _agency(row) if row is not None else None

    def all(self) -> list[Agency]:
        with self.engine.connect() as c:
            return [_agency(r) for r in c.execute(select(agencies).order_by(agencies.c.code))]

    def add(self, agency: Agency) -> Agency:
        now = utcnow()
        with self.engine.begin() as c:
            if c.execute(select(agencies.c.code).where(agencies.c.code == agency.code)).first() is not None:
                raise AgencyExists(agency.code)
            c.execute(insert(agencies).values(code=agency.code, created_at=now, updated_at=now, **_columns(agency)))
        return agency

    def replace(self, agency: Agency) -> Agency:
        with self.engine.begin() as c:
            done = c.execute(
                update(agencies).where(agencies.c.code == agency.code).values(updated_at=utcnow(), **_columns(agency))
            )
            if done.rowcount == 0:
                raise AgencyNotFound(agency.code)
        return agency

    def change(self, code: str, values: Mapping[str, Any], unset: tuple[str, ...] = ()) -> Agency:
        """Merge ``values`` (top-level fields, or a section's fields: ``{"paygov": {"account": ...}}``)
        into the agency, drop the ``unset`` sections, validate the whole and store it."""
        current = self.get(code)
        if current is None:
            raise AgencyNotFound(code)
        data = current.model_dump(mode="json")
        for key, value in values.items():
            if key in SECTIONS and isinstance(value, Mapping):
                data[key] = {**(data.get(key) or {}), **value}
            else:
                data[key] = value
        for section in unset:
            data[section] = None
        data["code"] = code
        return self.replace(validate(data))

    def remove(self, code: str) -> None:
        with self.engine.begin() as c:
            if c.execute(delete(agencies).where(agencies.c.code == code)).rowcount == 0:
                raise AgencyNotFound(code)
