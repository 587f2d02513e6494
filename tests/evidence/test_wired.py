"""The evidence log wired into the exchanges, end to end through the API: a dossier change (accepted, an
attempt that dies, an operator's replay, the attempt that delivers it), a payment settled by a signed
callback and a forged callback refused, a citizen query, client changes. Every one is a chained record,
nothing personal in clear; ``lgsp evidence verify`` passes, and tampering with a wired record is caught.
The scheduled jobs of the relay (chainer, retention) do the chaining and the redaction in the second test.
On SQLite and PostgreSQL (the PostgreSQL ledger stages its facts in its own single statements)."""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import structlog
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Text, cast, func, select, type_coerce
from typer.testing import CliRunner

from connectors.payment_napas import NapasSettings, build_gateway
from connectors.payment_napas.mock import create_app as create_gateway_app
from connectors.population_db import PopulationDbSettings
from connectors.webhooks import WebhookSettings
from hub import trace
from hub.api.app import create_app
from hub.bootstrap import Hub, PartnerSettings, bootstrap
from hub.cli import app as lgsp
from hub.clients import ADMIN
from hub.db.schema import evidence, evidence_seals, messages
from hub.pipeline import Pipeline
from hub.ports import Delivery, Outcome, OutcomeKind
from hub.settings import Settings
from hub.transports.inprocess import InProcessTransport
from hub.worker import Worker
from tests import factories
from tests.citizens.conftest import mock, popdb_live, popdb_settings, query  # noqa: F401 -- fixtures
from tests.factories import create_client
from tests.fakes import FakeConnector
from tests.population_db.conftest import AN_ID
from tests.support.clock import OffsetClock

from .conftest import tamper

GATEWAY = "http://gateway.test"
STATUS = "/v1/dossiers/status-changes"
SIGNING_KEY = bytes(range(32)).hex()


@dataclass
class Rig:
    hub: Hub
    api: TestClient
    gateway: TestClient
    keys: dict[str, str]
    url: str

    def h(self, who: str) -> dict[str, str]:
        return {"X-API-Key": self.keys[who]}


def rig_of(db_url: str, popdb: PopulationDbSettings, **settings: Any) -> Iterator[Rig]:
    hub = bootstrap(
        Settings(database_url=db_url, api_publishes=False, **settings),
        transport=InProcessTransport(),
        partners=PartnerSettings(population_db=popdb, webhooks=WebhookSettings(allow_loopback=True)),
    )
    with TestClient(create_app(hub, pipeline=False)) as api:

        def into_hub(request: httpx.Request) -> httpx.Response:
            r = api.post(request.url.path, content=request.content, headers={"content-type": "application/json"})
            return httpx.Response(r.status_code, content=r.content, headers={"content-type": "application/json"})

        gateway_app = create_gateway_app(
            public_url=GATEWAY, http_factory=lambda: httpx.Client(transport=httpx.MockTransport(into_hub))
        )
        with TestClient(gateway_app, base_url=GATEWAY) as gateway:
            napas = NapasSettings(base_url=f"{GATEWAY}/napas", query_backoff_seconds=0)
            hub.payments.gateways["napas"] = build_gateway("napas", napas, http=gateway, clock=OffsetClock())
            keys = {
                "portal": create_client(hub.engine, "ONEGATE-P", "one-stop", ["dossier.status.changed"]),
                "pay": create_client(hub.engine, "ONEGATE-PAY", "fees", ["payment.open"]),
                "verify": create_client(hub.engine, "ONEGATE-V", "verifies", ["citizen.verify"]),
                "admin": create_client(hub.engine, "OPS", "operator", [ADMIN]),
            }
            yield Rig(hub, api, gateway, keys, db_url)
    hub.close()


@pytest.fixture
def rig(db_url: str, popdb_settings: PopulationDbSettings) -> Iterator[Rig]:  # noqa: F811
    yield from rig_of(db_url, popdb_settings)


def deliver(rig: Rig, message_id: str, outcome: Outcome) -> None:
    """One worker batch of this message through a connector that answers ``outcome``."""
    worker = Worker(rig.hub.ledger, rig.hub.transport, FakeConnector(decide=lambda _item: outcome))
    delivery = Delivery(message_id, "national_portal.dossier.status.changed", b"{}", {}, False)
    worker.handle([delivery])


