"""Valid canonical payloads with random business ids, for tests."""

from __future__ import annotations

import contextlib
import itertools
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from hub import clients
from hub.agencies.directory import AgencyExists, DbAgencies
from hub.agencies.port import Agency, PayGovBeneficiary, PortalUnit
from hub.canonical import VN_TZ, DossierStatusChange
from hub.ledger import NewMessage

_serial = itertools.count(secrets.randbelow(10**9))


def dossier_code(agency: str = "000.00.00.H56") -> str:
    """Unique within the process (a random day and a running number), so tests never collide."""
    n = next(_serial)
    day = datetime(2020, 1, 1, tzinfo=VN_TZ) + timedelta(days=(n // 10**5) % 2000)
    return f"{agency}-{day:%y%m%d}-{n % 10**5:05d}"


def status_change(code: str | None = None, status: int = 2, minutes_ago: float = 60, **over: Any) -> dict[str, Any]:
    at = datetime.now(tz=VN_TZ).replace(microsecond=0) - timedelta(minutes=minutes_ago)
    received = at - timedelta(days=1)
    body: dict[str, Any] = {
        "dossier_code": code or dossier_code(),
        "procedure_code": "2.002492",
        "procedure_name": "Cấp giấy phép xây dựng",
        "field_code": "G09-XD01",
        "field_name": "Hoạt động xây dựng",
        "agency_code": "000.00.00.H56",
        "agency_name": "Sở Xây dựng tỉnh Thanh Hóa",
        "summary": "Cấp giấy phép xây dựng nhà ở riêng lẻ",
        "status": status,
        "occurred_at": at.isoformat(),
        "received_at": received.isoformat(),
        "appointment_at": (received + timedelta(days=10)).isoformat(),
        "channel": 2,
        "result_delivery": 0,
        "applicant": {"name": "Nguyễn Văn An", "id_number": "038090001234", "type": 1},
        "fees": [{"code": "LP01", "name": "Lệ phí cấp phép", "amount": 150000, "kind": 2}],
        "handler": {"name": "Trần Thị Bình", "title": "Chuyên viên", "unit": "Bộ phận một cửa"},
    }
    if status in (9, 10):
        body["finished_at"] = (at - timedelta(minutes=1)).isoformat()
    if status == 10:
        body["returned_at"] = at.isoformat()
    body.update(over)
    return body


def model(**kw: Any) -> DossierStatusChange:
    return DossierStatusChange.model_validate(status_change(**kw))


def new_message(m: DossierStatusChange, correlation_id: str = "corr") -> NewMessage:
    """A status change as the ingress hands it to the ledger."""
    return NewMessage(
        type="dossier.status.changed",
        key=m.dossier_code,
        occurred_at=m.occurred_at,
        natural_key=m.natural_key(),
        connector="national_portal",
        schema_version=1,
        payload=m.model_dump(mode="json"),
        correlation_id=correlation_id,
    )


def payment_request(code: str | None = None, profile: str = "napas", **over: Any) -> dict[str, Any]:
    """A valid ``POST /v1/payments`` body: a 150,000 VND fee of a fresh dossier."""
    code = code or dossier_code()
    body: dict[str, Any] = {
        "client_reference": f"REF-{code}-{profile}",
        "dossier_code": code,
        "procedure_code": "2.002492",
        "procedure_name": "Cấp giấy phép xây dựng",
        "agency_code": "000.00.00.H56",
        "amount": 150_000,
        "fee_items": [{"code": "LP01", "name": "Lệ phí cấp giấy phép", "amount": 150_000}],
        "description": "Lệ phí cấp giấy phép xây dựng",
        "payer": {"name": "Nguyễn Văn An"},
        "return_url": "https://onegate.example/return",
        "profile": profile,
    }
    body.update(over)
    return body


# The agency of the payloads above, configured for every partner's tests (a PayGov beneficiary, a portal
# unit), and the agencies every test client is bound to (hub.agencies.binding).
TEST_AGENCY = Agency(
    code="000.00.00.H56",
    name="Sở Xây dựng tỉnh Thanh Hóa",
    province_codes=("H56",),
    portal=PortalUnit(madonvi="000.00.00.H56"),
    paygov=PayGovBeneficiary(
        account="3511.0.1055555", bank_code="KBNN", account_name="Sở Xây dựng Thanh Hóa", unit_name="Sở Xây dựng"
    ),
)
TEST_AGENCIES: tuple[str, ...] = (TEST_AGENCY.code,)


def ensure_agency(engine: Engine, agency: Agency = TEST_AGENCY) -> None:
    """The agency in the database's directory (``lgsp agencies add``), if it is not there yet."""
    directory = DbAgencies(engine)
    if directory.get(agency.code) is None:
        with contextlib.suppress(AgencyExists):
            directory.add(agency)


def create_client(
    engine: Engine,
    code: str,
    name: str,
    grants: list[str],
    key: str | None = None,
    actor: str = "system",
    agencies: Iterable[str] = TEST_AGENCIES,
) -> str:
    """``hub.clients.create_client`` for tests: the client is bound to ``TEST_AGENCIES`` unless told, and
    ``TEST_AGENCY`` is in the directory (the one place tests get their agency binding and configuration)."""
    ensure_agency(engine)
    return clients.create_client(engine, code, name, grants, key, actor, agencies)
