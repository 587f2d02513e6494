"""Leases that live as long as the work: the heartbeat of the batches a worker process has in
progress.

A worker claims a batch under a lease (``HUB_LEASE_SECONDS``) and hands its connector a
``LeaseBudget`` whose deadline is the lease's end as seen from this process: the moment the
claim was *sent*, on the monotonic clock, plus the lease's length. The ledger started the lease
no earlier than that, so the budget never outlives the lease, whatever the wall clocks say.

The ``LeaseKeeper`` renews, every quarter of a lease, the leases of every batch in progress in
this process, in one ledger call (one statement on PostgreSQL). A renewal that comes back
moves each batch's deadline on (again from the moment it was sent); a batch of which any
message was not renewed (taken over, finished by someone else) has its budget revoked: its
attempt starts no further partner call. A renewal that fails (database down) changes nothing,
so the budget runs out by itself, ``HUB_LEASE_MARGIN`` seconds before the lease can be taken
over. See docs/architecture.md, "Leases, takeovers and fencing".
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import structlog

from hub.ledger import DATABASE_ERRORS, Claim, Held, Ledger
from hub.ports import LeaseBudget

log = structlog.get_logger("hub.lease")


class LeaseKeeper:
    def __init__(self, ledger: Ledger, margin: float = 2.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ledger = ledger
        self.margin = margin
        self.clock = clock
        self.interval = ledger.lease_seconds / 4
        self._batches: dict[int, tuple[list[Held], LeaseBudget]] = {}
        self._ids = itertools.count()
        self._lock = threading.Lock()

    def check(self, connector: str, call_seconds: float) -> None:
        """Refuse a lease too short for one partner call between two renewals."""
        needed = call_seconds + self.margin
        if self.ledger.lease_seconds - self.interval < needed:
            raise ValueError(
                f"HUB_LEASE_SECONDS ({self.ledger.lease_seconds:g}) leaves no room for a call of connector "
                f"{connector} (timeout {call_seconds:g} s): it must be at least 4/3 x (timeout + HUB_LEASE_MARGIN) "
                f"= {needed * 4 / 3:g} s"
            )

    def budget(self, claimed_at: float) -> LeaseBudget:
        """The budget of a batch whose claim was sent at ``claimed_at`` (this clock)."""
        return LeaseBudget(claimed_at + self.ledger.lease_seconds, self.margin, self.clock)

    @contextmanager
    def holding(self, claims: Sequence[Claim], budget: LeaseBudget) -> Iterator[LeaseBudget]:
        """Renew these claims' lease while the block runs."""
        held = [Held(c.item.message_id, c.item.attempt, c.worker) for c in claims]
        with self._lock:
            token = next(self._ids)
            self._batches[token] = (held, budget)
        try:
            yield budget
        finally:
            with self._lock:
                del self._batches[token]

    def renew_once(self) -> int:
        """Renew every batch in progress; returns how many batches were renewed."""
        with self._lock:
            batches = list(self._batches.values())
        if not batches:
            return 0
        sent = self.clock()
        try:
            owned = self.ledger.renew([h for held, _ in batches for h in held])
        except DATABASE_ERRORS as exc:  # the budgets run out by themselves
            log.warning("lease.renew_failed", error=type(exc).__name__, detail=str(exc)[:200])
            return 0
        renewed = 0
        for held, budget in batches:
            if all(h.message_id in owned for h in held):
                budget.extend(sent + self.ledger.lease_seconds)
                renewed += 1
            else:
                budget.revoke()
                lost = [h.message_id for h in held if h.message_id not in owned]
                log.warning("lease.lost", messages=len(lost), first=lost[0])
        return renewed

    def run(self, stop: threading.Event) -> None:
        """Renew every ``interval`` seconds until ``stop``."""
        while not stop.wait(self.interval):
            self.renew_once()
