"""Runs the relay and workers as threads of this process: the embedded default (in-process
transport), `lgsp dev`, and tests. In production each role is its own process."""

from __future__ import annotations

import threading
from typing import Any

import connectors
from hub.bootstrap import Hub
from hub.ports import Connector
from hub.relay import Relay
from hub.worker import Worker


class Pipeline:
    def __init__(
        self,
        hub: Hub,
        *,
        relay: bool = True,
        workers: int = 1,
        connector_names: list[str] | None = None,
        connector_factory: Any = None,
    ):
        self.hub = hub
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []
        self.run_relay = relay
        self.workers = workers
        self.names = connector_names or list(connectors.REGISTRY)
        self.factory = connector_factory or connectors.build
        self.connectors: list[Connector] = []

    def start(self) -> None:
        s = self.hub.settings
        self.hub.transport.setup(connectors.bindings(self.names))
        if self.run_relay:
            relay = Relay(self.hub.ledger, self.hub.transport, batch=s.relay_batch, idle_sleep=s.relay_idle_sleep)
            self._spawn("relay", relay.run)
        for name in self.names:
            for n in range(self.workers):
                connector = self.factory(name)
                self.connectors.append(connector)
                worker = Worker(self.hub.ledger, self.hub.transport, connector)
                self._spawn(f"worker-{name}-{n}", worker.run)

    def _spawn(self, name: str, target: Any) -> None:
        t = threading.Thread(target=target, args=(self.stop_event,), name=name, daemon=True)
        t.start()
        self.threads.append(t)

    def stop(self, timeout: float = 10.0) -> None:
        self.stop_event.set()
        for t in self.threads:
            t.join(timeout)
        for c in self.connectors:
            c.close()
