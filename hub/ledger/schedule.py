"""The ledger's schedule: messages queued again (a fresh outbox row) when their time comes —
a retry that is due, a lease that ran out (its worker seems lost), a process restarted with an
in-process transport, an operator's replay of a dead message."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Interval, delete, func, literal, select, update

from hub.db.schema import messages, outbox
from hub.evidence import facts as evidence
from hub.ledger.base import Basis
from hub.ledger.delivery import abandon
from hub.ledger.model import ABANDONED, NotFound, NotReplayable
from hub.ledger.outbox import Outbox


class Schedule:
    def __init__(self, basis: Basis, outbox: Outbox) -> None:
        self.b, self.outbox = basis, outbox

    def promote_due(self, limit: int = 500) -> int:
        """Durable retries and lost workers: messages whose retry is due, or whose worker's
        lease ran out, are queued again (outbox row)."""
        now = self.b.now()
        with self.b.engine.begin() as c:
            retry_due = (messages.c.state == "retrying") & (messages.c.next_attempt_at <= now)
            lease_gone = (messages.c.state == "delivering") & (messages.c.lease_until < self._lease_cutoff())
            q = select(messages.c.id, messages.c.state).where(retry_due | lease_gone).limit(limit)
            if self.b.pg:
                q = q.with_for_update(skip_locked=True)
            rows = c.execute(q).all()
            if not rows:
                return 0
            self._requeue(c, [(r.id, r.state) for r in rows], ABANDONED)
            return len(rows)

    def _lease_cutoff(self) -> Any:
        """A lease that ended before this may be taken over (its end plus the grace is past)."""
        if self.b.db_clock:
            return func.now() - literal(self.b.grace, Interval())
        return self.b.now() - self.b.grace

    def _requeue(self, c: Connection, rows: Sequence[tuple[str, str]], why: str) -> None:
        """Queue these (message id, state) again; an attempt in flight is closed as abandoned."""
        abandon(c, [mid for mid, state in rows if state == "delivering"], why, self.b.now())
        c.execute(
            update(messages)
            .where(messages.c.id.in_([r[0] for r in rows]))
            .values(state="queued", lease_until=None, next_attempt_at=None, claimed_by=None, updated_at=self.b.now())
        )
        self.outbox.enqueue(c, [r[0] for r in rows])

    def requeue_unfinished(self) -> int:
        """For a transport that keeps nothing across restarts (in-process): queue again every
        message that was queued or being delivered when the process stopped."""
        with self.b.engine.begin() as c:
            rows = c.execute(
                select(messages.c.id, messages.c.state).where(messages.c.state.in_(("queued", "delivering")))
            ).all()
            c.execute(delete(outbox))
            self._requeue(c, [(r.id, r.state) for r in rows], "process restarted")
            return len(rows)

    def replay(self, message_id: str, actor: str = "operator:unknown") -> str:
        """Queue a dead message again with a fresh retry budget (``actor`` goes to the evidence log)."""
        now = self.b.now()
        with self.b.engine.begin() as c:
            self.lock_message_key(c, message_id)
            row = c.execute(select(messages).where(messages.c.id == message_id)).first()
            if row is None:
                raise NotFound(message_id)
            if row.state != "dead":
                raise NotReplayable(f"message {message_id} is {row.state}; only dead messages can be replayed")
            if "_redacted" in row.payload:  # hub/evidence/retention.py removed its personal data
                raise NotReplayable(f"message {message_id}'s payload was redacted under the retention policy")
            c.execute(
                update(messages)
                .where(messages.c.id == message_id)
                .values(state="queued", budget_attempts=row.attempts, budget_since=now, updated_at=now)
            )
            self.outbox.enqueue(c, [row.id])
            evidence.of(c).stage(c, [evidence.of(c).operator(actor, "message.replay", f"message:{row.id}", "queued")])
        return "queued"

    def lock_message_key(self, c: Connection, message_id: str) -> None:
        """Serialise with the workers' decisions about this message's key (SQLite: nothing to
        do, every transaction there is the only writer)."""
