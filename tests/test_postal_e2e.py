"""The postal service end to end on real processes, RabbitMQ and PostgreSQL: deliveries and pickups
ordered through the API, followed by the mock VNPost's simulator (its clock driven by the test) to
delivered, and one to returned after failed attempts, in polling mode (one customer's feed, read by
the relay's poller) and in push mode (another customer's, pushed by the test acting as the LGSP,
every page twice); the feed duplicates and swaps entries, and a worker is killed mid-flow. The
subscriber sees each status once and in order, and the mock portal gets each step as a progress
entry, with the dossier's postal markers and, for a delivered result, its return date."""

from __future__ import annotations

import contextlib
import itertools
import json
import signal
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.postal.api import signature
from hub.postal.rules import PHASE, ParcelStatus
from tests.factories import dossier_code, status_change
from tests.support.broker import random_prefix, require_broker
from tests.support.db import temporary_pg_database
from tests.support.receiver import Receiver
from tests.support.stack import Stack, free_port, wait_http
from tests.support.wait import until

pytestmark = [pytest.mark.slow, pytest.mark.rabbitmq, pytest.mark.postgres, pytest.mark.timeout(300)]

SECRET = "e2e-push-secret"
POLLED, PUSHED = "BCCI_H56", "BCCI_H22"
AGENCY_OF = {POLLED: "000.00.00.H56", PUSHED: "000.00.00.H22"}
CITIZEN = {
    "name": "Nguyễn Thị Bích Ngọc",
    "phone": "0912345678",
    "address": "Số 12 ngõ 34 phố Ngọc Hà",
    "province_code": "01",
    "commune_code": "00004",
}
FINAL = {"delivered", "returned", "cancelled"}


def agency(customer: str) -> dict[str, Any]:
    return {
        "code": AGENCY_OF[customer],
        "name": f"Trung tâm hành chính công ({customer})",
        "portal": {"madonvi": AGENCY_OF[customer]},  # its dossiers go to the portal under its own unit code
        "postal": {
            "customer_code": customer,
            "variant": "lgsp",
            "name": "Trung tâm Phục vụ hành chính công",
            "phone": "02373850000",
            "address": "28 Đại lộ Lê Lợi",
            "province_id": 938,
            "district_id": 90380,
        },
    }


class Lgsp:
    """The province's LGSP that pushes: reads the mock's feed of one customer and pushes each page
    to the hub, signed, twice."""

    def __init__(self, mock: str, api: str) -> None:
        self.mock, self.api, self.cursor = mock, api, "0" * 24
        self.stop = threading.Event()
        self.pushed = 0
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        with httpx.Client(timeout=10) as http:
            while not self.stop.is_set():
                with contextlib.suppress(httpx.HTTPError):  # a lost page, a 5xx: the LGSP tries again
                    self.once(http)
                self.stop.wait(0.3)

    def once(self, http: httpx.Client) -> None:
        r = http.get(
            f"{self.mock}/lgsp/vnpost",
            params={"service": "OrderTracking", "CustomerCode": PUSHED, "pagesize": "50", "lastId": self.cursor},
            headers={"access_token": "lgsp-dev-access-token"},
        )
        if r.status_code != 200:
            return
        docs = r.json().get("_embedded", {}).get("rh:doc", [])
        docs = [docs] if isinstance(docs, dict) else docs
        if not docs:
            return
        body = r.content
        for _ in range(2):  # every page pushed twice
            answer = http.post(
                f"{self.api}/v1/callbacks/vnpost",
                content=body,
                headers={"content-type": "application/json", "X-Lgsp-Signature": signature(SECRET, body)},
            )
            if answer.status_code != 200:
                return  # not recorded: the same page again next time
        self.pushed += len(docs)
        self.cursor = max(d["_id"]["$oid"] for d in docs)


