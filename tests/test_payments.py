"""Payments in the ledger, on SQLite and PostgreSQL, with a scripted gateway: open once per
client reference, in-doubt opens settled only by a query, results applied exactly once
(also under a flood of parallel duplicates), events for every subscriber in the same
transaction."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, Table, func, select

from hub import subscriptions
from hub.db.schema import clients, messages, outbox, payments
from hub.ledger import Ledger
from hub.payments.port import (
    FeeItem,
    GatewayStatus,
    GatewayTimeout,
    Outcome,
    PaymentOrder,
    PaymentResult,
    PermanentGatewayError,
    RetryableGatewayError,
)
from hub.payments.reconcile import reconcile
from hub.payments.service import GatewayUnavailable, PaymentConflict, Payments, Routes
from tests.factories import create_client, dossier_code
from tests.fakes import FakeGateway


@pytest.fixture
def gateway() -> FakeGateway:
    return FakeGateway()


ROUTES = Routes(events="webhooks", fee_paid="national_portal")


@pytest.fixture
def service(engine: Engine, gateway: FakeGateway) -> Payments:
    return Payments(engine, Ledger(engine), {"napas": gateway, "paygov": gateway}, ROUTES)


@pytest.fixture
def client_id(engine: Engine) -> int:
    create_client(engine, "ONEGATE", "one-stop", ["payment.open"])
    with engine.connect() as c:  # closed before the test: on SQLite an open transaction holds the write lock
        return int(c.execute(select(clients.c.id).where(clients.c.code == "ONEGATE")).scalar_one())


def order(amount: int = 150_000) -> PaymentOrder:
    return PaymentOrder(
        reference="",
        dossier_code=dossier_code(),
        procedure_code="2.002492",
        agency_code="000.00.00.H56",
        amount=amount,
        description="Lệ phí cấp giấy phép",
        fee_items=(FeeItem("LP01", "Lệ phí", amount),),
        payer_name="Nguyễn Văn A",
        return_url="https://onegate.example/return",
    )


def result(pid: str, outcome: Outcome = "paid", amount: int = 150_000) -> PaymentResult:
    return PaymentResult(
        profile="napas",
        merchant="LGSP-TEST",
        reference=pid,
        outcome=outcome,
        amount=amount,
        currency="VND",
        gateway_txn_id="TXN-1",
        occurred_at=datetime.now(tz=UTC),
        code="00",
    )


def state_of(service: Payments, pid: str) -> str:
    payment = service.get(pid)
    assert payment is not None, pid
    return str(payment["state"])


def count(engine: Engine, table: Table, **where: object) -> int:
    with engine.connect() as c:
        q = select(func.count()).select_from(table)
        for k, v in where.items():
            q = q.where(table.c[k] == v)
        return int(c.execute(q).scalar_one())


def test_open_returns_the_gateway_url_and_the_same_payment_for_the_same_reference(
    service: Payments, gateway: FakeGateway, client_id: int
) -> None:
    o = order()
    first = service.open(client_id, o, "REF-1", "napas", "h1")
    assert first.created and first.payment["state"] == "pending"
    assert first.payment["payment_url"] == f"https://pay.example/{first.payment['id']}"
    assert gateway.orders[0].reference == first.payment["id"]  # the gateway knows our id
    again = service.open(client_id, o, "REF-1", "napas", "h1")
    assert not again.created and again.payment["id"] == first.payment["id"]
    assert len(gateway.orders) == 1  # not opened twice
    with pytest.raises(PaymentConflict):
        service.open(client_id, order(amount=99_000), "REF-1", "napas", "h2")


def test_gateway_timeout_leaves_it_in_doubt_until_a_query_settles_it(
    service: Payments, gateway: FakeGateway, client_id: int, engine: Engine
) -> None:
    gateway.create_error = GatewayTimeout("read timeout")
    p = service.open(client_id, order(), "REF-2", "napas", "h").payment
    assert p["state"] == "in_doubt" and p["payment_url"] is None
    assert reconcile(service, older_than=0) == 0  # the gateway says nothing yet: no guess
    assert state_of(service, p["id"]) == "not_opened"

    gateway.create_error = GatewayTimeout("read timeout")
    q = service.open(client_id, order(), "REF-3", "napas", "h").payment
    gateway.status[q["id"]] = GatewayStatus(q["id"], "paid", 150_000, "VND", "TXN-9", "00")
    assert reconcile(service, older_than=0) == 1
    settled = service.get(q["id"])
    assert settled is not None and settled["state"] == "paid" and settled["gateway_txn_id"] == "TXN-9"
    assert [e["kind"] for e in settled["events"]] == ["open", "open", "query", "announce"]


def test_unreachable_gateway_opens_nothing_and_a_retry_opens_the_same_payment(
    service: Payments, gateway: FakeGateway, client_id: int, engine: Engine
) -> None:
    gateway.create_error = RetryableGatewayError("connection refused")
    with pytest.raises(GatewayUnavailable):
        service.open(client_id, order(), "REF-4", "napas", "h")
    gateway.create_error = None
    p = service.open(client_id, order(), "REF-4", "napas", "h").payment
    assert p["state"] == "pending" and count(engine, payments) == 1
    gateway.create_error = PermanentGatewayError("amount above the merchant limit")
    refused = service.open(client_id, order(), "REF-5", "napas", "h").payment
    assert refused["state"] == "refused" and "limit" in refused["last_error"]


def test_a_result_is_applied_once_and_announced_to_each_subscriber(
    service: Payments, client_id: int, engine: Engine
) -> None:
    sub_a = subscriptions.create(engine, client_id, "http://a.example/hook", ["payment.status.changed"])
    subscriptions.create(engine, client_id, "http://b.example/hook", ["payment.status.changed"])
    p = service.open(client_id, order(), "REF-6", "napas", "h").payment
    assert service.settle(result(p["id"], amount=1), "callback") == "amount_mismatch"
    assert state_of(service, p["id"]) == "pending"
    assert service.settle(result("01NOSUCHPAYMENT00000000000"), "callback") == "unknown_order"
    assert service.settle(result(p["id"]), "callback") == "ok"
    assert service.settle(result(p["id"]), "callback") == "already_settled"
    assert service.settle(result(p["id"], outcome="failed"), "callback") == "already_settled"
    assert state_of(service, p["id"]) == "paid"
    assert count(engine, messages, type="payment.status.changed", connector="webhooks") == 2
    # and the national portal hears of it once: a progress entry, the dossier marked paid online
    assert count(engine, messages, type="dossier.fee.paid", connector="national_portal", key=p["dossier_code"]) == 1
    assert count(engine, outbox) == 3
    with engine.connect() as c:
        payload = c.execute(
            select(messages.c.payload).where(messages.c.key == f"{sub_a['id']}:{p['dossier_code']}")
        ).scalar_one()
    assert payload["event"]["state"] == "paid" and payload["event"]["payment_id"] == p["id"]


def test_a_flood_of_parallel_duplicate_callbacks_changes_the_state_once(
    service: Payments, client_id: int, engine: Engine
) -> None:
    subscriptions.create(engine, client_id, "http://a.example/hook", ["payment.status.changed"])
    p = service.open(client_id, order(), "REF-7", "napas", "h").payment
    answers: list[str] = []
    start = threading.Barrier(8)

    def hit() -> None:
        start.wait()
        for _ in range(5):
            answers.append(service.settle(result(p["id"]), "callback"))

    threads = [threading.Thread(target=hit) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers.count("ok") == 1 and answers.count("already_settled") == 39
    assert count(engine, messages, type="payment.status.changed") == 1


def test_only_the_opening_clients_subscriptions_hear_of_a_payment(
    service: Payments, client_id: int, engine: Engine
) -> None:
    create_client(engine, "OTHER", "another one-stop system", ["subscribe"])
    with engine.connect() as c:
        other_id = int(c.execute(select(clients.c.id).where(clients.c.code == "OTHER")).scalar_one())
    mine = subscriptions.create(engine, client_id, "http://mine.example/hook", ["payment.status.changed"])
    theirs = subscriptions.create(engine, other_id, "http://theirs.example/hook", ["payment.status.changed"])
    p = service.open(client_id, order(), "REF-8", "napas", "h").payment
    assert service.settle(result(p["id"]), "callback") == "ok"
    with engine.connect() as c:
        keys = [r.key for r in c.execute(select(messages.c.key).where(messages.c.type == "payment.status.changed"))]
    assert keys == [f"{mine['id']}:{p['dossier_code']}"]
    assert not any(k.startswith(theirs["id"]) for k in keys)


def test_a_failing_gateway_opens_the_circuit_and_is_not_called_until_it_may_recover(
    engine: Engine, gateway: FakeGateway, client_id: int
) -> None:
    service = Payments(engine, Ledger(engine), {"napas": gateway}, ROUTES, breaker_failures=2, breaker_reset=60)
    now = [0.0]
    service.breaker("napas").clock = lambda: now[0]
    gateway.create_error = RetryableGatewayError("connection refused")
    for ref in ("B-1", "B-2"):
        with pytest.raises(GatewayUnavailable):
            service.open(client_id, order(), ref, "napas", "h")
    assert len(gateway.orders) == 2
    with pytest.raises(GatewayUnavailable) as refused:
        service.open(client_id, order(), "B-3", "napas", "h")
    assert len(gateway.orders) == 2  # open circuit: the gateway was not called
    assert 0 < refused.value.retry_after <= 60
    now[0] = 61.0  # past the reset: one probe goes through, and an answer closes the circuit
    gateway.create_error = None
    assert service.open(client_id, order(), "B-3", "napas", "h").payment["state"] == "pending"
    assert len(gateway.orders) == 3 and service.breaker("napas").state == "closed"
