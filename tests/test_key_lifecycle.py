"""API keys: rotated (the old key keeps working for the grace period, then stops), disabled and
enabled, grants given and revoked, through `lgsp clients` and the admin API; every change
recorded (who, when, what); a change effective within the auth cache time."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update
from typer.testing import CliRunner

from hub import clients
from hub.api.app import create_app
from hub.bootstrap import Hub, bootstrap
from hub.cli import app as lgsp
from hub.clients import ADMIN, Authenticator
from hub.db.schema import clients as clients_table
from hub.envelope import utcnow
from hub.settings import Settings
from tests.factories import create_client
from tests.support.problems import problem


@pytest.fixture
def hub(db_url: str) -> Iterator[Hub]:
    h = bootstrap(Settings(database_url=db_url, api_publishes=False, auth_cache_seconds=0.2))
    yield h
    h.close()


@pytest.fixture
def api(hub: Hub) -> Iterator[TestClient]:
    with TestClient(create_app(hub, pipeline=False)) as c:
        yield c


def works(api: TestClient, key: str) -> bool:
    r: httpx.Response = api.get("/v1/messages", headers={"X-API-Key": key})
    assert r.status_code in (200, 401), r.text
    return r.status_code == 200


def forget(api: TestClient) -> None:
    """Nothing cached: the database's answer counts."""
    assert isinstance(api.app, FastAPI)
    api.app.state.authenticator.forget()


def test_rotation_keeps_the_old_key_for_the_grace_period_only(hub: Hub, api: TestClient) -> None:
    old = create_client(hub.engine, "ONEGATE", "one-stop", ["dossier.status.changed"])
    assert works(api, old)
    new, view = clients.rotate(hub.engine, "ONEGATE", "cli:test", grace_seconds=3600)
    forget(api)  # nothing cached: the database's answer counts
    assert works(api, new) and works(api, old) and view["old_key_valid_until"]
    with hub.engine.begin() as c:  # the grace period runs out
        c.execute(update(clients_table).values(old_key_until=utcnow()))
    forget(api)
    assert works(api, new) and not works(api, old)
    newer, _ = clients.rotate(hub.engine, "ONEGATE", "cli:test", grace_seconds=0)  # no grace: the key stops now
    forget(api)
    assert works(api, newer) and not works(api, new)


def test_a_change_by_another_process_takes_effect_within_the_cache_time(hub: Hub) -> None:
    key = create_client(hub.engine, "ONEGATE", "one-stop", [])
    auth = Authenticator(hub.engine, ttl=0.2)
    assert auth(key) is not None
    clients.set_disabled(hub.engine, "ONEGATE", True, "cli:other-process")
    assert auth(key) is not None  # cached: still seen within the ttl
    import time

    time.sleep(0.25)
    assert auth(key) is None  # the documented time has passed: refused
    clients.set_disabled(hub.engine, "ONEGATE", False, "cli:other-process")
    time.sleep(0.25)
    assert auth(key) is not None


def test_the_admin_api_covers_the_lifecycle_and_records_who(hub: Hub, api: TestClient) -> None:
    admin = {"X-API-Key": create_client(hub.engine, "OPS", "operator", [ADMIN])}
    r = api.post("/v1/admin/clients", json={"code": "ONEGATE-H56", "grants": ["dossier.status.changed"]}, headers=admin)
    assert r.status_code == 201, r.text
    key = r.json()["api_key"]
    assert works(api, key)
    problem(api.post("/v1/admin/clients", json={"code": "ONEGATE-H56"}, headers=admin), 409, "client_exists")
    r = api.post("/v1/admin/clients/ONEGATE-H56/grants", json={"grants": ["subscribe"]}, headers=admin)
    assert r.json()["grants"] == ["dossier.status.changed", "subscribe"]
    r = api.post("/v1/admin/clients/ONEGATE-H56/grants/revoke", json={"grants": ["subscribe"]}, headers=admin)
    assert r.json()["grants"] == ["dossier.status.changed"]
    rotated = api.post("/v1/admin/clients/ONEGATE-H56/rotate", json={"grace_seconds": 60}, headers=admin).json()
    assert rotated["api_key"] != key and rotated["old_key_valid_until"] and works(api, rotated["api_key"])
    assert works(api, key)  # within the grace period
    assert api.post("/v1/admin/clients/ONEGATE-H56/disable", headers=admin).json()["disabled_at"]
    assert not works(api, rotated["api_key"]) and not works(api, key)  # this process forgets at once
    assert api.post("/v1/admin/clients/ONEGATE-H56/enable", headers=admin).json()["disabled_at"] is None
    assert works(api, rotated["api_key"])
    history = api.get("/v1/admin/clients/ONEGATE-H56/history", headers=admin).json()
    assert [h["action"] for h in history] == ["enable", "disable", "rotate", "revoke_grant", "grant", "create"]
    assert {h["actor"] for h in history} == {"client:OPS"} and all(h["at"] for h in history)
    assert key not in json.dumps(history) and rotated["api_key"] not in json.dumps(history)
    listed = api.get("/v1/admin/clients", headers=admin).json()
    assert {c["code"] for c in listed} == {"OPS", "ONEGATE-H56"} and "key_hash" not in json.dumps(listed)


