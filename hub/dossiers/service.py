"""The dossier ingress's service: what a status change needs to be recorded (the ledger, the
connector that delivers it, the batch limit, how long the api keeps its outbox rows)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from hub.canonical import DossierDefaults
from hub.ledger import Ledger


@dataclass(frozen=True)
class Dossiers:
    ledger: Ledger
    connector: str  # delivers dossier.status.changed (the routing table's, from the connector itself)
    max_batch_items: int
    outbox_defer: float  # seconds the relay leaves the rows of what the api publishes itself
    defaults: Mapping[str, DossierDefaults] = field(default_factory=dict)  # by client code (HUB_DOSSIER_DEFAULTS)

    def defaults_for(self, client_code: str) -> DossierDefaults | None:
        found = self.defaults.get(client_code)
        return found if found is not None and not found.empty else None
