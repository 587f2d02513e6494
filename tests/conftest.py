from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from hub.bootstrap import migrate
from hub.db.engine import make_engine
from hub.db.schema import metadata
from tests.support.db import temporary_pg_database


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    with temporary_pg_database() as url:
        yield url


def _truncate_all(engine: Engine) -> None:
    names = ", ".join(t.name for t in reversed(metadata.sorted_tables))
    with engine.begin() as c:
        c.execute(text("SET LOCAL lgsp.evidence_maintenance = 'prune'"))  # the evidence tables refuse it otherwise
        c.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test runs on SQLite and on PostgreSQL (emptied before the test)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/hub.db"
        return
    url = request.getfixturevalue("pg_url")
    engine = make_engine(url)
    migrate(engine)
    _truncate_all(engine)
    engine.dispose()
    yield url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    e = make_engine(db_url)
    migrate(e)
    yield e
    e.dispose()


class Clock:
    """A settable clock for the ledger."""

    def __init__(self) -> None:
        self.now = datetime.now(tz=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def cli() -> Iterator[CliRunner]:
    """A runner for `lgsp` commands. They configure logging to the runner's stderr, which closes with
    the command: put logging back afterwards, or later tests would write to a closed file."""
    root = logging.getLogger()
    handlers = list(root.handlers)
    yield CliRunner()
    structlog.reset_defaults()
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)


@pytest.fixture
def clock() -> Clock:
    return Clock()


_real_getaddrinfo = socket.getaddrinfo


def _loopback_only_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    """No test resolves a name through DNS (that would be traffic off this machine): IP literals
    and localhost only; a test that needs a name resolved hands the hub a fake resolver."""
    name = host.decode() if isinstance(host, bytes) else host
    try:
        ipaddress.ip_address(str(name).split("%", 1)[0])
    except ValueError:
        if name not in (None, "localhost"):
            raise socket.gaierror(socket.EAI_NONAME, f"tests resolve no names ({name})") from None
    return _real_getaddrinfo(host, *args, **kwargs)


@pytest.fixture(autouse=True)
def _no_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", _loopback_only_getaddrinfo)
