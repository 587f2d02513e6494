"""Faults survived by the production shape: api, relay and workers as separate processes on
real RabbitMQ and PostgreSQL, delivering to the mock portal (a separate process too).

Each test checks, at the mock portal: every change arrived, none twice (by natural key:
MaHoSo, TrangThai, ThoiDiemXuLy), and each dossier's changes in the order they happened."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select

from hub.db.engine import make_engine
from hub.db.schema import attempts
from tests.factories import create_client, dossier_code, status_change
from tests.support.broker import broker_address, random_prefix, require_broker, via
from tests.support.stack import Stack, free_port
from tests.support.tcp_proxy import TcpProxy
from tests.support.wait import all_in, states, until

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres, pytest.mark.slow]
URL = "/v1/dossiers/status-changes"
STATUSES = (2, 4, 5, 4, 9, 10)


def changes(n_dossiers: int, seed: int = 1) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """Dossiers' changes, interleaved across dossiers, each dossier's in the order they happen."""
    rng = random.Random(seed)
    queues, expected = [], {}
    for _ in range(n_dossiers):
        code = dossier_code()
        seq = [status_change(code=code, status=s, minutes_ago=120 - i) for i, s in enumerate(STATUSES)]
        queues.append(seq)
        expected[code] = [str(s) for s in STATUSES]
    out = []
    while any(queues):
        out.append(rng.choice([q for q in queues if q]).pop(0))
    return out, expected


@pytest.fixture
def pg(pg_url: str) -> Iterator[str]:
    from hub.bootstrap import migrate
    from tests.conftest import _truncate_all

    engine = make_engine(pg_url)
    migrate(engine)
    _truncate_all(engine)
    engine.dispose()
    yield pg_url


def post(stack: Stack, key: str, bodies: list[dict[str, Any]], batch: int = 20, pause: float = 0.0) -> None:
    with httpx.Client(base_url=stack.api, headers={"X-API-Key": key}, timeout=30) as http:
        for i in range(0, len(bodies), batch):
            r = http.post(URL, json=bodies[i : i + batch])
            assert r.status_code == 202, r.text
            assert all(x["status"] == "accepted" for x in r.json()["results"])
            if pause:
                time.sleep(pause)


def assert_delivered_once_in_order(stack: Stack, expected: dict[str, list[str]]) -> None:
    state = stack.portal_state()
    assert state["stats"]["duplicate_progress_entries"] == 0, state["stats"]
    for code, statuses in expected.items():
        got = [p["TrangThai"] for p in state["dossiers"][code]["QuaTrinhXuLy"]]
        assert got == statuses, f"{code}: {got}"


@contextmanager
def running(
    tmp_path: Path, pg: str, broker: str, workers: int, mock_args: tuple[str, ...] = (), **env: str
) -> Iterator[Running]:
    """The stack started, a client key, and the ledger's engine; logs printed if the test fails."""
    stack = Stack(tmp_path, pg, broker, random_prefix(), **env).start(workers=workers, mock_args=mock_args)
    engine = make_engine(pg)
    try:
        yield Running(stack, engine, create_client(engine, "ONEGATE", "one-stop", ["dossier.status.changed"]))
    except BaseException:
        print(stack.logs())
        raise
    finally:
        stack.stop()
        engine.dispose()


@dataclass
class Running:
    stack: Stack
    engine: Engine
    key: str


def test_worker_killed_mid_delivery_loses_and_doubles_nothing(tmp_path: Path, pg: str) -> None:
    with running(tmp_path, pg, require_broker(), workers=1, mock_args=("--latency-ms", "150")) as r:
        bodies, expected = changes(40)
        post(r.stack, r.key, bodies)
        until(lambda: states(r.engine).get("delivered", 0) >= 40, what="deliveries under way")
        until(lambda: states(r.engine).get("delivering", 0) > 0, every=0.005, what="a batch in flight")
        r.stack.kill("worker-0")  # SIGKILL in the middle of a partner call
        r.stack.spawn("worker-1", "worker")
        r.stack.spawn("worker-2", "worker")
        until(all_in(r.engine, "delivered"), timeout=90, what="all delivered after the kill")
        assert_delivered_once_in_order(r.stack, expected)
        with r.engine.connect() as c:
            abandoned = c.execute(
                select(func.count()).select_from(attempts).where(attempts.c.outcome == "abandoned")
            ).scalar_one()
        assert abandoned > 0, "the kill should have caught deliveries in flight (taken over as in-doubt)"


