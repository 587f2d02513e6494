"""Which connector delivers which message type: the routing table the composition root fills.

Messages are routed to the connector the ledger assigned them (routing key
``<connector>.<message type>``), so several connectors may take the same message type and a
queue only ever holds its own connector's messages: each connector's queue binds ``<connector>.#``.
The table is built by ``hub/bootstrap.py`` from the connectors it wires in, with the message types
each connector declares itself (``MESSAGE_TYPES``); nothing in the hub lists them by hand.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from hub.ports import Connector


def routing_key(connector: str, message_type: str) -> str:
    """The broker routing key of a message for a connector: ``national_portal.dossier.status.changed``."""
    return f"{connector}.{message_type}"


@dataclass(frozen=True)
class DeliveryConnector:
    """A connector the workers deliver through: its name (also its queue's), the message types it
    takes, and how to build one (each worker thread gets its own)."""

    name: str
    message_types: tuple[str, ...]
    build: Callable[[], Connector]


class Routing:
    def __init__(self, connectors: Iterable[DeliveryConnector]) -> None:
        self._connectors = {c.name: c for c in connectors}

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._connectors)

    def build(self, name: str) -> Connector:
        """A new connector of that name (``KeyError`` for one not wired in)."""
        return self._connectors[name].build()

    def message_types(self, name: str) -> tuple[str, ...]:
        return self._connectors[name].message_types

    def connector_for(self, message_type: str) -> str:
        """The connector that delivers a message type (the first one wired in for it)."""
        for c in self._connectors.values():
            if message_type in c.message_types:
                return c.name
        raise KeyError(f"no connector delivers {message_type!r}")

    def bindings(self, names: Sequence[str] | None = None) -> dict[str, tuple[str, ...]]:
        """Queue name -> routing key patterns, for ``Transport.setup()``: each connector's queue
        takes what is routed to it."""
        return {n: (routing_key(n, "#"),) for n in self._connectors if names is None or n in names}
