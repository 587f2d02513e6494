"""The reconciler's queries to a payment gateway are exchanges too: each leaves a ``payment.query`` fact
in the transaction that acts on its answer (settled, marked not opened, unchanged), and a query that got
no answer leaves one with the error's class."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, select

from hub.db.schema import clients, evidence_staged
from hub.evidence.model import Fact, facts_of
from hub.ledger import Ledger
from hub.payments.port import GatewayStatus, GatewayTimeout
from hub.payments.reconcile import reconcile
from hub.payments.service import Payments, Routes
from tests.factories import create_client
from tests.fakes import FakeGateway
from tests.test_payments import order


@pytest.fixture
def gateway() -> FakeGateway:
    return FakeGateway()


@pytest.fixture
def service(engine: Engine, gateway: FakeGateway) -> Payments:
    return Payments(engine, Ledger(engine), {"napas": gateway}, Routes(events="webhooks", fee_paid="national_portal"))


@pytest.fixture
def client_id(engine: Engine) -> int:
    create_client(engine, "ONEGATE", "one-stop", ["payment.open"])
    with engine.connect() as c:
        return int(c.execute(select(clients.c.id).where(clients.c.code == "ONEGATE")).scalar_one())


def queries(engine: Engine) -> list[Fact]:
    t = evidence_staged
    with engine.connect() as c:
        rows = c.execute(select(t).order_by(t.c.id)).all()
    found = [f for r in rows for f in facts_of(r.kind, r.actor, r.subject, r.digests, r.details)]
    return [f for f in found if f.kind == "payment.query"]


def in_doubt(service: Payments, gateway: FakeGateway, client_id: int, ref: str) -> Any:
    gateway.create_error = GatewayTimeout("read timeout")
    payment = service.open(client_id, order(), ref, "napas", ref).payment
    gateway.create_error = None
    return payment


def test_every_reconciliation_query_is_a_fact_with_what_the_gateway_said_and_what_the_hub_did(
    service: Payments, gateway: FakeGateway, client_id: int, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    unknown = in_doubt(service, gateway, client_id, "REF-1")
    assert reconcile(service, older_than=0) == 0  # the gateway never heard of it: not opened
    paid = in_doubt(service, gateway, client_id, "REF-2")
    gateway.status[paid["id"]] = GatewayStatus(paid["id"], "paid", 150_000, "VND", "TXN-9", "00")
    assert reconcile(service, older_than=0) == 1  # settled by the query
    silent = in_doubt(service, gateway, client_id, "REF-3")

    def no_answer(reference: str, opened_at: Any = None) -> GatewayStatus:
        raise GatewayTimeout("read timeout")

    monkeypatch.setattr(gateway, "query", no_answer)
    assert reconcile(service, older_than=0) == 0

    got = [(f.subject, f.actor, f.details["state"], f.details["answer"]) for f in queries(engine)]
    assert got == [
        (f"payment:{unknown['id']}", "hub:reconciler", "unknown", "not_opened"),
        (f"payment:{paid['id']}", "hub:reconciler", "paid", "ok"),
        (f"payment:{silent['id']}", "hub:reconciler", "error", "unchanged"),
    ]
    assert queries(engine)[-1].details["error"] == "GatewayTimeout"
    assert all(f.details["profile"] == "napas" for f in queries(engine))
