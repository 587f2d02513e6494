"""The relay: drains the transactional outbox into the transport and queues due retries."""

from __future__ import annotations

import threading
import time
from typing import Any

import psycopg
import structlog

from hub import metrics
from hub.ledger import DATABASE_ERRORS, OUTBOX_CHANNEL, Ledger
from hub.ports import Transport, TransportError
from hub.resilience import backoff

log = structlog.get_logger("hub.relay")
# failures a relay pass survives: it pauses with backoff and tries again
PASS_ERRORS: tuple[type[Exception], ...] = (TransportError, OSError, *DATABASE_ERRORS)


class OutboxWakeup:
    """Waits until the outbox may have rows: a PostgreSQL LISTEN on the ledger's NOTIFY
    channel (works across processes), or the ledger's in-process event (embedded mode).
    Either way the wait is bounded, so a lost signal only costs ``timeout``."""

    def __init__(self, ledger: Ledger):
        self.ledger = ledger
        self.conn: psycopg.Connection[Any] | None = None

    def wait(self, timeout: float) -> None:
        if not self.ledger.pg:
            if self.ledger.outbox_event.wait(timeout):
                self.ledger.outbox_event.clear()
            return
        try:
            if self.conn is None or self.conn.closed:
                url = self.ledger.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
                self.conn = psycopg.connect(url, autocommit=True)
                self.conn.execute(f"LISTEN {OUTBOX_CHANNEL}")
            for _ in self.conn.notifies(timeout=timeout, stop_after=1):
                pass
        except psycopg.Error as exc:
            log.warning("relay.listen_failed", error=type(exc).__name__)
            self.close()
            time.sleep(timeout)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class Relay:
    def __init__(
        self,
        ledger: Ledger,
        transport: Transport,
        batch: int = 500,
        idle_sleep: float = 0.25,
        promote_interval: float = 0.1,
    ):
        self.ledger = ledger
        self.transport = transport
        self.batch = batch
        self.idle_sleep = idle_sleep
        self.promote_interval = promote_interval
        self._next_promote = 0.0
        self.wakeup = OutboxWakeup(ledger)

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
            except PASS_ERRORS as exc:
                failures += 1
                pause = backoff(failures, 0.05, 5.0)
                log.warning("relay.error", error=type(exc).__name__, detail=str(exc)[:200], retry_in=round(pause, 2))
                stop.wait(pause)
                continue
            if did == 0:
                # wake on a signal, or in time to queue retries that fall due
                self.wakeup.wait(max(0.001, min(self.idle_sleep, self._next_promote - time.monotonic())))
        self.wakeup.close()
        log.info("relay.stopped")
