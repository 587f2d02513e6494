"""The dossier ingress's service: what a status change needs to be recorded (the ledger, the
connector that delivers it, the batch limit, how long the api keeps its outbox rows), and the
recording itself."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError

from hub.canonical import DossierDefaults
from hub.ledger import Accepted, IdempotencyKey, Ledger, NewMessage, StoredAnswer

# The answer to a request, from what the ledger made of its changes: (HTTP status, body).
Answer = Callable[[list[Accepted]], tuple[int, dict[str, Any]]]


@dataclass(frozen=True)
class Dossiers:
    ledger: Ledger
    connector: str  # delivers dossier.status.changed (the routing table's, from the connector itself)
    max_batch_items: int
    outbox_defer: float  # seconds the relay leaves the rows of what the api publishes itself
    defaults: Mapping[str, DossierDefaults] = field(default_factory=dict)  # by client code (HUB_DOSSIER_DEFAULTS)
    # refuse at intake a dossier whose agency has no portal unit in the directory (HUB_PORTAL_UNIT_FALLBACK=false)
    portal_unit_required: bool = False

    def defaults_for(self, client_code: str) -> DossierDefaults | None:
        found = self.defaults.get(client_code)
        return found if found is not None and not found.empty else None

    def accept(
        self,
        source: str,
        items: Sequence[NewMessage],
        answer: Answer,
        idem: IdempotencyKey | None = None,
        defer: float = 0.0,
    ) -> StoredAnswer:
        """Record the changes; with an Idempotency-Key, the answer is kept with them in one unit
        of work (a retried request gets the first answer back, ``replayed``)."""
        if idem is None:  # the ledger's own transaction (on PostgreSQL: one statement)
            accepted, to_publish = self.ledger.accept(source, items, defer)
            status, body = answer(accepted)
            return StoredAnswer(status, body, False, "", to_publish)
        for attempt in range(3):
            try:
                with self.ledger.unit_of_work() as uow:
                    if (prior := uow.prior_answer(idem)) is not None:
                        return prior
                    status, body = answer(uow.add(source, items, defer))
                    uow.save_answer(idem, status, body)
                return StoredAnswer(status, body, False, idem.request_hash, uow.to_publish)
            except IntegrityError:  # a concurrent request stored the same change or key first
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")
