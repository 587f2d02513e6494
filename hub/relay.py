"""The relay: drains the transactional outbox into the transport and queues due retries."""

from __future__ import annotations

import random
import threading
import time

import structlog
from sqlalchemy.exc import SQLAlchemyError

from hub import metrics
from hub.ledger import Ledger
from hub.ports import Transport, TransportError

log = structlog.get_logger("hub.relay")


class Relay:
    def __init__(
        self,
        ledger: Ledger,
        transport: Transport,
        batch: int = 500,
        idle_sleep: float = 0.01,
        promote_interval: float = 0.1,
    ):
        self.ledger = ledger
        self.transport = transport
        self.batch = batch
        self.idle_sleep = idle_sleep
        self.promote_interval = promote_interval
        self._next_promote = 0.0

    def run_once(self) -> int:
        """One pass: queue due retries (at most every promote_interval), then publish."""
        moved = 0
        now = time.monotonic()
        if now >= self._next_promote:
            moved += self.ledger.promote_due(self.batch)
            self._next_promote = now + self.promote_interval
        published = self.ledger.drain_outbox(self.transport.publish, self.batch)
        metrics.RELAYED.inc(published)
        return moved + published

    def run(self, stop: threading.Event) -> None:
        if not self.transport.durable:
            n = self.ledger.requeue_unfinished()
            if n:
                log.info("relay.requeued_unfinished", count=n)
        failures = 0
        log.info("relay.started", durable=self.transport.durable)
        while not stop.is_set():
            try:
                did = self.run_once()
                failures = 0
            except (TransportError, SQLAlchemyError, OSError) as exc:
                failures += 1
                pause = min(5.0, 0.05 * 2**failures) * random.uniform(0.5, 1.0)
                log.warning("relay.error", error=type(exc).__name__, detail=str(exc)[:200], retry_in=round(pause, 2))
                stop.wait(pause)
                continue
            if did == 0:
                stop.wait(self.idle_sleep)
        log.info("relay.stopped")
