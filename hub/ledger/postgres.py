"""The ledger on PostgreSQL: the same roles as the portable ledger (``core.py``), with their hot
paths as single statements sent through psycopg, each prepared once per connection.

- intake, accept: one ``INSERT ... ON CONFLICT DO NOTHING`` of the messages and their outbox rows;
- delivery, claim and record: one call each of a server-side function (``lgsp_claim``, ``lgsp_record``,
  migration 0006) that takes the ordering keys' locks, reads and writes in one round trip;
- delivery, renew: one ``UPDATE`` of every lease a worker process holds;
- outbox, published: one ``DELETE`` of the confirmed outbox rows.

Why not SQLAlchemy Core here: one status change passes through these four steps; built with
Core they took about 20 round trips and ~6 ms of client CPU per change, most of it building
and compiling statements (``python -m bench.ledger`` measures each step). The functions apply
the rules of ``hub.ledger.model`` (which the portable ledger runs in Python); the ledger tests
run against both.

Ordering keys are serialised with transaction-scoped advisory locks
(``pg_advisory_xact_lock(namespace, hashtext(connector:key))``), always taken in ascending
hash order so two workers never deadlock; a hash collision only makes two keys wait for
each other.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import namedtuple_row
from sqlalchemy import Connection, Engine, text

from hub.envelope import new_id, to_outgoing
from hub.evidence import facts as evidence
from hub.evidence.model import chain_of
from hub.ledger.core import Ledger
from hub.ledger.delivery import Delivery, claims_of
from hub.ledger.intake import Added, Intake, message_row
from hub.ledger.model import (
    ABANDONED,
    APPLIED,
    FACT,
    OUTBOX_CHANNEL,
    SUPERSEDED,
    Accepted,
    Claim,
    Held,
    NewMessage,
    attempt_row,
    judge,
)
from hub.ledger.outbox import Outbox
from hub.ledger.schedule import Schedule
from hub.ports import DeliveryPolicy, Outcome

LOCK_NAMESPACE = 0x4C475350 & 0x7FFFFFFF  # "LGSP": the advisory-lock class of ordering keys

_ACCEPT = """
WITH new AS (
    SELECT * FROM unnest(
        %(id)b::varchar[], %(type)b::varchar[], %(key)b::varchar[], %(occurred_at)b::timestamptz[],
        %(natural_key)b::varchar[], %(connector)b::varchar[], %(schema_version)b::int[],
        %(correlation_id)b::varchar[], %(causation_id)b::varchar[], %(payload)b::text[]
    ) AS t(id, type, key, occurred_at, natural_key, connector, schema_version, correlation_id, causation_id, payload)
), ins AS (
    INSERT INTO messages (id, type, source, key, occurred_at, natural_key, connector, schema_version,
                          correlation_id, causation_id, payload, state, attempts, budget_attempts,
                          budget_since, accepted_at, updated_at)
    SELECT id, type, %(source)s, key, occurred_at, natural_key, connector, schema_version,
           correlation_id, causation_id, payload::json, 'queued', 0, 0, %(now)s, %(now)s, %(now)s
    FROM new
    ON CONFLICT (type, natural_key) DO NOTHING
    RETURNING id, type
)
INSERT INTO outbox (message_id, created_at, available_at)
SELECT id, %(now)s, %(available_at)s FROM ins
RETURNING id, message_id
"""

# The same with the new messages' ``message.accepted`` facts staged by the same statement.
_ACCEPT_EV = _ACCEPT.replace("\nINSERT INTO outbox", f", ev AS ({evidence.gated_insert('ins')})\nINSERT INTO outbox", 1)

_EXISTING = """
SELECT id, type, natural_key FROM messages
WHERE type = ANY(%(types)b::varchar[]) AND natural_key = ANY(%(natural_keys)b::varchar[])
"""

_LOCK_KEY_OF_MESSAGE = text(
    "SELECT pg_advisory_xact_lock(:ns, hashtext(connector || ':' || key)) FROM messages WHERE id = :id"
)

# migration 0006. Arrays travel in binary (%b): psycopg's text format escapes every element
# with a regular expression, ~40 times slower for a batch of JSON payloads. A NULL time means
# the database's clock (``now()``).
_CLAIM = (
    "SELECT * FROM lgsp_claim(%b::varchar[], %s, %s, %s::timestamptz, %s::interval, %s::interval, %s, %s,"
    " %b::smallint[])"  # the evidence chain of each id, or NULL (migration 0017)
)
_RECORD = (
    "SELECT lgsp_record(%s, %s, %s, %s, %s, %s, %b::varchar[], %b::varchar[], %b::int[], %b::varchar[],"
    " %b::timestamptz[], %b::text[], %b::varchar[], %b::boolean[], %b::timestamptz[], %b::varchar[], %b::text[],"
    " %b::varchar[], %b::text[], %b::varchar[])"
)


def _positional_to_named(sql: str, prefix: str) -> str:
    """``%s`` / ``%b`` -> ``%(<prefix>0)s``, ``%(<prefix>1)b``... (psycopg allows one style per statement)."""
    n = itertools.count()
    return re.sub(r"%([sb])", lambda m: f"%({prefix}{next(n)}){m.group(1)}", sql)


# The same, the attempts' facts (and the outcomes' it applied) staged by the same statement.
_RECORD_EV = (
    "WITH r AS ("  # noqa: S608 -- our own constant SQL
    + _positional_to_named(_RECORD, "r")
    + f" AS id), ev AS ({evidence.gated_insert('r')}) SELECT id FROM r"  # noqa: S608
)
# One statement per heartbeat for every message a worker process holds: only the attempt that
# holds a message (delivering, same attempt number, same worker) renews it, and only before its
# lease ended (a takeover waits for the end plus grace, so the two never meet).
_RENEW = """
UPDATE messages AS m SET lease_until = COALESCE(%(now)s::timestamptz, now()) + %(lease)s::interval
FROM unnest(%(ids)b::varchar[], %(numbers)b::int[], %(workers)b::varchar[]) AS h(id, number, worker)
WHERE m.id = h.id AND m.state = 'delivering' AND m.attempts = h.number AND m.claimed_by = h.worker
  AND m.lease_until >= COALESCE(%(now)s::timestamptz, now())
