"""Benchmark of the postal service on RabbitMQ and PostgreSQL, in the production shape (api, relay
with the tracking poller, workers, mock portal and mock VNPost as separate processes).

    python -m bench.postal [--spine-n 3000] [--orders 1000] [--parcels 10000] [--rate 20] [--latency-parcels 100]

Prints, from one run:
  (0) the spine's delivered/s (``bench.spine.delivered_per_s``: status changes, same stack);
  (a) orders delivered/s to the mock VNPost: ``--orders`` orders through ``POST /v1/postal/orders``,
      first accept -> last ``postal.order.requested`` delivered; and the ratio to (0);
  (b) tracking events ingested/s over ``--parcels`` open parcels of a second customer code, seeded
      directly (their rows in the hub's database, their orders at the mock through the connector's
      client: ordering is (a)'s figure, not this one's), read by ``Postal.poll`` (the poller's work)
      from the benchmark's process, which the stack's poller leaves alone: the mock's clock moved
      one step (every parcel "picked up") and the feed ingested until every event is applied
      (recorded, the order updated, announced to the portal), event by event (``batch_ingest=False``,
      the ingest before the page was batched); then one step more ("in transit"), a page at a time
      (the poller's ingest now); each with its ratio to (0), each wave started once the stack has
      delivered what was queued before it (the announcements of the wave before);
  (c) p99 from a status appearing in the feed to the subscriber's webhook, at about ``--rate``
      statuses/s: ``--latency-parcels`` parcels created on the mock clock at staggered times, the
      clock moved in small steps; a status "appears" at the first move that makes it due.
Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
from sqlalchemy import func, insert, select

from bench import load
from bench.spine import delivered_per_s, workload
from connectors.vnpost import VnpostClient, VnpostSettings
from hub.agencies.port import StaticAgencies
from hub.bootstrap import PartnerSettings, bootstrap
from hub.db.engine import make_engine
from hub.db.schema import clients, messages, postal_events, postal_orders
from hub.envelope import new_id, utcnow
from hub.logging import configure
from hub.postal.port import PostalOrderRequest, PostalParty
from hub.postal.service import Postal
from hub.settings import Settings
from tests.factories import create_client, dossier_code
from tests.support.broker import random_prefix
from tests.support.db import temporary_pg_database
from tests.support.receiver import Receiver
from tests.support.stack import Stack, free_port, wait_http

CUSTOMER, AGENCY = "BCCI_H56", "000.00.00.H56"
SEEDED, SEEDED_AGENCY = "BCCI_H22", "000.00.00.H22"  # (b)'s parcels: a customer the stack does not poll
SENDER: dict[str, Any] = {"variant": "lgsp", "name": "Trung tâm", "phone": "02373850000", "address": "28 Lê Lợi"}
SENDER |= {"province_id": 938, "district_id": 90380}
STEP = 60.0  # mock seconds between two statuses
CITIZEN = {
    "name": "Nguyễn Văn A",
    "phone": "0912345678",
    "address": "Số 1",
    "province_code": "01",
    "commune_code": "00004",
}


class TimedReceiver(Receiver):
    def __init__(self) -> None:
        super().__init__()
        self.arrived: list[tuple[float, dict[str, Any]]] = []

    def take(self, body: bytes, headers: dict[str, str]) -> int:
        status = super().take(body, headers)
        if status == 204:
            self.arrived.append((time.time(), json.loads(body)))
        return status


def orders(n: int) -> list[bytes]:
    return [
        json.dumps(
            {"dossier_code": dossier_code(), "agency_code": AGENCY, "kind": "delivery", "receiver": CITIZEN}
            | {"description": "Kết quả"}
        ).encode()
        for _ in range(n)
    ]


def count(engine: Any, q: Any) -> int:
    with engine.connect() as c:
        return int(c.execute(q).scalar_one())


def wait_count(engine: Any, q: Any, total: int, timeout: float, what: str) -> float:
    deadline = time.monotonic() + timeout
    while (done := count(engine, q)) < total:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {done}/{total} {what} after {timeout}s")
        time.sleep(0.1)
    return time.time()


def seed(engine: Any, postal_url: str, client_id: int, n: int, threads: int) -> list[str]:
    """``n`` open delivery parcels of ``SEEDED``: the hub's rows, then their orders at the mock (so no
    event of theirs reaches the feed before the hub knows the order)."""
    now, codes = utcnow(), [dossier_code() for _ in range(n)]
    rows = [
        {
            "id": new_id(),
            "client_id": client_id,
            "dossier_code": code,
            "order_number": code,
            "kind": "delivery",
            "agency_code": SEEDED_AGENCY,
            "customer_code": SEEDED,
            "details": {"cod_amount": 0, "description": "Kết quả", "units": {}},
            "order_message_id": new_id(),
            "created_at": now,
            "updated_at": now,
        }
        for code in codes
    ]
    with engine.begin() as c:
        for i in range(0, n, 1000):
            c.execute(insert(postal_orders), rows[i : i + 1000])
    party = PostalParty(**{k: v for k, v in SENDER.items() if k != "variant"})
    client = VnpostClient(VnpostSettings(base_url=postal_url, timeout=30))

    def one(code: str) -> None:
        order = PostalOrderRequest(
            customer_code=SEEDED, order_number=code, kind="delivery", agency=party, citizen=party, description="K"
        )
        client.create_order(order)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, codes))
    client.close()
    return codes


def drained(engine: Any, timeout: float = 900) -> None:
    """Until the stack has delivered what earlier phases queued (e.g. a wave's portal steps): each
    wave is measured against the same background, its own announcements."""
    busy = select(func.count()).select_from(messages).where(messages.c.state.in_(("queued", "delivering")))
    deadline = time.monotonic() + timeout
    while count(engine, busy):
        if time.monotonic() > deadline:
            raise SystemExit(f"the stack still has {count(engine, busy)} messages to deliver after {timeout}s")
        time.sleep(0.5)


def ingest_wave(postal: Postal, mock: httpx.Client, engine: Any, n: int, batch: bool) -> float:
    """Move the mock's clock one step (a new event for each open parcel) and poll ``SEEDED``'s feed
    until ``n`` events are applied; events/s."""
    drained(engine)
    postal.batch_ingest = batch
    mock.post("/_mock/clock/advance", json={"seconds": STEP}).raise_for_status()
    t0, applied = time.time(), 0
    while applied < n:
        applied += postal.poll(SEEDED).get("applied", 0)
        if time.time() - t0 > 1800:
            raise SystemExit(f"only {applied}/{n} events applied in 30 min")
    return n / (time.time() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spine-n", type=int, default=3000, help="status changes for the spine's delivered/s")
    ap.add_argument("--orders", type=int, default=1000, help="orders placed through the api, (a)")
    ap.add_argument("--parcels", type=int, default=10000, help="open parcels seeded and tracked, (b)")
    ap.add_argument("--seed-threads", type=int, default=8, help="threads ordering the seeded parcels at the mock")
    ap.add_argument("--threads", type=int, default=4, help="client threads ordering")
    ap.add_argument("--rate", type=float, default=20.0, help="statuses/s in the latency phase")
    ap.add_argument("--latency-parcels", type=int, default=100)
    ap.add_argument("--poll-interval", type=float, default=0.5)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument(
        "--broker-url", default=os.environ.get("HUB_TEST_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
    )
    args = ap.parse_args()
    figures: dict[str, Any] = {"orders": args.orders, "parcels": args.parcels, "workers": args.workers}
    figures["cpus"] = os.cpu_count()
    receiver = TimedReceiver()
    with temporary_pg_database() as db_url, tempfile.TemporaryDirectory() as tmp, receiver:
        agencies = Path(tmp) / "agencies.json"
        agencies.write_text(
            json.dumps([{"code": AGENCY, "name": "Trung tâm", "postal": SENDER | {"customer_code": CUSTOMER}}])
        )
        vnpost_port = free_port()
        mock_url = f"http://127.0.0.1:{vnpost_port}"
        env = {
            "HUB_VNPOST_BASE_URL": mock_url,
            "HUB_AGENCIES_FILE": str(agencies),
            "HUB_POSTAL_UNIT_PLACEHOLDERS": "true",
            "HUB_POSTAL_POLL_INTERVAL": str(args.poll_interval),
            "HUB_POSTAL_PAGE_SIZE": "100",
            "HUB_WEBHOOK_ALLOW_LOOPBACK": "true",
            "HUB_LEASE_SECONDS": "30",
            "HUB_LEASE_MARGIN": "2",
            "HUB_LEASE_GRACE": "2",
        }
        stack = Stack(Path(tmp), db_url, args.broker_url, random_prefix(), **env)
        stack.spawn(
            "vnpost", "mock", "vnpost", "--port", str(vnpost_port), "--no-realtime", "--step-seconds", str(STEP)
        )
        engine = make_engine(db_url)
        try:
            wait_http(mock_url + "/_mock/state", 60)
            stack.start(workers=args.workers, timeout=90)
            stack.wait_ready(consumers=args.workers * 4, timeout=90)
            key = create_client(engine, "BENCH", "benchmark", ["dossier.status.changed", "postal.order", "subscribe"])
            mock = httpx.Client(base_url=mock_url, timeout=30)

            # (0) the spine, same stack
            spine_args = SimpleNamespace(batch=100, threads=args.threads)
            _, figures["spine_delivered_per_s"] = delivered_per_s(
                stack, engine, key, workload(args.spine_n), spine_args, 0
            )

            # (a) orders delivered/s to the mock
            ordered = (
                select(func.count())
                .select_from(messages)
                .where(messages.c.type == "postal.order.requested", messages.c.state == "delivered")
            )
            t0 = time.time()
            run = load.drive(
                stack.api, "/v1/postal/orders", orders(args.orders), args.threads, headers={"X-API-Key": key}
            )
            if run.failures:
                raise SystemExit(f"orders refused: {run.failures[:3]}")
            t1 = wait_count(engine, ordered, args.orders, 900, "orders delivered")
            figures["orders_accepted_per_s"] = round(run.rate)
            figures["orders_delivered_per_s"] = round(args.orders / (t1 - t0))
            figures["orders_to_spine"] = round(figures["orders_delivered_per_s"] / figures["spine_delivered_per_s"], 3)

            # (b) tracking events ingested/s over the seeded open parcels, by the poller's code
            applied = (
                select(func.count())
                .select_from(postal_events)
                .where(postal_events.c.verdict == "applied", postal_events.c.customer_code == CUSTOMER)
            )
            wait_count(engine, applied, args.orders, 900, "the orders' accepted events applied")
            with engine.connect() as c:
                client_id = c.execute(select(clients.c.id).where(clients.c.code == "BENCH")).scalar_one()
            t0 = time.time()
            seed(engine, mock_url, client_id, args.parcels, args.seed_threads)
            figures["seeded_in_s"] = round(time.time() - t0, 1)
            configure("WARNING", False)  # not a line per status from the benchmark's own poller
            bench_hub = bootstrap(
                Settings(database_url=db_url, api_publishes=False, postal_poll=False, postal_page_size=100),
                partners=PartnerSettings(vnpost=VnpostSettings(base_url=mock_url, timeout=30)),
                agencies=StaticAgencies(
                    [{"code": SEEDED_AGENCY, "name": "Bench", "postal": SENDER | {"customer_code": SEEDED}}]
                ),
            )
            try:
                postal = bench_hub.postal
                postal.max_pages = 10_000
                t0, accepted = time.time(), 0
                while accepted < args.parcels:  # their "accepted" events, there since the orders
                    accepted += postal.poll(SEEDED).get("applied", 0)
                figures["tracking_accepted_per_s_batched"] = round(args.parcels / (time.time() - t0))
                per_event = ingest_wave(postal, mock, engine, args.parcels, batch=False)
                batched = ingest_wave(postal, mock, engine, args.parcels, batch=True)
            finally:
                bench_hub.close()
            spine = figures["spine_delivered_per_s"]
            figures["tracking_events_per_s_per_event"] = round(per_event)
            figures["tracking_events_per_s"] = round(batched)
            figures["tracking_to_spine_per_event"] = round(per_event / spine, 3)
            figures["tracking_to_spine"] = round(batched / spine, 3)

            # (c) feed -> webhook at a moderate rate
            sub = httpx.post(
                stack.api + "/v1/subscriptions",
                json={"url": receiver.url, "event_types": ["postal.status.changed"]},
                headers={"X-API-Key": key},
                timeout=10,
            )
            sub.raise_for_status()
            receiver.secret = sub.json()["secret"]
            mock.post("/_mock/clock/advance", json={"seconds": 100 * STEP}).raise_for_status()  # the rest: final
            wait_count(engine, applied, 6 * args.orders, 1800, "the earlier parcels finished")
            n = args.latency_parcels
            statuses = 5  # picked up ... delivered after the accepted one (the "delivered" scenario)
            gap = STEP / n  # mock seconds between two parcels' creations: one status every gap mock s
            wall_per_mock = 1.0 / (args.rate * gap)  # the clock moved so that rate statuses are due per s
            json_key = {"X-API-Key": key, "Content-Type": "application/json"}
            for body in orders(n):
                r = httpx.post(stack.api + "/v1/postal/orders", content=body, headers=json_key, timeout=10)
                r.raise_for_status()
                mock.post("/_mock/clock/advance", json={"seconds": gap}).raise_for_status()
            wait_count(engine, ordered, args.orders + n, 120, "latency orders delivered")
            moves: list[tuple[float, float]] = []  # (mock time, wall time) of each move
            start = datetime.fromisoformat(mock.get("/_mock/clock").json()["now"]).timestamp()
            target, mock_now, last = start + (statuses + 1) * STEP, start, time.time()
            while mock_now < target:  # the clock runs at 1 / wall_per_mock, in small moves
                time.sleep(0.05)
                now = time.time()
                state = mock.post("/_mock/clock/advance", json={"seconds": (now - last) / wall_per_mock}).json()
                last, mock_now = now, datetime.fromisoformat(state["now"]).timestamp()
                moves.append((mock_now, time.time()))
            wait_count(engine, applied, 6 * args.orders + (statuses + 1) * n, 120, "latency events applied")
            time.sleep(2.0)
            lat = []
            mock_times = [m for m, _ in moves]
            for arrived, event in receiver.arrived:
                due = datetime.fromisoformat(event["occurred_at"]).timestamp()
                i = bisect.bisect_left(mock_times, due)
                if 0 < i < len(moves) and event["status"] != "accepted":
                    lat.append((arrived - moves[i][1]) * 1000)
            achieved = len(lat) / max(1e-9, moves[-1][1] - moves[0][1])
            figures["feed_to_webhook_rate_per_s"] = round(achieved, 1)
            figures["feed_to_webhook_samples"] = len(lat)
            figures["feed_to_webhook_p50_ms"] = round(statistics.median(lat), 1)
            figures["feed_to_webhook_p99_ms"] = round(load.percentile(lat, 99), 1)
            figures["poll_interval_s"] = args.poll_interval
        except BaseException:
            print(stack.logs())
            raise
        finally:
            stack.stop()
            engine.dispose()
    width = max(len(k) for k in figures)
    for k, v in figures.items():
        print(f"{k:<{width}}  {v}")


if __name__ == "__main__":
    main()
