"""Per-agency partner configuration at the hub's doors: a dossier whose agency has no portal unit is refused
at intake when the hub has no fallback unit (``HUB_PORTAL_UNIT_FALLBACK=false``), naming the agency, so
nothing accepted is lost; a payment goes through its agency's gateway profile (``payment.profile``); the
operator manages both with ``lgsp agencies`` and ``/v1/admin/agencies``, and migration 0015 carries the
old ``portal.variant`` over."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select
from typer.testing import CliRunner

from connectors.national_portal import NationalPortalSettings
from hub.agencies.directory import DbAgencies
from hub.agencies.port import Agency, PaymentChoice, PortalUnit
from hub.api.app import create_app
from hub.bootstrap import Hub, PartnerSettings, bootstrap
from hub.cli import app as lgsp
from hub.clients import ADMIN
from hub.db.engine import alembic_config, make_engine
from hub.db.schema import messages
from hub.payments.service import ProfileNotOfAgency
from hub.settings import Settings
from tests import factories
from tests.factories import TEST_AGENCY, create_client
from tests.support.db import temporary_pg_database
from tests.support.problems import problem

UBND_XA = Agency(code="000.17.22.H56", name="UBND xã (no portal unit yet)")
URL = "/v1/dossiers/status-changes"


def _hub(db_url: str, fallback: bool) -> Hub:
    partners = PartnerSettings(national_portal=NationalPortalSettings(unit_fallback=fallback))
    return bootstrap(Settings(database_url=db_url, api_publishes=False, auth_cache_seconds=0), partners=partners)


@pytest.fixture(params=[False, True], ids=["no-fallback", "fallback"])
def rig(request: pytest.FixtureRequest, db_url: str) -> Iterator[tuple[Hub, TestClient, dict[str, str], bool]]:
    hub = _hub(db_url, fallback=request.param)
    key = create_client(
        hub.engine, "ONEGATE", "one-stop", ["dossier.status.changed"], agencies=[TEST_AGENCY.code, UBND_XA.code]
    )
    DbAgencies(hub.engine).add(UBND_XA)
    with TestClient(create_app(hub, pipeline=False)) as api:
        yield hub, api, {"X-API-Key": key}, request.param
    hub.close()


def _stored(hub: Hub) -> int:
    with hub.engine.connect() as c:
        return int(c.execute(select(func.count()).select_from(messages)).scalar_one())


def test_an_agency_without_a_portal_unit_is_refused_at_intake_naming_it_unless_the_hub_has_a_fallback(
    rig: tuple[Hub, TestClient, dict[str, str], bool],
) -> None:
    hub, api, key, fallback = rig
    ok = factories.status_change()
    assert api.post(URL, json=ok, headers=key).status_code == 202  # TEST_AGENCY has its unit
    missing = factories.status_change(factories.dossier_code(UBND_XA.code), agency_code=UBND_XA.code)
    answer = api.post(URL, json=missing, headers=key)
    if fallback:  # it goes out under HUB_PORTAL_MADONVI, as before per-agency units
        assert answer.status_code == 202, answer.text
        return
    doc = problem(answer, 422, "validation_failed")
    assert [(e["field"], e["rule"]) for e in doc["errors"]] == [("agency_code", "agency_not_configured")]
    assert f"agency {UBND_XA.code} has no portal unit" in doc["errors"][0]["message"]
    assert f"lgsp agencies set {UBND_XA.code} portal.madonvi=" in doc["detail"]
    batch = api.post(URL, json=[factories.status_change(), missing], headers=key)
    assert batch.status_code == 202, batch.text
    assert [r["status"] for r in batch.json()["results"]] == ["accepted", "rejected"]
    assert _stored(hub) == 2  # the two of TEST_AGENCY; nothing of the agency without a unit
    DbAgencies(hub.engine).change(UBND_XA.code, {"portal": {"madonvi": UBND_XA.code}})  # the operator sets it
    assert api.post(URL, json=missing, headers=key).status_code == 202


@pytest.fixture
def hub(db_url: str) -> Iterator[Hub]:
    h = _hub(db_url, fallback=True)
    yield h
    h.close()


def test_a_payment_goes_through_its_agencys_gateway_profile(hub: Hub) -> None:
    payments, directory = hub.payments, DbAgencies(hub.engine)
    factories.ensure_agency(hub.engine)
    assert payments.profile_for(TEST_AGENCY.code, None) == "napas"  # none set: HUB_PAYMENT_PROFILE
    assert payments.profile_for(TEST_AGENCY.code, "paygov") == "paygov"  # none set: the request's
    directory.change(TEST_AGENCY.code, {"payment": {"profile": "paygov"}})
    assert payments.profile_for(TEST_AGENCY.code, None) == "paygov"
    assert payments.profile_for(TEST_AGENCY.code, "paygov") == "paygov"
    with pytest.raises(ProfileNotOfAgency, match="pays through the paygov profile, not napas"):
        payments.profile_for(TEST_AGENCY.code, "napas")
    directory.change(TEST_AGENCY.code, {"payment": {"profile": "vnpay"}})
    with pytest.raises(ProfileNotOfAgency, match="'vnpay' is not a gateway of the hub"):
        payments.profile_for(TEST_AGENCY.code, None)


def test_the_payment_api_applies_the_agencys_profile_and_refuses_another(hub: Hub) -> None:
    key = {"X-API-Key": create_client(hub.engine, "ONEGATE", "one-stop", ["payment.open"])}
    DbAgencies(hub.engine).change(TEST_AGENCY.code, {"payment": {"profile": "paygov"}})
    with TestClient(create_app(hub, pipeline=False)) as api:
        other = factories.payment_request(profile="napas")
        doc = problem(api.post("/v1/payments", json=other, headers=key), 422, "validation_failed")
        assert doc["errors"][0]["field"] == "profile" and doc["errors"][0]["rule"] == "payment_profile_of_agency"
        assert doc["agency"] == TEST_AGENCY.code and "pays through the paygov profile" in doc["detail"]
        unnamed: dict[str, Any] = factories.payment_request()
        del unnamed["profile"], unnamed["procedure_name"]
        doc = problem(api.post("/v1/payments", json=unnamed, headers=key), 422)  # the paygov profile's own rule
        assert doc["errors"][0]["field"] == "procedure_name" and "paygov" in doc["errors"][0]["message"]


def test_the_operator_sets_the_profiles_with_the_cli_and_the_admin_api(hub: Hub, db_url: str, cli: CliRunner) -> None:
    factories.ensure_agency(hub.engine)
    env = {"HUB_DATABASE_URL": db_url}
    done = cli.invoke(
        lgsp,
        [
            "agencies",
            "set",
            TEST_AGENCY.code,
            "portal.profile=hagiang",
            "payment.profile=paygov",
            'portal.madonvi_by_province={"H22": "000.00.01.H22"}',
        ],
        env=env,
    )
    assert done.exit_code == 0, done.output
    agency = DbAgencies(hub.engine).get(TEST_AGENCY.code)
    assert agency is not None and agency.payment == PaymentChoice(profile="paygov")
    assert agency.portal is not None and agency.portal.profile == "hagiang"
    assert agency.portal.unit_for("H22") == "000.00.01.H22" and agency.portal.unit_for("H56") == TEST_AGENCY.code
    assert "portal.profile 'hagiang' is not defined here (known: default)" in done.stderr  # no HUB_PORTAL_PROFILES
    defined = cli.invoke(
        lgsp,
        ["agencies", "set", TEST_AGENCY.code, "portal.profile=hagiang"],
        env=env | {"HUB_PORTAL_PROFILES": '{"hagiang": {"variant": "lgsp_hagiang"}}'},
    )
    assert defined.exit_code == 0 and "warning" not in defined.stderr, defined.output
    refused = cli.invoke(lgsp, ["agencies", "set", TEST_AGENCY.code, "portal.profile=Not A Name"], env=env)
    assert refused.exit_code == 2 and "portal.profile" in refused.output
    admin = {"X-API-Key": create_client(hub.engine, "OPS", "operator", [ADMIN], agencies=())}
    with TestClient(create_app(hub, pipeline=False)) as api:
        body = {"code": UBND_XA.code, "name": UBND_XA.name, "payment": {"profile": "napas"}}
        assert api.post("/v1/admin/agencies", json=body, headers=admin).status_code == 201
        bad = body | {"code": "000.18.22.H56", "portal": {"madonvi": "H56"}}
        doc = problem(api.post("/v1/admin/agencies", json=bad, headers=admin), 422)
        assert any("portal" in e["field"] for e in doc["errors"])


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    """A database of its own, never migrated (not the session's shared PostgreSQL database)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'm.db'}"
        return
    with temporary_pg_database() as url:
        yield url


def test_migration_0015_turns_the_unused_portal_variant_into_the_default_profile(empty_url: str) -> None:
    engine = make_engine(empty_url)
    config = alembic_config(engine)
    command.upgrade(config, "0013")
    old = {"madonvi": TEST_AGENCY.code, "variant": "adapter"}
    with engine.begin() as c:
        c.execute(
            insert(_agencies_0013()).values(
                code=TEST_AGENCY.code,
                name="x",
                province_codes=[],
                portal=old,
                created_at=datetime.now(UTC),
                updated_at=datetime.now(UTC),
            )
        )
    command.upgrade(config, "head")  # 0015, and the later columns the directory reads (0018: population_db)
    directory = DbAgencies(engine)
    agency = directory.get(TEST_AGENCY.code)
    assert agency is not None and agency.portal == PortalUnit(madonvi=TEST_AGENCY.code) and agency.payment is None
    command.downgrade(config, "0013")
    with engine.connect() as c:
        assert c.execute(select(_agencies_0013().c.portal)).scalar_one() == old
    engine.dispose()


def _agencies_0013() -> Any:
    from sqlalchemy import JSON, Column, DateTime, MetaData, String, Table

    return Table(
        "agencies",
        MetaData(),
        Column("code", String, primary_key=True),
        Column("name", String),
        Column("province_codes", JSON),
        Column("portal", JSON),
        Column("created_at", DateTime),
        Column("updated_at", DateTime),
    )


def test_the_demo_agency_of_lgsp_dev_is_configured_for_every_per_agency_section() -> None:
    """Every README example runs in `lgsp dev` (PayGov payments too): its agency has every section."""
    from hub.agencies.directory import DEV_AGENCY, SECTIONS
    from hub.agencies.port import StaticAgencies
    from hub.cli import DEMO_AGENCIES

    [demo] = StaticAgencies.from_file(DEMO_AGENCIES).all()
    assert demo.code == DEV_AGENCY.code
    missing = [s for s in SECTIONS if getattr(demo, s) is None and s != "payment"]  # payment: any profile
    assert not missing, f"the demo agency lacks {missing}"
    assert demo.payment is None  # no gateway profile of its own: the request's (napas or paygov)
