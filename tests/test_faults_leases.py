"""Faults that test the leases (issue 9), on the production shape: api, relay and workers as
processes on real RabbitMQ and PostgreSQL, delivering to the mock portal.

- the broker closes a working worker's connection while it delivers, several times: the broker
  redelivers what that worker holds to another one, which must not take a live delivery over;
- a backlog larger than a lease's worth of work, then a portal that answers in over a second:
  the leases are renewed while the work goes on, nothing is looked up that is not in doubt;
- a lease that expires while an attempt is still sending (its worker lost the database);
- a worker paused (SIGSTOP) past its lease, then resumed (SIGCONT).

Each ends with every change at the portal once (by natural key), in order, and nothing left
unfinished in the ledger. The leases are short here (a few seconds) so the tests stay short."""

from __future__ import annotations

import signal
import time
import urllib.parse
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from hub.db.schema import attempts
from tests.factories import dossier_code, status_change
from tests.support.broker import broker_address, require_broker, via
from tests.support.tcp_proxy import TcpProxy
from tests.support.wait import all_in, states, until
from tests.test_faults import Running, assert_delivered_once_in_order, pg, post, running  # noqa: F401 (pg: fixture)

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres, pytest.mark.slow]


def two_step_changes(
    n_dossiers: int, statuses: tuple[int, ...] = (2, 4)
) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """Each dossier's changes in order, all dossiers' first changes before their second ones."""
    codes = [dossier_code() for _ in range(n_dossiers)]
    bodies = [status_change(code=c, status=s, minutes_ago=100 - i) for i, s in enumerate(statuses) for c in codes]
    return bodies, {c: [str(s) for s in statuses] for c in codes}


def db_address(url: str) -> tuple[str, int]:
    parts = urllib.parse.urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 5432


def db_via(url: str, port: int) -> str:
    """The database URL through a local proxy on ``port``."""
    parts = urllib.parse.urlsplit(url)
    userinfo = parts.netloc.rpartition("@")[0]
    return urllib.parse.urlunsplit(
        parts._replace(netloc=f"{userinfo}@127.0.0.1:{port}" if userinfo else f"127.0.0.1:{port}")
    )


def set_faults(portal: str, **faults: object) -> None:
    httpx.post(portal + "/_mock/faults", json=faults, timeout=5).raise_for_status()


def test_broker_drops_a_working_workers_connection_several_times(tmp_path: Path, pg: str) -> None:  # noqa: F811
    """Only the workers go through the proxy: each cut hands their unacked deliveries to the
    other worker at once, marked redelivered, while the first one is still sending them."""
    broker = require_broker()
    proxy = TcpProxy(*broker_address(broker))
    port = proxy.start()
    try:
        with running(tmp_path, pg, broker, workers=0, mock_args=("--latency-ms", "250")) as r:
            for n in range(2):
                r.stack.spawn(f"worker-{n}", "worker", env={"HUB_BROKER_URL": via(broker, "127.0.0.1", port)})
            bodies, expected = two_step_changes(60, statuses=(2, 4, 9))
            post(r.stack, r.key, bodies, batch=60)
            for _ in range(4):
                until(lambda: proxy.live >= 2, timeout=30, what="both workers connected")
                until(lambda: states(r.engine).get("delivering", 0) > 0, every=0.005, what="a batch in flight")
                time.sleep(0.3)  # into the partner calls
                proxy.drop_all()
            until(all_in(r.engine, "delivered"), timeout=60, what="all delivered after the cuts")
            assert proxy.dropped >= 8
            assert_delivered_once_in_order(r.stack, expected)
            assert abandoned(r) == 0, "a redelivery alone must take nothing over (the workers lived)"
    finally:
        proxy.stop()


