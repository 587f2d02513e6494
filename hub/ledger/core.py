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

This class is the portable implementation (SQLAlchemy Core), used on SQLite; ``PgLedger``
replaces its hot paths on PostgreSQL. Both take their decisions from ``hub.ledger.model``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Interval, Text, cast, delete, func, insert, literal, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from hub.db.bulk import bulk_update
from hub.db.schema import attempts, idempotency_keys, messages, outbox
from hub.envelope import new_id, to_outgoing, utcnow
from hub.evidence import facts as evidence
from hub.ledger.model import (
    ABANDONED,
    APPLIED,
    OUTBOX_CHANNEL,
    RECORDED_FACT,
    TERMINAL,
    Accepted,
    Claim,
    Held,
    IdempotencyKey,
    NewMessage,
    NotFound,
    NotReplayable,
    StoredAnswer,
    Verdict,
    attempt_row,
    first_unfinished,
    judge,
    may_renew,
    plan_claims,
    standing,
)
from hub.ports import DeliveryItem, DeliveryPolicy, Outcome, OutgoingMessage

Respond = Callable[[list[Accepted]], tuple[int, dict[str, Any]]]

# What the relay reads of a message to build its broker envelope (hub.envelope.to_outgoing).
ENVELOPE_COLUMNS: tuple[str, ...] = ("id", "type", "source", "key", "occurred_at", "correlation_id", "causation_id")
ENVELOPE_COLUMNS += ("natural_key", "schema_version", "connector")