def test_broker_connection_dropped_while_messages_flow(tmp_path: Path, pg: str) -> None:
    broker = require_broker()
    proxy = TcpProxy(*broker_address(broker))
    port = proxy.start()
    try:
        with running(tmp_path, pg, via(broker, "127.0.0.1", port), workers=2, HUB_OUTBOX_DEFER="30") as r:
            bodies, expected = changes(80, seed=2)
            half = len(bodies) // 2
            post(r.stack, r.key, bodies[:half], pause=0.02)
            until(lambda: proxy.live > 0, what="a connection through the proxy")
            proxy.drop_all()  # relay and workers lose the broker while messages flow
            post(r.stack, r.key, bodies[half:], pause=0.02)
            time.sleep(0.3)
            until(lambda: proxy.live > 0, what="a connection through the proxy again")
            proxy.drop_all()
            until(all_in(r.engine, "delivered"), timeout=90, what="all delivered after broker drops")
            assert proxy.dropped >= 2
            assert_delivered_once_in_order(r.stack, expected)
    finally:
        proxy.stop()


def test_broker_down_when_the_hub_starts(tmp_path: Path, pg: str) -> None:
    """Relay and workers started while the broker refuses connections wait for it (they used
    to exit on the failed topology declaration); the api accepts meanwhile; nothing is lost,
    and what the api could not publish is not left waiting for its outbox deferral (30 s here)."""
    broker = require_broker()
    proxy = TcpProxy(*broker_address(broker))
    proxy.refusing = True
    port = proxy.start()
    try:
        with running(tmp_path, pg, via(broker, "127.0.0.1", port), workers=2, HUB_OUTBOX_DEFER="30") as r:
            bodies, expected = changes(20, seed=4)
            post(r.stack, r.key, bodies)
            until(lambda: proxy.refused >= 6, what="relay and workers retrying the broker")
            assert states(r.engine) == {"queued": len(bodies)}
            assert all(p.poll() is None for p in r.stack.procs.values()), "a role exited without its broker"
            proxy.refusing = False
            until(all_in(r.engine, "delivered"), timeout=20, what="all delivered once the broker is up")
            assert_delivered_once_in_order(r.stack, expected)
    finally:
        proxy.stop()


def test_portal_down_for_a_while_then_back(tmp_path: Path, pg: str) -> None:
    with running(tmp_path, pg, require_broker(), workers=0) as r:
        metrics_port = free_port()  # the only worker, so its own metrics must show the outage
        r.stack.spawn("worker-m", "worker", env={"HUB_METRICS_PORT": str(metrics_port)})
        bodies, expected = changes(40, seed=3)
        # the outage lasts until the worker (which may start slowly on a loaded machine) has seen it
        httpx.post(r.stack.portal + "/_mock/faults", json={"outage_seconds": 600}).raise_for_status()
        post(r.stack, r.key, bodies)
        until(lambda: states(r.engine).get("retrying", 0) > 0, timeout=60, what="retries during the outage")
        assert states(r.engine).get("delivered", 0) == 0
        httpx.post(r.stack.portal + "/_mock/faults", json={"outage_seconds": 0}).raise_for_status()  # back
        until(all_in(r.engine, "delivered"), timeout=90, what="all delivered after the outage")
        assert_delivered_once_in_order(r.stack, expected)
        # the worker's own metrics show the outage: retries scheduled and deliveries
        text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
        labels = 'connector="national_portal",state="retrying",type="dossier.status.changed"'
        assert "lgsp_delivery_outcomes_total{" + labels + "}" in text
