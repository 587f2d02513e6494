"""Fixtures of the citizen API tests: the mock population database on a loopback socket (real
timeouts), a hub wired to it on SQLite and PostgreSQL, clients with citizen grants, log capture."""

from __future__ import annotations

import hashlib
import hmac
import io
import logging
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import structlog
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from connectors.population_db import PopulationDbSettings
from connectors.population_db.mock import Faults, create_app
from hub.api.app import create_app as create_hub_app
from hub.bootstrap import Hub, PartnerSettings, bootstrap
from hub.clients import ADMIN
from hub.db.schema import citizen_queries
from hub.logging import configure
from hub.settings import Settings
from tests.factories import create_client
from tests.population_db.conftest import AN_BIRTH, AN_ID, AN_NAME, OFFICER
from tests.support.live import serve

AUDIT_KEY = "test-audit-key-" + "k" * 32
PURPOSE = "Hồ sơ 000.00.00.H56-251122-0001: cấp giấy phép xây dựng"
BREAKER_FAILURES = 3
BREAKER_RESET = 30.0
# Everything personal the tests send or the mock answers about the first demo citizen (all synthetic).
PERSONAL = (AN_ID, AN_ID[-9:], AN_NAME, AN_NAME.upper(), AN_NAME.casefold(), "1990-01-15", "Số 1 đường Thử Nghiệm")


def query(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id_number": AN_ID,
        "full_name": AN_NAME,
        "birth_date": AN_BIRTH.isoformat(),
        "purpose": PURPOSE,
        "officer_code": OFFICER,
    }
    return {**body, **over}


def keyed_hash(id_number: str, key: str = AUDIT_KEY) -> str:
    return hmac.new(key.encode(), id_number.encode(), hashlib.sha256).hexdigest()


@pytest.fixture(scope="session")
def popdb_live() -> Iterator[str]:
    """The mock population database served by uvicorn in a thread."""
    with serve(lambda _url: create_app(Faults()), "mock population database") as url:
        yield url


class Mock:
    """The running mock: fault switches and what it saw."""

    def __init__(self, url: str) -> None:
        self.url = url

    def faults(self, **patch: Any) -> None:
        httpx.post(f"{self.url}/_mock/faults", json=patch).raise_for_status()

    def seen(self) -> int:
        """Every SOAP request that reached the mock, faulted or not."""
        stats: dict[str, dict[str, int]] = httpx.get(f"{self.url}/_mock/stats").json()
        return sum(stats["calls"].values()) + sum(stats["faults_injected"].values())


@pytest.fixture
def mock(popdb_live: str) -> Mock:
    httpx.post(f"{popdb_live}/_mock/reset").raise_for_status()
    return Mock(popdb_live)


@pytest.fixture
def popdb_settings(mock: Mock) -> PopulationDbSettings:
    return PopulationDbSettings(
        base_url=mock.url, timeout=3.0, breaker_failures=BREAKER_FAILURES, breaker_reset=BREAKER_RESET
    )


@pytest.fixture
def hub(db_url: str, popdb_settings: PopulationDbSettings) -> Iterator[Hub]:
    settings = Settings(database_url=db_url, api_publishes=False, audit_hash_key=SecretStr(AUDIT_KEY))
    h = bootstrap(settings, partners=PartnerSettings(population_db=popdb_settings))
    yield h
    h.close()


@pytest.fixture
def api(hub: Hub) -> Iterator[TestClient]:
    with TestClient(create_hub_app(hub, pipeline=False)) as c:
        yield c


@pytest.fixture
def keys(hub: Hub) -> dict[str, str]:
    return {
        "verify": create_client(hub.engine, "ONEGATE-V", "verifies", ["citizen.verify"]),
        "lookup": create_client(
            hub.engine, "ONEGATE-L", "looks up", ["citizen.verify", "citizen.lookup:full_name,birth_date"]
        ),
        "lookup_more": create_client(
            hub.engine,
            "ONEGATE-M",
            "two lookup grants",
            ["citizen.lookup:full_name,permanent_address", "citizen.lookup:father,gender"],
        ),
        "portal": create_client(hub.engine, "ONEGATE-P", "publishes only", ["dossier.status.changed"]),
        "admin": create_client(hub.engine, "OPS", "operator", [ADMIN]),
    }


def h(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


def audit_rows(hub: Hub) -> list[dict[str, Any]]:
    with hub.engine.connect() as c:
        return [dict(r) for r in c.execute(select(citizen_queries).order_by(citizen_queries.c.id)).mappings()]


def table_text(hub: Hub) -> str:
    """Every row of the audit table, every column, as text."""
    return "\n".join(repr(sorted(row.items())) for row in audit_rows(hub))


def assert_nothing_personal(*texts: str) -> None:
    for text in texts:
        for secret in PERSONAL:
            assert secret not in text, f"{secret!r} leaked"


@pytest.fixture
def logged(caplog: pytest.LogCaptureFixture) -> Iterator[Callable[[], str]]:
    """Everything logged so far (structlog through the hub's masking pipeline, and the standard library)."""
    stream = io.StringIO()
    configure("DEBUG", json=True, stream=stream)
    caplog.set_level(logging.DEBUG)
    yield lambda: stream.getvalue() + "\n".join(r.getMessage() for r in caplog.records)
    structlog.reset_defaults()
