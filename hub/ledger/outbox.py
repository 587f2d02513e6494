"""The ledger's outbox: the rows that say "publish this message", written in the transaction of
the state they announce, and what the relay and the publisher do with them.

Whoever wrote a row may publish it at once (the api does, for what it accepts: the row is then
*deferred*, left alone by the relay for a while) and delete it once the broker confirmed; the
relay publishes every row still there once it is available."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Text, cast, delete, insert, select, text, update

from hub.db.schema import messages, outbox
from hub.envelope import to_outgoing
from hub.ledger.base import Basis
from hub.ledger.model import OUTBOX_CHANNEL
from hub.ports import OutgoingMessage

# What the relay reads of a message to build its broker envelope (hub.envelope.to_outgoing).
ENVELOPE_COLUMNS: tuple[str, ...] = ("id", "type", "source", "key", "occurred_at", "correlation_id", "causation_id")
ENVELOPE_COLUMNS += ("natural_key", "schema_version", "connector")


class Outbox:
    def __init__(self, basis: Basis) -> None:
        self.b = basis

    # ------------------------------------------------ writing rows (the other roles)
    def rows(self, message_ids: Sequence[str], now: datetime, defer: float = 0.0) -> list[dict[str, Any]]:
        """Outbox rows for these messages, available ``defer`` seconds from ``now``."""
        available = now + timedelta(seconds=defer)
        return [{"message_id": m, "created_at": now, "available_at": available} for m in message_ids]

    def enqueue(self, c: Connection, message_ids: Sequence[str]) -> None:
        """Outbox rows for these messages, for the relay to publish now."""
        if message_ids:
            c.execute(insert(outbox), self.rows(message_ids, self.b.now()))
            self.wake_relay(c)

    def wake_relay(self, c: Connection) -> None:
        """Outbox rows are ready now: wake the relay (PostgreSQL: NOTIFY, delivered at commit
        to relays in any process; in-process: an event)."""
        if self.b.pg:
            c.execute(text(f"NOTIFY {OUTBOX_CHANNEL}"))
        self.b.outbox_event.set()

    # ------------------------------------------------ the publisher (rows it wrote itself)
    def hand_to_relay(self, outbox_ids: Sequence[int]) -> None:
        """Deferred outbox rows their writer could not publish: available to the relay now."""
        if outbox_ids:
            with self.b.engine.begin() as c:
                c.execute(update(outbox).where(outbox.c.id.in_(outbox_ids)).values(available_at=self.b.now()))
                self.wake_relay(c)

    def published(self, outbox_ids: Sequence[int]) -> None:
        """The broker confirmed these outbox rows' messages: the rows are done."""
        if outbox_ids:
            with self.b.engine.begin() as c:
                c.execute(delete(outbox).where(outbox.c.id.in_(outbox_ids)))

    # ------------------------------------------------ the relay
    def drain(self, publish: Callable[[list[OutgoingMessage]], list[bool]], limit: int = 500) -> int:
        """Publish up to ``limit`` available outbox rows; delete those the transport confirmed.
        A publish that raises leaves every row in place (they are published again)."""
        with self.b.engine.begin() as c:
            q = (
                select(
                    outbox.c.id.label("outbox_id"),
                    *(messages.c[name] for name in ENVELOPE_COLUMNS),
                    cast(messages.c.payload, Text).label("payload_json"),
                )
                .join(messages, messages.c.id == outbox.c.message_id)
                .where(outbox.c.available_at <= self.b.now())
                .order_by(outbox.c.id)
                .limit(limit)
            )
            if self.b.pg:
                q = q.with_for_update(of=outbox, skip_locked=True)
            rows = [dict(r._mapping) for r in c.execute(q)]
            if not rows:
                return 0
            confirmed = publish([to_outgoing(r) for r in rows])
            done = [r["outbox_id"] for r, ok in zip(rows, confirmed, strict=True) if ok]
            if done:
                c.execute(delete(outbox).where(outbox.c.id.in_(done)))
            return len(done)
