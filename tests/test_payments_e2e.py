"""Payments end to end on real processes, RabbitMQ and PostgreSQL: payments opened through the
API and paid at the mock gateway (its payment page, and its test actions) reach a subscribed
webhook receiver and the mock national portal exactly once — with callbacks duplicated in
parallel, late, or never sent (the reconciliation job settles those), and the receiver down
for a while."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.factories import dossier_code, payment_request, status_change
from tests.support.broker import random_prefix, require_broker
from tests.support.db import temporary_pg_database
from tests.support.receiver import Receiver
from tests.support.stack import Stack
from tests.support.wait import until

pytestmark = [pytest.mark.slow, pytest.mark.rabbitmq, pytest.mark.postgres]

FAST = {
    "HUB_PAYMENT_RECONCILE_INTERVAL": "0.5",
    "HUB_PAYMENT_RECONCILE_AFTER": "3",
    "HUB_WEBHOOK_BACKOFF_BASE": "0.2",
    "HUB_WEBHOOK_ALLOW_LOOPBACK": "true",  # the test's receiver is on this machine
    "HUB_WEBHOOK_BACKOFF_MAX": "1.0",
}


def open_payment(http: httpx.Client, code: str, profile: str) -> dict[str, Any]:
    r = http.post("/v1/payments", json=payment_request(code, profile))
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_paid_fees_reach_the_subscriber_and_the_portal_exactly_once(tmp_path: Path) -> None:
    broker = require_broker()
    with temporary_pg_database() as pg, Receiver() as receiver:
        stack = Stack(tmp_path, pg, broker, random_prefix(), **FAST).start(workers=2, gateway=True)
        try:
            stack.wait_ready(consumers=2)
            _scenario(stack, receiver)
        except BaseException:
            print(stack.logs())
            raise
        finally:
            stack.stop()


def _scenario(stack: Stack, receiver: Receiver) -> None:
    from hub.db.engine import make_engine
    from tests.factories import create_client

    engine = make_engine(stack.env["HUB_DATABASE_URL"])
    key = create_client(engine, "ONEGATE", "one-stop", ["dossier.status.changed", "payment.open", "subscribe"])
    engine.dispose()
    http = httpx.Client(base_url=stack.api, headers={"X-API-Key": key}, timeout=30)
    gateway = httpx.Client(base_url=stack.gateway, timeout=30)

    sub = http.post("/v1/subscriptions", json={"url": receiver.url, "event_types": ["payment.status.changed"]})
    assert sub.status_code == 201, sub.text
    receiver.secret, receiver.down = sub.json()["secret"], True  # the receiver is down to begin with

    codes = [dossier_code() for _ in range(4)]
    requested = [status_change(code=c, status=6, minutes_ago=30) for c in codes]  # "pay the fee, please"
    assert http.post("/v1/dossiers/status-changes", json=requested).status_code == 202
    pays = [open_payment(http, c, p) for c, p in zip(codes, ["napas", "paygov", "napas", "paygov"], strict=True)]

    def faults(**values: object) -> None:
        gateway.post("/_mock/faults", json={"duplicate_callbacks": 1, **values}).raise_for_status()

    # 1. paid on the gateway's payment page, as a citizen does (the form posts, then redirects)
    page = gateway.get(f"/pay/{pays[0]['id']}")
    assert page.status_code == 200 and "Thanh toán" in page.text
    assert gateway.post(f"/pay/{pays[0]['id']}/pay").status_code in (200, 303)
    # 2. the gateway sends its callback six times at once
    faults(duplicate_callbacks=6, parallel_duplicates=True)
    gateway.post(f"/_mock/orders/{pays[1]['id']}/pay").raise_for_status()
    # 3. the callback comes late
    faults(callback_delay_seconds=1.0)
    gateway.post(f"/_mock/orders/{pays[2]['id']}/pay").raise_for_status()
    # 4. the callback never comes: the reconciliation job asks the gateway
    faults(drop_callbacks=True)
    gateway.post(f"/_mock/orders/{pays[3]['id']}/pay").raise_for_status()
    faults()

    def states() -> list[str]:
        return [http.get(f"/v1/payments/{p['id']}").json()["state"] for p in pays]

    until(lambda: states() == ["paid"] * 4, timeout=30, what="every payment paid")
    time.sleep(1.0)
    assert receiver.events == [] and receiver.refused > 0  # still down: retried, nothing lost
    receiver.down = False
    until(lambda: len(receiver.events) >= 4, timeout=30, what="the receiver to get every event once it is back")

    until(
        lambda: all(len(v) == 1 for v in _paid(stack, codes).values()),
        timeout=30,
        what="the portal to get each payment",
    )

    time.sleep(1.5)  # anything duplicated would have arrived by now
    ids = Counter(webhook_id for webhook_id, _ in receiver.events)
    assert max(ids.values()) == 1, "a webhook delivery was repeated"
    assert sorted(e["payment_id"] for _, e in receiver.events) == sorted(p["id"] for p in pays)
    assert {e["state"] for _, e in receiver.events} == {"paid"}
    final = _paid(stack, codes)
    assert all(len(v) == 1 for v in final.values()), final  # one progress entry per payment
    portal = stack.portal_state()
    assert portal["stats"]["duplicate_progress_entries"] == 0
    for code in codes:
        dossier = portal["dossiers"][code]
        assert dossier["HoSo"]["DuocThanhToanTrucTuyen"] == "1"  # the dossier marked paid online
        steps = [e["TrangThai"] for e in dossier["QuaTrinhXuLy"]]
        assert steps == ["6", "6"], steps  # the request to pay, then the payment, in that order
    # the dossier's timeline shows the payment and its callbacks
    timeline = http.get(f"/v1/dossiers/{codes[1]}/timeline").json()
    (payment,) = timeline["payments"]
    assert [e["kind"] for e in payment["history"]].count("callback") == 6
    assert {m["type"] for m in timeline["messages"]} >= {"dossier.status.changed", "dossier.fee.paid"}


def _paid(stack: Stack, codes: list[str]) -> dict[str, list[dict[str, Any]]]:
    portal = stack.portal_state()
    return {
        code: [e for e in portal["dossiers"][code]["QuaTrinhXuLy"] if "thanh toán" in e["NoiDungXuLy"]]
        for code in codes
    }
