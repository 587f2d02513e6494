"""POST /v1/citizens/lookup: only the fields a client's grants allow; the grant model; `lgsp clients create`."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from hub.bootstrap import Hub
from hub.citizens import grants
from hub.citizens.port import CITIZEN_FIELDS
from hub.cli import app as lgsp
from hub.clients import Client
from hub.db.schema import clients
from tests.factories import create_client
from tests.population_db.conftest import AN_BIRTH, AN_NAME
from tests.support.problems import problem

from .conftest import Mock, audit_rows, h, query

URL = "/v1/citizens/lookup"


def test_lookup_returns_only_the_granted_fields(api: TestClient, keys: dict[str, str], hub: Hub) -> None:
    r = api.post(URL, json=query(), headers=h(keys["lookup"]))
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["exists"] is True and answer["fields"] == ["birth_date", "full_name"]
    assert answer["citizen"] == {"full_name": AN_NAME, "birth_date": AN_BIRTH.isoformat()}  # and nothing else
    assert "14758" not in r.text and "Cường" not in r.text  # the address and the father the mock also sent
    [row] = audit_rows(hub)
    assert (row["operation"], row["outcome"], row["fields"]) == ("lookup", "found", ["birth_date", "full_name"])
    assert row["request_id"] == answer["request_id"]


def test_lookup_grants_add_up(api: TestClient, keys: dict[str, str]) -> None:
    r = api.post(URL, json=query(), headers=h(keys["lookup_more"]))
    assert r.status_code == 200, r.text
    citizen = r.json()["citizen"]
    assert set(citizen) == {"full_name", "permanent_address", "father", "gender"}
    assert citizen["permanent_address"]["province_code"] == "38" and citizen["father"]["full_name"]
    assert "birth_date" not in citizen and "id_number" not in citizen


def test_lookup_of_no_match_is_an_answer(api: TestClient, keys: dict[str, str], hub: Hub) -> None:
    r = api.post(URL, json=query(birth_date="1991"), headers=h(keys["lookup"]))
    assert r.status_code == 200, r.text
    assert r.json()["exists"] is False and r.json()["citizen"] is None
    assert audit_rows(hub)[0]["outcome"] == "not_found" and audit_rows(hub)[0]["fields"] is None


@pytest.mark.parametrize("who", ["verify", "admin", "portal"])
def test_lookup_needs_a_lookup_grant(api: TestClient, keys: dict[str, str], hub: Hub, mock: Mock, who: str) -> None:
    r = api.post(URL, json=query(), headers=h(keys[who]))
    assert "citizen.lookup:" in problem(r, 403, "forbidden")["detail"]
    assert [(row["operation"], row["outcome"]) for row in audit_rows(hub)] == [("lookup", "forbidden")]
    assert mock.seen() == 0


def test_a_malformed_lookup_grant_grants_nothing(api: TestClient, hub: Hub) -> None:
    key = create_client(hub.engine, "ODD", "odd grants", ["citizen.lookup:*", "citizen.lookup:", "citizen.lookup"])
    assert api.post(URL, json=query(), headers=h(key)).status_code == 403


def test_grant_parsing() -> None:
    assert grants.lookup_grant_fields("citizen.lookup:full_name, gender") == {"full_name", "gender"}
    for bad in ("citizen.lookup:", "citizen.lookup:*", "citizen.lookup:full_name,salary", "citizen.lookup"):
        with pytest.raises(grants.GrantError):
            grants.lookup_grant_fields(bad)
    grants.check_grants(["dossier.status.changed", "admin", "citizen.verify", "citizen.lookup:gender"])
    with pytest.raises(grants.GrantError, match="salary"):
        grants.check_grants(["citizen.lookup:salary"])
    with pytest.raises(grants.GrantError):
        grants.check_grants(["citizen.verfy"])  # a typo would grant nothing: refused at creation
    client = Client(1, "X", frozenset({"admin", "citizen.lookup:gender", "citizen.lookup:gender,full_name"}))
    assert grants.lookup_fields(client) == {"gender", "full_name"} and not grants.may_verify(client)
    assert set(grants.LOOKUP_FIELDS) == set(CITIZEN_FIELDS)
    for grant in grants.DEMO_GRANTS:
        grants.check_grants([grant])


def test_clients_create_checks_citizen_grants(db_url: str, hub: Hub, cli: CliRunner) -> None:
    env = {"HUB_DATABASE_URL": db_url, "HUB_LOG_LEVEL": "WARNING"}
    bad = cli.invoke(lgsp, ["clients", "create", "BAD", "--grant", "citizen.lookup:full_name,salary"], env=env)
    assert bad.exit_code == 2 and "salary" in bad.output
    good = cli.invoke(
        lgsp, ["clients", "create", "GOOD", "--grant", "citizen.verify", "--grant", "citizen.lookup:gender"], env=env
    )
    assert good.exit_code == 0, good.output
    with hub.engine.connect() as c:
        stored = {r.code: r.grants for r in c.execute(select(clients.c.code, clients.c.grants))}
    assert "BAD" not in stored and stored["GOOD"] == ["citizen.lookup:gender", "citizen.verify"]