def test_parcels_followed_to_the_door_by_poll_and_by_push(tmp_path: Path) -> None:
    broker = require_broker()
    agencies = tmp_path / "agencies.json"
    agencies.write_text(json.dumps([agency(POLLED), agency(PUSHED)]), encoding="utf-8")
    vnpost_port = free_port()
    mock = f"http://127.0.0.1:{vnpost_port}"
    env = {
        "HUB_VNPOST_BASE_URL": mock,
        "HUB_VNPOST_BACKOFF_BASE": "0.2",
        "HUB_VNPOST_BACKOFF_MAX": "1.0",
        "HUB_VNPOST_TIMEOUT": "3",
        "HUB_WEBHOOK_BACKOFF_BASE": "0.2",
        "HUB_WEBHOOK_BACKOFF_MAX": "1.0",
        "HUB_WEBHOOK_ALLOW_LOOPBACK": "true",
        "HUB_AGENCIES_FILE": str(agencies),
        "HUB_POSTAL_UNIT_PLACEHOLDERS": "true",
        "HUB_POSTAL_POLL_INTERVAL": "0.3",
        "HUB_POSTAL_PUSH_SECRET": SECRET,
        "HUB_POSTAL_PUSH_CUSTOMERS": json.dumps([PUSHED]),
    }
    with temporary_pg_database() as pg, Receiver() as receiver:
        stack = Stack(tmp_path, pg, broker, random_prefix(), **env)
        stack.spawn("vnpost", "mock", "vnpost", "--port", str(vnpost_port), "--no-realtime", "--step-seconds", "60")
        lgsp = None
        try:
            wait_http(mock + "/_mock/state", 60)
            stack.start(workers=2, timeout=90)  # a loaded machine: start-up is not what is measured
            stack.wait_ready(consumers=2, timeout=90)
            lgsp = Lgsp(mock, stack.api)
            _scenario(stack, receiver, mock, lgsp)
        except BaseException:
            print(stack.logs())
            raise
        finally:
            if lgsp is not None:
                lgsp.stop.set()
            stack.stop()


