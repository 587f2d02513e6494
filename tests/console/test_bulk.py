"""Bulk replay of a group or a filter: a dry run first (how many, which partner, which would fail
validation today), then the run with progress and per-message outcomes; console, admin API, CLI;
audited at the start and the end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from typer.testing import CliRunner

from hub.api.app import create_app
from hub.bootstrap import Hub
from hub.cli import app as cli
from hub.console import bulk
from hub.console.failures import classify
from hub.db.schema import messages
from tests.console.conftest import csrf_of
from tests.console.seed import OUTAGE, VALIDATION, Seeded
from tests.console.test_pages import actions, state_of
from tests.factories import create_client
from tests.support.wait import until


def break_payload(hub: Hub, mid: str) -> None:
    """A payload that no longer fits its type's model (as if the schema had changed since)."""
    with hub.engine.begin() as c:
        payload = c.execute(select(messages.c.payload).where(messages.c.id == mid)).scalar_one()
        c.execute(update(messages).where(messages.c.id == mid).values(payload={**payload, "status": "x"}))


def finished(hub: Hub, bid: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        job = bulk.status(hub.engine, bid)
        return job if job is not None and job["state"] != "running" else None

    found: dict[str, Any] = until(done, what="the bulk run")
    return found


def test_dry_run_then_run_a_group_in_the_console(hub: Hub, seeded: Seeded, as_operator: TestClient) -> None:
    dead = seeded.validation_dead
    break_payload(hub, dead[0])
    cid = classify(VALIDATION).id
    group = as_operator.get(f"/console/failures/national_portal/{cid}")
    assert 'id="bulk-group"' in group.text
    page = as_operator.get(f"/console/bulk?connector=national_portal&class_id={cid}")
    assert page.status_code == 200 and 'id="dry-run"' in page.text
    dry = bulk.dry_run(hub.engine, bulk.Selection(connector="national_portal", class_id=cid))
    assert (dry.total, dry.replayable, dry.invalid_count, dry.by_connector) == (6, 5, 1, {"national_portal": 6})
    assert dry.invalid == [{"id": dead[0], "field": "status", "message": dry.invalid[0]["message"]}]
    assert dead[0] in page.text and "national_portal" in page.text
    assert all(state_of(hub, m) == "dead" for m in dead)  # the dry run queued nothing
    form = {"csrf": csrf_of(page.text), "connector": "national_portal", "class_id": cid}
    r = as_operator.post("/console/bulk", data=form | {"reason": ""})
    assert r.status_code == 422 and all(state_of(hub, m) == "dead" for m in dead)
    r = as_operator.post("/console/bulk", data=form | {"reason": "MaTTHC mapping fixed"}, follow_redirects=False)
    assert r.status_code == 303
    bid = r.headers["location"].rsplit("/", 1)[1]
    job = finished(hub, bid)
    assert job["state"] == "finished" and job["done"] == job["total"] == 6
    assert job["counts"] == {"queued": 5, "invalid": 1}
    assert job["items"][0]["message_id"] == dead[0] and job["items"][0]["outcome"] == "invalid"
    assert state_of(hub, dead[0]) == "dead" and all(state_of(hub, m) == "queued" for m in dead[1:])
    shown = as_operator.get(f"/console/bulk/{bid}")
    assert 'data-state="finished"' in shown.text and dead[0] in shown.text
    rows = [(a["action"], a["outcome"], a["target"], a["reason"]) for a in actions(hub)[-3:]]
    assert rows == [
        ("bulk.replay", "refused", rows[0][2], None),
        ("bulk.replay", "ok", bid, "MaTTHC mapping fixed"),
        ("bulk.replay", "ok", bid, "MaTTHC mapping fixed"),
    ]
    assert "finished: queued 5, invalid 1" in actions(hub)[-1]["detail"]
    history = as_operator.get(f"/console/messages/{dead[1]}").text  # the message's replay history shows it
    assert 'id="bulk-history"' in history and f"/console/bulk/{bid}" in history


def test_bulk_replay_through_the_admin_api(hub: Hub, seeded: Seeded) -> None:
    key = create_client(hub.engine, "OPS", "operators", ["admin"])
    cid = classify("retry budget spent after 2 attempts: " + OUTAGE).id
    with TestClient(create_app(hub, pipeline=False)) as api:
        h = {"X-API-Key": key}
        r = api.post("/v1/admin/replays/bulk/dry-run", json={"class_id": cid}, headers=h)
        assert r.status_code == 422  # a group needs its connector
        sel = {"connector": "national_portal", "class_id": cid}
        r = api.post("/v1/admin/replays/bulk/dry-run", json=sel, headers=h)
        assert r.status_code == 200 and (r.json()["total"], r.json()["replayable"]) == (3, 3), r.text
        r = api.post("/v1/admin/replays/bulk", json=sel, headers=h)
        assert r.status_code == 422  # reason required
        r = api.post("/v1/admin/replays/bulk", json=sel | {"reason": "portal back"}, headers=h)
        assert r.status_code == 202, r.text
        bid = r.json()["id"]
        finished(hub, bid)
        r = api.get(f"/v1/admin/replays/bulk/{bid}", headers=h)
        assert r.json()["state"] == "finished" and r.json()["counts"] == {"queued": 3}
    assert all(state_of(hub, m) == "queued" for m in seeded.outage_dead)


def test_bulk_replay_cli(
    hub: Hub, seeded: Seeded, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_DATABASE_URL", db_url)
    monkeypatch.setattr("hub.logging.configure", lambda *_a, **_k: None)
    run = CliRunner().invoke
    r = run(cli, ["messages", "bulk-replay", "--connector", "national_portal", "--dry-run"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout.strip().splitlines()[-1])["total"] == 9  # 6 rejected + 3 outage, all dead
    r = run(cli, ["messages", "bulk-replay", "--connector", "national_portal", "--source", "ONEGATE-H57"])
    assert r.exit_code == 2  # a reason is required
    r = run(cli, ["messages", "bulk-replay", "--connector", "national_portal", "--source", "ONEGATE-H57", "-r", "fix"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout.strip().splitlines()[-1])["queued"] == 2
