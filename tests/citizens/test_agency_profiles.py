"""The population database per agency: an agency's ``population_db`` section picks a profile of
``HUB_POPDB_PROFILES`` (its own variant, address, credentials, breaker) and its MaDonVi.

One hub, two mock databases: the default profile reaches a SOAP mock, the ``thanhhoa`` profile a mock
behind a Thanh Hóa-type LGSP front (JSON in, ``{error_code, message}`` out). Each strict mock refuses the
other's shape, so an answered query went out in its agency's shape; each mock's request log says which
one it reached and with which MaDonVi."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select, union_all
from typer.testing import CliRunner

from connectors.population_db import PopulationDbSettings
from connectors.population_db.mock import Faults, create_app
from hub.agencies.directory import DbAgencies
from hub.agencies.port import Agency, PopulationDbChoice
from hub.api.app import create_app as create_hub_app
from hub.bootstrap import Hub, PartnerSettings, bootstrap
from hub.cli import app as lgsp_cli
from hub.clients import ADMIN
from hub.db.schema import evidence, evidence_staged
from hub.settings import Settings
from tests.factories import create_client
from tests.support.live import serve
from tests.support.problems import problem

from .conftest import AUDIT_KEY, BREAKER_FAILURES, BREAKER_RESET, Mock, audit_rows, h, query

SOAP_AGENCY = Agency(
    code="000.00.01.H56",
    name="Sở Tư pháp (SOAP through NDXP)",
    population_db=PopulationDbChoice(profile="default", madonvi="000.00.09.H56"),  # its unit at the database
)
OWN_AGENCY = Agency(
    code="000.00.05.H56", name="Sở on the default profile, under its own code", population_db=PopulationDbChoice()
)
LGSP_AGENCY = Agency(
    code="000.00.02.H56",
    name="UBND huyện (through the province's LGSP)",
    population_db=PopulationDbChoice(profile="thanhhoa"),
)
GHOST_AGENCY = Agency(
    code="000.00.03.H56",
    name="Sở naming a profile this hub does not define",
    population_db=PopulationDbChoice(profile="nowhere"),
)
PLAIN_AGENCY = Agency(code="000.00.04.H56", name="Sở without a population_db section")
DEFAULT_MADONVI = PopulationDbSettings().agency_code  # HUB_POPDB_AGENCY_CODE


@pytest.fixture(scope="session")
def thanhhoa_live() -> Iterator[str]:
    """A second mock database, behind a Thanh Hóa-type LGSP front."""
    settings = PopulationDbSettings(variant="lgsp_thanhhoa")
    with serve(lambda _url: create_app(Faults(), settings=settings), "mock LGSP population database") as url:
        yield url


@pytest.fixture
def lgsp(thanhhoa_live: str) -> Mock:
    httpx.post(f"{thanhhoa_live}/_mock/reset").raise_for_status()
    return Mock(thanhhoa_live)


@pytest.fixture
def hub(db_url: str, mock: Mock, lgsp: Mock) -> Iterator[Hub]:
    popdb = PopulationDbSettings(
        base_url=mock.url,
        timeout=3.0,
        breaker_failures=BREAKER_FAILURES,
        breaker_reset=BREAKER_RESET,
        profiles={"thanhhoa": {"variant": "lgsp_thanhhoa", "base_url": lgsp.url}},
    )
    settings = Settings(database_url=db_url, api_publishes=False, audit_hash_key=SecretStr(AUDIT_KEY))
    h = bootstrap(settings, partners=PartnerSettings(population_db=popdb))
    directory = DbAgencies(h.engine)
    for agency in (SOAP_AGENCY, LGSP_AGENCY, GHOST_AGENCY, PLAIN_AGENCY, OWN_AGENCY):
        directory.add(agency)
    yield h
    h.close()


@pytest.fixture
def api(hub: Hub) -> Iterator[TestClient]:
    with TestClient(create_hub_app(hub, pipeline=False)) as c:
        yield c


GRANTS = ["citizen.verify", "citizen.lookup:full_name,birth_date"]


@pytest.fixture
def several(hub: Hub) -> dict[str, str]:
    """A client of four agencies (each named per query)."""
    agencies = (SOAP_AGENCY.code, LGSP_AGENCY.code, GHOST_AGENCY.code, PLAIN_AGENCY.code, OWN_AGENCY.code)
    return h(create_client(hub.engine, "ONEGATE-MANY", "many agencies", GRANTS, agencies=agencies))


@pytest.fixture
def solo(hub: Hub) -> dict[str, str]:
    """A client of the LGSP agency alone."""
    return h(create_client(hub.engine, "ONEGATE-ONE", "one agency", GRANTS, agencies=(LGSP_AGENCY.code,)))


def reached(m: Mock) -> list[dict[str, Any]]:
    """What the mock database saw (masked), every request that got past its front."""
    return [r for r in httpx.get(f"{m.url}/_mock/requests").json() if "operation" in r]


def facts(hub: Hub) -> list[dict[str, Any]]:
    cols = [(t.c.kind, t.c.details) for t in (evidence_staged, evidence)]
    q = union_all(*(select(kind, details) for kind, details in cols))
    with hub.engine.connect() as c:
        return [dict(r.details) for r in c.execute(q) if r.kind == "citizen.query"]


def test_each_agencys_queries_go_out_in_its_profiles_shape(
    api: TestClient, hub: Hub, mock: Mock, lgsp: Mock, several: dict[str, str]
) -> None:
    r = api.post("/v1/citizens/verify", json=query(agency_code=SOAP_AGENCY.code), headers=several)
    assert r.status_code == 200, r.text
    assert r.json()["exists"] is True and all(r.json()["matches"].values())
    [soap] = reached(mock)
    assert soap["operation"] == "XacThucThongTinCongDan" and soap["MaDonVi"] == "000.00.09.H56"
    assert reached(lgsp) == []

    r = api.post("/v1/citizens/lookup", json=query(agency_code=LGSP_AGENCY.code), headers=several)
    assert r.status_code == 200, r.text
    assert r.json()["exists"] is True and r.json()["citizen"]["full_name"]
    [front] = reached(lgsp)  # JSON to the Thanh Hóa front: the SOAP mock would have refused it, and vice versa
    assert front["operation"] == "TraCuuThongTinCongDan"
    assert len(reached(mock)) == 1

    rows = audit_rows(hub)
    assert [(row["agency_code"], row["outcome"]) for row in rows] == [
        (SOAP_AGENCY.code, "matched"),
        (LGSP_AGENCY.code, "found"),
    ]
    assert [(f["agency_code"], f["outcome"]) for f in facts(hub)] == [
        (SOAP_AGENCY.code, "matched"),
        (LGSP_AGENCY.code, "found"),
    ]
    admin = h(create_client(hub.engine, "OPS", "operator", [ADMIN], agencies=()))
    search = api.get("/v1/citizens/queries", params={"agency": LGSP_AGENCY.code}, headers=admin)
    assert [q["agency_code"] for q in search.json()["queries"]] == [LGSP_AGENCY.code]


def test_lgsp_citizens_audit_filters_by_agency(
    api: TestClient, hub: Hub, db_url: str, cli: CliRunner, several: dict[str, str]
) -> None:
    for agency in (SOAP_AGENCY.code, LGSP_AGENCY.code, LGSP_AGENCY.code):
        assert api.post("/v1/citizens/verify", json=query(agency_code=agency), headers=several).status_code == 200
    env = {"HUB_DATABASE_URL": db_url, "HUB_AUDIT_HASH_KEY": AUDIT_KEY, "HUB_LOG_LEVEL": "WARNING"}
    for agency, expected in ((SOAP_AGENCY.code, 1), (LGSP_AGENCY.code, 2)):
        done = cli.invoke(lgsp_cli, ["citizens", "audit", "--agency", agency], env=env)
        assert done.exit_code == 0, done.output
        rows = [json.loads(line) for line in done.output.splitlines() if line.startswith("{")]
        assert [r["agency_code"] for r in rows] == [agency] * expected


def test_a_client_of_one_agency_may_omit_it_and_of_several_gets_the_default_profile(
    api: TestClient, hub: Hub, mock: Mock, lgsp: Mock, solo: dict[str, str], several: dict[str, str]
) -> None:
    assert api.post("/v1/citizens/verify", json=query(), headers=solo).status_code == 200
    assert len(reached(lgsp)) == 1 and reached(mock) == []  # its only agency's profile
    assert api.post("/v1/citizens/verify", json=query(), headers=several).status_code == 200
    [soap] = reached(mock)  # several agencies, none named: the deployment's default, its MaDonVi
    assert soap["MaDonVi"] == DEFAULT_MADONVI and len(reached(lgsp)) == 1
    r = api.post("/v1/citizens/verify", json=query(agency_code=PLAIN_AGENCY.code), headers=several)
    assert r.status_code == 200  # an agency without a population_db section: the default profile
    assert reached(mock)[-1]["MaDonVi"] == DEFAULT_MADONVI
    r = api.post("/v1/citizens/verify", json=query(agency_code=OWN_AGENCY.code), headers=several)
    assert r.status_code == 200 and reached(mock)[-1]["MaDonVi"] == OWN_AGENCY.code  # no madonvi: its own code
    assert [row["agency_code"] for row in audit_rows(hub)] == [
        LGSP_AGENCY.code,
        None,
        PLAIN_AGENCY.code,
        OWN_AGENCY.code,
    ]


def test_an_agency_the_client_is_not_bound_to_is_refused_and_recorded(
    api: TestClient, hub: Hub, mock: Mock, lgsp: Mock, solo: dict[str, str]
) -> None:
    for path in ("/v1/citizens/verify", "/v1/citizens/lookup"):
        doc = problem(api.post(path, json=query(agency_code=SOAP_AGENCY.code), headers=solo), 403, "forbidden")
        assert doc["errors"] == [
            {"field": "agency_code", "rule": "agency_not_bound", "message": doc["errors"][0]["message"]}
        ]
        assert LGSP_AGENCY.code in doc["errors"][0]["message"]  # it says which agencies it is bound to
    assert reached(mock) == [] and reached(lgsp) == []
    rows = audit_rows(hub)
    assert [(r["outcome"], r["reason"], r["agency_code"], r["http_status"]) for r in rows] == [
        ("forbidden", "agency-not-bound", SOAP_AGENCY.code, 403)
    ] * 2
    bad = problem(api.post("/v1/citizens/verify", json=query(agency_code="H56"), headers=solo), 422)
    assert bad["errors"][0]["field"] == "agency_code"


def test_an_agency_naming_an_undefined_profile_gets_a_problem_naming_it(
    api: TestClient, hub: Hub, mock: Mock, lgsp: Mock, several: dict[str, str]
) -> None:
    r = api.post("/v1/citizens/verify", json=query(agency_code=GHOST_AGENCY.code), headers=several)
    doc = problem(r, 503, "population_db_not_configured")
    assert doc["reason"] == "profile-undefined"
    assert GHOST_AGENCY.code in doc["detail"] and "'nowhere'" in doc["detail"]
    assert "default, thanhhoa" in doc["detail"] and "Traceback" not in r.text
    assert reached(mock) == [] and reached(lgsp) == []
    [row] = audit_rows(hub)
    assert (row["outcome"], row["reason"], row["agency_code"], row["http_status"]) == (
        "unconfigured",
        "profile-undefined",
        GHOST_AGENCY.code,
        503,
    )


def test_each_profile_has_its_own_breaker(
    api: TestClient, hub: Hub, mock: Mock, lgsp: Mock, several: dict[str, str]
) -> None:
    lgsp.faults(error_5xx_rate=1.0)  # the LGSP of one agency is down
    for _ in range(BREAKER_FAILURES):
        r = api.post("/v1/citizens/verify", json=query(agency_code=LGSP_AGENCY.code), headers=several)
        assert r.status_code == 503 and r.json()["reason"] != "circuit-open"
    r = api.post("/v1/citizens/verify", json=query(agency_code=LGSP_AGENCY.code), headers=several)
    assert r.status_code == 503 and r.json()["reason"] == "circuit-open"
    assert hub.citizens.profiles["thanhhoa"].breaker.state == "open"
    ok = api.post("/v1/citizens/verify", json=query(agency_code=SOAP_AGENCY.code), headers=several)
    assert ok.status_code == 200, ok.text  # the other agency's way is not affected
    assert hub.citizens.breaker.state == "closed" and len(reached(mock)) == 1


def test_the_operator_sets_the_population_db_section_with_the_cli_and_the_admin_api(
    api: TestClient, hub: Hub, db_url: str, cli: CliRunner, lgsp: Mock, several: dict[str, str]
) -> None:
    env = {"HUB_DATABASE_URL": db_url}
    code = PLAIN_AGENCY.code
    done = cli.invoke(
        lgsp_cli, ["agencies", "set", code, "population_db.profile=hagiang", f"population_db.madonvi={code}"], env=env
    )
    assert done.exit_code == 0, done.output
    assert DbAgencies(hub.engine).get(code) == PLAIN_AGENCY.model_copy(
        update={"population_db": PopulationDbChoice(profile="hagiang", madonvi=code)}
    )
    assert "population_db.profile 'hagiang' is not defined here (known: default)" in done.stderr
    assert "503 population_db_not_configured" in done.stderr
    defined = cli.invoke(
        lgsp_cli,
        ["agencies", "show", code],
        env=env | {"HUB_POPDB_PROFILES": '{"hagiang": {"variant": "lgsp_hagiang"}}'},
    )
    assert defined.exit_code == 0 and "warning" not in defined.stderr, defined.output
    refused = cli.invoke(lgsp_cli, ["agencies", "set", code, "population_db.madonvi=H56"], env=env)
    assert refused.exit_code == 2 and "population_db.madonvi" in refused.output
    unset = cli.invoke(lgsp_cli, ["agencies", "set", code, "--unset", "population_db"], env=env)
    assert unset.exit_code == 0 and DbAgencies(hub.engine).get(code) == PLAIN_AGENCY

    admin = h(create_client(hub.engine, "OPS", "operator", [ADMIN], agencies=()))
    body = PLAIN_AGENCY.model_dump(mode="json") | {"population_db": {"profile": "thanhhoa"}}
    r = api.put(f"/v1/admin/agencies/{code}", json=body, headers=admin)
    assert r.status_code == 200 and r.json()["population_db"] == {"profile": "thanhhoa", "madonvi": None}
    assert api.post("/v1/citizens/verify", json=query(agency_code=code), headers=several).status_code == 200
    [seen] = reached(lgsp)  # at once: the directory is read per query
    assert seen["MaDonVi"] == PopulationDbSettings(variant="lgsp_thanhhoa").agency_code  # the LGSP fills it [I]
    bad = body | {"population_db": {"profile": "Not A Name"}}
    doc = problem(api.put(f"/v1/admin/agencies/{code}", json=bad, headers=admin), 422)
    assert any("population_db" in e["field"] for e in doc["errors"])