def test_backlog_then_a_portal_slower_than_a_lease_allows(tmp_path: Path, pg: str) -> None:  # noqa: F811
    """The backlog builds during an outage (every first change fails: 503, a definite answer),
    and the portal answers in 1.1 s per call throughout; a batch holds more than a lease's
    worth of calls (20 HoSo per call, a 5 s lease)."""
    env = {"HUB_LEASE_SECONDS": "5", "HUB_PORTAL_BATCH_SIZE": "20", "HUB_PORTAL_TIMEOUT": "3"}
    with running(tmp_path, pg, require_broker(), workers=1, mock_args=(), **env) as r:
        set_faults(r.stack.portal, outage_seconds=60, latency_ms=1100)
        bodies, expected = two_step_changes(60)
        post(r.stack, r.key, bodies, batch=120)
        until(lambda: retried(r) >= 60, timeout=30, what="every first change failed once (the backlog)")
        set_faults(r.stack.portal, outage_seconds=0)  # the portal is back, slow
        until(all_in(r.engine, "delivered"), timeout=75, what="all delivered by the slow portal")
        assert_delivered_once_in_order(r.stack, expected)
        # a 503 is a definite answer and the leases held: nothing was in doubt, nothing looked up
        assert r.stack.portal_state()["stats"]["calls"].get("TraCuuHoSo", 0) == 0


# every connector's call timeout must fit the lease (the worker refuses to start otherwise)
SHORT_LEASE = {
    "HUB_LEASE_SECONDS": "4",
    "HUB_PORTAL_TIMEOUT": "2",
    "HUB_WEBHOOK_TIMEOUT": "2",
    "HUB_VNPOST_TIMEOUT": "2",
}


def retried(r: Running) -> int:
    with r.engine.connect() as c:
        return c.execute(select(func.count()).select_from(attempts).where(attempts.c.outcome == "retry")).scalar_one()


def abandoned(r: Running) -> int:
    with r.engine.connect() as c:
        return c.execute(
            select(func.count()).select_from(attempts).where(attempts.c.outcome == "abandoned")
        ).scalar_one()


def test_a_lease_expires_while_its_attempt_is_still_sending(tmp_path: Path, pg: str) -> None:  # noqa: F811
    """worker-0 reaches PostgreSQL through a proxy, which is cut in the middle of its batch:
    it cannot renew, so it stops starting calls before its lease ends, while the calls it
    started still run; worker-1 takes the batch over once the lease (and the grace) is past,
    checks the portal first, and sends the rest. worker-0 records what it learned later."""
    host, port = db_address(pg)
    proxy = TcpProxy(host, port)
    proxy_port = proxy.start()
    try:
        with running(tmp_path, pg, require_broker(), workers=0, mock_args=("--latency-ms", "400"), **SHORT_LEASE) as r:
            r.stack.spawn("worker-0", "worker", env={"HUB_DATABASE_URL": db_via(pg, proxy_port)})
            bodies, expected = two_step_changes(40)
            post(r.stack, r.key, bodies, batch=80)
            until(lambda: states(r.engine).get("delivering", 0) > 0, every=0.005, what="worker-0 delivering")
            time.sleep(0.3)  # into its partner calls
            proxy.refusing = True
            proxy.drop_all()  # worker-0 loses the database: no renewal, no record
            r.stack.spawn("worker-1", "worker")
            until(lambda: abandoned(r) > 0, timeout=30, what="worker-0's lease taken over")
            proxy.refusing = False
            until(all_in(r.engine, "delivered"), timeout=60, what="all delivered after the takeover")
            assert_delivered_once_in_order(r.stack, expected)
    finally:
        proxy.stop()


def test_a_worker_paused_past_its_lease_then_resumed(tmp_path: Path, pg: str) -> None:  # noqa: F811
    with running(tmp_path, pg, require_broker(), workers=1, mock_args=("--latency-ms", "400"), **SHORT_LEASE) as r:
        bodies, expected = two_step_changes(40)
        post(r.stack, r.key, bodies, batch=80)
        until(lambda: states(r.engine).get("delivering", 0) > 0, every=0.005, what="worker-0 delivering")
        time.sleep(0.3)
        paused = r.stack.procs["worker-0"]
        paused.send_signal(signal.SIGSTOP)
        try:
            r.stack.spawn("worker-1", "worker")
            until(lambda: abandoned(r) > 0, timeout=30, what="the paused worker's lease taken over")
            time.sleep(1)  # worker-1 is at work on what it took over
        finally:
            paused.send_signal(signal.SIGCONT)
        until(all_in(r.engine, "delivered"), timeout=60, what="all delivered after the pause")
        assert_delivered_once_in_order(r.stack, expected)
