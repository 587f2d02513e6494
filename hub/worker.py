"""The worker: consumes a connector's queue and delivers to the partner.

For each batch: claim in the ledger (ordering, leases) -> deliver through the connector,
under a lease the ``LeaseKeeper`` renews and a ``LeaseBudget`` the connector respects ->
record every outcome (delivered / retry scheduled / dead) -> only then ack to the broker.
A copy of a message that another attempt holds under a live lease is acked and left alone:
the ledger, not the broker, makes sure it finishes (its lease ends if its worker dies, and
the relay queues it again).

The broker's message is a claim check: the worker reads only its message id (and whether the
broker redelivered it). What is delivered — type, key, payload, attempt, whether the partner may
have it already — is what the claim returns from the ledger, never the broker body, which is
there for operators and other consumers of the exchange.
"""

from __future__ import annotations

import itertools
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

import structlog
from ulid import ULID

from hub import metrics
from hub.lease import LeaseKeeper
from hub.ledger import DATABASE_ERRORS, Ledger
from hub.ledger.holds import PartnerHolds, record_circuit
from hub.ports import NOT_ATTEMPTED, Connector, Delivery, DeliveryItem, Disposition, Outcome, OutcomeKind, Transport
from hub.resilience import CallBreaker

log = structlog.get_logger("hub.worker")
_serial = itertools.count(1)


class CircuitBreaker:
    """The worker's view of the one circuit breaker (``hub.resilience.CallBreaker``): a batch whose
    outcomes are all retryable is one failure, a batch with any definite answer a success. It opens
    after ``failures`` such batches in a row; after ``reset`` seconds one batch goes through
    (half-open); while it is open the consumer waits (``wait_ready``)."""

    def __init__(
        self, failures: int, reset: float, clock: Callable[[], float] = time.monotonic, name: str = "worker"
    ) -> None:
        self.calls = CallBreaker(name, failures, reset, clock)

    @property
    def state(self) -> str:
        return self.calls.state

    def observe(self, outcomes: Sequence[Outcome]) -> None:
        if not outcomes:
            return
        if all(o.kind is OutcomeKind.RETRY for o in outcomes):
            self.calls.failed()
        else:
            self.calls.succeeded()

    def wait_ready(self, stop: threading.Event) -> None:
        while not stop.is_set() and self.state == "open":
            until = self.calls.open_until
            stop.wait(min(0.5, max((until or 0.0) - self.calls.clock(), 0.01)))


