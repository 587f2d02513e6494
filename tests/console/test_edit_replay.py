"""Edit and replay: the corrected payload is validated against its type's canonical model before
anything is queued (errors per field), a reason is required, the original is kept, the new
message links to it (both Message pages show the link), masked personal data keeps its value;
the admin API and the CLI do the same; every attempt is audited."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from hub.api.app import create_app
from hub.bootstrap import Hub
from hub.cli import app as cli
from hub.console import queries
from hub.db.schema import message_replays, messages
from tests.console.conftest import csrf_of
from tests.console.seed import Seeded
from tests.console.test_pages import actions, state_of
from tests.factories import create_client


def count(hub: Hub) -> int:
    with hub.engine.connect() as c:
        return int(c.execute(select(func.count()).select_from(messages)).scalar_one())


def row(hub: Hub, mid: str) -> dict[str, Any]:
    with hub.engine.connect() as c:
        return dict(c.execute(select(messages).where(messages.c.id == mid)).one()._mapping)


def test_edit_and_replay_in_the_console(hub: Hub, seeded: Seeded, as_operator: TestClient) -> None:
    mid = seeded.validation_dead[0]
    page = as_operator.get(f"/console/messages/{mid}")
    assert 'id="edit-form"' in page.text
    csrf = csrf_of(page.text)
    msg = queries.message(hub.engine, mid)
    assert msg is not None
    shown = json.loads(msg["payload"])  # what the text area holds (masked)
    assert shown["applicant"]["name"] != row(hub, mid)["payload"]["applicant"]["name"]
    before = count(hub)
    url = f"/console/messages/{mid}/edit-replay"
    bad = {**shown, "status": "not a status", "procedure_code": ""}
    r = as_operator.post(url, data={"csrf": csrf, "payload": json.dumps(bad), "reason": "add MaTTHC"})
    assert r.status_code == 422 and 'id="edit-errors"' in r.text
    assert 'data-field="status"' in r.text and 'data-field="procedure_code"' in r.text  # per field
    assert "Phải là số nguyên" in r.text  # in the operator's language
    assert count(hub) == before  # nothing queued
    r = as_operator.post(url, data={"csrf": csrf, "payload": "{not json", "reason": "add MaTTHC"})
    assert r.status_code == 422 and 'data-field="(payload)"' in r.text
    good = {**shown, "procedure_code": "1.004227"}
    r = as_operator.post(url, data={"csrf": csrf, "payload": json.dumps(good), "reason": ""})
    assert r.status_code == 422 and count(hub) == before  # a reason is required
    r = as_operator.post(
        url, data={"csrf": csrf, "payload": json.dumps(good), "reason": "MaTTHC corrected"}, follow_redirects=False
    )
    assert r.status_code == 303, r.text
    new = r.headers["location"].split("/messages/")[1].split("?")[0]
    assert count(hub) == before + 1
    assert state_of(hub, mid) == "dead"  # the original is kept
    copy, original = row(hub, new), row(hub, mid)
    assert copy["state"] == "queued" and copy["causation_id"] == mid and copy["key"] == original["key"]
    assert copy["payload"]["procedure_code"] == "1.004227"
    assert copy["payload"]["applicant"] == original["payload"]["applicant"]  # masked values kept their value
    with hub.engine.connect() as c:
        link = c.execute(select(message_replays)).one()
    assert (link.replay_id, link.original_id, link.operator, link.reason) == (new, mid, "ana", "MaTTHC corrected")
    assert f'/console/messages/{new}"' in as_operator.get(f"/console/messages/{mid}").text  # original -> copy
    new_page = as_operator.get(f"/console/messages/{new}")
    assert 'id="replay-of"' in new_page.text and f'/console/messages/{mid}"' in new_page.text  # copy -> original
    audited = [(a["action"], a["outcome"], a["target"]) for a in actions(hub) if a["action"] == "message.edit_replay"]
    assert audited == [("message.edit_replay", o, mid) for o in ("refused", "refused", "refused", "ok")]
    last = actions(hub)[-1]
    assert "procedure_code" in last["detail"] and new in last["detail"]
    assert original["payload"]["applicant"]["name"] not in json.dumps(actions(hub), default=str)  # no personal data


def test_edit_replay_through_the_admin_api_and_the_cli(
    hub: Hub, seeded: Seeded, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = create_client(hub.engine, "OPS", "operators", ["admin"])
    mid, other = seeded.validation_dead[1], seeded.validation_dead[2]
    payload = row(hub, mid)["payload"]
    with TestClient(create_app(hub, pipeline=False)) as api:
        h, url = {"X-API-Key": key}, f"/v1/admin/messages/{mid}/edit-replay"
        r = api.post(url, json={"payload": {**payload, "status": "x"}, "reason": "fix it"}, headers=h)
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in r.json()["errors"]] == ["payload.status"]
        r = api.post(url, json={"payload": {**payload, "procedure_code": "1.004227"}, "reason": "fix it"}, headers=h)
        assert r.status_code == 202, r.text
        body = r.json()
        assert body["replay_of"] == mid and body["state"] == "queued"
        r = api.post(url, json={"payload": payload, "reason": "again"}, headers=h)
        assert r.status_code == 202  # the original stays dead: another correction may be made
        r = api.post(
            f"/v1/admin/messages/{body['id']}/edit-replay", json={"payload": payload, "reason": "x y"}, headers=h
        )
        assert r.status_code == 409  # only dead messages
    monkeypatch.setenv("HUB_DATABASE_URL", db_url)
    monkeypatch.setattr("hub.logging.configure", lambda *_a, **_k: None)
    file = tmp_path / "p.json"
    file.write_text(json.dumps({**row(hub, other)["payload"], "status": "x"}), encoding="utf-8")
    run = CliRunner().invoke
    r = run(cli, ["messages", "edit-replay", other, "--payload-file", str(file), "--reason", "fix it"])
    assert r.exit_code == 2 and "status" in r.output
    file.write_text(json.dumps({**row(hub, other)["payload"], "procedure_code": "1.004227"}), encoding="utf-8")
    r = run(cli, ["messages", "edit-replay", other, "--payload-file", str(file), "--reason", "fix it"])
    assert r.exit_code == 0 and "queued as" in r.output, r.output
    assert actions(hub)[-1]["operator"].startswith("cli:")
