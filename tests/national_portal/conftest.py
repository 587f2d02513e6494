"""Fixtures of the national portal connector tests: canonical items, the mock app, a live mock server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from connectors.national_portal import NationalPortalSettings
from connectors.national_portal.client import NationalPortalConnector
from connectors.national_portal.mock import create_app
from hub.canonical import DossierStatusChange
from hub.ports import DeliveryItem
from tests.support.live import serve

APPLICANT_NAME = "Nguyễn Văn An"
APPLICANT_ID = "038099012345"
_serial = count(1)
_BASE = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)


def change(number: int | None = None, status: int = 2, minute: int | None = None, **overrides: Any) -> dict[str, Any]:
    """A valid canonical payload (JSON form, as in DeliveryItem.payload); a fresh dossier code unless
    ``number`` is given; the change happens ``minute`` minutes after reception (default 10 x status)."""
    number = next(_serial) if number is None else number
    occurred = _BASE + timedelta(minutes=10 * status if minute is None else minute)
    fields: dict[str, Any] = {
        "dossier_code": f"000.00.00.H56-250225-{number:04d}",
        "procedure_code": "2.002492",
        "procedure_name": "Cấp giấy phép xây dựng",
        "field_code": "G09-XD01",
        "field_name": "Hoạt động xây dựng",
        "agency_code": "000.00.00.H56",
        "agency_name": "UBND tỉnh Thanh Hóa",
        "summary": "Cấp giấy phép xây dựng nhà ở riêng lẻ",
        "channel": 2,
        "result_delivery": 0,
        "status": status,
        "occurred_at": occurred,
        "received_at": _BASE if status >= 2 else None,
        "appointment_at": _BASE + timedelta(days=10) if status not in (1, 3) else None,
        "finished_at": occurred if status >= 9 else None,
        "returned_at": occurred if status == 10 else None,
        "applicant": {"name": APPLICANT_NAME, "id_number": APPLICANT_ID, "phone": "0912345678", "type": 1},
        "fees": [{"name": "Lệ phí", "amount": 50000}],
        "handler": {"name": "Lê Thị Bình", "title": "Chuyên viên"},
    }
    fields.update(overrides)
    return DossierStatusChange.model_validate(fields).model_dump(mode="json")


def item(
    payload: dict[str, Any],
    *,
    known: bool = False,
    in_doubt: bool = False,
    attempt: int = 1,
    type: str = "dossier.status.changed",
) -> DeliveryItem:
    return DeliveryItem(
        message_id=f"msg-{payload['dossier_code']}-{payload['status']}-{attempt}",
        type=type,
        key=payload["dossier_code"],
        payload=payload,
        attempt=attempt,
        key_known_to_partner=known,
        in_doubt=in_doubt,
    )


@pytest.fixture
def mock_client() -> Iterator[TestClient]:
    """The mock portal, in process; a TestClient is an httpx.Client and can be injected."""
    with TestClient(create_app(), base_url="http://testserver") as client:
        yield client


@pytest.fixture
def connector(mock_client: TestClient) -> NationalPortalConnector:
    """The real connector talking to the in-process mock."""
    return NationalPortalConnector(NationalPortalSettings(base_url="http://testserver"), http=mock_client)


@pytest.fixture(scope="session")
def live_portal() -> Iterator[str]:
    """The mock served by uvicorn on a free port in a background thread (real sockets and timeouts)."""
    with serve(lambda _url: create_app(), "mock portal") as url:
        yield url


@pytest.fixture
def live_url(live_portal: str) -> str:
    httpx.post(f"{live_portal}/_mock/reset").raise_for_status()
    return live_portal
