"""Client changes made through /v1/admin/clients and `lgsp clients` are in the operators' audit
(the console's Audit page, searchable) with who, what and why, as the console's own are; and in
the client's history (``client_changes``) as before."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from hub import clients
from hub.api.app import create_app
from hub.bootstrap import Hub
from hub.cli import app as lgsp
from hub.clients import ADMIN
from hub.db.schema import operator_actions
from tests.console.conftest import login
from tests.factories import TEST_AGENCIES, create_client


def audited(hub: Hub) -> list[dict[str, object]]:
    with hub.engine.connect() as c:
        return [dict(r._mapping) for r in c.execute(select(operator_actions).order_by(operator_actions.c.id))]


def test_admin_api_client_changes_are_in_the_audit_page(hub: Hub, client: TestClient, console_app: FastAPI) -> None:
    admin_key = create_client(hub.engine, "OPS-ADMIN", "ops", [ADMIN])
    headers = {"X-API-Key": admin_key}
    before = len(audited(hub))
    with TestClient(create_app(hub, pipeline=False)) as api:
        body = {"code": "DVC-H56", "grants": ["dossier.status.changed"], "reason": "new one-stop system"}
        assert api.post("/v1/admin/clients", json=body, headers=headers).status_code == 201
        rotation = {"grace_seconds": 60, "reason": "key leaked"}
        r = api.post("/v1/admin/clients/DVC-H56/rotate", json=rotation, headers=headers)
        assert r.status_code == 200, r.text
        grant = {"grants": ["subscribe"], "reason": "wants push"}
        r = api.post("/v1/admin/clients/DVC-H56/grants", json=grant, headers=headers)
        assert r.status_code == 200, r.text
        r = api.post("/v1/admin/clients/DVC-H56/grants/revoke", json={"grants": ["subscribe"]}, headers=headers)
        assert r.status_code == 200, r.text  # a reason is optional for machines: recorded as none
        agencies = {"agencies": list(TEST_AGENCIES), "reason": "serves the district"}
        assert api.post("/v1/admin/clients/DVC-H56/agencies", json=agencies, headers=headers).status_code == 200
        assert api.post("/v1/admin/clients/DVC-H56/agencies/remove", json=agencies, headers=headers).status_code == 200
        r = api.post("/v1/admin/clients/DVC-H56/disable", json={"reason": "system retired"}, headers=headers)
        assert r.status_code == 200, r.text
        assert api.post("/v1/admin/clients/DVC-H56/enable", headers=headers).status_code == 200  # no body at all
        r = api.post("/v1/admin/clients/DVC-H56/disable", json={"reason": "x"}, headers=headers)
        assert r.status_code == 422  # a reason given is 3 to 500 characters
    rows = [(a["operator"], a["action"], a["target"], a["outcome"], a["reason"]) for a in audited(hub)[before:]]
    assert rows == [
        ("client:OPS-ADMIN", "client.create", "DVC-H56", "ok", "new one-stop system"),
        ("client:OPS-ADMIN", "client.rotate", "DVC-H56", "ok", "key leaked"),
        ("client:OPS-ADMIN", "client.grant", "DVC-H56", "ok", "wants push"),
        ("client:OPS-ADMIN", "client.revoke_grant", "DVC-H56", "ok", None),
        ("client:OPS-ADMIN", "client.bind_agency", "DVC-H56", "ok", "serves the district"),
        ("client:OPS-ADMIN", "client.unbind_agency", "DVC-H56", "ok", "serves the district"),
        ("client:OPS-ADMIN", "client.disable", "DVC-H56", "ok", "system retired"),
        ("client:OPS-ADMIN", "client.enable", "DVC-H56", "ok", None),
    ]
    last = audited(hub)[before:]
    assert last[4]["detail"] == f"agencies: {TEST_AGENCIES[0]}" and last[0]["remote_addr"] == "testclient"
    # the client's own history has them too, as before
    assert [h["action"] for h in clients.history(hub.engine, "DVC-H56")][-1] == "create"

    login(client, "root")
    page = client.get("/console/audit", params={"text": "key leaked"}).text  # searchable by why
    rows_html = page.split('id="audit-rows"')[1]
    assert "client:OPS-ADMIN" in rows_html and "DVC-H56" in rows_html and rows_html.count("<tr>") == 2  # head + 1
    page = client.get("/console/audit", params={"action": "client.bind_agency"}).text
    assert TEST_AGENCIES[0] in page.split('id="audit-rows"')[1]
    page = client.get("/console/audit", params={"operator": "client:OPS-ADMIN", "target": "DVC-H56"}).text
    assert page.split('id="audit-rows"')[1].count("<tr>") == 9


def test_cli_client_changes_are_in_the_audit(db_url: str, hub: Hub, cli: CliRunner, client: TestClient) -> None:
    env = {"HUB_DATABASE_URL": db_url, "HUB_LOG_LEVEL": "WARNING"}
    steps = [
        ["create", "ONEGATE-H57", "--grant", "dossier.status.changed", "--reason", "district one-stop"],
        ["rotate", "ONEGATE-H57", "--grace", "0", "--reason", "yearly rotation"],
        ["bind", "ONEGATE-H57", TEST_AGENCIES[0], "--reason", "district agency"],
        ["disable", "ONEGATE-H57"],
    ]
    for args in steps:
        r = cli.invoke(lgsp, ["clients", *args], env=env)
        assert r.exit_code == 0, r.output
    bad = cli.invoke(lgsp, ["clients", "enable", "ONEGATE-H57", "--reason", "x"], env=env)
    assert bad.exit_code == 2 and "--reason" in bad.output
    mine = [a for a in audited(hub) if a["target"] == "ONEGATE-H57"]
    assert [(a["action"], a["reason"]) for a in mine] == [
        ("client.create", "district one-stop"),
        ("client.rotate", "yearly rotation"),
        ("client.bind_agency", "district agency"),
        ("client.disable", None),
    ]
    assert all(str(a["operator"]).startswith("cli:") and a["outcome"] == "ok" for a in mine)
    login(client, "root")
    page = client.get("/console/audit", params={"text": "yearly rotation"}).text
    assert "ONEGATE-H57" in page.split('id="audit-rows"')[1]
