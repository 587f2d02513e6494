"""The message ledger: every state change of a message, each in one database transaction.

States: ``queued`` (accepted, on its way to a worker) -> ``delivering`` (a worker holds a
lease on it) -> ``delivered`` | ``retrying`` (next attempt scheduled in the database) |
``dead`` (permanently rejected or retry budget spent; replayable). ``held``: waits for an
earlier message of the same ordering key (connector, dossier) to reach delivered or dead.

Every transition that needs a worker to act writes an outbox row in the same transaction;
the relay publishes outbox rows to the transport. Decisions about one ordering key are
serialised by locking its ``ordering_keys`` row (PostgreSQL) or by SQLite's single writer.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Text,
    and_,
    any_,
    bindparam,
    cast,
    delete,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError

from hub.db.bulk import bulk_update
from hub.db.schema import UTCDateTime, attempts, idempotency_keys, messages, ordering_keys, outbox
from hub.envelope import new_id, to_outgoing, utcnow
from hub.ports import DeliveryItem, DeliveryPolicy, Outcome, OutcomeKind, OutgoingMessage

TERMINAL = ("delivered", "dead")
# Every message of each ordering key, one index probe per key: the LATERAL subquery is
# fenced (OFFSET 0) so the planner cannot flatten it into a join, and it filters on nothing
# but the key, so no other index competes. A plain ``key IN (...)`` was planned as a
# sequential scan while the table's statistics were stale (a young or fast-growing ledger).
_MESSAGES_OF_KEYS_PG = text(
    """
    SELECT m.id, m.key, m.type, m.occurred_at, m.state
    FROM unnest(CAST(:keys AS varchar[])) AS k(key)
    CROSS JOIN LATERAL (
        SELECT id, key, type, occurred_at, state, connector FROM messages
        WHERE messages.key = k.key
        OFFSET 0
    ) AS m
    WHERE m.connector = :connector
    ORDER BY m.key, m.occurred_at, m.id
    """
).columns(occurred_at=UTCDateTime())
OUTBOX_CHANNEL = "lgsp_outbox"  # PostgreSQL NOTIFY channel: "the outbox has rows"


@dataclass(frozen=True)
class NewMessage:
    type: str
    key: str
    occurred_at: datetime
    natural_key: str
    connector: str
    schema_version: int
    payload: dict[str, Any]
    correlation_id: str
    causation_id: str | None = None


@dataclass(frozen=True)
class Accepted:
    message_id: str
    created: bool  # False: the same change (natural key) was accepted before


@dataclass(frozen=True)
class IdempotencyKey:
    client_id: int
    key: str
    request_hash: str


@dataclass(frozen=True)
class StoredAnswer:
    status_code: int
    body: dict[str, Any]
    replayed: bool  # True: the answer of an earlier request with the same Idempotency-Key
    request_hash: str


@dataclass(frozen=True)
class Claim:
    index: int  # position of the delivery in the batch
    item: DeliveryItem


class NotFound(LookupError):
    pass


class NotReplayable(ValueError):
    pass


def backoff(policy: DeliveryPolicy, attempt: int) -> float:
    """Exponential backoff with 'equal jitter': half fixed, half random."""
    step = min(policy.backoff_max, policy.backoff_base * (2 ** max(attempt - 1, 0)))
    return step / 2 + random.uniform(0, step / 2)


class Ledger:
    def __init__(self, engine: Engine, lease_seconds: float = 120.0, clock: Callable[[], datetime] = utcnow):
        self.engine = engine
        self.lease = timedelta(seconds=lease_seconds)
        self.now = clock
        self.pg = engine.dialect.name == "postgresql"
        self.outbox_event = threading.Event()

    # ------------------------------------------------------------ helpers
    def _in(self, col: Any, values: Iterable[Any]) -> Any:
        """``col IN values``. On PostgreSQL ``col = ANY(:array)``: one statement text whatever
        the number of values, so psycopg prepares it once (an IN list is a new statement for
        every length) and SQLAlchemy has no list to expand."""
        values = list(values)
        if self.pg:
            return col == any_(bindparam(None, values, type_=postgresql.ARRAY(col.type)))
        return col.in_(values)

    def _ensure_keys(self, c: Connection, lock_keys: Iterable[str]) -> None:
        """Create the ordering-key rows (at accept time), so workers only ever lock them."""
        if self.pg:
            now = self.now()
            rows = [{"key": k, "updated_at": now} for k in sorted(set(lock_keys))]
            if rows:
                c.execute(postgresql.insert(ordering_keys).on_conflict_do_nothing(), rows)

    def _lock_keys(self, c: Connection, lock_keys: Iterable[str]) -> None:
        """Serialise decisions about these keys across workers. SQLite needs nothing: every
        transaction there begins IMMEDIATE, one writer at a time."""
        if not self.pg:
            return
        keys = sorted(set(lock_keys))  # sorted: no deadlocks between overlapping sets
        if not keys:
            return
        q = select(ordering_keys.c.key).where(self._in(ordering_keys.c.key, keys)).order_by(ordering_keys.c.key)
        locked = {r.key for r in c.execute(q.with_for_update())}
        if len(locked) < len(keys):  # rows missing (e.g. written before this table existed)
            self._ensure_keys(c, set(keys) - locked)
            c.execute(q.with_for_update())

    def _unfinished_of_keys(self, c: Connection, connector: str, keys: Iterable[str]) -> tuple[list[Any], set[str]]:
        """The unfinished messages (id, key, type, occurred_at, state) of these ordering keys
        in (key, occurred_at, id) order, and the keys the partner already has a delivered
        message of."""
        keys = sorted(set(keys))
        if not keys:
            return [], set()
        if self.pg:
            rows = list(c.execute(_MESSAGES_OF_KEYS_PG, {"keys": keys, "connector": connector}))
        else:
            rows = list(
                c.execute(
                    select(messages.c.id, messages.c.key, messages.c.type, messages.c.occurred_at, messages.c.state)
                    .where(messages.c.connector == connector, self._in(messages.c.key, keys))
                    .order_by(messages.c.key, messages.c.occurred_at, messages.c.id)
                )
            )
        return [r for r in rows if r.state not in TERMINAL], {r.key for r in rows if r.state == "delivered"}

    @staticmethod
    def _lock_name(connector: str, key: str) -> str:
        return f"{connector}:{key}"

    def _enqueue(self, c: Connection, rows: Sequence[tuple[str, str]]) -> None:
        """Outbox rows for (message_id, routing_key) pairs; wakes the relay up."""
        if rows:
            now = self.now()
            c.execute(insert(outbox), [{"message_id": m, "routing_key": rk, "created_at": now} for m, rk in rows])
            if self.pg:  # delivered to listening relays when this transaction commits
                c.execute(text(f"NOTIFY {OUTBOX_CHANNEL}"))
            self.outbox_event.set()  # a relay in this process (embedded mode)

    # ------------------------------------------------------------ ingress
    def accept(
        self,
        source: str,
        items: Sequence[NewMessage],
        respond: Callable[[list[Accepted]], tuple[int, dict[str, Any]]],
        idem: IdempotencyKey | None = None,
    ) -> StoredAnswer:
        """Record messages, their outbox rows and (optionally) the idempotent answer, in one
        transaction. A change already accepted (same type and natural key) is not stored again."""
        for attempt in range(3):
            try:
                with self.engine.begin() as c:
                    return self._accept_tx(c, source, items, respond, idem)
            except IntegrityError:  # a concurrent request stored the same change or key first
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _accept_tx(
        self,
        c: Connection,
        source: str,
        items: Sequence[NewMessage],
        respond: Callable[[list[Accepted]], tuple[int, dict[str, Any]]],
        idem: IdempotencyKey | None,
    ) -> StoredAnswer:
        if idem is not None:
            prior = c.execute(
                select(idempotency_keys).where(
                    idempotency_keys.c.client_id == idem.client_id, idempotency_keys.c.key == idem.key
                )
            ).first()
            if prior is not None:
                return StoredAnswer(prior.status_code, prior.response, True, prior.request_hash)
        existing: dict[tuple[str, str], str] = {}
        by_type: dict[str, list[str]] = {}
        for it in items:
            by_type.setdefault(it.type, []).append(it.natural_key)
        for mtype, nks in by_type.items():
            for row in c.execute(
                select(messages.c.id, messages.c.natural_key).where(
                    messages.c.type == mtype, self._in(messages.c.natural_key, set(nks))
                )
            ):
                existing[(mtype, row.natural_key)] = row.id
        now = self.now()
        results: list[Accepted] = []
        new_rows: list[dict[str, Any]] = []
        for it in items:
            nk = (it.type, it.natural_key)
            if nk in existing:
                results.append(Accepted(existing[nk], False))
                continue
            mid = new_id()
            existing[nk] = mid
            results.append(Accepted(mid, True))
            new_rows.append(
                {
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
            )
        if new_rows:
            c.execute(insert(messages), new_rows)
            self._ensure_keys(c, (self._lock_name(r["connector"], r["key"]) for r in new_rows))
            self._enqueue(c, [(r["id"], r["type"]) for r in new_rows])
        status, body = respond(results)
        if idem is not None:
            c.execute(
                insert(idempotency_keys).values(
                    client_id=idem.client_id,
                    key=idem.key,
                    request_hash=idem.request_hash,
                    status_code=status,
                    response=body,
                    created_at=now,
                )
            )
        return StoredAnswer(status, body, False, idem.request_hash if idem else "")

    # ------------------------------------------------------------ relay
    def drain_outbox(self, publish: Callable[[list[OutgoingMessage]], list[bool]], limit: int = 500) -> int:
        """Publish up to ``limit`` outbox rows; delete those the transport confirmed.
        A publish that raises leaves every row in place (they are published again)."""
        with self.engine.begin() as c:
            m = messages.c
            q = (
                select(
                    outbox.c.id.label("outbox_id"),
                    *(m.id, m.type, m.source, m.key, m.occurred_at, m.correlation_id, m.causation_id),
                    *(m.natural_key, m.schema_version, cast(m.payload, Text).label("payload_json")),
                )
                .join(messages, m.id == outbox.c.message_id)
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
                c.execute(delete(outbox).where(self._in(outbox.c.id, done)))
            return len(done)

    def promote_due(self, limit: int = 500) -> int:
        """Durable retries and lost workers: messages whose retry is due, or whose worker's
        lease ran out, are queued again (outbox row)."""
        now = self.now()
        with self.engine.begin() as c:
            q = (
                select(messages.c.id, messages.c.type, messages.c.state)
                .where(
                    or_(
                        and_(messages.c.state == "retrying", messages.c.next_attempt_at <= now),
                        and_(messages.c.state == "delivering", messages.c.lease_until < now),
                    )
                )
                .limit(limit)
            )
            if self.pg:
                q = q.with_for_update(skip_locked=True)
            rows = c.execute(q).all()
            if not rows:
                return 0
            self._requeue(c, [(r.id, r.type, r.state) for r in rows], "worker lease expired")
            return len(rows)

    def _requeue(self, c: Connection, rows: Sequence[tuple[str, str, str]], why: str) -> None:
        now = self.now()
        ids = [r[0] for r in rows]
        lost = [r[0] for r in rows if r[2] == "delivering"]
        if lost:
            c.execute(
                update(attempts)
                .where(self._in(attempts.c.message_id, lost), attempts.c.outcome.is_(None))
                .values(outcome="abandoned", finished_at=now, detail=why)
            )
        c.execute(
            update(messages)
            .where(self._in(messages.c.id, ids))
            .values(state="queued", lease_until=None, next_attempt_at=None, updated_at=now)
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
    def claim(
        self, deliveries: Sequence[tuple[str, bool]], connector: str, worker: str
    ) -> tuple[list[Claim], set[str]]:
        """Decide, for each (message_id, redelivered) of a batch, whether this worker delivers
        it now. Returns the claims and the ids the ledger does not know (poison)."""
        ids = list(dict.fromkeys(mid for mid, _ in deliveries))
        redelivered = {mid for mid, r in deliveries if r}
        now = self.now()
        with self.engine.begin() as c:
            keys = {r.key for r in c.execute(select(messages.c.key).where(self._in(messages.c.id, ids)))}
            self._lock_keys(c, (self._lock_name(connector, k) for k in keys))
            q = select(messages).where(self._in(messages.c.id, ids))
            rows = {r.id: r for r in c.execute(q.with_for_update() if self.pg else q)}
            unknown = {mid for mid in ids if mid not in rows}
            pending, known = self._unfinished_of_keys(c, connector, keys)
            state = {p.id: p.state for p in pending}
            order = {p.id: (p.occurred_at, p.id) for p in pending}
            by_key: dict[str, list[str]] = {}
            for p in pending:
                by_key.setdefault(p.key, []).append(p.id)
            candidates = sorted((rows[m] for m in ids if m in rows), key=lambda r: (r.occurred_at, r.id))
            claims: list[tuple[Any, bool]] = []
            held: list[str] = []
            taken_over: list[str] = []
            for r in candidates:
                if r.connector != connector:
                    unknown.add(r.id)
                    continue
                st = r.state
                lease = r.lease_until
                if st == "delivering" and (r.id in redelivered or (lease is not None and lease < now)):
                    taken_over.append(r.id)  # its worker died or lost the broker: in doubt
                elif st == "retrying" and (r.next_attempt_at or now) <= now:
                    pass  # due: the scheduler and this delivery raced; deliver now
                elif st != "queued":
                    continue  # delivered, dead, held, in flight elsewhere, or a stale copy
                earlier = [o for o in by_key.get(r.key, []) if o != r.id and order[o] < order[r.id]]
                if any(state[o] not in TERMINAL for o in earlier):
                    held.append(r.id)
                    state[r.id] = "held"
                    continue
                claims.append((r, r.key in known))
                state[r.id] = "delivering"
            if taken_over:
                c.execute(
                    update(attempts)
                    .where(self._in(attempts.c.message_id, taken_over), attempts.c.outcome.is_(None))
                    .values(outcome="abandoned", finished_at=now, detail="redelivered: worker or connection lost")
                )
            if held:
                c.execute(update(messages).where(self._in(messages.c.id, held)).values(state="held", updated_at=now))
            if claims:
                claimed = [r.id for r, _ in claims]
                c.execute(
                    update(messages)
                    .where(self._in(messages.c.id, claimed))
                    .values(
                        state="delivering",
                        attempts=messages.c.attempts + 1,
                        lease_until=now + self.lease,
                        next_attempt_at=None,
                        updated_at=now,
                    )
                )
                c.execute(
                    insert(attempts).from_select(
                        ["message_id", "number", "started_at", "worker"],
                        select(
                            messages.c.id,
                            messages.c.attempts,
                            literal(now, UTCDateTime()),
                            literal(worker, attempts.c.worker.type),
                        ).where(self._in(messages.c.id, claimed)),
                    )
                )
        index = {mid: i for i, (mid, _) in enumerate(deliveries)}
        out = [
            Claim(
                index[r.id],
                DeliveryItem(
                    message_id=r.id,
                    type=r.type,
                    key=r.key,
                    payload=r.payload,
                    attempt=r.attempts + 1,
                    key_known_to_partner=k,
                    in_doubt=r.attempts > 0,
                    correlation_id=r.correlation_id,
                ),
            )
            for r, k in claims
        ]
        return out, unknown

    def record(
        self, claims: Sequence[Claim], outcomes: Sequence[Outcome], policy: DeliveryPolicy, connector: str
    ) -> dict[str, str]:
        """Record the outcome of each claimed delivery; release the next held message of each
        key that reached a terminal state. Returns message id -> new state."""
        now = self.now()
        result: dict[str, str] = {}
        with self.engine.begin() as c:
            self._lock_keys(c, (self._lock_name(connector, cl.item.key) for cl in claims))
            ids = [cl.item.message_id for cl in claims]
            q = select(
                messages.c.id,
                messages.c.state,
                messages.c.attempts,
                messages.c.budget_attempts,
                messages.c.budget_since,
            ).where(self._in(messages.c.id, ids))
            rows = {r.id: r for r in c.execute(q.with_for_update() if self.pg else q)}
            finished_keys: set[str] = set()
            attempt_rows: list[dict[str, Any]] = []
            by_state: dict[str, list[dict[str, Any]]] = {"delivered": [], "dead": [], "retrying": []}
            for cl, oc in zip(claims, outcomes, strict=True):
                mid, n = cl.item.message_id, cl.item.attempt
                row = rows[mid]
                detail = oc.detail[:2000]
                current = row.state == "delivering" and row.attempts == n
                attempt_rows.append(
                    {
                        "message_id": mid,
                        "number": n,
                        "outcome": oc.kind.value,
                        "detail": detail if current else f"{detail} (superseded: taken over by another worker)",
                        "partner_ref": oc.partner_ref,
                        "response": (oc.response or "")[:4000] or None,
                    }
                )
                if not current:
                    continue
                values: dict[str, Any] = {"id": mid}
                if oc.kind is OutcomeKind.DELIVERED:
                    new_state = "delivered"
                    values["partner_ref"] = oc.partner_ref
                elif oc.kind is OutcomeKind.DEAD:
                    new_state, values["last_error"] = "dead", detail
                else:
                    spent = n - row.budget_attempts >= policy.max_attempts
                    old = now - row.budget_since > timedelta(seconds=policy.max_age)
                    if spent or old:
                        why = "retry budget spent" if spent else "too old to retry"
                        new_state, values["last_error"] = "dead", f"{why} after {n} attempts: {detail}"
                    else:
                        delay = timedelta(seconds=backoff(policy, n - row.budget_attempts))
                        new_state = "retrying"
                        values |= {"next_attempt_at": now + delay, "last_error": detail}
                by_state[new_state].append(values)
                result[mid] = new_state
                if new_state in TERMINAL:
                    finished_keys.add(cl.item.key)
            # one statement per shape, not two per message
            bulk_update(c, attempts, attempt_rows, keys=("message_id", "number"), same={"finished_at": now})
            for new_state, rows_of_state in by_state.items():
                bulk_update(
                    c,
                    messages,
                    rows_of_state,
                    keys=("id",),
                    same={"state": new_state, "updated_at": now, "lease_until": None}
                    | ({"delivered_at": now} if new_state == "delivered" else {}),
                )
            self._release(c, connector, finished_keys)
        return result

    def _release(self, c: Connection, connector: str, keys: set[str]) -> None:
        """Queue the earliest unfinished message of each key, if it was held."""
        if not keys:
            return
        first: dict[str, Any] = {}
        for p in self._unfinished_of_keys(c, connector, keys)[0]:  # in (key, occurred_at, id) order
            first.setdefault(p.key, p)
        release = [p for p in first.values() if p.state == "held"]
        if release:
            c.execute(
                update(messages)
                .where(self._in(messages.c.id, [p.id for p in release]))
                .values(state="queued", updated_at=self.now())
            )
            self._enqueue(c, [(p.id, p.type) for p in release])

    # ------------------------------------------------------------ operator
    def replay(self, message_id: str) -> str:
        """Queue a dead message again with a fresh retry budget."""
        now = self.now()
        with self.engine.begin() as c:
            row = c.execute(select(messages).where(messages.c.id == message_id)).first()
            if row is None:
                raise NotFound(message_id)
            if row.state != "dead":
                raise NotReplayable(f"message {message_id} is {row.state}; only dead messages can be replayed")
            self._lock_keys(c, [self._lock_name(row.connector, row.key)])
            c.execute(
                update(messages)
                .where(messages.c.id == message_id)
                .values(state="queued", budget_attempts=row.attempts, budget_since=now, updated_at=now)
            )
            self._enqueue(c, [(row.id, row.type)])
        return "queued"
