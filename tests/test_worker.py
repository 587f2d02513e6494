"""The worker's circuit breaker, and the lease keeper that renews its batches' leases."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy.exc import OperationalError

from hub.lease import LeaseKeeper
from hub.ledger import Claim, Held
from hub.ports import DeliveryItem, Outcome, OutcomeKind
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

    def wait() -> None:
        b.wait_ready(stop)
        done.set()

    t = threading.Thread(target=wait)
    t.start()
    assert not done.wait(0.3)  # held back while open
    clock.t += 61
    assert done.wait(2)  # half-open: goes on
    t.join()
    b.observe([RETRY])
    stop.set()
    b.wait_ready(stop)  # returns at once when stopping


class FakeLedger:
    """What the lease keeper needs of a ledger: the lease's length and ``renew``."""

    lease_seconds = 8.0

    def __init__(self) -> None:
        self.owned: set[str] | Exception = set()
        self.renewals: list[list[Held]] = []

    def renew(self, held: list[Held]) -> set[str]:
        self.renewals.append(held)
        if isinstance(self.owned, Exception):
            raise self.owned
        return self.owned


def claim(mid: str, attempt: int = 1) -> Claim:
    item = DeliveryItem(mid, "dossier.status.changed", "K", {}, attempt, False, False)
    return Claim(0, item, worker="w1")


def test_the_keeper_renews_every_batch_in_progress_and_revokes_a_lost_one() -> None:
    ledger, clock = FakeLedger(), Tick()
    # FakeLedger has the two methods the keeper calls, not the whole Ledger
    keeper = LeaseKeeper(ledger, margin=1.0, clock=clock)  # type: ignore[arg-type]
    a, b = keeper.budget(clock()), keeper.budget(clock())
    assert a.deadline == 108.0 and keeper.interval == 2.0
    with keeper.holding([claim("m1"), claim("m2")], a), keeper.holding([claim("m3", attempt=2)], b):
        ledger.owned = {"m1", "m2"}  # m3 was taken over
        clock.t += 2
        assert keeper.renew_once() == 1
        assert [h.message_id for h in ledger.renewals[0]] == ["m1", "m2", "m3"]  # one call for all
        assert ledger.renewals[0][2] == Held("m3", 2, "w1")
        assert a.deadline == 110.0 and a.allows(1.0)
        assert b.revoked and not b.allows(0.0)
        ledger.owned = OperationalError("renew", {}, Exception("database down"))
        clock.t += 7.5
        assert keeper.renew_once() == 0  # nothing renewed: the budget runs out by itself
        assert a.deadline == 110.0 and not a.allows(1.0)  # 109.5 + 1 + margin 1 > 110
    assert keeper.renew_once() == 0 and len(ledger.renewals) == 2  # nothing held: no call


def test_a_lease_too_short_for_a_partner_call_is_refused() -> None:
    # as above
    keeper = LeaseKeeper(FakeLedger(), margin=2.0)  # type: ignore[arg-type]
    keeper.check("fast", 4.0)  # 8 - 2 (a renewal interval) >= 4 + 2
    with pytest.raises(ValueError, match=r"HUB_LEASE_SECONDS \(8\).*connector slow \(timeout 5 s\)"):
        keeper.check("slow", 5.0)
