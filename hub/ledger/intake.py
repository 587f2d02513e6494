"""The ledger's intake: new messages and their outbox rows, each in one transaction with what
they announce. A change already recorded (same type and natural key) is not stored again."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError

from hub.db.schema import idempotency_keys, messages, outbox
from hub.envelope import new_id, to_outgoing
from hub.evidence import facts as evidence
from hub.ledger.base import Basis
from hub.ledger.model import Accepted, IdempotencyKey, NewMessage, StoredAnswer
from hub.ledger.outbox import Outbox
from hub.ports import OutgoingMessage

# the messages' ids (in the order of the items) and the outbox rows written, with their messages
Added = tuple[list[Accepted], list[tuple[int, OutgoingMessage]]]


class Intake:
    def __init__(self, basis: Basis, outbox: Outbox) -> None:
        self.b, self.outbox = basis, outbox

    def accept(self, source: str, items: Sequence[NewMessage], defer: float = 0.0) -> Added:
        """Record messages and their outbox rows in a transaction of their own (what is shared
        with a domain's rows goes through ``Ledger.unit_of_work``). ``defer``: the caller
        publishes what it gets back (``to_publish``) itself; the relay leaves those outbox rows
        alone for that many seconds."""
        for attempt in range(3):
            try:
                with self.b.engine.begin() as c:
                    return self.add(c, source, items, defer)
            except IntegrityError:  # a concurrent request stored the same change first
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def prior_answer(self, c: Connection, idem: IdempotencyKey) -> StoredAnswer | None:
        """The answer stored under this client's idempotency key, if any."""
        prior = c.execute(
            select(idempotency_keys).where(
                idempotency_keys.c.client_id == idem.client_id, idempotency_keys.c.key == idem.key
            )
        ).first()
        return None if prior is None else StoredAnswer(prior.status_code, prior.response, True, prior.request_hash)

    def save_answer(self, c: Connection, idem: IdempotencyKey, status: int, body: dict[str, Any]) -> None:
        c.execute(
            insert(idempotency_keys).values(
                client_id=idem.client_id,
                key=idem.key,
                request_hash=idem.request_hash,
                status_code=status,
                response=body,
                created_at=self.b.now(),
            )
        )

    def add(self, c: Connection, source: str, items: Sequence[NewMessage], defer: float = 0.0) -> Added:
        """Record messages and their outbox rows inside the caller's transaction (so they
        commit or roll back with the state they announce). A message already recorded (same
        type and natural key) is not stored again: its id comes back with ``created=False``."""
        existing: dict[tuple[str, str], str] = {}
        by_type: dict[str, set[str]] = {}
        for it in items:
            by_type.setdefault(it.type, set()).add(it.natural_key)
        for mtype, nks in by_type.items():
            q = select(messages.c.id, messages.c.natural_key).where(
                messages.c.type == mtype, messages.c.natural_key.in_(nks)
            )
            existing.update({(mtype, r.natural_key): r.id for r in c.execute(q)})
        now = self.b.now()
        results: list[Accepted] = []
        new_rows: list[dict[str, Any]] = []
        for it in items:
            nk = (it.type, it.natural_key)
            if nk in existing:
                results.append(Accepted(existing[nk], False))
                continue
            existing[nk] = mid = new_id()
            results.append(Accepted(mid, True))
            new_rows.append(message_row(mid, source, it, now))
        if not new_rows:
            return results, []
        c.execute(insert(messages), new_rows)
        evidence.of(c).on_accept(c, source, new_rows)
        returned = c.execute(
            insert(outbox).returning(outbox.c.id, outbox.c.message_id, sort_by_parameter_order=True),
            self.outbox.rows([r["id"] for r in new_rows], now, defer),
        ).all()
        if defer <= 0:
            self.outbox.wake_relay(c)
        by_id = {r["id"]: r for r in new_rows}
        return results, [(o.id, to_outgoing(by_id[o.message_id])) for o in returned]


def message_row(mid: str, source: str, it: NewMessage, now: datetime) -> dict[str, Any]:
    return {
        "id": mid,
        "type": it.type,
        "source": source,
        "key": it.key,
        "occurred_at": it.occurred_at,
        "natural_key": it.natural_key,
        "connector": it.connector,
        "schema_version": it.schema_version,
        "correlation_id": it.correlation_id,
        "causation_id": it.causation_id,
        "payload": it.payload,
        "state": "queued",
        "attempts": 0,
        "budget_attempts": 0,
        "budget_since": now,
        "accepted_at": now,
        "updated_at": now,
    }