class Worker:
    def __init__(
        self,
        ledger: Ledger,
        transport: Transport,
        connector: Connector,
        name: str | None = None,
        *,
        prefetch: int = 200,
        max_batch: int = 100,
        max_wait: float = 0.002,
        keeper: LeaseKeeper | None = None,
        lease_margin: float = 2.0,
        priority: int = 0,
    ):
        self.ledger = ledger
        self.prefetch, self.max_batch, self.max_wait = prefetch, max_batch, max_wait
        self.priority = priority  # among this process's consumers of the queue (see Transport.consume)
        self.transport = transport
        self.connector = connector
        self.policy = connector.policy
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{next(_serial)}"
        self.breaker = CircuitBreaker(self.policy.breaker_failures, self.policy.breaker_reset, name=connector.name)
        # a keeper shared by the workers of a process (Pipeline), or this worker's own
        self.own_keeper = keeper is None
        self.keeper = keeper or LeaseKeeper(ledger, lease_margin)
        self.keeper.check(connector.name, self.policy.timeout)
        self.holds = PartnerHolds(ledger)
        self._circuit: str | None = None  # the last state written to partner_circuits (None: none yet)
        self._stop = threading.Event()

    def handle(self, batch: Sequence[Delivery]) -> list[Disposition]:
        out = [Disposition.ACK] * len(batch)
        self.breaker.wait_ready(self._stop)
        if self._stop.is_set():
            return [Disposition.REQUEUE] * len(batch)
        usable = [(i, d) for i, d in enumerate(batch) if d.message_id]
        for i, d in enumerate(batch):
            if not d.message_id:
                out[i] = Disposition.REJECT
        claimed_at = self.keeper.clock()  # before the claim is sent: the lease starts no earlier
        try:
            if usable and self.holds.is_held(self.connector.name):
                # held by an operator: claim nothing, count nothing; the ledger keeps the messages
                # queued and the resume queues them again (hub/ledger/holds.py)
                log.info("worker.partner_held", connector=self.connector.name, waiting=len(usable))
                metrics.HELD_SKIPPED.labels(self.connector.name).inc(len(usable))
                return out
            claims, unknown = self.ledger.claim([d.message_id for _, d in usable], self.connector.name, self.name)
        except DATABASE_ERRORS as exc:
            log.warning("worker.claim_failed", error=type(exc).__name__, detail=str(exc)[:200])
            self._stop.wait(0.5)
            return [Disposition.REQUEUE] * len(batch)
        for j, (i, d) in enumerate(usable):
            if d.message_id in unknown:
                out[i] = Disposition.REJECT
                log.error("worker.unknown_message", message_id=d.message_id, position=j)
        if not claims:
            return out
        budget = self.keeper.budget(claimed_at)
        items = [replace(c.item, budget=budget) for c in claims]
        started = time.perf_counter()
        with self.keeper.holding(claims, budget):
            outcomes = self._deliver(items)
        metrics.DELIVERY_SECONDS.labels(self.connector.name).observe(time.perf_counter() - started)
        self.breaker.observe(outcomes)
        self._circuit_changed()
        try:
            states = self.ledger.record(claims, outcomes, self.policy, self.connector.name)
        except DATABASE_ERRORS as exc:
            # Not recorded: hand the messages back. A copy is skipped while the lease lives; once
            # it ends the relay queues the message again, in doubt (the partner is checked first).
            log.warning("worker.record_failed", error=type(exc).__name__, detail=str(exc)[:200])
            self._stop.wait(0.5)
            return [Disposition.REQUEUE] * len(batch)
        now = time.time()
        for c in claims:
            state = states.get(c.item.message_id)
            if state is None:
                continue
            metrics.OUTCOMES.labels(self.connector.name, state, c.item.type).inc()
            if state == "delivered":
                took = max(0.0, now - ULID.from_str(c.item.message_id).timestamp)  # the id is minted at acceptance
                metrics.ACCEPT_TO_DELIVERED.labels(self.connector.name, c.item.type).observe(took)
        if len(states) < len(claims):
            log.warning("worker.superseded", connector=self.connector.name, outcomes=len(claims) - len(states))
        for c, o in zip(claims, outcomes, strict=True):
            if o.kind is not OutcomeKind.DELIVERED:
                state = states.get(c.item.message_id)
                (log.warning if state == "dead" else log.info)(
                    "worker.dead" if state == "dead" else "worker.not_delivered",
                    connector=self.connector.name,
                    message_id=c.item.message_id,
                    correlation_id=c.item.correlation_id,
                    attempt=c.item.attempt,
                    state=state,
                    detail=o.detail[:300],
                )
        return out

    def _circuit_changed(self) -> None:
        state = self.breaker.state
        metrics.CIRCUIT_OPEN.labels(self.connector.name).set(1 if state == "open" else 0)
        metrics.CIRCUIT_STATE.labels(self.connector.name).set(metrics.CIRCUIT_STATES.index(state))
        if state == self._circuit:
            return
        try:
            record_circuit(self.ledger, self.connector.name, state, self.name)
            self._circuit = state
        except DATABASE_ERRORS as exc:  # shown late on the Partners page; tried again at the next batch
            log.warning("worker.circuit_not_recorded", error=type(exc).__name__)

    def _deliver(self, items: list[DeliveryItem]) -> list[Outcome]:
        """The connector's outcomes; nothing at all is called if the lease is already too short."""
        if not items[0].may_call(self.policy.timeout):
            return [Outcome(OutcomeKind.RETRY, NOT_ATTEMPTED, in_doubt=it.in_doubt) for it in items]
        try:
            outcomes = self.connector.deliver(items)
            if len(outcomes) != len(items):
                raise RuntimeError(f"connector returned {len(outcomes)} outcomes for {len(items)} items")
        except Exception as exc:  # a connector bug must not lose or kill anything: retry later
            log.exception("worker.connector_error", connector=self.connector.name)
            return [Outcome(OutcomeKind.RETRY, f"connector error: {type(exc).__name__}")] * len(items)
        return list(outcomes)

    def run(self, stop: threading.Event) -> None:
        self._stop = stop
        structlog.contextvars.bind_contextvars(connector=self.connector.name)  # every line of this thread
        log.info("worker.started", connector=self.connector.name, worker=self.name)
        renewing, done = None, threading.Event()
        if self.own_keeper:  # else the Pipeline runs the shared keeper
            renewing = threading.Thread(target=self.keeper.run, args=(done,), name="lgsp-lease", daemon=True)
            renewing.start()
        # An unexpected error ends consume with the batch handed back to the broker; the
        # Pipeline that runs every worker (embedded and `lgsp worker`) logs it and starts us again.
        try:
            self.transport.consume(
                self.connector.name,
                self.handle,
                stop=stop,
                prefetch=self.prefetch,
                max_batch=self.max_batch,
                max_wait=self.max_wait,
                priority=self.priority,
            )
        finally:
            done.set()
            if renewing is not None:
                renewing.join(timeout=1)
        log.info("worker.stopped", connector=self.connector.name)
