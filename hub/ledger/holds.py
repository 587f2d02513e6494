"""Holding a partner: an operator pauses every delivery to one connector, and resumes it.

While a connector is held its workers claim nothing: a batch the broker hands them is acked and
left in the ledger as it is (``queued``), so no attempt is counted and no partner is called; a
retry that falls due is queued by the relay and waits the same way. Nothing is lost: the ledger
keeps every message, and ``resume`` queues each waiting message of the connector again (an
outbox row each, in ``(occurred_at, id)`` order), so the relay publishes them in the order they
happened; the claim's per-key rules keep each dossier's order as always. The time a message
waited under the hold does not count against its retry budget's age either: ``resume`` moves its
``budget_since`` forward by the time it was held.

The worker asks ``is_held`` once per batch (one primary-key read), never from a cache: a worker
that believed a resumed partner still held would ack the very copies the resume queued.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from hub.db.bulk import bulk_update
from hub.db.schema import messages, partner_circuits, partner_holds
from hub.ledger.core import Ledger

WAITING = ("queued", "retrying", "held")  # states whose budget clock stops while the partner is held


@dataclass(frozen=True)
class Hold:
    connector: str
    held_at: datetime
    held_by: str
    reason: str


@dataclass(frozen=True)
class Resumed:
    connector: str
    held_at: datetime
    queued: int  # messages queued again, in order
    held_seconds: float


class NotHeld(LookupError):
    pass


class PartnerHolds:
    def __init__(self, ledger: Ledger):
        self.ledger = ledger
        self.engine = ledger.engine

    def is_held(self, connector: str) -> bool:
        with self.engine.connect() as c:
            return (
                c.execute(select(partner_holds.c.connector).where(partner_holds.c.connector == connector)).first()
                is not None
            )

    def holds(self) -> dict[str, Hold]:
        with self.engine.connect() as c:
            return {
                r.connector: Hold(r.connector, r.held_at, r.held_by, r.reason) for r in c.execute(select(partner_holds))
            }

    def hold(self, connector: str, by: str, reason: str) -> tuple[Hold, bool]:
        """Hold ``connector``; returns the hold and whether this call made it (False: it was held already)."""
        now = self.ledger.now()
        with self.engine.begin() as c:
            row = self._row(c, connector)
            if row is not None:
                return Hold(row.connector, row.held_at, row.held_by, row.reason), False
            c.execute(insert(partner_holds).values(connector=connector, held_at=now, held_by=by, reason=reason))
        return Hold(connector, now, by, reason), True

    def resume(self, connector: str) -> Resumed:
        """End the hold: every waiting message's budget clock moves on by the time held, and every
        queued message of the connector is queued again, oldest change first."""
        now = self.ledger.now()
        with self.engine.begin() as c:
            row = self._row(c, connector, lock=True)
            if row is None:
                raise NotHeld(connector)
            held_at: datetime = row.held_at
            c.execute(delete(partner_holds).where(partner_holds.c.connector == connector))
            waiting = c.execute(
                select(messages.c.id, messages.c.type, messages.c.state, messages.c.budget_since)
                .where(messages.c.connector == connector, messages.c.state.in_(WAITING))
                .order_by(messages.c.occurred_at, messages.c.id)
            ).all()
            shifted = [
                {"id": r.id, "budget_since": r.budget_since + (now - max(r.budget_since, held_at))}
                for r in waiting
                if r.budget_since < now
            ]
            bulk_update(c, messages, shifted, keys=("id",))
            queued = [r.id for r in waiting if r.state == "queued"]
            self.ledger.outbox.enqueue(c, queued)
        return Resumed(connector, held_at, len(queued), (now - held_at).total_seconds())

    def _row(self, c: Connection, connector: str, lock: bool = False) -> Any:
        q = select(partner_holds).where(partner_holds.c.connector == connector)
        if lock and self.ledger.pg:
            q = q.with_for_update()
        return c.execute(q).first()


# ------------------------------------------------------------------ circuit states
def record_circuit(ledger: Ledger, connector: str, state: str, worker: str) -> None:
    """A worker's breaker changed state: the Partners page shows the last change."""
    from sqlalchemy.dialects import postgresql, sqlite

    values = {"connector": connector, "state": state, "changed_at": ledger.now(), "worker": worker[:100]}
    stmt = (postgresql.insert if ledger.pg else sqlite.insert)(partner_circuits).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["connector"], set_={k: stmt.excluded[k] for k in ("state", "changed_at", "worker")}
    )
    with ledger.engine.begin() as c:
        c.execute(stmt)


def circuits(ledger: Ledger) -> dict[str, dict[str, Any]]:
    with ledger.engine.connect() as c:
        return {r.connector: dict(r._mapping) for r in c.execute(select(partner_circuits))}