class Ledger:
    """``clock``: the time of every decision. None (production): this process's UTC clock,
    except that on PostgreSQL the leases (their ends, renewals and takeovers) follow the
    database's clock, so every worker and relay judges a lease by the same clock. Tests and
    the rules' model hand in a simulated clock, which then decides everything."""

    def __init__(
        self,
        engine: Engine,
        lease_seconds: float = 30.0,
        clock: Callable[[], datetime] | None = None,
        grace_seconds: float = 2.0,
    ):
        self.engine = engine
        self.lease_seconds = lease_seconds
        self.lease = timedelta(seconds=lease_seconds)
        self.grace = timedelta(seconds=grace_seconds)
        self.now = clock or utcnow
        self.pg = engine.dialect.name == "postgresql"
        self.db_clock = clock is None and self.pg  # leases on the database's clock
        self.outbox_event = threading.Event()  # wakes a relay in this process (embedded mode)

    def close(self) -> None:
        """Release what the ledger holds of its own (the engine is the caller's)."""

    # ------------------------------------------------------------ helpers
    def _outbox_rows(self, rows: Sequence[tuple[str, str]], now: datetime, defer: float = 0.0) -> list[dict[str, Any]]:
        available = now + timedelta(seconds=defer)
        return [{"message_id": m, "routing_key": t, "created_at": now, "available_at": available} for m, t in rows]

    def _enqueue(self, c: Connection, rows: Sequence[tuple[str, str]]) -> None:
        """Outbox rows for (message_id, type) pairs, for the relay to publish now."""
        if rows:
            c.execute(insert(outbox), self._outbox_rows(rows, self.now()))
            self._wake_relay(c)

    def _wake_relay(self, c: Connection) -> None:
        """Outbox rows are ready now: wake the relay (PostgreSQL: NOTIFY, delivered at commit
        to relays in any process; in-process: an event)."""
        if self.pg:
            c.execute(text(f"NOTIFY {OUTBOX_CHANNEL}"))
        self.outbox_event.set()

    def _abandon(self, c: Connection, ids: Sequence[str], why: str) -> None:
        """Record the attempt in flight of each of these (delivering) messages as abandoned."""
        if not ids:
            return
        now = self.now()
        rows = c.execute(
            select(messages.c.id, messages.c.attempts, messages.c.updated_at, messages.c.claimed_by).where(
                messages.c.id.in_(ids), messages.c.state == "delivering"
            )
        ).all()
        if rows:  # the next attempt must ask the partner first: this one may have reached it
            c.execute(update(messages).where(messages.c.id.in_([r.id for r in rows])).values(in_doubt=True))
            c.execute(
                insert(attempts),
                [
                    {
                        "message_id": r.id,
                        "number": r.attempts,
                        "started_at": r.updated_at,
                        "finished_at": now,
                        "outcome": "abandoned",
                        "detail": why,
                        "worker": r.claimed_by,
                    }
                    for r in rows
                ],
            )

    # ------------------------------------------------------------ ingress
    def accept(
        self,
        source: str,
        items: Sequence[NewMessage],
        respond: Respond,
        idem: IdempotencyKey | None = None,
        defer: float = 0.0,
    ) -> StoredAnswer:
        """Record messages, their outbox rows and (optionally) the idempotent answer, in one
        transaction. A change already accepted (same type and natural key) is not stored again.
        ``defer``: the caller publishes what it gets back in ``to_publish`` itself; the relay
        leaves those outbox rows alone for that many seconds."""
        for attempt in range(3):
            try:
                with self.engine.begin() as c:
                    if idem is not None and (prior := self._prior_answer(c, idem)) is not None:
                        return prior
                    results, to_publish = self.add(c, source, items, defer)
                    status, body = respond(results)
                    if idem is not None:
                        self._save_answer(c, idem, status, body)
                    return StoredAnswer(status, body, False, idem.request_hash if idem else "", to_publish)
            except IntegrityError:  # a concurrent request stored the same change or key first
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _prior_answer(self, c: Connection, idem: IdempotencyKey) -> StoredAnswer | None:
        prior = c.execute(
            select(idempotency_keys).where(
                idempotency_keys.c.client_id == idem.client_id, idempotency_keys.c.key == idem.key
            )
        ).first()
        return None if prior is None else StoredAnswer(prior.status_code, prior.response, True, prior.request_hash)

    def _save_answer(self, c: Connection, idem: IdempotencyKey, status: int, body: dict[str, Any]) -> None:
        c.execute(
            insert(idempotency_keys).values(
                client_id=idem.client_id,
                key=idem.key,
                request_hash=idem.request_hash,
                status_code=status,
                response=body,
                created_at=self.now(),
            )
        )

    def add(
        self, c: Connection, source: str, items: Sequence[NewMessage], defer: float = 0.0
    ) -> tuple[list[Accepted], list[tuple[int, OutgoingMessage]]]:
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
        now = self.now()
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
            self._outbox_rows([(r["id"], r["type"]) for r in new_rows], now, defer),
        ).all()
        if defer <= 0:
            self._wake_relay(c)
        by_id = {r["id"]: r for r in new_rows}
        return results, [(o.id, to_outgoing(by_id[o.message_id])) for o in returned]

    def hand_to_relay(self, outbox_ids: Sequence[int]) -> None:
        """Deferred outbox rows their writer could not publish: available to the relay now."""
        if outbox_ids:
            with self.engine.begin() as c:
                c.execute(update(outbox).where(outbox.c.id.in_(outbox_ids)).values(available_at=self.now()))
                self._wake_relay(c)

    def published(self, outbox_ids: Sequence[int]) -> None:
        """The broker confirmed these outbox rows' messages: the rows are done."""
        if outbox_ids:
            with self.engine.begin() as c:
                c.execute(delete(outbox).where(outbox.c.id.in_(outbox_ids)))

    # ------------------------------------------------------------ relay
    def drain_outbox(self, publish: Callable[[list[OutgoingMessage]], list[bool]], limit: int = 500) -> int:
        """Publish up to ``limit`` available outbox rows; delete those the transport confirmed.
        A publish that raises leaves every row in place (they are published again)."""
        with self.engine.begin() as c:
            q = (
                select(
                    outbox.c.id.label("outbox_id"),
                    *(messages.c[name] for name in ENVELOPE_COLUMNS),
                    cast(messages.c.payload, Text).label("payload_json"),
                )
                .join(messages, messages.c.id == outbox.c.message_id)
                .where(outbox.c.available_at <= self.now())
                .order_by(outbox.c.id)
                .limit(limit)
            )
            if self.pg:
                q = q.with_for_update(of=outbox, skip_locked=True)
            rows = [dict(r._mapping) for r in c.execute(q)]
            if not rows:
                return 0
            confirmed = publish([to_outgoing(r) for r in rows])
            done = [r["outbox_id"] for r, ok in zip(rows, confirmed, strict=True) if ok]
            if done:
                c.execute(delete(outbox).where(outbox.c.id.in_(done)))
            return len(done)

    def promote_due(self, limit: int = 500) -> int:
        """Durable retries and lost workers: messages whose retry is due, or whose worker's
        lease ran out, are queued again (outbox row)."""
        now = self.now()
        with self.engine.begin() as c:
            retry_due = (messages.c.state == "retrying") & (messages.c.next_attempt_at <= now)
            lease_gone = (messages.c.state == "delivering") & (messages.c.lease_until < self._lease_cutoff())
            q = select(messages.c.id, messages.c.type, messages.c.state).where(retry_due | lease_gone).limit(limit)
            if self.pg:
                q = q.with_for_update(skip_locked=True)
            rows = c.execute(q).all()
            if not rows:
                return 0
            self._requeue(c, [(r.id, r.type, r.state) for r in rows], ABANDONED)
            return len(rows)

    def _lease_cutoff(self) -> Any:
        """A lease that ended before this may be taken over (its end plus the grace is past)."""
        if self.db_clock:
            return func.now() - literal(self.grace, Interval())
        return self.now() - self.grace

    def _requeue(self, c: Connection, rows: Sequence[tuple[str, str, str]], why: str) -> None:
        self._abandon(c, [r[0] for r in rows if r[2] == "delivering"], why)
        c.execute(
            update(messages)
            .where(messages.c.id.in_([r[0] for r in rows]))
            .values(state="queued", lease_until=None, next_attempt_at=None, claimed_by=None, updated_at=self.now())
        )
        self._enqueue(c, [(r[0], r[1]) for r in rows])

    def requeue_unfinished(self) -> int:
        """For a transport that keeps nothing across restarts (in-process): queue again every
        message that was queued or being delivered when the process stopped."""
        with self.engine.begin() as c:
            rows = c.execute(
                select(messages.c.id, messages.c.type, messages.c.state).where(
                    messages.c.state.in_(("queued", "delivering"))
                )
            ).all()
            c.execute(delete(outbox))
            self._requeue(c, [(r.id, r.type, r.state) for r in rows], "process restarted")
            return len(rows)

    # ------------------------------------------------------------ worker
    def claim(self, deliveries: Sequence[str], connector: str, worker: str) -> tuple[list[Claim], set[str]]:
        """Decide, for each message id of a batch, whether this worker delivers it now (a broker
        redelivery makes no difference: see ``plan_claims``). Returns the claims and the ids the
        ledger does not know (poison)."""
        ids = list(dict.fromkeys(deliveries))
        now = self.now()
        with self.engine.begin() as c:
            rows = {r.id: r for r in c.execute(select(messages).where(messages.c.id.in_(ids)))}
            keys = {r.key for r in rows.values()}
            plan = plan_claims(
                rows.values(),
                self._messages_of_keys(c, connector, keys),
                connector,
                now,
                self.grace,
            )
            self._abandon(c, plan.taken_over, ABANDONED)
            if plan.held:
                c.execute(update(messages).where(messages.c.id.in_(plan.held)).values(state="held", updated_at=now))
            if plan.claims:
                c.execute(
                    update(messages)
                    .where(messages.c.id.in_([r.id for r in plan.claims]))
                    .values(
                        state="delivering",
                        attempts=messages.c.attempts + 1,
                        lease_until=now + self.lease,
                        next_attempt_at=None,
                        claimed_by=worker,
                        updated_at=now,
                    )
                )
        unknown = {mid for mid in ids if mid not in rows} | plan.foreign
        doubt = set(plan.taken_over)
        return claims_of(plan.claims, plan.known_keys, deliveries, now, worker, doubt), unknown

    def renew(self, held: Sequence[Held]) -> set[str]:
        """Extend the lease of each message still held by the named attempt (state
        delivering, same attempt number, same worker, lease not ended); returns their ids.
        The caller's lease now ends ``lease_seconds`` after it sent this request."""
        if not held:
            return set()
        now = self.now()
        by_id = {h.message_id: h for h in held}
        with self.engine.begin() as c:
            rows = c.execute(
                select(
                    messages.c.id, messages.c.state, messages.c.attempts, messages.c.claimed_by, messages.c.lease_until
                ).where(messages.c.id.in_(by_id))
            ).all()
            owned = [r.id for r in rows if may_renew(r, by_id[r.id], now)]
            if owned:
                c.execute(update(messages).where(messages.c.id.in_(owned)).values(lease_until=now + self.lease))
        return set(owned)

    def _messages_of_keys(self, c: Connection, connector: str, keys: Iterable[str]) -> list[Any]:
        """Every message (id, key, occurred_at, state) of these ordering keys and this
        connector, in (key, occurred_at, id) order."""
        keys = sorted(set(keys))
        if not keys:
            return []
        q = (
            select(messages.c.id, messages.c.key, messages.c.occurred_at, messages.c.state, messages.c.type)
            .where(messages.c.connector == connector, messages.c.key.in_(keys))
            .order_by(messages.c.key, messages.c.occurred_at, messages.c.id)
        )
        return list(c.execute(q))

    def record(
        self, claims: Sequence[Claim], outcomes: Sequence[Outcome], policy: DeliveryPolicy, connector: str
    ) -> dict[str, str]:
        """Record the outcome of each claimed delivery; release the next held message of each
        key that reached a terminal state. Returns message id -> new state."""
        now = self.now()
        verdicts = [judge(cl, oc, policy, now) for cl, oc in zip(claims, outcomes, strict=True)]
        with self.engine.begin() as c:
            found = select(messages.c.id, messages.c.state, messages.c.attempts).where(
                messages.c.id.in_([v.message_id for v in verdicts])
            )
            now_is = {r.id: (r.state, r.attempts) for r in c.execute(found)}
            how = {v.message_id: standing(v, *now_is.get(v.message_id, ("dead", -1))) for v in verdicts}
            applied = [v for v in verdicts if how[v.message_id] in (APPLIED, RECORDED_FACT)]
            evidence.of(c).on_record(c, claims, outcomes, {v.message_id: v.state for v in applied}, now)
            self._finish_attempts(
                c, [attempt_row(cl, oc, how[cl.item.message_id], now) for cl, oc in zip(claims, outcomes, strict=True)]
            )
            for state in ("delivered", "retrying", "dead"):
                rows = [_verdict_values(v) for v in applied if v.state == state]
                same: dict[str, Any] = {"state": state, "updated_at": now, "lease_until": None, "claimed_by": None}
                bulk_update(
                    c, messages, rows, keys=("id",), same=same | ({"delivered_at": now} if state == "delivered" else {})
                )
            done = {v.message_id for v in applied}
            finished = {
                cl.item.key
                for cl, v in zip(claims, verdicts, strict=True)
                if v.message_id in done and v.state in TERMINAL
            }
            self._release(c, connector, finished)
        return {v.message_id: v.state for v in applied}

    def _finish_attempts(self, c: Connection, rows: list[dict[str, Any]]) -> None:
        """Write finished attempts; one already closed as abandoned takes the late outcome."""
        stmt = (postgresql.insert if self.pg else sqlite.insert)(attempts)
        kept = ("message_id", "number", "started_at")
        c.execute(
            stmt.on_conflict_do_update(
                index_elements=["message_id", "number"],
                set_={col: stmt.excluded[col] for col in rows[0] if col not in kept},
            ),
            rows,
        )

    def _release(self, c: Connection, connector: str, keys: set[str]) -> None:
        """Queue the earliest unfinished message of each key, if it was held."""
        if not keys:
            return
        release = [
            p for p in first_unfinished(self._messages_of_keys(c, connector, keys)).values() if p.state == "held"
        ]
        if release:
            c.execute(
                update(messages)
                .where(messages.c.id.in_([p.id for p in release]))
                .values(state="queued", updated_at=self.now())
            )
            self._enqueue(c, [(p.id, p.type) for p in release])

    # ------------------------------------------------------------ operator
    def replay(self, message_id: str, actor: str = "operator:unknown") -> str:
        """Queue a dead message again with a fresh retry budget (``actor`` goes to the evidence log)."""
        now = self.now()
        with self.engine.begin() as c:
            self._lock_message_key(c, message_id)
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
            self._enqueue(c, [(row.id, row.type)])
            evidence.of(c).stage(c, [evidence.of(c).operator(actor, "message.replay", f"message:{row.id}", "queued")])
        return "queued"

    def _lock_message_key(self, c: Connection, message_id: str) -> None:
        """Serialise with the workers' decisions about this message's key (SQLite: nothing to
        do, every transaction there is the only writer)."""


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


