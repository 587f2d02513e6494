"""Ports: the two interfaces the hub's core talks through.

- ``Transport``: how messages move between the relay and the workers (RabbitMQ, or the
  in-process transport for the embedded default). Both pass ``tests/transport_contract.py``.
- ``Connector``: how a worker delivers to one partner. Each ``connectors/<name>/`` package
  provides one; its mock partner speaks the same protocol over HTTP.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol


# ---------------------------------------------------------------- transport
@dataclass(frozen=True)
class OutgoingMessage:
    """One message for the broker: body is the JSON envelope, headers are already namespaced."""

    message_id: str
    routing_key: str  # "<connector>.<message type>", e.g. "national_portal.dossier.status.changed"
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Delivery:
    """One message handed to a consumer. ``tag`` is transport-private (used to ack)."""

    message_id: str
    routing_key: str
    body: bytes
    headers: Mapping[str, str]
    redelivered: bool
    tag: Any = None


class Disposition(Enum):
    ACK = "ack"  # outcome recorded (delivered, retry scheduled, dead, or nothing to do)
    REJECT = "reject"  # poison: cannot even be parsed -> broker dead-letter path
    REQUEUE = "requeue"  # could not record the outcome (e.g. database down): hand it back


BatchHandler = Callable[[Sequence[Delivery]], Sequence[Disposition]]


class TransportError(Exception):
    """The transport could not do what was asked (connection lost, channel closed...)."""


class Transport(Protocol):
    """Moves messages from the relay to the workers.

    ``durable`` says whether a published message survives a restart of every process
    (RabbitMQ: yes; in-process: no, so the relay re-publishes unfinished work at start).
    """

    durable: bool

    def setup(self, bindings: Mapping[str, Sequence[str]]) -> None:
        """Declare the topology, idempotently: queue name -> routing keys bound to it."""
        ...

    def publish(self, messages: Sequence[OutgoingMessage], timeout: float = 10.0) -> list[bool]:
        """Publish persistently; return, per message, True once the broker confirmed it
        and it was routed to at least one queue (mandatory). Never True on a guess."""
        ...

    def consume(
        self,
        queue: str,
        handler: BatchHandler,
        *,
        stop: threading.Event,
        prefetch: int = 200,
        max_batch: int = 100,
        max_wait: float = 0.005,
        priority: int = 0,
    ) -> None:
        """Block, handing batches to ``handler`` until ``stop`` is set; ack / reject /
        requeue each delivery as the handler says, only after it returns. Reconnects
        with backoff on connection loss. ``priority``: among consumers of one queue, the
        broker feeds those of higher priority first while they have room (prefetch); the
        others get deliveries when those are full (RabbitMQ consumer priorities)."""
        ...

    def close(self) -> None: ...


# ---------------------------------------------------------------- connector
class LeaseBudget:
    """The time an attempt may still spend on partner calls, on this process's monotonic clock.

    The worker makes one per claimed batch: its deadline is when the ledger's lease on the
    batch ends, as seen from here (the time the claim was *sent* plus the lease's length, so
    never later than the ledger's own view). Each renewal moves it on; a renewal that finds
    the batch taken over revokes it. A connector calls ``allows(timeout)`` before every
    partner call and does not start the call when it says no: a call that starts then ends,
    even if it runs its whole timeout, at least ``margin`` seconds before the lease does."""

    def __init__(self, deadline: float, margin: float = 0.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.deadline = deadline
        self.margin = margin
        self.clock = clock
        self.revoked = False

    def remaining(self) -> float:
        """Seconds left before the lease ends (0 once revoked)."""
        return 0.0 if self.revoked else max(0.0, self.deadline - self.clock())

    def allows(self, call_seconds: float) -> bool:
        """May a call that takes at most ``call_seconds`` start now?"""
        return not self.revoked and self.clock() + call_seconds + self.margin <= self.deadline

    def extend(self, deadline: float) -> None:
        """The lease was renewed: it now ends at ``deadline`` (never earlier than before)."""
        if not self.revoked:
            self.deadline = max(self.deadline, deadline)

    def revoke(self) -> None:
        """The attempt no longer owns its messages: no more calls, whatever the time."""
        self.revoked = True


NOT_ATTEMPTED = "not attempted: the lease would end before a partner call could"


@dataclass(frozen=True)
class DeliveryItem:
    """One message for a connector to deliver, with what the ledger knows about it."""

    message_id: str
    type: str
    key: str  # ordering key (dossier code)
    payload: Mapping[str, Any]  # canonical payload, JSON form, already validated
    attempt: int  # 1 for the first attempt
    key_known_to_partner: bool  # an earlier message of this key was delivered (DVCQG: isUpdating)
    in_doubt: bool  # an earlier attempt may have reached the partner (timeout, abandoned attempt)
    correlation_id: str = ""
    # the attempt's time budget (shared by its batch); None: unbounded (tests, direct calls)
    budget: LeaseBudget | None = field(default=None, compare=False, repr=False)

    def may_call(self, call_seconds: float) -> bool:
        """May a partner call for this item, bounded by ``call_seconds``, start now?"""
        return self.budget is None or self.budget.allows(call_seconds)


class OutcomeKind(Enum):
    DELIVERED = "delivered"
    RETRY = "retry"  # transient: timeout, connection error, 5xx, 429, partner "busy"
    DEAD = "dead"  # permanent: the partner rejects the content


@dataclass(frozen=True)
class Outcome:
    kind: OutcomeKind
    detail: str = ""  # human-readable reason or partner message (no personal data)
    partner_ref: str | None = None  # the partner's reference for the delivery, if any
    response: str | None = None  # short excerpt of the partner's response, for the trace
    # RETRY / DEAD: the partner may have this change although the attempt does not know it
    # (no answer after the request may have left, a server error) or an earlier attempt's
    # doubt was not cleared; the next attempt checks the partner first. False only for a
    # definite answer (refused connection, an error the partner gave before doing anything).
    in_doubt: bool = True
    # What was sent to the partner and what it answered (bytes, text or a JSON value), for the
    # evidence log's keyed digests (``hub/evidence/facts.py``); never stored, never logged.
    request: Any = field(default=None, compare=False, repr=False)
    answer: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class DeliveryPolicy:
    """Per-partner delivery policy."""

    timeout: float = 10.0  # seconds per partner call
    max_attempts: int = 12  # retry budget, attempts in all
    max_age: float = 48 * 3600.0  # seconds after acceptance after which retries stop
    backoff_base: float = 2.0  # seconds before the 2nd attempt
    backoff_max: float = 600.0  # cap of one backoff step
    breaker_failures: int = 5  # consecutive retryable failures that open the circuit
    breaker_reset: float = 15.0  # seconds the circuit stays open before one trial
    batch_size: int = 50  # messages per partner call where the partner takes lists

    @classmethod
    def of(cls, settings: object) -> DeliveryPolicy:
        """The policy a connector's settings declare: each of this class's fields that the
        settings have (the others keep their defaults)."""
        names = [f for f in cls.__dataclass_fields__ if hasattr(settings, f)]
        return cls(**{f: getattr(settings, f) for f in names})


class Connector(Protocol):
    """Delivers canonical messages to one partner."""

    name: str  # also the queue name suffix: "national_portal"
    message_types: tuple[str, ...]
    policy: DeliveryPolicy

    def deliver(self, items: Sequence[DeliveryItem]) -> list[Outcome]:
        """Deliver; one Outcome per item, same order. Partner failures are outcomes,
        never exceptions; an exception means a bug and is treated as retryable."""
        ...

    def close(self) -> None: ...
