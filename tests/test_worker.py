"""The worker's circuit breaker and its handling of batches it cannot record."""

from __future__ import annotations

import threading

from hub.ports import Outcome, OutcomeKind
from hub.worker import CircuitBreaker

RETRY = Outcome(OutcomeKind.RETRY, "HTTP 503")
OK = Outcome(OutcomeKind.DELIVERED)


class Tick:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_breaker_opens_after_consecutive_failed_batches_and_half_opens_after_reset() -> None:
    clock = Tick()
    b = CircuitBreaker(failures=3, reset=10, clock=clock)
    b.observe([RETRY, RETRY])
    b.observe([RETRY])
    assert b.state == "closed"
    b.observe([RETRY])
    assert b.state == "open"
    clock.t += 9.9
    assert b.state == "open"
    clock.t += 0.2
    assert b.state == "half_open"  # one trial batch may go
    b.observe([RETRY])
    assert b.state == "open"  # the trial failed: open again for a full reset period
    clock.t += 10.1
    b.observe([RETRY, OK])  # any definite answer closes it
    assert b.state == "closed"


def test_mixed_batches_do_not_open_it() -> None:
    b = CircuitBreaker(failures=2, reset=10, clock=Tick())
    for _ in range(10):
        b.observe([RETRY, Outcome(OutcomeKind.DEAD, "rejected")])
        b.observe([])
    assert b.state == "closed"


def test_wait_ready_blocks_while_open_and_returns_on_stop() -> None:
    clock = Tick()
    b = CircuitBreaker(failures=1, reset=60, clock=clock)
    b.observe([RETRY])
    stop = threading.Event()
    done = threading.Event()
    t = threading.Thread(target=lambda: (b.wait_ready(stop), done.set()))
    t.start()
    assert not done.wait(0.3)  # held back while open
    clock.t += 61
    assert done.wait(2)  # half-open: goes on
    t.join()
    b.observe([RETRY])
    stop.set()
    b.wait_ready(stop)  # returns at once when stopping
