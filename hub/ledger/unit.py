"""The one way to share a transaction with the ledger: a unit of work.

    with ledger.unit_of_work() as uow:
        uow.connection.execute(...)          # the domain's own rows
        accepted = uow.add("hub", items)     # the messages that announce them, with their outbox rows
    publisher.submit(uow.to_publish)         # only after the commit (when the caller publishes itself)

The domain's rows, the messages and their outbox rows commit together or not at all: an
exception inside the block rolls everything back. Inside the block the domain may also read
what it needs of the ledger (``latest_payload``) and keep an idempotent answer with the
messages (``prior_answer``, ``save_answer``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from hub.ledger.intake import Intake
from hub.ledger.model import Accepted, IdempotencyKey, NewMessage, StoredAnswer
from hub.ledger.reads import latest_payload
from hub.ports import OutgoingMessage


class UnitOfWork:
    def __init__(self, connection: Connection, intake: Intake) -> None:
        self.connection = connection  # the transaction's connection, for the domain's own statements
        # (outbox id, message) of every message created, for a caller that publishes them itself
        self.to_publish: list[tuple[int, OutgoingMessage]] = []
        self._intake = intake

    def add(self, source: str, items: Sequence[NewMessage], defer: float = 0.0) -> list[Accepted]:
        """Record messages and their outbox rows in this transaction. A message already
        recorded (same type and natural key) is not stored again (``created=False``).
        ``defer``: the caller publishes ``to_publish`` itself after the commit; the relay leaves
        those outbox rows alone for that many seconds."""
        accepted, to_publish = self._intake.add(self.connection, source, items, defer)
        self.to_publish.extend(to_publish)
        return accepted

    def prior_answer(self, idem: IdempotencyKey) -> StoredAnswer | None:
        """The answer kept under this client's idempotency key, if there is one."""
        return self._intake.prior_answer(self.connection, idem)

    def save_answer(self, idem: IdempotencyKey, status: int, body: dict[str, Any]) -> None:
        """Keep the answer under the idempotency key, committed with the messages it reports."""
        self._intake.save_answer(self.connection, idem, status, body)

    def latest_payload(self, key: str, message_type: str) -> dict[str, Any] | None:
        """See ``hub.ledger.reads.latest_payload``."""
        return latest_payload(self.connection, key, message_type)
