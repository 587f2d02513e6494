"""Through the hub's API: an answer with more than the schema lists is answered (200), the extras counted in the
audit and a metric and kept nowhere; a query the database's limits refuse is a 422, never sent."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from pydantic import SecretStr

from connectors.population_db import PopulationDbSettings
from connectors.population_db.limits import FieldLimits
from hub.api.app import create_app as create_hub_app
from hub.bootstrap import Hub, PartnerSettings, bootstrap
from hub.settings import Settings
from tests.factories import create_client

from .conftest import AUDIT_KEY, Mock, assert_nothing_personal, audit_rows, h, query, table_text

EXTRAS = "read past 3 unknown element(s): CongDan/LoaiTaiKhoan, CongDan/MaSoThue, CongDan/ThuDienTu"


def ignored_total(operation: str) -> float:
    value = REGISTRY.get_sample_value("lgsp_citizen_answer_ignored_elements_total", {"operation": operation})
    return value or 0.0


def test_an_answer_with_unknown_elements_is_answered_and_they_are_counted(
    api: TestClient, keys: dict[str, str], hub: Hub, mock: Mock, logged: Callable[[], str]
) -> None:
    mock.faults(answer_shape="thh")
    before = ignored_total("lookup")
    r = api.post("/v1/citizens/lookup", json=query(), headers=h(keys["lookup_more"]))
    assert r.status_code == 200, r.text  # was a 502 when the answer had to match our XSD exactly
    citizen = r.json()["citizen"]
    assert citizen["permanent_address"]["province_name"] == "Tỉnh Thanh Hóa"  # names in DiaChi are read
    assert citizen["father"]["full_name"] == "Nguyễn Văn Cường"  # a plain-text relative's name is read
    [row] = audit_rows(hub)
    assert (row["outcome"], row["detail"]) == ("found", EXTRAS)
    assert ignored_total("lookup") == before + 3
    everything = "\n".join((r.text, table_text(hub), logged()))
    assert "cong.dan@example.invalid" not in everything and "0000000000" not in everything  # never kept
    assert_nothing_personal(table_text(hub), logged())


@pytest.fixture
def narrow_hub(db_url: str, mock: Mock) -> Iterator[Hub]:
    """A hub whose population database accepts names of at most 10 characters."""
    popdb = PopulationDbSettings(base_url=mock.url, timeout=3.0, limits=FieldLimits(HoVaTen=10))
    h = bootstrap(Settings(database_url=db_url, api_publishes=False, audit_hash_key=SecretStr(AUDIT_KEY)),
                  partners=PartnerSettings(population_db=popdb))  # fmt: skip
    yield h
    h.close()


def test_a_query_over_the_databases_limits_is_a_422_and_is_not_sent(
    narrow_hub: Hub, mock: Mock, logged: Callable[[], str]
) -> None:
    key = create_client(narrow_hub.engine, "ONEGATE-N", "verifies", ["citizen.verify"])
    with TestClient(create_hub_app(narrow_hub, pipeline=False)) as api:
        r = api.post("/v1/citizens/verify", json=query(), headers=h(key))
    assert r.status_code == 422, r.text
    body = r.json()
    assert r.headers["content-type"].startswith("application/problem+json")
    assert (body["type"], body["reason"], body["fields"]) == (
        "urn:lgsp:problem:invalid_for_population_db",
        "HoVaTen: at most 10 characters",
        ["HoVaTen"],
    )
    assert mock.seen() == 0  # nothing went out
    assert narrow_hub.citizens.breaker.state == "closed" and narrow_hub.citizens.breaker.consecutive == 0
    [row] = audit_rows(narrow_hub)
    assert (row["outcome"], row["http_status"], row["request_id"]) == ("invalid", 422, None)
    assert "field-limit" in row["detail"] and "HoVaTen" in row["detail"]
    assert_nothing_personal(r.text, table_text(narrow_hub), logged())
