"""Payment callbacks accepted per second through the real api process, on PostgreSQL and
RabbitMQ: each callback is verified (NAPAS checksum, freshness, merchant), settles one pending
payment in one transaction with its history and its events (one webhook subscription, and the
report to the national portal), and is answered in the gateway's format.

    python -m bench.payments [--n 2000] [--threads 4] [--duplicates 1]

``--duplicates k`` sends every callback k times (k-1 of them are harmless duplicates that must
change nothing). Prints callbacks/s, p50/p99 latency, and CPU per callback (api, PostgreSQL).
Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

from bench import cpu, load
from connectors.payment_napas import NapasSettings
from connectors.payment_napas.napas import NapasProfile
from connectors.payment_napas.translate import napas_time
from hub import subscriptions
from hub.bootstrap import migrate
from hub.db.engine import make_engine
from hub.db.schema import clients, messages, payments
from hub.envelope import new_id
from tests.factories import create_client, dossier_code
from tests.support.broker import delete_topology, random_prefix
from tests.support.db import temporary_pg_database
from tests.support.stack import free_port, wait_http

AMOUNT = 150_000


def seed_payments(db_url: str, n: int) -> list[str]:
    """n pending NAPAS payments (as if opened at the gateway) and one webhook subscription."""
    engine = make_engine(db_url)
    migrate(engine)
    create_client(engine, "BENCH", "benchmark", ["payment.open", "subscribe"])
    with engine.connect() as c:
        client_id = int(c.execute(select(clients.c.id)).scalar_one())
    subscriptions.create(engine, client_id, "http://127.0.0.1:9/hooks", ["payment.status.changed"])
    now = datetime.now(UTC)
    ids = [new_id() for _ in range(n)]
    rows = [
        {
            "id": pid,
            "client_id": client_id,
            "client_reference": f"REF-{pid}",
            "request_hash": "0" * 64,
            "profile": "napas",
            "dossier_code": dossier_code(),
            "amount": AMOUNT,
            "currency": "VND",
            "details": {
                "procedure_code": "2.002492",
                "agency_code": "000.00.00.H56",
                "description": "Lệ phí",
                "fee_items": [{"code": "LP01", "name": "Lệ phí", "amount": AMOUNT}],
                "return_url": "https://onegate.example/return",
            },
            "state": "pending",
            "created_at": now,
            "updated_at": now,
        }
        for pid in ids
    ]
    with engine.begin() as c:
        c.execute(insert(payments), rows)
    engine.dispose()
    return ids


def callbacks(ids: list[str]) -> list[bytes]:
    """The gateway's signed result notification of each payment (paid), as NAPAS sends it."""
    profile = NapasProfile(NapasSettings())
    at = napas_time(datetime.now(UTC))
    out = []
    for pid in ids:
        result = {
            "apiOperation": "PURCHASE",
            "merchantId": profile.merchant,
            "order": {"id": pid, "reference": pid, "amount": AMOUNT, "currency": "VND"},
            "response": {"gatewayCode": "APPROVED"},
            "result": "SUCCESS",
            "transaction": {"id": "1", "receipt": f"TXN-{pid}", "amount": AMOUNT},
            "timeOfRecord": at,
        }
        out.append(json.dumps(profile.encode_notification(result)).encode())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000, help="payments settled by callback")
    ap.add_argument("--threads", type=int, default=4, help="gateway connections sending callbacks")
    ap.add_argument("--duplicates", type=int, default=1, help="copies of each callback")
    ap.add_argument(
        "--broker-url", default=os.environ.get("HUB_TEST_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
    )
    args = ap.parse_args()
    prefix = random_prefix()
    with temporary_pg_database() as db_url, tempfile.TemporaryDirectory() as tmp:
        ids = seed_payments(db_url, args.n)
        bodies = callbacks(ids) * args.duplicates
        port = free_port()
        env = {
            **os.environ,
            "HUB_DATABASE_URL": db_url,
            "HUB_BROKER_URL": args.broker_url,
            "HUB_BROKER_PREFIX": prefix,
            "HUB_LOG_LEVEL": "WARNING",
        }
        log = (Path(tmp) / "api.log").open("wb")
        api = subprocess.Popen(
            [sys.executable, "-m", "hub.cli", "api", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            wait_http(f"http://127.0.0.1:{port}/readyz")
            before = cpu.snapshot({"api": api.pid})
            run = load.drive(f"http://127.0.0.1:{port}", "/v1/callbacks/payment/napas", bodies, args.threads)
            used = cpu.per_message_ms(before, cpu.snapshot({"api": api.pid}), len(bodies))
        finally:
            api.terminate()
            api.wait(10)
            delete_topology(args.broker_url, prefix, ["national_portal", "webhooks"])
        engine = make_engine(db_url)
        with engine.connect() as c:
            paid = c.execute(select(func.count()).select_from(payments).where(payments.c.state == "paid")).scalar_one()
            events = c.execute(select(func.count()).select_from(messages)).scalar_one()
        engine.dispose()
    figures: dict[str, Any] = {
        "callbacks": len(bodies),
        "payments": args.n,
        "threads": args.threads,
        "callbacks_per_s": round(run.rate),
        "latency_p50_ms": round(statistics.median(run.latencies_ms), 1),
        "latency_p99_ms": round(load.percentile(run.latencies_ms, 99), 1),
        "answers": run.statuses,
        "payments_paid": paid,
        "events_queued": events,  # one webhook event + one portal report per payment, however many copies
        "cpu_ms_per_callback": {k: v for k, v in used.items() if k in ("api", "postgres", "total")},
    }
    for k, v in figures.items():
        print(f"{k:<22} {v}")
    if paid != args.n or events != 2 * args.n:
        raise SystemExit("every payment must be settled once, with exactly two events each")


if __name__ == "__main__":
    main()
