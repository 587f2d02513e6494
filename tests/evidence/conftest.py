"""The evidence log's fixtures: a database, a signing key, facts chained, and a way to tamper (as someone
with write access to the database would: the append-only triggers switched off first)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog
from sqlalchemy import Engine, text

from hub.evidence.chainer import Chainer
from hub.evidence.model import Fact
from hub.evidence.signing import Signer, load_private
from hub.evidence.signing import generate as generate_key
from hub.evidence.store import record_many
from hub.evidence.verify import Report, verify


@pytest.fixture(autouse=True)
def _logging_restored() -> Iterator[None]:
    """`lgsp` commands configure logging to the test runner's stream, which closes with the command: put
    logging back after each test, or later tests would write to a closed file."""
    root = logging.getLogger()
    handlers = list(root.handlers)
    yield
    structlog.reset_defaults()
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)


@pytest.fixture
def signer() -> Signer:
    return Signer(load_private(generate_key()))


@pytest.fixture
def chainer(engine: Engine, signer: Signer) -> Chainer:
    return Chainer(engine, signer, chains=2, batch=7)


def facts(n: int, start: int = 0, at: datetime | None = None) -> list[Fact]:
    base = at or datetime.now(tz=UTC) - timedelta(days=1)
    return [
        Fact(
            "delivery.attempt",
            f"message:M{i:05d}",
            "worker:w1",
            {"request": f"hmac-sha256:1:{i:064x}"},
            {"attempt": 1, "outcome": "delivered", "note": "Đã xử lý xong"},
            at=base + timedelta(milliseconds=i),
        )
        for i in range(start, start + n)
    ]


def stage(engine: Engine, items: list[Fact], chains: int = 2) -> None:
    with engine.begin() as c:
        record_many(c, items, chains=chains)


def check(engine: Engine, signer: Signer, archive_dir: Path | None = None) -> Report:
    return verify(engine, {signer.key_id: signer.public}, archive_dir)


def tamper(engine: Engine, *statements: tuple[str, dict[str, Any]]) -> None:
    """Run statements with the append-only triggers off (PostgreSQL: replica role; SQLite: dropped)."""
    with engine.begin() as c:
        if engine.dialect.name == "postgresql":
            c.execute(text("SET LOCAL session_replication_role = replica"))
        else:
            for (name,) in c.execute(
                text("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'evidence%'")
            ):
                c.execute(text(f'DROP TRIGGER "{name}"'))
        for sql, params in statements:
            c.execute(text(sql), params)


@pytest.fixture
def chained(engine: Engine, chainer: Chainer) -> Iterator[Engine]:
    """40 facts on 2 chains, sealed at every batch (7)."""
    stage(engine, facts(40))
    chainer.drain(seal=True)
    yield engine
