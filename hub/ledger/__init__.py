"""The message ledger (see ``hub.ledger.core`` for the states and the rules).

``make_ledger(engine)`` gives the implementation for the engine's database: ``PgLedger`` on
PostgreSQL, the portable ``Ledger`` (SQLAlchemy Core) elsewhere (SQLite)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import psycopg
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from hub.envelope import utcnow
from hub.ledger.core import Ledger
from hub.ledger.model import (
    OUTBOX_CHANNEL,
    Accepted,
    Claim,
    IdempotencyKey,
    NewMessage,
    NotFound,
    NotReplayable,
    StoredAnswer,
    backoff,
)
from hub.ledger.postgres import PgLedger

# What a ledger call raises when the database fails (connection lost, deadlock...): the
# caller hands its work back and tries again later.
DATABASE_ERRORS: tuple[type[Exception], ...] = (SQLAlchemyError, psycopg.Error)

__all__ = [
    "DATABASE_ERRORS",
    "OUTBOX_CHANNEL",
    "Accepted",
    "Claim",
    "IdempotencyKey",
    "Ledger",
    "NewMessage",
    "NotFound",
    "NotReplayable",
    "PgLedger",
    "StoredAnswer",
    "backoff",
    "make_ledger",
]


def make_ledger(engine: Engine, lease_seconds: float = 120.0, clock: Callable[[], datetime] = utcnow) -> Ledger:
    cls = PgLedger if engine.dialect.name == "postgresql" else Ledger
    return cls(engine, lease_seconds=lease_seconds, clock=clock)
