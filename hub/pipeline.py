"""Runs the relay and workers as threads of this process: the embedded default (in-process
transport), `lgsp dev`, and tests. In production each role is its own process.

The relay role also runs the periodic jobs beside it: the payment reconciler, the evidence
chainer and sealer (every ``HUB_EVIDENCE_INTERVAL`` s, sealing at most every
``HUB_EVIDENCE_SEAL_INTERVAL`` s) and the retention job (payload redaction and evidence
archives, every ``HUB_RETENTION_INTERVAL`` s). Several relays may run: the chainer takes each
chain under an advisory lock, the retention job runs under one (``hub/evidence/``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import structlog

from hub.lease import LeaseKeeper
from hub.ports import Connector, TransportError
from hub.relay import Relay
from hub.resilience import backoff
from hub.services import Hub
from hub.worker import Worker

log = structlog.get_logger("hub.pipeline")


class Pipeline:
    def __init__(
        self,
        hub: Hub,
        *,
        relay: bool = True,
        workers: int | None = None,
        connector_names: list[str] | None = None,
        connector_factory: Callable[[str], Connector] | None = None,
    ):
        self.hub = hub
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []
        self.run_relay = relay
        self.workers = hub.settings.worker_concurrency if workers is None else workers  # per connector
        self.names = connector_names or list(hub.routing.names)  # the delivery connectors wired in
        self.factory = connector_factory or hub.routing.build
        self.connectors: list[Connector] = []
        self._topology_lock = threading.Lock()
        self._topology_ready = False

    def start(self) -> None:
        """Start the roles as supervised threads; returns at once, even if the broker is not
        reachable yet (each role waits for the topology, retrying, before it runs)."""
        s = self.hub.settings
        if self.run_relay:
            relay = Relay(self.hub.ledger, self.hub.transport, batch=s.relay_batch, idle_sleep=s.relay_idle_sleep)
            self._spawn("relay", relay.run)
            self._spawn("reconciler", self._reconcile)
            if s.postal_poll:
                self._spawn("postal-poller", self._poll_postal)
            self._spawn("evidence-chainer", self._chain_evidence)
            self._spawn("retention", self._retention)
        keeper = LeaseKeeper(self.hub.ledger, s.lease_margin)  # renews every batch in progress here
        if self.workers:
            self._spawn("lease-keeper", keeper.run)
        for name in self.names:
            for n in range(self.workers):
                connector = self.factory(name)
                self.connectors.append(connector)
                worker = Worker(
                    self.hub.ledger,
                    self.hub.transport,
                    connector,
                    prefetch=s.worker_prefetch,
                    max_batch=s.worker_batch,
                    max_wait=s.worker_max_wait,
                    keeper=keeper,
                    # the first consumer is fed first: full batches from a fast partner; the
                    # next ones take batches while the earlier ones wait for a slow partner
                    priority=self.workers - n,
                )
                self._spawn(f"worker-{name}-{n}", worker.run)

    def _spawn(self, name: str, target: Any) -> None:
        t = threading.Thread(target=self._supervise, args=(name, target), name=name, daemon=True)
        t.start()
        self.threads.append(t)

    def _reconcile(self, stop: threading.Event) -> None:
        """Settle payments whose gateway callback never came (runs beside the relay)."""
        from hub.payments.reconcile import reconcile_forever

        s = self.hub.settings
        reconcile_forever(self.hub.payments, s.payment_reconcile_interval, s.payment_reconcile_after, stop)

    def _poll_postal(self, stop: threading.Event) -> None:
        """Read the VNPost tracking feeds (runs beside the relay)."""
        from hub.postal.poller import poll_forever

        poll_forever(self.hub.postal, self.hub.settings.postal_poll_interval, stop)

    def _chain_evidence(self, stop: threading.Event) -> None:
        """Link staged evidence facts into the chains and seal them (beside the relay)."""
        from hub.evidence import jobs

        s = self.hub.settings
        jobs.chainer(s, self.hub.engine).run_forever(stop, s.evidence_interval, s.evidence_max_rate)

    def _retention(self, stop: threading.Event) -> None:
        """Redact final payloads past their retention; archive old evidence (beside the relay)."""
        from hub.evidence import jobs

        jobs.retention(self.hub.settings, self.hub.engine).run_forever(stop)

    def ensure_topology(self) -> None:
        """Declare the broker topology once for all roles of this process (idempotent)."""
        with self._topology_lock:
            if not self._topology_ready:
                self.hub.transport.setup(self.hub.routing.bindings(self.names))
                self._topology_ready = True

    def _supervise(self, name: str, target: Any) -> None:
        """Run a role until stopped. If the broker cannot be reached (at start too), or the role
        dies of an unexpected error, log it and start it again with backoff: a process whose
        broker is down waits for it, and the api of an embedded hub never accepts what nothing
        will deliver."""
        failures = 0
        while not self.stop_event.is_set():
            started = time.monotonic()
            try:
                self.ensure_topology()
                target(self.stop_event)
                return
            except TransportError as exc:
                log.warning("pipeline.broker_unavailable", role=name, error=str(exc)[:300])
            except Exception:
                log.exception("pipeline.role_crashed", role=name, restarts=failures + 1)
            if time.monotonic() - started > 60:
                failures = 0  # it ran a good while: start again quickly
            failures += 1
            self.stop_event.wait(backoff(failures, 0.1, 10.0))

    def stop(self, timeout: float = 10.0) -> None:
        self.stop_event.set()
        for t in self.threads:
            t.join(timeout)
        for c in self.connectors:
            c.close()