def test_the_admin_api_needs_admin_and_will_not_lock_an_admin_out(hub: Hub, api: TestClient) -> None:
    plain = {"X-API-Key": create_client(hub.engine, "ONEGATE", "one-stop", ["dossier.status.changed"])}
    problem(api.get("/v1/admin/clients", headers=plain), 403, "forbidden")
    problem(api.post("/v1/admin/clients/OPS/disable", headers=plain), 403, "forbidden")
    admin = {"X-API-Key": create_client(hub.engine, "OPS", "operator", [ADMIN])}
    problem(api.post("/v1/admin/clients/OPS/disable", headers=admin), 409, "conflict")
    problem(api.post("/v1/admin/clients/OPS/grants/revoke", json={"grants": [ADMIN]}, headers=admin), 409)
    problem(api.post("/v1/admin/clients/OPS/rotate", json={"grace_seconds": 0}, headers=admin), 409)
    problem(api.post("/v1/admin/clients/NOBODY/disable", headers=admin), 404, "not_found")
    r = api.post("/v1/admin/clients", json={"code": "X", "grants": ["citizen.lookup:salary"]}, headers=admin)
    assert problem(r, 422, "validation_failed")["errors"][0]["field"].startswith("grants")
    problem(api.post("/v1/admin/clients/ONEGATE/rotate", json={"grace_seconds": True}, headers=admin), 422)
    problem(api.post("/v1/admin/clients/ONEGATE/rotate", json={"grace_seconds": 10**9}, headers=admin), 422)


def test_the_cli_covers_the_lifecycle(db_url: str, hub: Hub, cli: CliRunner) -> None:
    env = {"HUB_DATABASE_URL": db_url, "HUB_LOG_LEVEL": "INFO"}
    created = cli.invoke(lgsp, ["clients", "create", "ONEGATE-H56", "--grant", "dossier.status.changed"], env=env)
    assert created.exit_code == 0, created.output
    key = created.stdout.strip()
    assert key.startswith("lgsp_") and "alembic" not in created.output and "INFO" not in created.output
    again = cli.invoke(lgsp, ["clients", "create", "ONEGATE-H56"], env=env)
    assert again.exit_code == 1 and len(again.output.strip().splitlines()) == 1 and "Traceback" not in again.output
    assert "exists" in again.output
    rotated = cli.invoke(lgsp, ["clients", "rotate", "ONEGATE-H56", "--grace", "600"], env=env)
    assert rotated.exit_code == 0 and rotated.stdout.strip().startswith("lgsp_") and rotated.stdout.strip() != key
    for args in (["disable", "ONEGATE-H56"], ["enable", "ONEGATE-H56"], ["grant", "ONEGATE-H56", "subscribe"]):
        r = cli.invoke(lgsp, ["clients", *args], env=env)
        assert r.exit_code == 0, r.output
    r = cli.invoke(lgsp, ["clients", "revoke-grant", "ONEGATE-H56", "subscribe"], env=env)
    assert r.exit_code == 0 and "subscribe" not in r.stdout
    listed = [json.loads(line) for line in cli.invoke(lgsp, ["clients", "list"], env=env).stdout.splitlines()]
    assert [c["code"] for c in listed] == ["ONEGATE-H56"] and listed[0]["old_key_valid_until"]
    history = [
        json.loads(line)
        for line in cli.invoke(lgsp, ["clients", "history", "ONEGATE-H56"], env=env).stdout.splitlines()
    ]
    assert [h["action"] for h in history] == ["revoke_grant", "grant", "enable", "disable", "rotate", "create"]
    assert all(h["actor"].startswith("cli:") for h in history)
    missing = cli.invoke(lgsp, ["clients", "disable", "NOBODY"], env=env)
    assert missing.exit_code == 1 and missing.output.strip() == "no client NOBODY"
