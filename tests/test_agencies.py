"""Per-agency configuration as data the operator manages (``lgsp agencies``, ``/v1/admin/agencies``), and
the client <-> agency binding (``lgsp clients bind``): a client pushes its own agencies' dossiers and
payments only, and a dossier code carries its agency's province (the 2025 merger: old prefixes too)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from hub.agencies import binding
from hub.agencies.directory import AgencyExists, AgencyInvalid, AgencyNotFound, DbAgencies
from hub.agencies.port import Agency, AgencyNotConfigured, StaticAgencies, require
from hub.api.app import create_app
from hub.bootstrap import Hub, bootstrap
from hub.cli import app as lgsp
from hub.clients import ADMIN, history
from hub.settings import Settings
from tests import factories
from tests.factories import TEST_AGENCY, create_client
from tests.support.problems import problem

H22 = "000.00.00.H22"  # Hà Giang, merged into Tuyên Quang in 2025: its dossiers keep their prefix
TUYEN_QUANG = Agency(code="000.00.00.H61", name="UBND tỉnh Tuyên Quang", province_codes=("H61", "H22"))


@pytest.fixture
def hub(db_url: str) -> Iterator[Hub]:
    h = bootstrap(Settings(database_url=db_url, api_publishes=False, auth_cache_seconds=0))
    yield h
    h.close()


@pytest.fixture
def api(hub: Hub) -> Iterator[TestClient]:
    with TestClient(create_app(hub, pipeline=False)) as c:
        yield c


@pytest.fixture
def admin(hub: Hub) -> dict[str, str]:
    return {"X-API-Key": create_client(hub.engine, "OPS", "operator", [ADMIN], agencies=())}


# ------------------------------------------------------------------ the directory
def test_the_database_directory_keeps_what_the_operator_gives_and_refuses_what_the_model_refuses(
    hub: Hub,
) -> None:
    directory = DbAgencies(hub.engine)
    assert isinstance(hub.agencies, DbAgencies) and directory.all() == []
    directory.add(TEST_AGENCY)
    assert directory.get(TEST_AGENCY.code) == TEST_AGENCY and directory.all() == [TEST_AGENCY]
    with pytest.raises(AgencyExists):
        directory.add(TEST_AGENCY)
    changed = directory.change(TEST_AGENCY.code, {"paygov": {"account": "3511.0.999"}}, unset=("portal",))
    assert changed.paygov is not None and changed.paygov.account == "3511.0.999" and changed.portal is None
    assert changed.paygov.unit_name == TEST_AGENCY.paygov.unit_name  # type: ignore[union-attr]  # merged, not replaced
    with pytest.raises(AgencyInvalid) as bad:
        directory.change(TEST_AGENCY.code, {"paygov": {"account": ""}, "province_codes": ["56"]})
    assert {(f, r) for f, r, _ in bad.value.errors} == {
        ("paygov.account", "string_too_short"),
        ("province_codes.0", "string_pattern_mismatch"),
    }
    directory.remove(TEST_AGENCY.code)
    with pytest.raises(AgencyNotFound):
        directory.remove(TEST_AGENCY.code)
    with pytest.raises(AgencyNotConfigured, match=r"agency 000\.00\.00\.H56 is not configured"):
        require(directory, TEST_AGENCY.code, "paygov")


def test_a_file_of_agencies_is_served_read_only(hub: Hub, tmp_path: Any, db_url: str) -> None:
    path = tmp_path / "agencies.json"
    path.write_text(json.dumps([TEST_AGENCY.model_dump(mode="json")]), encoding="utf-8")
    fixed = bootstrap(Settings(database_url=db_url, agencies_file=str(path)), run_migrations=False)
    assert isinstance(fixed.agencies, StaticAgencies) and fixed.agencies.get(TEST_AGENCY.code) == TEST_AGENCY
    ops = {"X-API-Key": create_client(hub.engine, "OPS", "operator", [ADMIN])}
    with TestClient(create_app(fixed, pipeline=False)) as c:
        assert c.get("/v1/admin/agencies", headers=ops).json() == [TEST_AGENCY.model_dump(mode="json")]
        problem(c.post("/v1/admin/agencies", json=TUYEN_QUANG.model_dump(mode="json"), headers=ops), 409, "conflict")
    fixed.close()


# ------------------------------------------------------------------ the admin API
def test_the_admin_api_manages_agencies(api: TestClient, admin: dict[str, str], hub: Hub) -> None:
    body, code = TUYEN_QUANG.model_dump(mode="json"), TUYEN_QUANG.code
    assert api.post("/v1/admin/agencies", json=body, headers=admin).status_code == 201
    problem(api.post("/v1/admin/agencies", json=body, headers=admin), 409, "agency_exists")
    assert api.get(f"/v1/admin/agencies/{code}", headers=admin).json() == body
    assert [a["code"] for a in api.get("/v1/admin/agencies", headers=admin).json()] == [TEST_AGENCY.code, code]
    replaced = {**body, "paygov": TEST_AGENCY.model_dump(mode="json")["paygov"], "name": "Tuyên Quang (renamed)"}
    r = api.put(f"/v1/admin/agencies/{code}", json=replaced, headers=admin)
    assert r.status_code == 200 and r.json() == replaced and hub.agencies.get(code) == Agency.model_validate(replaced)
    doc = problem(api.put(f"/v1/admin/agencies/{H22}", json=replaced, headers=admin), 422, "validation_failed")
    assert [(e["field"], e["rule"]) for e in doc["errors"]] == [("code", "path_mismatch")]
    bad = problem(api.post("/v1/admin/agencies", json={**body, "paygov": {"account": ""}}, headers=admin), 422)
    assert {e["field"] for e in bad["errors"]} >= {"paygov.account", "paygov.bank_code"}, bad["errors"]
    assert api.delete(f"/v1/admin/agencies/{code}", headers=admin).status_code == 204
    problem(api.get(f"/v1/admin/agencies/{code}", headers=admin), 404, "not_found")
    problem(api.delete(f"/v1/admin/agencies/{code}", headers=admin), 404, "not_found")
    plain = {"X-API-Key": create_client(hub.engine, "ONEGATE", "one-stop", ["dossier.status.changed"])}
    problem(api.get("/v1/admin/agencies", headers=plain), 403, "forbidden")


# ------------------------------------------------------------------ the CLI
def test_the_cli_adds_lists_shows_sets_and_removes_agencies(db_url: str, hub: Hub, cli: CliRunner) -> None:
    env = {"HUB_DATABASE_URL": db_url}

    def run(*args: str) -> Any:
        return cli.invoke(lgsp, ["agencies", *args], env=env)

    fields = ["portal.madonvi=000.00.00.H56", "paygov.account=3511.0.1", "paygov.bank_code=KBNN"]
    fields += ["paygov.account_name=Sở Xây dựng", "paygov.unit_name=Sở Xây dựng"]
    added = run("add", "000.00.00.H56", "--name", "Sở Xây dựng", "--province", "H56", *fields)
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout)["paygov"]["account"] == "3511.0.1"
    assert run("add", "000.00.00.H56", "--name", "again").exit_code == 1
    assert [json.loads(line)["code"] for line in run("list").stdout.splitlines()] == ["000.00.00.H56"]
    changed = run("set", "000.00.00.H56", "paygov.account=3511.0.2", "--unset", "portal")
    assert changed.exit_code == 0, changed.output
    shown = json.loads(run("show", "000.00.00.H56").stdout)
    assert shown["paygov"]["account"] == "3511.0.2" and shown["portal"] is None
    refused = run("set", "000.00.00.H56", "paygov.account=")
    assert refused.exit_code == 2 and "paygov.account" in refused.output
    assert run("set", "000.00.00.H56", "paygov.nothing=1").exit_code == 2
    postal = ["postal.customer_code=C1", "postal.name=Sở", "postal.phone=0237", "postal.address=Thanh Hóa"]
    with_postal = run("set", "000.00.00.H56", *postal, "postal.province_id=38", "postal.district_id=0")
    assert with_postal.exit_code == 0, with_postal.output
    assert hub.agencies.get("000.00.00.H56").postal.province_id == 38  # type: ignore[union-attr]
    assert run("remove", "000.00.00.H56").exit_code == 0 and run("show", "000.00.00.H56").exit_code == 1


def test_the_cli_binds_and_unbinds_and_the_history_records_it(db_url: str, hub: Hub, cli: CliRunner) -> None:
    env = {"HUB_DATABASE_URL": db_url}
    made = cli.invoke(lgsp, ["clients", "create", "ONEGATE-TQ", "--agency", TUYEN_QUANG.code], env=env)
    assert made.exit_code == 0, made.output
    assert cli.invoke(lgsp, ["clients", "bind", "ONEGATE-TQ", H22], env=env).exit_code == 0
    assert cli.invoke(lgsp, ["clients", "bind", "ONEGATE-TQ", "H22"], env=env).exit_code == 2  # not an agency code
    unbound = cli.invoke(lgsp, ["clients", "unbind", "ONEGATE-TQ", TUYEN_QUANG.code], env=env)
    assert unbound.exit_code == 0 and unbound.stdout.strip() == f"ONEGATE-TQ: {H22}"
    actions = [(h["action"], h["detail"].get("agencies")) for h in history(hub.engine, "ONEGATE-TQ")]
    assert actions == [
        ("unbind_agency", [TUYEN_QUANG.code]),
        ("bind_agency", [H22]),
        ("create", [TUYEN_QUANG.code]),
    ]
    assert all(h["actor"].startswith("cli:") for h in history(hub.engine, "ONEGATE-TQ"))


def test_the_admin_api_binds_agencies_and_records_it(api: TestClient, admin: dict[str, str], hub: Hub) -> None:
    r = api.post("/v1/admin/clients", json={"code": "ONEGATE-X", "agencies": [TEST_AGENCY.code]}, headers=admin)
    assert r.status_code == 201 and r.json()["agencies"] == [TEST_AGENCY.code]
    r = api.post("/v1/admin/clients/ONEGATE-X/agencies", json={"agencies": [H22]}, headers=admin)
    assert r.json()["agencies"] == [H22, TEST_AGENCY.code]
    r = api.post("/v1/admin/clients/ONEGATE-X/agencies/remove", json={"agencies": [TEST_AGENCY.code]}, headers=admin)
    assert r.json()["agencies"] == [H22]
    problem(api.post("/v1/admin/clients/ONEGATE-X/agencies", json={"agencies": ["H22"]}, headers=admin), 422)
    problem(api.post("/v1/admin/clients/NOBODY/agencies", json={"agencies": [H22]}, headers=admin), 404)
    changes = api.get("/v1/admin/clients/ONEGATE-X/history", headers=admin).json()
    assert [(c["action"], c["actor"]) for c in changes][:2] == [
        ("unbind_agency", "client:OPS"),
        ("bind_agency", "client:OPS"),
    ]


# ------------------------------------------------------------------ the binding
def test_dossier_unit_and_province_are_read_from_the_code() -> None:
    assert binding.dossier_unit("000.701.18.G12-260331-27110000310611") == "000.701.18.G12"
    assert binding.province_of("000.17.22.H56") == "H56"


@pytest.mark.parametrize(
    ("bound", "agency", "dossier", "verdict"),
    [
        ({TEST_AGENCY.code}, TEST_AGENCY.code, "000.17.22.H56-250225-0001", None),  # another unit, same province
        ({TEST_AGENCY.code}, "000.00.00.H57", "000.00.00.H57-250225-0001", (403, "agency_code", "agency_not_bound")),
        (
            {TEST_AGENCY.code},
            TEST_AGENCY.code,
            "000.00.00.H57-250225-0001",
            (422, "dossier_code", "dossier_code_province"),
        ),
        ({TUYEN_QUANG.code}, TUYEN_QUANG.code, "000.00.00.H22-250225-0001", None),  # the merged province's old prefix
        (
            {TUYEN_QUANG.code},
            TUYEN_QUANG.code,
            "000.00.00.H56-250225-0001",
            (422, "dossier_code", "dossier_code_province"),
        ),
        (set(), TEST_AGENCY.code, "000.00.00.H56-250225-0001", (403, "agency_code", "agency_not_bound")),
    ],
    ids=["same-province", "other-agency", "other-province", "merged-old-prefix", "merged-foreign", "unbound"],
)
def test_the_binding_rule(bound: set[str], agency: str, dossier: str, verdict: tuple[int, str, str] | None) -> None:
    refusal = binding.check(bound, StaticAgencies([TUYEN_QUANG]), agency, dossier)
    assert (None if refusal is None else (refusal.status, refusal.field, refusal.rule)) == verdict


def test_a_client_pushes_only_its_agencies_dossiers(api: TestClient, hub: Hub) -> None:
    key = {"X-API-Key": create_client(hub.engine, "ONEGATE", "one-stop", ["dossier.status.changed"])}
    ok = factories.status_change()
    assert api.post("/v1/dossiers/status-changes", json=ok, headers=key).status_code == 202
    other = factories.status_change(factories.dossier_code("000.00.00.H57"), agency_code="000.00.00.H57")
    doc = problem(api.post("/v1/dossiers/status-changes", json=other, headers=key), 403, "forbidden")
    assert [(e["field"], e["rule"]) for e in doc["errors"]] == [("agency_code", "agency_not_bound")]
    foreign = factories.status_change(factories.dossier_code("000.00.00.H57"))  # our agency, another province's code
    doc = problem(api.post("/v1/dossiers/status-changes", json=foreign, headers=key), 422, "validation_failed")
    assert [(e["field"], e["rule"]) for e in doc["errors"]] == [("dossier_code", "dossier_code_province")]
    batch = api.post("/v1/dossiers/status-changes", json=[factories.status_change(), other, foreign], headers=key)
    assert batch.status_code == 202, batch.text
    results = batch.json()["results"]
    assert [r["status"] for r in results] == ["accepted", "rejected", "rejected"]
    assert results[1]["errors"][0]["rule"] == "agency_not_bound" and results[2]["errors"][0]["field"] == "dossier_code"
    problem(api.post("/v1/dossiers/status-changes", json=[other, foreign], headers=key), 422, "validation_failed")


def test_a_merged_province_pushes_dossiers_under_old_and_new_prefixes(api: TestClient, hub: Hub) -> None:
    DbAgencies(hub.engine).add(TUYEN_QUANG)
    key = create_client(
        hub.engine, "ONEGATE-TQ", "Tuyên Quang", ["dossier.status.changed"], agencies=[TUYEN_QUANG.code]
    )
    for prefix in (TUYEN_QUANG.code, H22):
        change = factories.status_change(factories.dossier_code(prefix), agency_code=TUYEN_QUANG.code)
        r = api.post("/v1/dossiers/status-changes", json=change, headers={"X-API-Key": key})
        assert r.status_code == 202, r.text


def test_a_client_opens_payments_only_for_its_agencies(api: TestClient, hub: Hub) -> None:
    key = {"X-API-Key": create_client(hub.engine, "ONEGATE", "one-stop", ["payment.open"])}
    other = factories.payment_request(factories.dossier_code("000.00.00.H57"), agency_code="000.00.00.H57")
    doc = problem(api.post("/v1/payments", json=other, headers=key), 403, "forbidden")
    assert doc["errors"][0]["rule"] == "agency_not_bound"
    foreign = factories.payment_request(factories.dossier_code("000.00.00.H57"))
    doc = problem(api.post("/v1/payments", json=foreign, headers=key), 422, "validation_failed")
    assert doc["errors"][0]["rule"] == "dossier_code_province"


def test_a_paygov_payment_of_an_agency_without_its_configuration_is_refused_naming_it(
    api: TestClient, hub: Hub
) -> None:
    key = {"X-API-Key": create_client(hub.engine, "ONEGATE", "one-stop", ["payment.open"])}
    DbAgencies(hub.engine).change(TEST_AGENCY.code, {}, unset=("paygov",))
    doc = problem(api.post("/v1/payments", json=factories.payment_request(profile="paygov"), headers=key), 422)
    assert doc["type"].endswith("agency_not_configured") and doc["agency"] == TEST_AGENCY.code
    assert "000.00.00.H56 has no paygov configuration" in doc["detail"]
    assert doc["errors"] == [
        {
            "field": "agency_code",
            "rule": "agency_not_configured",
            "message": "agency 000.00.00.H56 has no paygov configuration: an operator adds it (`lgsp agencies`)",
        }
    ]
    DbAgencies(hub.engine).remove(TEST_AGENCY.code)
    doc = problem(api.post("/v1/payments", json=factories.payment_request(profile="paygov"), headers=key), 422)
    assert "agency 000.00.00.H56 is not configured" in doc["detail"]
    no_name = factories.payment_request(profile="paygov")
    del no_name["procedure_name"]
    doc = problem(api.post("/v1/payments", json=no_name, headers=key), 422)
    assert doc["errors"][0]["field"] == "procedure_name"
    with hub.engine.connect() as c:
        from sqlalchemy import func, select

        from hub.db.schema import payments

        assert c.execute(select(func.count()).select_from(payments)).scalar_one() == 0  # nothing was recorded
