"""The Clients page: client systems, their grants and agencies; create (key shown once), rotate,
disable and enable, for admins only, each audited (and recorded in client_changes)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from hub import clients
from hub.bootstrap import Hub
from hub.clients import Authenticator
from tests.console.conftest import csrf_of, login
from tests.console.seed import Seeded
from tests.console.test_pages import actions

KEY = re.compile(r'<pre class="wrap" id="api-key">([^<]+)</pre>')


def test_create_rotate_disable_enable(hub: Hub, seeded: Seeded, client: TestClient) -> None:
    clients.create_client(hub.engine, "ONEGATE-H56", "Một cửa", ["dossier.status.changed"])  # seeded messages' source
    login(client, "root")
    page = client.get("/console/clients")
    assert page.status_code == 200 and 'data-client="ONEGATE-H56"' in page.text
    row = page.text.split('data-client="ONEGATE-H56"')[1].split("</tr>")[0]
    assert "000.00.00.H56" in row and "000.00.00.H57" in row  # the agencies it sent messages for
    csrf = csrf_of(page.text)
    form = {"csrf": csrf, "code": "DVC-H56", "name": "Cổng DVC", "grants": "dossier.status.changed", "reason": "new"}
    r = client.post("/console/clients", data=form | {"grants": "citizen.lookup:nonsense"})
    assert r.status_code == 422 and 'id="api-key"' not in r.text
    r = client.post("/console/clients", data=form)
    m = KEY.search(r.text)
    assert r.status_code == 200 and m
    key = m.group(1)
    auth = Authenticator(hub.engine, ttl=0)
    assert auth.lookup(key) is not None and auth.lookup(key).code == "DVC-H56"  # type: ignore[union-attr]
    assert key not in client.get("/console/clients").text  # shown once
    r = client.post("/console/clients/DVC-H56/rotate", data={"csrf": csrf, "grace_hours": "0", "reason": "leaked"})
    m2 = KEY.search(r.text)
    assert r.status_code == 200 and m2 and m2.group(1) != key
    assert auth.lookup(key) is None and auth.lookup(m2.group(1)) is not None  # the old key stopped at once
    r = client.post("/console/clients/DVC-H56/disable", data={"csrf": csrf, "reason": "x"})
    assert r.status_code == 422  # a reason is required
    r = client.post("/console/clients/DVC-H56/disable", data={"csrf": csrf, "reason": "system retired"})
    assert r.status_code == 200 and auth.lookup(m2.group(1)) is None
    assert clients.get(hub.engine, "DVC-H56")["disabled_at"] is not None
    r = client.post("/console/clients/DVC-H56/enable", data={"csrf": csrf, "reason": "back in service"})
    assert r.status_code == 200 and auth.lookup(m2.group(1)) is not None
    done = [(a["action"], a["outcome"], a["operator"], a["reason"]) for a in actions(hub) if a["target"] == "DVC-H56"]
    assert done == [  # each change once (written by hub.clients in the change's transaction), who and why
        ("client.create", "refused", "root", "new"),
        ("client.create", "ok", "root", "new"),
        ("client.rotate", "ok", "root", "leaked"),
        ("client.disable", "refused", "root", "x"),
        ("client.disable", "ok", "root", "system retired"),
        ("client.enable", "ok", "root", "back in service"),
    ]
    assert all(key not in str(a) and m2.group(1) not in str(a) for a in actions(hub))  # no key in the audit
    changes = [h["action"] for h in clients.history(hub.engine, "DVC-H56")]
    assert sorted(changes) == sorted(["create", "rotate", "disable", "enable"])
    assert {h["actor"] for h in clients.history(hub.engine, "DVC-H56")} == {"operator:root"}


def test_an_operator_sees_clients_but_may_not_change_them(hub: Hub, as_operator: TestClient) -> None:
    page = as_operator.get("/console/clients")
    assert page.status_code == 200 and 'id="create-form"' not in page.text
    r = as_operator.post("/console/clients", data={"csrf": csrf_of(page.text), "code": "X", "grants": "admin"})
    assert r.status_code == 403
    assert all(c["code"] != "X" for c in clients.list_clients(hub.engine))


def test_a_key_disabled_in_the_console_stops_at_once_in_its_api_process(db_url: str) -> None:
    from fastapi.testclient import TestClient as Client

    from hub.api.app import create_app
    from hub.bootstrap import bootstrap
    from hub.console.operators import Operators
    from hub.settings import Settings
    from tests.console.conftest import FAST_HASH

    hub = bootstrap(Settings(database_url=db_url, auth_cache_seconds=3600))  # keys cached for an hour
    try:
        Operators(hub.engine, FAST_HASH).create("root", "Root", "admin", "correct horse battery staple")
        key = clients.create_client(hub.engine, "ONEGATE-X", "x", ["dossier.status.changed"])
        with Client(create_app(hub, pipeline=False), base_url="http://127.0.0.1") as web:
            assert web.get("/v1/messages", headers={"X-API-Key": key}).status_code == 200  # now cached
            login(web, "root")
            page = web.get("/console/clients")
            r = web.post("/console/clients/ONEGATE-X/disable", data={"csrf": csrf_of(page.text), "reason": "retired"})
            assert r.status_code == 200
            assert web.get("/v1/messages", headers={"X-API-Key": key}).status_code == 401  # not an hour later
    finally:
        hub.close()
