"""Benchmark of the VNPost partner side alone (not a test: it prints figures). The hub-side
benchmark (``bench/postal.py``: ledger, broker, poller, webhooks) comes with the wiring.

    python -m bench.postal_partner [--orders 1000] [--variant lgsp]

Starts the mock VNPost as its own process on a free loopback port (frozen clock), then measures:

  (a) orders/s delivered by ``VnpostConnector.deliver`` (batches of 20, one HTTP call each, as a
      worker would), and its CPU per order in this process;
  (b) tracking events/s read by walking the whole feed with ``VnpostClient.tracking`` (pages of
      100) after every parcel of (a) reached its end (each parcel has 6 events);
  (c) ``translate.parse_feed`` alone: microseconds of CPU per event.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time

import httpx

from connectors.vnpost import VnpostClient, VnpostConnector, VnpostSettings
from connectors.vnpost import translate as tr
from hub.messages import POSTAL_ORDER_REQUESTED as ORDER_REQUESTED
from hub.ports import DeliveryItem, OutcomeKind
from hub.postal.port import INITIAL_CURSOR, PostalOrderRequest, PostalParty


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _order(i: int) -> PostalOrderRequest:
    agency = PostalParty(name="TTPVHCC", phone="02373850000", address="28 Lê Lợi", province_id=938, district_id=90380)
    citizen = PostalParty(name="Công dân", phone="0912345678", address="12 Ngọc Hà", province_id=10, district_id=90001)
    return PostalOrderRequest(
        customer_code="BCCI_H56",
        order_number=f"000.00.00.H56-251122-{i:05d}",
        kind="delivery",
        agency=agency,
        citizen=citizen,
        description="Kết quả giải quyết thủ tục hành chính",
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--variant", default="lgsp", choices=["direct", "lgsp", "myvnpost"])
    args = parser.parse_args(argv)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    mock = subprocess.Popen(
        [sys.executable, "-m", "connectors.vnpost.mock", "--port", str(port), "--no-realtime", "--step-seconds", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"{base}/_mock/clock").raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        settings = VnpostSettings(variant=args.variant, base_url=base)
        connector = VnpostConnector(settings)
        items = [
            DeliveryItem(f"M{i}", ORDER_REQUESTED, f"BCCI_H56:{i}", _order(i).model_dump(mode="json"), 1, False, False)
            for i in range(args.orders)
        ]
        t0, c0 = time.perf_counter(), time.process_time()
        outcomes = [o for start in range(0, len(items), 20) for o in connector.deliver(items[start : start + 20])]
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        assert all(o.kind is OutcomeKind.DELIVERED for o in outcomes), {o.detail for o in outcomes}
        print(f"(a) orders delivered: {len(outcomes)} in {wall:.2f} s = {len(outcomes) / wall:.0f}/s ({args.variant}),")
        print(f"    connector CPU {cpu / len(outcomes) * 1e6:.0f} µs/order (this process; the mock runs apart)")

        httpx.post(f"{base}/_mock/clock/advance", json={"seconds": 3600}, timeout=60).raise_for_status()
        client = VnpostClient(settings)
        events, cursor = 0, INITIAL_CURSOR
        t0, c0 = time.perf_counter(), time.process_time()
        while True:
            page = client.tracking("BCCI_H56", cursor, 100)
            if page.empty:
                break
            events, cursor = events + len(page.events), page.next_cursor
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        print(f"(b) feed walked: {events} events in {wall:.2f} s = {events / wall:.0f} events/s,")
        print(f"    client CPU {cpu / events * 1e6:.0f} µs/event (HTTP, safe JSON, parse)")

        raw = httpx.get(
            f"{base}/lgsp/vnpost",
            params={
                "service": "OrderTracking",
                "CustomerCode": "BCCI_H56",
                "pagesize": "100",
                "lastId": INITIAL_CURSOR,
            },
            headers={"access_token": settings.lgsp_access_token.get_secret_value()},
        ).json()
        table, rounds = settings.table(), 200
        c0 = time.process_time()
        for _ in range(rounds):
            tr.parse_feed(raw, table, INITIAL_CURSOR, "BCCI_H56")
        per_event = (time.process_time() - c0) / (rounds * 100) * 1e6
        print(f"(c) parse_feed alone: {per_event:.1f} µs CPU/event")
        client.close()
        connector.close()
    finally:
        mock.terminate()
        mock.wait(timeout=10)


if __name__ == "__main__":
    main()
