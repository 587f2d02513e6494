"""A circuit breaker for synchronous partner calls (one caller waiting per call): the population
database (citizen verification) and the payment gateways (opening a payment, status queries).

``hub.worker.CircuitBreaker`` judges batches of delivery outcomes and pauses a consumer; here
each API request is one call and must be answered at once, so the rules are per call:

- **closed**: every call goes through; ``failures`` consecutive breaker failures open it;
- **open** for ``reset`` seconds: calls are refused without touching the partner, with the
  seconds left (for ``Retry-After``);
- **half-open** after that: exactly one call (the probe) goes through, the others are refused
  meanwhile; a probe that gets an answer closes the breaker, a failed one opens it again.

Thread-safe: calls run in the thread pool.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from hub import metrics


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