RETURNING m.id
"""

# Deleting published rows commits asynchronously too: a row that comes back after a crash is
# published again, and the copy is ignored by the workers (its message is no longer queued).
_PUBLISHED = """
DELETE FROM outbox USING (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit
WHERE outbox.id = ANY(%b::bigint[])
"""


@contextmanager
def _conn(engine: Engine, autocommit: bool = False) -> Iterator[psycopg.Connection[Any]]:
    """A pooled connection as psycopg sees it (its statements are prepared once and kept)."""
    pooled = engine.raw_connection()
    try:
        conn: psycopg.Connection[Any] = pooled.driver_connection  # type: ignore[assignment]  # SQLAlchemy: Any | None; psycopg here
        conn.autocommit = autocommit
        try:
            yield conn
        finally:
            if autocommit:
                conn.autocommit = False
    finally:
        pooled.close()


class PgIntake(Intake):
    def accept(self, source: str, items: Sequence[NewMessage], defer: float = 0.0) -> Added:
        with _conn(self.b.engine, autocommit=True) as conn:  # one statement: its own transaction
            results, to_publish = self._add(conn, source, items, defer)
            if to_publish and defer <= 0:  # nobody publishes these at once: wake the relay
                conn.execute(f"NOTIFY {OUTBOX_CHANNEL}")
        return results, to_publish

    def _add(self, conn: psycopg.Connection[Any], source: str, items: Sequence[NewMessage], defer: float) -> Added:
        now = self.b.now()
        fresh: dict[tuple[str, str], dict[str, Any]] = {}
        ids: list[str] = []
        for it in items:
            nk = (it.type, it.natural_key)
            if nk not in fresh:
                row = message_row(new_id(), source, it, now)
                row["payload_json"] = it.payload_json or json.dumps(it.payload, ensure_ascii=False)
                fresh[nk] = row
            ids.append(fresh[nk]["id"])
        rows = list(fresh.values())
        params: dict[str, Any] = {name: [r[name] for r in rows] for name in _ACCEPT_COLUMNS}
        params["payload"] = [r["payload_json"] for r in rows]
        params |= {"source": source, "now": now, "available_at": now + timedelta(seconds=defer)}
        with conn.cursor() as cur:
            log = evidence.of(self.b.engine)
            if log.enabled:  # the new messages' facts, in the same statement
                params |= evidence.gated_arrays(
                    [("+" + r["id"], f) for r, f in zip(rows, log.accepted(source, rows), strict=True)],
                    log.chains,
                    trusted=True,
                )
            cur.execute(_ACCEPT_EV if log.enabled else _ACCEPT, params)
            outboxed = {message_id: outbox_id for outbox_id, message_id in cur.fetchall()}
            existing: dict[str, str] = {}
            if len(outboxed) < len(rows):  # accepted before (same natural key): their ids
                late = [r for r in rows if r["id"] not in outboxed]
                cur.execute(
                    _EXISTING,
                    {"types": sorted({r["type"] for r in late}), "natural_keys": [r["natural_key"] for r in late]},
                )
                by_nk = {(t, nk): mid for mid, t, nk in cur.fetchall()}
                existing = {r["id"]: by_nk[(r["type"], r["natural_key"])] for r in rows if r["id"] not in outboxed}
        results: list[Accepted] = []
        first_seen: set[str] = set()
        for mid in ids:
            created = mid in outboxed and mid not in first_seen
            first_seen.add(mid)
            results.append(Accepted(existing.get(mid, mid), created))
        by_id = {r["id"]: r for r in rows}
        return results, [(outbox_id, to_outgoing(by_id[mid])) for mid, outbox_id in outboxed.items()]

    def add(self, c: Connection, source: str, items: Sequence[NewMessage], defer: float = 0.0) -> Added:
        """In the caller's transaction, through its own psycopg connection: one statement."""
        conn: psycopg.Connection[Any] = c.connection.driver_connection  # type: ignore[assignment]  # as in _conn
        results, to_publish = self._add(conn, source, items, defer)
        if to_publish and defer <= 0:
            self.outbox.wake_relay(c)  # NOTIFY is delivered when the caller commits
        return results, to_publish


class PgOutbox(Outbox):
    def published(self, outbox_ids: Sequence[int]) -> None:
        if outbox_ids:
            with _conn(self.b.engine, autocommit=True) as conn:
                conn.execute(_PUBLISHED, (list(outbox_ids),))


class PgDelivery(Delivery):
    def _decision_time(self) -> datetime | None:
        """The time a lease decision is taken at: None (the database's clock) in production."""
        return None if self.b.db_clock else self.b.now()

    def claim(self, deliveries: Sequence[str], connector: str, worker: str) -> tuple[list[Claim], set[str]]:
        ids = list(dict.fromkeys(deliveries))
        now = self.b.now()
        b = self.b
        log = evidence.of(b.engine)  # an attempt it abandons (a takeover) is staged as evidence by lgsp_claim
        chains = [chain_of(f"message:{mid}", log.chains) for mid in ids] if log.enabled else None
        params = (ids, connector, worker, self._decision_time(), b.lease, b.grace, ABANDONED, LOCK_NAMESPACE, chains)
        with _conn(b.engine, autocommit=True) as conn, conn.cursor(row_factory=namedtuple_row) as cur:
            cur.execute(_CLAIM, params)
            rows: list[Any] = cur.fetchall()
        decided = {r.id: r.decision for r in rows}
        unknown = {mid for mid in ids if decided.get(mid, "foreign") == "foreign"}
        claimed = [r for r in rows if r.decision == "claimed"]
        known = {r.key for r in claimed if r.key_known}
        return claims_of(claimed, known, deliveries, now, worker), unknown

    def renew(self, held: Sequence[Held]) -> set[str]:
        if not held:
            return set()
        params = {
            "now": self._decision_time(),
            "lease": self.b.lease,
            "ids": [h.message_id for h in held],
            "numbers": [h.attempt for h in held],
            "workers": [h.worker for h in held],
        }
        with _conn(self.b.engine, autocommit=True) as conn:
            return {row[0] for row in conn.execute(_RENEW, params).fetchall()}

    def record(
        self, claims: Sequence[Claim], outcomes: Sequence[Outcome], policy: DeliveryPolicy, connector: str
    ) -> dict[str, str]:
        if not claims:
            return {}
        now = self.b.now()
        pairs = list(zip(claims, outcomes, strict=True))
        verdicts = [judge(cl, oc, policy, now) for cl, oc in pairs]
        tries = [attempt_row(cl, oc, APPLIED, now) for cl, oc in pairs]
        params = (
            connector,
            now,
            LOCK_NAMESPACE,
            SUPERSEDED,
            FACT,
            OUTBOX_CHANNEL,
            [v.message_id for v in verdicts],
            [cl.item.key for cl in claims],
            [v.attempt for v in verdicts],
            [v.state for v in verdicts],
            [v.next_attempt_at for v in verdicts],
            [v.last_error for v in verdicts],
            [v.partner_ref for v in verdicts],
            [v.in_doubt for v in verdicts],
            [t["started_at"] for t in tries],
            [t["outcome"] for t in tries],
            [t["detail"] for t in tries],
            [t["partner_ref"] for t in tries],
            [t["response"] for t in tries],
            [t["worker"] for t in tries],
        )
        log = evidence.of(self.b.engine)
        if log.enabled:  # one statement still: lgsp_record and the facts' insert
            named = {f"r{i}": p for i, p in enumerate(params)}
            states = {v.message_id: v.state for v in verdicts}
            named |= evidence.gated_arrays(log.outcomes(claims, outcomes, states, now), log.chains, trusted=True)
            with _conn(self.b.engine, autocommit=True) as conn:
                applied = {row[0] for row in conn.execute(_RECORD_EV, named).fetchall()}
        else:
            with _conn(self.b.engine, autocommit=True) as conn:
                applied = {row[0] for row in conn.execute(_RECORD, params).fetchall()}
        return {v.message_id: v.state for v in verdicts if v.message_id in applied}


class PgSchedule(Schedule):
    def lock_message_key(self, c: Connection, message_id: str) -> None:
        c.execute(_LOCK_KEY_OF_MESSAGE, {"ns": LOCK_NAMESPACE, "id": message_id})


class PgLedger(Ledger):
    """``Ledger`` on PostgreSQL, the same roles with their hot paths as above (module docstring)."""

    intake_role = PgIntake
    outbox_role = PgOutbox
    delivery_role = PgDelivery
    schedule_role = PgSchedule


_ACCEPT_COLUMNS: tuple[str, ...] = ("id", "type", "key", "occurred_at", "natural_key", "connector", "schema_version")
_ACCEPT_COLUMNS += ("correlation_id", "causation_id")
