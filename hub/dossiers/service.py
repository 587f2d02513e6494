"""The dossier ingress's service: what a status change needs to be recorded (the ledger, the
connector that delivers it, the batch limit, how long the api keeps its outbox rows)."""

from __future__ import annotations

from dataclasses import dataclass

from hub.ledger import Ledger


@dataclass(frozen=True)
class Dossiers:
    ledger: Ledger
    connector: str  # delivers dossier.status.changed (the routing table's, from the connector itself)
    max_batch_items: int
    outbox_defer: float  # seconds the relay leaves the rows of what the api publishes itself
