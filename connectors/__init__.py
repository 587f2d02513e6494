"""Connector registry: one line per partner. Adding a partner = one package + one line here.

Messages are routed to the connector the ledger assigned them to (routing key
``<connector>.<message type>``), so several connectors may take the same message type and a
queue only ever holds its own connector's messages."""

from __future__ import annotations

import importlib
from typing import Any

from hub.ports import Connector

# connector name -> (module with build_connector(**deps), message types it delivers)
REGISTRY: dict[str, tuple[str, tuple[str, ...]]] = {
    "national_portal": ("connectors.national_portal", ("dossier.status.changed", "dossier.fee.paid")),
    "webhooks": ("connectors.webhooks", ("payment.status.changed",)),
}


def connector_for(message_type: str) -> str:
    """The connector that delivers a message type (the first one registered for it)."""
    for name, (_, types) in REGISTRY.items():
        if message_type in types:
            return name
    raise KeyError(f"no connector delivers {message_type!r}")


def build(name: str, **deps: Any) -> Connector:
    """Build a connector; ``deps`` (e.g. ``engine``) are handed to those that need them."""
    module = importlib.import_module(REGISTRY[name][0])
    if name == "webhooks":  # until the composition root hands each connector its own dependencies
        from hub.subscriptions import Directory

        connector: Connector = module.build_connector(Directory(deps["engine"]))
        return connector
    connector = module.build_connector(**deps)
    return connector


def routing_key(connector: str, message_type: str) -> str:
    return f"{connector}.{message_type}"


def bindings(names: list[str] | None = None) -> dict[str, tuple[str, ...]]:
    """Queue name -> routing key patterns, for Transport.setup(): each connector's queue takes
    what is routed to it."""
    return {n: (f"{n}.#",) for n in REGISTRY if names is None or n in names}
