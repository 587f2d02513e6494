"""Fixtures of the population database tests: demo queries, the mock in process and on a real socket."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from connectors.population_db import PopulationDbClient, PopulationDbSettings
from connectors.population_db.mock import Faults, create_app
from hub.citizens.port import LookupRequest, VerifyRequest
from tests.support.live import serve

# The first fixed demo citizen of the mock (synthetic: ID numbers starting 000 are fake).
AN_ID, AN_NAME, AN_BIRTH = "000090000001", "Nguyễn Văn An", date(1990, 1, 15)
NGOC_ID, NGOC_OLD_ID, NGOC_NAME, NGOC_YEAR = "000185000002", "000000002", "Trần Thị Bích Ngọc", 1985
DUC_ID, DUC_NAME, DUC_BIRTH = "000300000003", "Lê Minh Đức", date(2000, 2, 29)
UNKNOWN_ID = "000999999999"
OFFICER = "CB.H56.0042"
PERSONAL = (AN_ID, AN_NAME, AN_NAME.upper(), "Nguyễn", "000090000001"[-9:])


def verify_req(
    id_number: str = AN_ID, full_name: str = AN_NAME, birth_date: date | int = AN_BIRTH, **kw: Any
) -> VerifyRequest:
    return VerifyRequest(id_number=id_number, full_name=full_name, birth_date=birth_date, officer_code=OFFICER, **kw)


def lookup_req(
    id_number: str = AN_ID, full_name: str = AN_NAME, birth_date: date | int = AN_BIRTH, **kw: Any
) -> LookupRequest:
    return LookupRequest(id_number=id_number, full_name=full_name, birth_date=birth_date, officer_code=OFFICER, **kw)


def assert_no_personal_data(exc: BaseException, *extra: str) -> None:
    """Neither the message, the repr nor the args of ``exc`` (or anything chained) show personal data."""
    seen = [exc]
    while (chained := seen[-1].__cause__ or seen[-1].__context__) is not None:
        seen.append(chained)
    for e in seen:
        texts = (str(e), repr(e), *map(str, e.args))
        for secret in (*PERSONAL, *extra):
            assert all(secret not in t for t in texts), f"{secret!r} leaked into {type(e).__name__}"


@pytest.fixture
def mock_http() -> Iterator[TestClient]:
    """The mock, in process: a TestClient is an httpx.Client the connector can be given."""
    with TestClient(create_app(), base_url="http://testserver") as client:
        yield client


@pytest.fixture
def settings() -> PopulationDbSettings:
    return PopulationDbSettings(base_url="http://testserver")


@pytest.fixture
def client(settings: PopulationDbSettings, mock_http: TestClient) -> Iterator[PopulationDbClient]:
    """The real client talking SOAP to the in-process mock."""
    c = PopulationDbClient(settings, http=mock_http)
    yield c
    c.close()


@pytest.fixture
def set_faults(mock_http: TestClient) -> Callable[..., dict[str, Any]]:
    def apply(**patch: Any) -> dict[str, Any]:
        response = mock_http.post("/_mock/faults", json=patch)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    return apply


@pytest.fixture(scope="session")
def live_mock() -> Iterator[str]:
    """The mock served by uvicorn on a loopback port in a thread (real sockets, real timeouts)."""
    with serve(lambda _url: create_app(Faults()), "mock population database") as url:
        yield url


@pytest.fixture
def live_url(live_mock: str) -> str:
    httpx.post(f"{live_mock}/_mock/reset").raise_for_status()
    return live_mock
