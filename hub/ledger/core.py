"""The message ledger: every state change of a message, each in one database transaction.

States: ``queued`` (accepted, on its way to a worker) -> ``delivering`` (a worker holds a
lease on it) -> ``delivered`` | ``retrying`` (next attempt scheduled in the database) |
``dead`` (permanently rejected or retry budget spent; replayable). ``held``: waits for an
earlier message of the same ordering key (connector, dossier) to reach delivered or dead.

Every transition that needs a worker to act writes an outbox row in the same transaction.
Whoever wrote the row may publish it at once (the api does, for what it accepts) and then
delete it; the relay publishes every row that is still there once it is available. Decisions
about one ordering key are serialised: SQLite has one writer at a time; PostgreSQL takes a
transaction-scoped advisory lock per key (``PgLedger``).

``Ledger`` is the one object its callers use; it is composed of its roles, one module each:
``intake`` (new messages), ``outbox`` (the relay's and the publisher's rows), ``delivery``
(claim, renew, record), ``schedule`` (retries due, lost leases, restart, replay). A domain
that writes its own rows with the messages that announce them shares one transaction with
the ledger through ``unit_of_work()`` (``unit.py``). This is the
portable implementation (SQLAlchemy Core), used on SQLite; ``PgLedger`` (``postgres.py``)
replaces the hot paths of the same roles on PostgreSQL. Both take their decisions from
``hub.ledger.model``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import ClassVar

from sqlalchemy import Engine

from hub.ledger.base import Basis
from hub.ledger.delivery import Delivery
from hub.ledger.intake import Added, Intake
from hub.ledger.model import Claim, Held, NewMessage
from hub.ledger.outbox import Outbox
from hub.ledger.schedule import Schedule
from hub.ledger.unit import UnitOfWork
from hub.ports import DeliveryPolicy, Outcome, OutgoingMessage


class Ledger:
    """See the module docstring; ``clock``: see ``hub.ledger.base.Basis``."""

    intake_role: ClassVar[type[Intake]] = Intake
    outbox_role: ClassVar[type[Outbox]] = Outbox
    delivery_role: ClassVar[type[Delivery]] = Delivery
    schedule_role: ClassVar[type[Schedule]] = Schedule

    def __init__(
        self,
        engine: Engine,
        lease_seconds: float = 30.0,
        clock: Callable[[], datetime] | None = None,
        grace_seconds: float = 2.0,
    ):
        self.basis = b = Basis(engine, lease_seconds, clock, grace_seconds)
        self.engine, self.lease_seconds, self.pg, self.outbox_event = engine, lease_seconds, b.pg, b.outbox_event
        self.outbox = self.outbox_role(b)
        self.intake = self.intake_role(b, self.outbox)
        self.delivery = self.delivery_role(b, self.outbox)
        self.schedule = self.schedule_role(b, self.outbox)

    @property
    def now(self) -> Callable[[], datetime]:
        """The clock of every decision (replaceable: tests hand in a simulated one)."""
        return self.basis.now

    @now.setter
    def now(self, clock: Callable[[], datetime]) -> None:
        self.basis.now = clock

    def close(self) -> None:
        """Release what the ledger holds of its own (the engine is the caller's)."""

    # ------------------------------------------------------------ intake (the api, the domains)
    def accept(self, source: str, items: Sequence[NewMessage], defer: float = 0.0) -> Added:
        """New messages in a transaction of their own; see ``Intake.accept``."""
        return self.intake.accept(source, items, defer)

    @contextmanager
    def unit_of_work(self) -> Iterator[UnitOfWork]:
        """One transaction for a domain's rows and the ledger's messages: see ``hub.ledger.unit``."""
        with self.engine.begin() as c:
            yield UnitOfWork(c, self.intake)

    # ------------------------------------------------------------ outbox (the publisher, the relay)
    def hand_to_relay(self, outbox_ids: Sequence[int]) -> None:
        """See ``Outbox.hand_to_relay``."""
        self.outbox.hand_to_relay(outbox_ids)

    def published(self, outbox_ids: Sequence[int]) -> None:
        """See ``Outbox.published``."""
        self.outbox.published(outbox_ids)

    def drain_outbox(self, publish: Callable[[list[OutgoingMessage]], list[bool]], limit: int = 500) -> int:
        """See ``Outbox.drain``."""
        return self.outbox.drain(publish, limit)

    # ------------------------------------------------------------ schedule (the relay, the operator)
    def promote_due(self, limit: int = 500) -> int:
        """See ``Schedule.promote_due``."""
        return self.schedule.promote_due(limit)

    def requeue_unfinished(self) -> int:
        """See ``Schedule.requeue_unfinished``."""
        return self.schedule.requeue_unfinished()

    def replay(self, message_id: str, actor: str = "operator:unknown") -> str:
        """See ``Schedule.replay``."""
        return self.schedule.replay(message_id, actor)

    # ------------------------------------------------------------ delivery (the workers)
    def claim(self, deliveries: Sequence[str], connector: str, worker: str) -> tuple[list[Claim], set[str]]:
        """See ``Delivery.claim``."""
        return self.delivery.claim(deliveries, connector, worker)

    def renew(self, held: Sequence[Held]) -> set[str]:
        """See ``Delivery.renew``."""
        return self.delivery.renew(held)

    def record(
        self, claims: Sequence[Claim], outcomes: Sequence[Outcome], policy: DeliveryPolicy, connector: str
    ) -> dict[str, str]:
        """See ``Delivery.record``."""
        return self.delivery.record(claims, outcomes, policy, connector)
