"""The message ledger (see ``hub.ledger.core`` for the states and the rules).

``make_ledger(engine)`` gives the implementation for the engine's database: ``PgLedger`` on
PostgreSQL, the portable ``Ledger`` (SQLAlchemy Core) elsewhere (SQLite)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import psycopg
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from hub.ledger.core import Ledger
from hub.ledger.model import (
    OUTBOX_CHANNEL,
    Accepted,
    Claim,
    Held,
    IdempotencyKey,
    NewMessage,
    NotFound,
    NotReplayable,
    StoredAnswer,
    backoff,
)
from hub.ledger.postgres import PgLedger
from hub.ledger.unit import UnitOfWork

# What a ledger call raises when the database fails (connection lost, deadlock...): the
# caller hands its work back and tries again later.
DATABASE_ERRORS: tuple[type[Exception], ...] = (SQLAlchemyError, psycopg.Error)

__all__ = [
    "DATABASE_ERRORS",
    "OUTBOX_CHANNEL",
    "Accepted",
    "Claim",
    "Held",
    "IdempotencyKey",
    "Ledger",
    "NewMessage",
    "NotFound",
    "NotReplayable",
    "PgLedger",
    "StoredAnswer",
    "UnitOfWork",
    "backoff",
    "make_ledger",
]


def make_ledger(
    engine: Engine,
    lease_seconds: float = 30.0,
    clock: Callable[[], datetime] | None = None,
    grace_seconds: float = 2.0,
) -> Ledger:
    """``clock`` None: see ``Ledger`` (production: leases on the database's clock on PostgreSQL)."""
    cls = PgLedger if engine.dialect.name == "postgresql" else Ledger
    return cls(engine, lease_seconds=lease_seconds, clock=clock, grace_seconds=grace_seconds)
