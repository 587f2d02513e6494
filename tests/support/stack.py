"""The production shape as real processes, for fault tests and benchmarks: the mock portal,
the api, the relay and workers, each a `lgsp` subprocess against RabbitMQ and PostgreSQL."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pika
import pika.exceptions
import psutil

import connectors
from tests.support.broker import delete_topology


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not come up in {timeout}s")
        time.sleep(0.1)


class Stack:
    def __init__(self, workdir: Path, database_url: str, broker_url: str, prefix: str, **env: str):
        self.workdir = workdir
        self.portal_port = free_port()
        self.gateway_port = free_port()
        self.api_port = free_port()
        self.env = {
            **os.environ,
            "HUB_DATABASE_URL": database_url,
            "HUB_BROKER_URL": broker_url,
            "HUB_BROKER_PREFIX": prefix,
            "HUB_BROKER_QUEUE_TYPE": "quorum",
            "HUB_PORTAL_BASE_URL": f"http://127.0.0.1:{self.portal_port}",
            "HUB_PORTAL_BACKOFF_BASE": "0.2",
            "HUB_PORTAL_BACKOFF_MAX": "1.0",
            "HUB_PORTAL_BREAKER_RESET": "1.0",
            "HUB_PORTAL_TIMEOUT": "3",
            "HUB_WEBHOOK_TIMEOUT": "3",
            "HUB_VNPOST_TIMEOUT": "3",  # every connector's call must fit the short lease (the worker checks)
            "HUB_PORTAL_MAX_ATTEMPTS": "1000",
            "HUB_LEASE_SECONDS": "6",  # short, so a lost worker is taken over soon; renewed meanwhile
            "HUB_LEASE_MARGIN": "0.5",
            "HUB_LEASE_GRACE": "1",
            "HUB_LOG_LEVEL": "WARNING",
            **{f"HUB_{p.upper()}_BASE_URL": f"{self.gateway}/{p}" for p in ("napas", "paygov")},
            **{f"HUB_{p.upper()}_CALLBACK_URL": f"{self.api}/v1/callbacks/payment/{p}" for p in ("napas", "paygov")},
            **env,
        }
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def portal(self) -> str:
        return f"http://127.0.0.1:{self.portal_port}"

    @property
    def gateway(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    def spawn(self, name: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = (self.workdir / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "hub.cli", *args],
            env={**self.env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
        )
        self.procs[name] = proc
        return proc

    def start(
        self, workers: int = 2, mock_args: tuple[str, ...] = (), gateway: bool = False, timeout: float = 120.0
    ) -> Stack:
        """Start every process (``gateway``: the mock payment gateway too); if any fails to come
        up within ``timeout`` seconds, stop those already started."""
        try:
            self.spawn("mock", "mock", "national-portal", "--port", str(self.portal_port), *mock_args)
            if gateway:
                self.spawn("gateway", "mock", "payment-gateway", "--port", str(self.gateway_port))
                wait_http(self.gateway + "/_mock/stats")
            self.spawn("api", "api", "--port", str(self.api_port))
            wait_http(self.api + "/readyz", timeout)  # the api ran the migrations (slow on a loaded machine)
            wait_http(self.portal + "/_mock/stats", timeout)
            self.spawn("relay", "relay")
            for n in range(workers):
                self.spawn(f"worker-{n}", "worker")
        except BaseException:
            print(self.logs())
            self.stop()
            raise
        return self

    def wait_ready(self, consumers: int, timeout: float = 30.0) -> None:
        """Wait until ``consumers`` workers consume the connector queue and every process has
        finished starting (its CPU use has settled), so a measurement counts no start-up."""
        params = pika.URLParameters(self.env["HUB_BROKER_URL"])
        queue = f"{self.env['HUB_BROKER_PREFIX']}.national_portal"
        deadline = time.monotonic() + timeout
        while True:
            try:
                conn = pika.BlockingConnection(params)
                try:
                    seen = conn.channel().queue_declare(queue, passive=True).method.consumer_count
                finally:
                    conn.close()
            except pika.exceptions.AMQPError:
                seen = -1  # not declared yet
            if seen >= consumers:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{seen} of {consumers} consumers on {queue} after {timeout}s")
            time.sleep(0.1)
        procs = [psutil.Process(p.pid) for p in self.procs.values()]
        while time.monotonic() < deadline:
            before = [p.cpu_times() for p in procs]
            time.sleep(0.3)
            used = [sum(a[:2]) - sum(b[:2]) for a, b in zip((p.cpu_times() for p in procs), before, strict=True)]
            if max(used) < 0.03:  # under 10 % of a core: idle loops only
                return

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.pop(name)
        proc.send_signal(sig)
        proc.wait(10)

    def portal_state(self) -> dict[str, Any]:
        stats = httpx.get(self.portal + "/_mock/stats", timeout=5).json()
        dossiers = httpx.get(self.portal + "/_mock/dossiers", timeout=10).json()
        return {"stats": stats, "dossiers": {d["MaHoSo"]: d for d in dossiers}}

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.procs.clear()
        try:
            queues = [n for n in connectors.REGISTRY if connectors.load(n).KIND == "delivery"]
            delete_topology(self.env["HUB_BROKER_URL"], self.env["HUB_BROKER_PREFIX"], queues)
        except Exception as exc:  # cleanup only: the broker may be unreachable in a failing test
            print(f"could not delete test topology: {exc!r}")

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in self.workdir.glob("*.log"))