def run(cli: CliRunner, monkeypatch: pytest.MonkeyPatch, url: str, *args: str) -> Any:
    """``lgsp evidence ...``; logging put back afterwards (the command logs to the runner's stream)."""
    monkeypatch.setenv("HUB_DATABASE_URL", url)
    monkeypatch.setenv("HUB_EVIDENCE_SIGNING_KEY", SIGNING_KEY)  # a deployment's key: no warning to log
    root = logging.getLogger()
    handlers = list(root.handlers)
    try:
        return cli.invoke(lgsp, ["evidence", *args])
    finally:
        structlog.reset_defaults()
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)


def records(rig: Rig) -> list[Any]:
    e = evidence
    as_text = (
        (lambda col: cast(col, Text))
        if rig.hub.engine.dialect.name == "postgresql"
        else (lambda c: type_coerce(c, Text))
    )
    with rig.hub.engine.connect() as c:
        return list(
            c.execute(
                select(e.c.chain, e.c.seq, e.c.kind, e.c.actor, e.c.subject, e.c.digests, e.c.details).add_columns(
                    as_text(e.c.details).label("details_text"), as_text(e.c.digests).label("digests_text")
                )
            )
        )


def test_every_exchange_is_a_chained_record_and_tampering_with_one_is_caught(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a dossier change: accepted, dead at the first attempt, replayed by an operator, delivered
    change = factories.status_change()
    assert rig.api.post(STATUS, json=change, headers=rig.h("portal")).status_code == 202
    with rig.hub.engine.connect() as c:
        mid = c.execute(select(messages.c.id).where(messages.c.type == "dossier.status.changed")).scalar_one()
    deliver(rig, mid, Outcome(OutcomeKind.DEAD, "the portal refused it", request={"sent": 1}, answer=b"no"))
    r = rig.api.post(f"/v1/messages/{mid}/replay", headers=rig.h("admin"))
    assert r.status_code == 202, r.text
    deliver(rig, mid, Outcome(OutcomeKind.DELIVERED, "ok", "REF-1", request={"sent": 2}, answer={"result": "ok"}))

    # a payment settled by its signed callback, and a forged callback refused
    p = rig.api.post("/v1/payments", json=factories.payment_request(), headers=rig.h("pay")).json()
    assert rig.gateway.post(f"/_mock/orders/{p['id']}/pay").status_code == 200
    forged = {"data": base64.b64encode(json.dumps({"paymentResult": {}}).encode()).decode(), "checksum": "0" * 64}
    assert rig.api.post("/v1/callbacks/payment/napas", json=forged).status_code == 401

    # a citizen query
    asked_for = query()
    r = rig.api.post("/v1/citizens/verify", json=asked_for, headers=rig.h("verify"))
    assert r.status_code == 200, r.text

    cli = CliRunner()
    chained = run(cli, monkeypatch, rig.url, "chain")
    assert chained.exit_code == 0, chained.output
    rows = records(rig)
    seen = {(r.kind, r.subject.split(":")[0]) for r in rows}
    assert {
        ("message.accepted", "message"),
        ("message.dead", "message"),  # the attempt that ended it (its digests)
        ("operator.action", "message"),  # the replay
        ("message.delivered", "message"),
        ("callback.received", "payment"),  # verified
        ("callback.received", "callback"),  # refused before it could be verified
        ("citizen.query", "citizen-query"),
        ("operator.action", "client"),  # client.create
    } <= seen
    of_change = [r for r in rows if r.subject == f"message:{mid}"]
    assert [r.kind for r in sorted(of_change, key=lambda r: r.seq)] == [
        "message.accepted",
        "message.dead",
        "operator.action",
        "message.delivered",
    ]  # one chain per subject: in the order it happened
    attempts = [r for r in of_change if r.kind in ("message.dead", "message.delivered")]
    assert all({"request", "answer"} <= set(r.digests) for r in attempts) and "detail" in attempts[0].digests
    assert attempts[0].digests["request"] != attempts[1].digests["request"]
    (replay,) = [r for r in of_change if r.kind == "operator.action"]
    assert replay.actor == "client:OPS" and replay.details["action"] == "message.replay"
    verified = [r for r in rows if r.kind == "callback.received" and r.details["verified"]]
    assert [r.details["answer"] for r in verified] == ["ok"] and verified[0].subject == f"payment:{p['id']}"
    (refused,) = [r for r in rows if r.kind == "callback.received" and not r.details["verified"]]
    assert refused.details["reason"] and refused.actor == "partner:napas" and "body" in refused.digests
    (asked,) = [r for r in rows if r.kind == "citizen.query"]
    assert asked.details["outcome"] == "matched" and asked.digests["id_number"].startswith("hmac-sha256:1:")

    text = " ".join(f"{r.details_text} {r.digests_text} {r.subject} {r.actor}" for r in rows)
    personal = (AN_ID, asked_for["full_name"], asked_for["officer_code"], asked_for["purpose"])
    for personal_value in (*personal, change["applicant"]["name"], change["applicant"]["id_number"], "Nguy"):
        assert personal_value not in text

    verified_run = run(cli, monkeypatch, rig.url, "verify", "--no-progress")
    assert verified_run.exit_code == 0, verified_run.output
    assert "evidence intact" in verified_run.output

    # someone edits the record of the refused callback to make it look verified
    tamper(
        rig.hub.engine,
        (
            "UPDATE evidence SET details = :d WHERE chain = :c AND seq = :s",
            {"d": json.dumps({**refused.details, "verified": True}), "c": refused.chain, "s": refused.seq},
        ),
    )
    broken = run(cli, monkeypatch, rig.url, "verify", "--no-progress")
    assert broken.exit_code == 1
    assert f"chain {refused.chain}: BROKEN at record {refused.seq}" in broken.output


def test_the_relays_jobs_chain_seal_and_redact_on_schedule_without_breaking_a_trace(
    db_url: str,
    popdb_settings: PopulationDbSettings,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    jobs: dict[str, Any] = {"evidence_interval": 0.1, "evidence_seal_interval": 0, "retention_interval": 0.2}
    jobs["evidence_signing_key"] = SecretStr(SIGNING_KEY)
    rig = next(r := rig_of(db_url, popdb_settings, retention_payload_days=0, **jobs))
    try:
        change = factories.status_change()
        assert rig.api.post(STATUS, json=change, headers=rig.h("portal")).status_code == 202
        with rig.hub.engine.connect() as c:
            mid = c.execute(select(messages.c.id).where(messages.c.type == "dossier.status.changed")).scalar_one()
        deliver(rig, mid, Outcome(OutcomeKind.DELIVERED, "ok", "REF-1", request={"x": 1}, answer={"ok": True}))

        pipe = Pipeline(rig.hub, relay=True, workers=0)  # the relay role, as `lgsp relay` runs it
        pipe.start()
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                kinds = {row.kind for row in records(rig)}
                if "payload.redacted" in kinds:
                    break
                time.sleep(0.1)
        finally:
            pipe.stop()
        assert {"message.accepted", "message.delivered", "payload.redacted"} <= kinds

        shown = trace.get_message(rig.hub.engine, mid)  # the trace and the timeline still read
        assert shown is not None and "applicant" not in shown["payload"] and shown["payload"]["_redacted"]
        assert change["applicant"]["name"] not in json.dumps(shown, ensure_ascii=False)
        assert [m["id"] for m in trace.timeline(rig.hub.engine, change["dossier_code"])["messages"]] == [mid]
        accepted = next(x for x in records(rig) if x.kind == "message.accepted" and x.subject == f"message:{mid}")
        assert shown["payload"]["_redacted"]["digest"] == accepted.digests["payload"]  # proves what was accepted

        result = run(CliRunner(), monkeypatch, db_url, "verify", "--no-progress")
        assert result.exit_code == 0, result.output
        with rig.hub.engine.connect() as c:  # the scheduled chainer sealed what it chained
            assert c.execute(select(func.count()).select_from(evidence_seals)).scalar_one() > 0
    finally:
        next(r, None)