def _scenario(stack: Stack, receiver: Receiver, mock_url: str, lgsp: Lgsp) -> None:
    from hub.clients import create_client
    from hub.db.engine import make_engine

    engine = make_engine(stack.env["HUB_DATABASE_URL"])
    grants = ["dossier.status.changed", "postal.order", "subscribe"]
    key = create_client(engine, "ONEGATE", "one-stop", grants, agencies=list(AGENCY_OF.values()))
    engine.dispose()
    http = httpx.Client(base_url=stack.api, headers={"X-API-Key": key}, timeout=30)
    mock = httpx.Client(base_url=mock_url, timeout=10)
    sub = http.post("/v1/subscriptions", json={"url": receiver.url, "event_types": ["postal.status.changed"]})
    assert sub.status_code == 201, sub.text
    receiver.secret = sub.json()["secret"]
    mock.post("/_mock/faults", json={"duplicate_rate": 0.4, "reorder_rate": 0.4, "seed": 3}).raise_for_status()

    # (customer, kind, scenario): in each mode a delivery and a pickup delivered, a delivery returned
    plan = [
        (customer, kind, scenario)
        for customer in (POLLED, PUSHED)
        for kind, scenario in (("delivery", "delivered"), ("pickup", "second_attempt"), ("delivery", "returned"))
    ]
    codes = [dossier_code(AGENCY_OF[p[0]]) for p in plan]  # each of its agency's province (the portal checks)
    changes = [status_change(code=c, status=9, agency_code=AGENCY_OF[p[0]]) for c, p in zip(codes, plan, strict=True)]
    assert http.post("/v1/dossiers/status-changes", json=changes).status_code == 202  # the portal knows them
    orders: dict[str, tuple[str, str]] = {}  # order id -> (dossier code, kind)
    for code, (customer, kind, scenario) in zip(codes, plan, strict=True):
        side = "receiver" if kind == "delivery" else "sender"
        body = {"dossier_code": code, "agency_code": AGENCY_OF[customer], "kind": kind, side: CITIZEN}
        r = http.post("/v1/postal/orders", json=body | {"description": "Hồ sơ / kết quả"})
        assert r.status_code == 202, r.text
        assert http.post("/v1/postal/orders", json=body | {"description": "again"}).json()["id"] == r.json()["id"]
        orders[r.json()["id"]] = (code, kind)

        def at_vnpost(c: str = customer, n: str = code) -> bool:
            return any(
                o["OrderNumber"] == n and o["CustomerCode"] == c for o in mock.get("/_mock/state").json()["orders"]
            )

        until(
            at_vnpost,
            timeout=20,
            what=f"order {code} at VNPost",
        )
        mock.post(f"/_mock/orders/{customer}/{code}/scenario", json={"scenario": scenario}).raise_for_status()
    lgsp.thread.start()

    def statuses() -> dict[str, str | None]:
        return {oid: http.get(f"/v1/postal/orders/{oid}").json()["status"] for oid in orders}

    killed = False
    deadline = time.monotonic() + 40
    while any(s not in FINAL for s in statuses().values()):
        assert time.monotonic() < deadline, f"parcels still moving: {statuses()}"
        mock.post("/_mock/clock/advance", json={"seconds": 60}).raise_for_status()
        if not killed and any(s in ("in_transit", "out_for_delivery") for s in statuses().values()):
            stack.kill("worker-0", signal.SIGKILL)  # mid-flow: its batches in flight are taken over
            killed = True
        time.sleep(0.4)
    assert killed
    final = statuses()
    expected = {oid: ("returned" if i % 3 == 2 else "delivered") for i, oid in enumerate(orders)}
    assert final == expected

    # the subscriber: every parcel's statuses, each once, in order, ending in its final status
    def by_order() -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {oid: [] for oid in orders}
        for _, e in list(receiver.events):
            out[e["order_id"]].append(e)
        return out

    until(lambda: all(v and v[-1]["final"] for v in by_order().values()), timeout=30, what="the final webhooks")
    time.sleep(1.0)  # anything repeated would have arrived by now
    ids = Counter(webhook_id for webhook_id, _ in receiver.events)
    assert max(ids.values()) == 1, "a webhook delivery was repeated"
    seen = by_order()
    for oid, events in seen.items():
        keys = [(PHASE[ParcelStatus(e["status"])], e["occurred_at"]) for e in events]
        assert keys == sorted(keys) and len(set(keys)) == len(keys), (oid, [e["status"] for e in events])
        assert events[0]["status"] == "accepted" and events[-1]["status"] == expected[oid]
        assert all(a["status"] == b["previous_status"] for a, b in itertools.pairwise(events))
    assert any(e["status"] == "delivery_failed" for e in seen[list(orders)[2]])  # the returned one tried

    # the portal: each announced step once, as a progress entry, with the markers and return date
    def portal_steps() -> dict[str, list[dict[str, Any]]]:
        state = stack.portal_state()
        return {
            code: [
                e
                for e in state["dossiers"][code]["QuaTrinhXuLy"]
                if e.get("TrangThai") == "9" and "VNPost" in e.get("NguoiXuLy", "")  # the dossier's own 9 aside
            ]
            for code, _ in orders.values()
        }

    until(
        lambda: all(len(portal_steps()[orders[oid][0]]) == len(seen[oid]) for oid in orders),
        timeout=30,
        what="every postal step at the portal",
    )
    state = stack.portal_state()
    assert state["stats"]["duplicate_progress_entries"] == 0
    for oid, (code, kind) in orders.items():
        hoso = state["dossiers"][code]["HoSo"]
        if kind == "pickup":
            assert hoso.get("KenhThucHien") == "3", hoso
        else:
            assert hoso.get("HinhThuc") == "1", hoso
        if kind == "delivery" and expected[oid] == "delivered":
            assert hoso.get("NgayTra"), hoso
        first = portal_steps()[code][0]
        assert "VNPost" in first["NoiDungXuLy"]
    # push mode really was: the LGSP pushed, and its customer's feed was never polled
    assert lgsp.pushed > 0
    calls = mock.get("/_mock/state").json()["calls"]
    assert calls.get("lgsp tracking", 0) > 0
    order_ids = list(orders)
    assert {h["source"] for h in http.get(f"/v1/postal/orders/{order_ids[3]}").json()["history"]} == {"push"}
    assert {h["source"] for h in http.get(f"/v1/postal/orders/{order_ids[0]}").json()["history"]} == {"poll"}
