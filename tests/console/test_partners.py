"""The Partners page, the admin API and ``lgsp partners``: health, hold and resume, each audited."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from hub.api.app import create_app
from hub.bootstrap import Hub
from hub.cli import app as cli
from hub.ledger.holds import PartnerHolds
from tests.console.conftest import csrf_of, login
from tests.console.seed import Seeded
from tests.console.test_pages import actions
from tests.factories import create_client


def test_hold_and_resume_from_the_partners_page(hub: Hub, seeded: Seeded, as_operator: TestClient) -> None:
    page = as_operator.get("/console/partners")
    assert page.status_code == 200 and 'id="partner-national_portal"' in page.text
    assert "Tạm dừng" in page.text  # Vietnamese first
    csrf = csrf_of(page.text)
    r = as_operator.post("/console/partners/national_portal/hold", data={"csrf": csrf, "reason": "x"})
    assert r.status_code == 422 and "reason" in r.text  # a reason is required
    assert not PartnerHolds(hub.ledger).is_held("national_portal")
    r = as_operator.post(
        "/console/partners/national_portal/hold", data={"csrf": csrf, "reason": "portal outage, ticket 4411"}
    )
    assert r.status_code == 200 and 'data-held="yes"' in r.text
    assert PartnerHolds(hub.ledger).is_held("national_portal")
    assert "portal outage, ticket 4411" in r.text  # who held it and why
    overview = as_operator.get("/console/overview").text
    card = overview.split('data-connector="national_portal"')[1].split("</section>")[0]
    assert "Đang tạm dừng" in card  # the overview shows the hold too
    r = as_operator.post("/console/partners/national_portal/resume", data={"csrf": csrf, "reason": "portal is back"})
    assert r.status_code == 200 and not PartnerHolds(hub.ledger).is_held("national_portal")
    rows = [(a["action"], a["outcome"], a["target"], a["operator"], a["reason"]) for a in actions(hub)[-3:]]
    assert rows == [
        ("partner.hold", "refused", "national_portal", "ana", "x"),
        ("partner.hold", "ok", "national_portal", "ana", "portal outage, ticket 4411"),
        ("partner.resume", "ok", "national_portal", "ana", "portal is back"),
    ]
    r = as_operator.post("/console/partners/nobody/hold", data={"csrf": csrf, "reason": "some reason"})
    assert r.status_code == 422


def test_a_viewer_sees_partners_but_may_not_hold(hub: Hub, client: TestClient) -> None:
    login(client, "vy")
    page = client.get("/console/partners")
    assert page.status_code == 200 and "hold-form" not in page.text
    r = client.post("/console/partners/webhooks/hold", data={"csrf": csrf_of(page.text), "reason": "not mine"})
    assert r.status_code == 403 and not PartnerHolds(hub.ledger).is_held("webhooks")


def test_hold_and_resume_through_the_admin_api(hub: Hub) -> None:
    key = create_client(hub.engine, "OPS", "operators", ["admin"])
    plain = create_client(hub.engine, "ONEGATE", "one-stop", ["dossier.status.changed"])
    with TestClient(create_app(hub, pipeline=False)) as api:
        h = {"X-API-Key": key}
        assert api.post("/v1/admin/partners/webhooks/hold", json={"reason": "no"}, headers=h).status_code == 422
        r = api.post("/v1/admin/partners/webhooks/hold", json={"reason": "no"}, headers={"X-API-Key": plain})
        assert r.status_code == 403
        r = api.post("/v1/admin/partners/nowhere/hold", json={"reason": "because"}, headers=h)
        assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
        r = api.post("/v1/admin/partners/webhooks/resume", json={"reason": "not held"}, headers=h)
        assert r.status_code == 409
        r = api.post("/v1/admin/partners/webhooks/hold", json={"reason": "receiver down"}, headers=h)
        assert r.status_code == 200 and r.json()["held"] and r.json()["held_by"] == "client:OPS"
        listed = {p["connector"]: p for p in api.get("/v1/admin/partners", headers=h).json()}
        assert listed["webhooks"]["held"] and not listed["national_portal"]["held"]
        r = api.post("/v1/admin/partners/webhooks/resume", json={"reason": "receiver back"}, headers=h)
        assert r.status_code == 200 and r.json() == {"connector": "webhooks", "queued": 0}
    done = [
        (a["action"], a["outcome"], a["operator"])
        for a in actions(hub)
        if a["outcome"] == "ok" and a["action"].startswith("partner.")
    ]
    assert done == [("partner.hold", "ok", "client:OPS"), ("partner.resume", "ok", "client:OPS")]


def test_partners_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite:///{tmp_path}/hub.db")
    monkeypatch.setattr("hub.logging.configure", lambda *_a, **_k: None)
    run = CliRunner().invoke
    r = run(cli, ["partners", "hold", "national_portal"])
    assert r.exit_code == 2  # --reason is required
    r = run(cli, ["partners", "hold", "national_portal", "--reason", "ok"])
    assert r.exit_code == 2 and "reason" in r.output
    r = run(cli, ["partners", "hold", "national_portal", "--reason", "portal outage"])
    assert r.exit_code == 0 and "held since" in r.output, r.output
    r = run(cli, ["partners", "list"])
    assert r.exit_code == 0 and '"connector": "national_portal", "held": true' in r.output
    r = run(cli, ["partners", "resume", "national_portal", "--reason", "back"])
    assert r.exit_code == 0 and "resumed: 0 waiting" in r.output
    assert run(cli, ["partners", "resume", "national_portal", "--reason", "again"]).exit_code == 2
