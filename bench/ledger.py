"""Micro-benchmark of the ledger alone on PostgreSQL: the CPU each step of a message's path
costs in this process (SQLAlchemy + psycopg) and in its PostgreSQL backend, per message,
for single messages and for batches.

    python -m bench.ledger [--n 2000] [--batch 100]

Steps: accept (the api's transaction), drain (the relay: read the outbox, delete it once
"published"; publishing itself is a no-op here), claim and record (the worker's two
transactions, with every delivery succeeding). Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from typing import Any

import psutil
from sqlalchemy import text

from hub.db.engine import make_engine, upgrade
from hub.ledger import Ledger, NewMessage, make_ledger
from hub.ports import DeliveryPolicy, Outcome, OutcomeKind, OutgoingMessage
from tests.factories import dossier_code, model, new_message
from tests.support.db import temporary_pg_database

CONNECTOR = "national_portal"
POLICY = DeliveryPolicy()


def new_messages(n: int) -> list[NewMessage]:
    return [new_message(model(code=dossier_code()), correlation_id="bench") for _ in range(n)]


class Meter:
    """Thread CPU of this process and CPU of the ledger's PostgreSQL backend (the engine is
    made with pool_size=1: one connection, one backend)."""

    def __init__(self, ledger: Ledger) -> None:
        with ledger.engine.connect() as c:
            self.backends = [psutil.Process(c.execute(text("SELECT pg_backend_pid()")).scalar_one())]
        self.figures: dict[str, tuple[float, float]] = {}

    def _pg(self) -> float:
        return sum(p.cpu_times().user + p.cpu_times().system for p in self.backends)

    def measure(self, name: str, messages: int, step: Callable[[], None]) -> None:
        c0, p0 = time.thread_time(), self._pg()
        step()
        c1, p1 = time.thread_time(), self._pg()
        self.figures[name] = (1000 * (c1 - c0) / messages, 1000 * (p1 - p0) / messages)


def run(ledger: Ledger, meter: Meter, n: int, batch: int, label: str) -> None:
    items = new_messages(n)
    chunks = [items[i : i + batch] for i in range(0, n, batch)]
    published: list[OutgoingMessage] = []

    def accept() -> None:
        for chunk in chunks:
            ledger.accept("BENCH", chunk)

    def publish(msgs: Sequence[OutgoingMessage]) -> list[bool]:
        published.extend(msgs)
        return [True] * len(msgs)

    def drain() -> None:
        while ledger.drain_outbox(publish, batch):
            pass

    claims: list[Any] = []

    def claim() -> None:
        for i in range(0, len(published), batch):
            got, _unknown = ledger.claim([m.message_id for m in published[i : i + batch]], CONNECTOR, "w")
            claims.append(got)

    def record() -> None:
        for got in claims:
            ledger.record(got, [Outcome(OutcomeKind.DELIVERED, "ok", "ref")] * len(got), POLICY, CONNECTOR)

    meter.measure(f"accept {label}", n, accept)
    meter.measure(f"drain {label}", n, drain)
    meter.measure(f"claim {label}", n, claim)
    meter.measure(f"record {label}", n, record)
    assert len(published) == n and sum(len(c) for c in claims) == n, "every message went the whole way"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000, help="messages per run")
    ap.add_argument("--batch", type=int, default=100, help="messages per transaction in the batched run")
    args = ap.parse_args()
    with temporary_pg_database() as url:
        engine = make_engine(url, pool_size=1, max_overflow=0)
        upgrade(engine)
        ledger = make_ledger(engine)
        meter = Meter(ledger)
        run(ledger, meter, 500, 1, "warm-up")
        meter.figures.clear()
        run(ledger, meter, args.n, 1, "x1")
        run(ledger, meter, args.n, args.batch, f"x{args.batch}")
        ledger.close()
        engine.dispose()
    print(f"{'step':<14} {'client ms/msg':>14} {'postgres ms/msg':>16} {'total':>8}")
    for name, (client, pg) in meter.figures.items():
        print(f"{name:<14} {client:14.3f} {pg:16.3f} {client + pg:8.3f}")


if __name__ == "__main__":
    main()
