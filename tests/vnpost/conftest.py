"""Fixtures of the VNPost tests: orders built from real unit codes, the mock VNPost in process
(``TestClient``) and served on a free loopback port (real sockets and timeouts)."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import count
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from connectors.vnpost import VnpostClient, VnpostSettings
from connectors.vnpost.mock import MockOptions, create_app
from hub.postal.port import CancelRequest, PostalOrderRequest, PostalParty
from hub.postal.units import UnitCodes, UnitMap
from tests.support.live import serve

CUSTOMER = "BCCI_H56"
BASE = "http://vnpost.test"
VARIANTS = ("direct", "lgsp", "myvnpost")
CITIZEN_NAME = "Nguyễn Thị Bích Ngọc"
CITIZEN_PHONE = "0912345678"
CITIZEN_ADDRESS = "Số 12 ngõ 34 phố Ngọc Hà"
_serial = count(1)


def dossier_code() -> str:
    return f"000.00.00.H56-251122-{next(_serial):04d}"


def units() -> UnitMap:
    return UnitMap.load(placeholders=True)


def parties() -> tuple[PostalParty, PostalParty]:
    m = units()
    agency_unit = m.resolve(UnitCodes("38", "380"), field="agency")  # Thanh Hóa, TP Thanh Hóa (2004 codes)
    citizen_unit = m.resolve(UnitCodes("01", commune="00008"), field="citizen")  # Hà Nội, Phường Ngọc Hà (2025)
    agency = PostalParty(
        name="Trung tâm Phục vụ hành chính công tỉnh",
        phone="02373850000",
        email="bcci@thanhhoa.gov.vn",
        address="28 Đại lộ Lê Lợi",
        province_id=agency_unit.province_id,
        district_id=agency_unit.district_id,
    )
    citizen = PostalParty(
        name=CITIZEN_NAME,
        phone=CITIZEN_PHONE,
        address=CITIZEN_ADDRESS,
        province_id=citizen_unit.province_id,
        district_id=citizen_unit.district_id,
    )
    return agency, citizen


def order(number: str | None = None, kind: str = "delivery", **overrides: Any) -> PostalOrderRequest:
    agency, citizen = parties()
    fields: dict[str, Any] = {
        "customer_code": CUSTOMER,
        "order_number": number or dossier_code(),
        "kind": kind,
        "agency": agency,
        "citizen": citizen,
        "cod_amount": 0,
        "description": "Kết quả giải quyết thủ tục hành chính",
    }
    return PostalOrderRequest(**(fields | overrides))


def cancel(number: str) -> CancelRequest:
    return CancelRequest(customer_code=CUSTOMER, order_number=number)


def settings(variant: str, base_url: str = BASE, **overrides: Any) -> VnpostSettings:
    """Settings of ``variant`` (a name the settings check) and any other field."""
    return VnpostSettings.model_validate({"variant": variant, "base_url": base_url, **overrides})


@pytest.fixture(params=VARIANTS)
def variant(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def mock_app() -> Any:
    return create_app(MockOptions(realtime=False, step_seconds=60, token_ttl_seconds=600))


@pytest.fixture
def admin(mock_app: Any) -> Iterator[TestClient]:
    with TestClient(mock_app, base_url=BASE) as tc:
        yield tc


@pytest.fixture
def inproc(mock_app: Any, variant: str) -> Iterator[VnpostClient]:
    """A client of the given variant talking to the mock in process."""
    with TestClient(mock_app, base_url=BASE) as tc:
        client = VnpostClient(settings(variant), http=tc)
        yield client
        client.close()


@pytest.fixture
def live(mock_app: Any) -> Iterator[str]:
    """The mock served on a free loopback port; yields its base URL."""
    with serve(lambda _url: mock_app, "mock VNPost") as url:
        yield url


@pytest.fixture
def live_client(live: str, variant: str) -> Iterator[VnpostClient]:
    client = VnpostClient(settings(variant, live, timeout=5.0))
    yield client
    client.close()


def advance(admin_or_url: TestClient | str, seconds: float) -> None:
    if isinstance(admin_or_url, str):
        httpx.post(f"{admin_or_url}/_mock/clock/advance", json={"seconds": seconds}).raise_for_status()
    else:
        admin_or_url.post("/_mock/clock/advance", json={"seconds": seconds}).raise_for_status()
