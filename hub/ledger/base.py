"""What every role of the ledger shares: the engine, the clock of its decisions, the lease
rules, and the event that wakes a relay in this process."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Engine

from hub.envelope import utcnow


class Basis:
    """``clock``: the time of every decision. None (production): this process's UTC clock,
    except that on PostgreSQL the leases (their ends, renewals and takeovers) follow the
    database's clock, so every worker and relay judges a lease by the same clock. Tests and
    the rules' model hand in a simulated clock, which then decides everything."""

    def __init__(
        self,
        engine: Engine,
        lease_seconds: float = 30.0,
        clock: Callable[[], datetime] | None = None,
        grace_seconds: float = 2.0,
    ) -> None:
        self.engine = engine
        self.lease_seconds = lease_seconds
        self.lease = timedelta(seconds=lease_seconds)
        self.grace = timedelta(seconds=grace_seconds)
        self.now: Callable[[], datetime] = clock or utcnow
        self.pg = engine.dialect.name == "postgresql"
        self.db_clock = clock is None and self.pg  # leases on the database's clock
        self.outbox_event = threading.Event()  # wakes a relay in this process (embedded mode)