def _verdict_values(v: Verdict) -> dict[str, Any]:
    if v.state == "delivered":
        return {"id": v.message_id, "partner_ref": v.partner_ref, "in_doubt": False}
    if v.state == "dead":
        return {"id": v.message_id, "last_error": v.last_error, "in_doubt": v.in_doubt}
    return {
        "id": v.message_id,
        "next_attempt_at": v.next_attempt_at,
        "last_error": v.last_error,
        "in_doubt": v.in_doubt,
    }


def claims_of(
    rows: Sequence[Any],
    known_keys: set[str],
    deliveries: Sequence[str],
    now: datetime,
    worker: str,
    taken_over: set[str] | frozenset[str] = frozenset(),
) -> list[Claim]:
    """Claims for the claimed rows (full message rows, before the claim's update)."""
    index = {mid: i for i, mid in enumerate(deliveries)}
    return [
        Claim(
            index[r.id],
            DeliveryItem(
                message_id=r.id,
                type=r.type,
                key=r.key,
                payload=r.payload,
                attempt=r.attempts + 1,
                key_known_to_partner=r.key in known_keys,
                in_doubt=bool(r.in_doubt) or r.id in taken_over,
                correlation_id=r.correlation_id,
            ),
            started_at=now,
            budget_attempts=r.budget_attempts,
            budget_since=r.budget_since,
            worker=worker,
        )
        for r in rows
    ]
