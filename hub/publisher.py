"""Publish right after commit: the api hands what it just accepted to this publisher, which
sends it to the broker from a background thread and deletes the outbox rows the broker
confirmed.

It only saves time: the outbox rows were committed with the messages. What this publisher
cannot get confirmed (broker down, a nack, no room in its queue) it hands to the relay at
once; if the process dies first, the relay takes the rows when their ``available_at`` has
passed (``HUB_OUTBOX_DEFER``). A message published twice is harmless: a worker claims only a
queued message.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence

import structlog

from hub import metrics
from hub.ledger import DATABASE_ERRORS, Ledger
from hub.ports import OutgoingMessage, Transport, TransportError
from hub.resilience import backoff

log = structlog.get_logger("hub.publisher")

Pending = tuple[int, OutgoingMessage]  # (outbox row id, message)


class Publisher:
    def __init__(
        self,
        ledger: Ledger,
        transport: Transport,
        prepare: Callable[[], None] = lambda: None,
        *,
        batch: int = 500,
        delete_every: float = 0.05,
        max_pending: int = 20_000,
    ):
        self.ledger, self.transport, self.prepare = ledger, transport, prepare
        self.batch, self.delete_every = batch, delete_every
        self._queue: queue.Queue[Sequence[Pending]] = queue.Queue(maxsize=max_pending)
        self._overflow: list[int] = []  # outbox ids the queue had no room for
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.dropped = 0  # handed over to the relay because the queue was full

    def submit(self, rows: Sequence[Pending]) -> None:
        """Publish these soon; never blocks (when too much waits, the relay takes over)."""
        if not rows:
            return
        try:
            self._queue.put_nowait(rows)
        except queue.Full:
            self.dropped += len(rows)
            with self._lock:
                self._overflow.extend(oid for oid, _ in rows)

    def start(self) -> Publisher:
        self._thread = threading.Thread(target=self._run, name="lgsp-publisher", daemon=True)
        self._thread.start()
        return self

    def close(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    # ------------------------------------------------------------------ loop
    def _take(self) -> list[Pending]:
        """The next rows to publish: waits a little for the first, then takes what is there."""
        try:
            rows = list(self._queue.get(timeout=0.1))
        except queue.Empty:
            return []
        while len(rows) < self.batch:
            try:
                rows.extend(self._queue.get_nowait())
            except queue.Empty:
                break
        return rows

    def _run(self) -> None:
        ready = False
        failures = 0
        confirmed: list[int] = []
        last_delete = time.monotonic()
        while not self._stop.is_set() or not self._queue.empty():
            rows = self._take()
            if rows:
                try:
                    if not ready:
                        self.prepare()
                        ready = True
                    results = self.transport.publish([m for _, m in rows])
                    failures = 0
                except Exception as exc:  # broker down, or a bug: this publisher must not die of it
                    failures += 1
                    if isinstance(exc, TransportError):
                        log.warning("publisher.unavailable", error=str(exc)[:200], handed_to_relay=len(rows))
                    else:
                        log.exception("publisher.error", handed_to_relay=len(rows))
                    self._hand_over([oid for oid, _ in rows])
                    self._stop.wait(backoff(failures, 0.05, 5.0))
                    continue
                confirmed.extend(oid for (oid, _), ok in zip(rows, results, strict=True) if ok)
                self._hand_over([oid for (oid, _), ok in zip(rows, results, strict=True) if not ok])
                metrics.RELAYED.inc(sum(results))
            with self._lock:
                overflow, self._overflow = self._overflow, []
            self._hand_over(overflow)
            # deletes are gathered (a few statements a second, not one per request)
            due = time.monotonic() - last_delete >= self.delete_every or len(confirmed) >= self.batch
            if confirmed and due:
                self._delete(confirmed)
                confirmed, last_delete = [], time.monotonic()
        self._delete(confirmed)

    def _hand_over(self, outbox_ids: list[int]) -> None:
        """Rows this publisher could not get confirmed: the relay takes them now, without
        waiting for their deferral to pass (it publishes as soon as the broker answers)."""
        if not outbox_ids:
            return
        metrics.PUBLISH_HANDED_TO_RELAY.inc(len(outbox_ids))
        try:
            self.ledger.hand_to_relay(outbox_ids)
        except DATABASE_ERRORS as exc:  # they stay deferred: the relay takes them a little later
            log.warning("publisher.hand_over_failed", error=type(exc).__name__)

    def _delete(self, outbox_ids: list[int]) -> None:
        try:
            self.ledger.published(outbox_ids)
        except DATABASE_ERRORS as exc:  # the rows stay: the relay publishes them again
            log.warning("publisher.delete_failed", error=type(exc).__name__)
