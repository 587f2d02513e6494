"""Operations data for Prometheus that is read at scrape time: the backlog per connector in the
ledger (queued, delivering, held, retrying) and in the broker's queue. ``watch()`` names what a
process scrapes (the api, ``lgsp relay`` and ``lgsp worker`` call it); each scrape runs one grouped
count over the console's partial backlog and failure indexes and one queue-depth call per connector.
A scrape never fails for a database or broker that is out of reach: the gauges are then left out."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from prometheus_client.core import REGISTRY, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select, text

from hub.db.schema import CONSOLE_GUARD, messages
from hub.ports import Transport

log = logging.getLogger("hub.opsdata")
WAITING = text(f"messages.state IN ('queued', 'delivering', 'held') AND messages.{CONSOLE_GUARD}")
RETRYING = text(f"messages.state IN ('dead', 'retrying') AND messages.{CONSOLE_GUARD}")
STATES = ("queued", "delivering", "held", "retrying")


@dataclass(frozen=True)
class Watched:
    engine: Engine
    connectors: tuple[str, ...]
    transport: Transport | None


def ledger_backlog(engine: Engine, connectors: Sequence[str]) -> dict[tuple[str, str], int]:
    """(connector, state) -> messages, for every connector and waiting state (zeros included)."""
    m = messages.c
    out = {(c, s): 0 for c in connectors for s in STATES}
    with engine.connect() as c:
        for where in (WAITING, RETRYING):
            q = select(m.connector, m.state, func.count().label("n")).where(where).group_by(m.connector, m.state)
            for r in c.execute(q):
                if (r.connector, r.state) in out:
                    out[(r.connector, r.state)] = r.n
    return out


class BacklogCollector(Collector):
    def __init__(self) -> None:
        self.watched: Watched | None = None
        self.lock = threading.Lock()

    def describe(self) -> list[Metric]:
        return []  # collected only when watched: no fixed description

    def collect(self) -> Iterator[Metric]:
        with self.lock:
            w = self.watched
        if w is None:
            return
        try:
            backlog = ledger_backlog(w.engine, w.connectors)
        except Exception as exc:  # the database is out of reach: no gauge rather than no scrape
            log.warning("metrics: ledger backlog not read: %s", type(exc).__name__)
        else:
            g = GaugeMetricFamily(
                "lgsp_ledger_backlog_messages",
                "Messages waiting in the ledger, by connector and state",
                labels=["connector", "state"],
            )
            for (connector, state), n in backlog.items():
                g.add_metric([connector, state], n)
            yield g
        depth = getattr(w.transport, "depth", None)
        if depth is None:
            return
        q = GaugeMetricFamily(
            "lgsp_queue_depth_messages", "Messages in the connector's broker queue", labels=["connector"]
        )
        for connector in w.connectors:
            try:
                q.add_metric([connector], float(depth(connector)))
            except Exception as exc:
                log.warning("metrics: queue depth of %s not read: %s", connector, type(exc).__name__)
        yield q


COLLECTOR = BacklogCollector()
REGISTRY.register(COLLECTOR)


def watch(engine: Engine, connectors: Sequence[str], transport: Transport | None) -> None:
    """What this process's /metrics reports the backlog of (the last call wins)."""
    with COLLECTOR.lock:
        COLLECTOR.watched = Watched(engine, tuple(connectors), transport)
