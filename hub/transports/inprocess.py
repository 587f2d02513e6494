"""In-process transport: the reference implementation of ``Transport`` and its test fake.

Same semantics as the RabbitMQ transport, in memory and within one process:

- topic-exchange routing (exact words, ``*`` = exactly one word, ``#`` = zero or more words);
- ``publish`` returns False for a message routed to no queue (``mandatory``);
- ``consume`` runs the batch loop (up to ``min(max_batch, prefetch)`` deliveries or ``max_wait``
  seconds after the first one), then applies the dispositions: ACK drops the delivery, REQUEUE puts it
  back at the head of its queue with ``redelivered=True``, REJECT moves it to ``dead_letters``;
- a handler exception puts the whole batch back with ``redelivered=True`` and propagates out of
  ``consume`` (the consumer is dead, nothing is lost);
- several consumers on one queue compete for its deliveries (``priority`` is accepted and ignored:
  whoever waits takes the next deliveries).

Not durable: whatever is queued is gone when the process ends (the relay re-publishes unfinished work).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

from hub.ports import BatchHandler, Delivery, Disposition, OutgoingMessage, TransportError

_IDLE_POLL = 0.05  # seconds between checks of ``stop`` while waiting for deliveries


@lru_cache(maxsize=4096)
def _match_words(pattern: tuple[str, ...], key: tuple[str, ...]) -> bool:
    if not pattern:
        return not key
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        return any(_match_words(rest, key[i:]) for i in range(len(key) + 1))
    if not key:
        return False
    return (head == "*" or head == key[0]) and _match_words(rest, key[1:])


def topic_matches(pattern: str, routing_key: str) -> bool:
    """AMQP topic matching of a binding pattern against a routing key."""
    return _match_words(tuple(pattern.split(".")), tuple(routing_key.split(".")))


@dataclass(frozen=True)
class _Stored:
    message_id: str
    routing_key: str
    body: bytes
    headers: Mapping[str, str]
    redelivered: bool = False


def checked_dispositions(dispositions: Sequence[Disposition], expected: int) -> list[Disposition]:
    """The handler's answer, refused unless it is one ``Disposition`` per delivery."""
    result = list(dispositions)
    if len(result) != expected or not all(isinstance(d, Disposition) for d in result):
        raise TransportError(f"handler must return {expected} Disposition values, got {len(result)} items")
    return result


class InProcessTransport:
    """Thread-safe in-memory ``Transport``; see the module docstring for its semantics."""

    durable = False

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._bindings: dict[str, set[str]] = {}  # queue -> patterns
        self._queues: dict[str, deque[_Stored]] = {}
        self._dead: list[Delivery] = []
        self._tags = itertools.count(1)
        self._closed = False

    # ------------------------------------------------------------------ topology
    def setup(self, bindings: Mapping[str, Sequence[str]]) -> None:
        with self._cond:
            for queue, keys in bindings.items():
                self._queues.setdefault(queue, deque())
                self._bindings.setdefault(queue, set()).update(keys)

    def queue(self, name: str) -> str:
        """Full name of a queue (the in-process transport uses the short name as is)."""
        return name

    def depth(self, queue: str) -> int:
        """Deliveries waiting in ``queue`` (not counting those handed to a consumer)."""
        with self._cond:
            return len(self._queue(queue))

    def queued(self, queue: str) -> list[str]:
        """Message ids waiting in ``queue``, oldest first."""
        with self._cond:
            return [m.message_id for m in self._queue(queue)]

    @property
    def dead_letters(self) -> list[Delivery]:
        """Deliveries REJECTed as poison, oldest first (a copy)."""
        with self._cond:
            return list(self._dead)

    # ------------------------------------------------------------------ publish
    def publish(self, messages: Sequence[OutgoingMessage], timeout: float = 10.0) -> list[bool]:
        results: list[bool] = []
        with self._cond:
            if self._closed:
                raise TransportError("transport is closed")
            for msg in messages:
                stored = _Stored(msg.message_id, msg.routing_key, msg.body, dict(msg.headers))
                routed = False
                for queue, patterns in self._bindings.items():
                    if any(topic_matches(p, msg.routing_key) for p in patterns):
                        self._queues[queue].append(stored)
                        routed = True
                results.append(routed)
            self._cond.notify_all()
        return results

    # ------------------------------------------------------------------ consume
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
        limit = max(1, min(prefetch, max_batch))
        while not stop.is_set() and not self._closed:
            batch = self._take(queue, limit, stop, max_wait)
            if not batch:
                continue
            stored = [s for _, s in batch]
            deliveries = [Delivery(s.message_id, s.routing_key, s.body, s.headers, s.redelivered, t) for t, s in batch]
            try:
                dispositions = checked_dispositions(handler(deliveries), len(deliveries))
            except BaseException:
                self._settle(queue, stored, [Disposition.REQUEUE] * len(stored), deliveries)
                raise
            self._settle(queue, stored, dispositions, deliveries)

    def _queue(self, name: str) -> deque[_Stored]:
        try:
            return self._queues[name]
        except KeyError:
            raise TransportError(f"unknown queue {name!r}: declare it with setup()") from None

    def _take(self, queue: str, limit: int, stop: threading.Event, max_wait: float) -> list[tuple[int, _Stored]]:
        """Wait for a first delivery, then gather more until ``limit`` or ``max_wait`` has passed."""
        taken: list[tuple[int, _Stored]] = []
        deadline: float | None = None
        with self._cond:
            q = self._queue(queue)
            while not stop.is_set() and not self._closed:
                while q and len(taken) < limit:
                    taken.append((next(self._tags), q.popleft()))
                if len(taken) >= limit:
                    break
                if taken and deadline is None:
                    deadline = time.monotonic() + max_wait
                wait = _IDLE_POLL if deadline is None else deadline - time.monotonic()
                if wait <= 0:
                    break
                self._cond.wait(wait)
            if taken and (stop.is_set() or self._closed):
                # stopped while gathering: the handler never saw them, hand them back untouched
                q.extendleft(reversed([s for _, s in taken]))
                self._cond.notify_all()
                return []
        return taken

    def _settle(
        self,
        queue: str,
        stored: Sequence[_Stored],
        dispositions: Sequence[Disposition],
        deliveries: Sequence[Delivery],
    ) -> None:
        back: list[_Stored] = []
        with self._cond:
            for item, disposition, delivery in zip(stored, dispositions, deliveries, strict=True):
                if disposition is Disposition.REQUEUE:
                    back.append(replace(item, redelivered=True))
                elif disposition is Disposition.REJECT:
                    self._dead.append(delivery)
            if back:
                self._queues[queue].extendleft(reversed(back))
                self._cond.notify_all()

    def close(self) -> None:
        """Wake every consumer and refuse further publishes; queued messages are discarded."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
