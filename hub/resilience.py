"""Resilience, once for the whole hub: one backoff formula and one circuit breaker.

**Backoff** (:func:`backoff`, and :class:`Backoff` for a loop that counts its own failures):
exponential, capped, with *equal jitter*: the n-th wait is ``step = min(cap, base * 2**n)``, half of
it fixed and half drawn at random, so waits never collapse to zero and callers that failed together
do not come back together. Used by the ledger's retry schedule (``hub.ledger.model.backoff``), the
transports' reconnects, the relay's and the publisher's pauses, the pipeline's restarts of a role,
and the payment gateways' status-query retries.

**Circuit breaker** (:class:`CallBreaker`) for synchronous partner calls (one caller waiting per
call): the population database (citizen verification) and the payment gateways (opening a payment,
status queries). Each API request is one call and must be answered at once, so the rules are per
call:

- **closed**: every call goes through; ``failures`` consecutive breaker failures open it;
- **open** for ``reset`` seconds: calls are refused without touching the partner, with the
  seconds left (for ``Retry-After``);
- **half-open** after that: exactly one call (the probe) goes through, the others are refused
  meanwhile; a probe that gets an answer closes the breaker, a failed one opens it again.

Thread-safe: calls run in the thread pool. The worker's breaker (``hub.worker.CircuitBreaker``) is
a thin use of this class: a batch of delivery outcomes that are all retryable is one failure.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable

from hub import metrics


def backoff(n: int, base: float, cap: float) -> float:
    """The wait before retry ``n`` (0 for the first retry): ``step = min(cap, base * 2**n)``,
    then half of the step fixed and half at random (equal jitter)."""
    step = min(cap, base * (1 << max(n, 0)))
    return step / 2 + random.uniform(0, step / 2)


class Backoff:
    """:func:`backoff` for a loop: each :meth:`next_delay` counts one more failure; :meth:`reset`
    after a success."""

    def __init__(self, base: float, cap: float) -> None:
        self.base, self.cap, self.failures = base, cap, 0

    def next_delay(self) -> float:
        delay = backoff(self.failures, self.base, self.cap)
        self.failures += 1
        return delay

    def reset(self) -> None:
        self.failures = 0


class CallBreaker:
    def __init__(self, name: str, failures: int, reset: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.failures = failures
        self.reset = reset
        self.clock = clock
        self.consecutive = 0
        self.open_until: float | None = None
        self.probing = False
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        with self._lock:
            return self._state()

    def _state(self) -> str:
        if self.open_until is None:
            return "closed"
        return "open" if self.clock() < self.open_until else "half_open"

    def admit(self) -> int | None:
        """None if this call may go to the partner (the caller must then report
        :meth:`succeeded` or :meth:`failed`); otherwise the whole seconds to wait."""
        with self._lock:
            state = self._state()
            if state == "closed":
                return None
            if state == "half_open" and not self.probing:
                self.probing = True
                return None
            assert self.open_until is not None
            return max(1, math.ceil(self.open_until - self.clock()))

    def succeeded(self) -> None:
        """The partner answered (an answer, or a definite refusal): close."""
        with self._lock:
            was_open = self.open_until is not None
            self.consecutive = 0
            self.open_until = None
            self.probing = False
        if was_open:
            metrics.CIRCUIT_OPEN.labels(self.name).set(0)

    def failed(self) -> int | None:
        """The partner failed (down, timed out, answered garbage). Returns the seconds the
        breaker is now open for, or None if it stays closed."""
        with self._lock:
            self.consecutive += 1
            reopen = self.probing or self.consecutive >= self.failures
            self.probing = False
            if not reopen:
                return None
            self.open_until = self.clock() + self.reset
        metrics.CIRCUIT_OPEN.labels(self.name).set(1)
        return max(1, math.ceil(self.reset))
