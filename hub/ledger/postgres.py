"""The ledger on PostgreSQL: the hot paths (accept, claim, record, published) as a few
hand-written statements sent through psycopg, each prepared once per connection.

Why not SQLAlchemy Core here: one status change passes through four transactions; built
with Core they took about 20 round trips and ~6 ms of client CPU per change, most of it
building and compiling statements. Here accept is one statement, claim and record three
each (plus BEGIN and COMMIT). The decisions are the same functions the portable ledger uses
(``hub.ledger.model``); only the SQL differs.

Ordering keys are serialised with transaction-scoped advisory locks
(``pg_advisory_xact_lock(namespace, hashtext(connector:key))``), always taken in ascending
hash order so two workers never deadlock; a hash collision only makes two keys wait for
each other.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import namedtuple_row
from sqlalchemy import Connection, Engine, create_engine, text

from hub.envelope import new_id, to_outgoing, utcnow
from hub.ledger.core import Ledger, Respond, claims_of, message_row
from hub.ledger.model import (
    OUTBOX_CHANNEL,
    SUPERSEDED,
    Accepted,
    Claim,
    IdempotencyKey,
    NewMessage,
    StoredAnswer,
    attempt_row,
    judge,
    plan_claims,
)
from hub.ports import DeliveryPolicy, Outcome, OutgoingMessage

LOCK_NAMESPACE = 0x4C475350 & 0x7FFFFFFF  # "LGSP": the advisory-lock class of ordering keys

_ACCEPT = """
WITH new AS (
    SELECT * FROM unnest(
        %(id)s::varchar[], %(type)s::varchar[], %(key)s::varchar[], %(occurred_at)s::timestamptz[],
        %(natural_key)s::varchar[], %(connector)s::varchar[], %(schema_version)s::int[],
        %(correlation_id)s::varchar[], %(causation_id)s::varchar[], %(payload)s::text[]
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
INSERT INTO outbox (message_id, routing_key, created_at, available_at)
SELECT id, type, %(now)s, %(available_at)s FROM ins
RETURNING id, message_id
"""

_EXISTING = """
SELECT id, type, natural_key FROM messages
WHERE type = ANY(%(types)s::varchar[]) AND natural_key = ANY(%(natural_keys)s::varchar[])
"""

_LOCK_KEY_OF_MESSAGE = text(
    "SELECT pg_advisory_xact_lock(:ns, hashtext(connector || ':' || key)) FROM messages WHERE id = :id"
)

_LOCK_KEYS_OF_MESSAGES = """
SELECT pg_advisory_xact_lock(%(ns)s, h) FROM (
    SELECT DISTINCT hashtext(%(connector)s || ':' || key) AS h FROM messages WHERE id = ANY(%(ids)s::varchar[])
    ORDER BY h
) AS s
"""

# Recording outcomes commits asynchronously (``synchronous_commit`` off for this transaction
# only): if PostgreSQL crashes before the WAL reaches disk, the messages are still
# ``delivering`` with a lease, are queued again when it runs out, and the next attempt is
# in doubt, so the connector checks the partner before sending again. Nothing is lost or sent
# twice; a crash costs a lookup, and every other commit stops waiting for the disk here.
_LOCK_KEYS_ASYNC_COMMIT = """
SELECT set_config('synchronous_commit', 'off', true), pg_advisory_xact_lock(%(ns)s, h) FROM (
    SELECT DISTINCT hashtext(%(connector)s || ':' || k) AS h FROM unnest(%(keys)s::varchar[]) AS k ORDER BY h
) AS s
"""

# Every message of the batch's ordering keys, one index probe per key (the LATERAL is fenced
# with OFFSET 0 so the planner cannot flatten it into a scan), the payload of the batch's own.
_MESSAGES_OF_BATCH_KEYS = """
SELECT m.id, m.key, m.type, m.occurred_at, m.state, m.connector, m.attempts, m.budget_attempts,
       m.budget_since, m.lease_until, m.next_attempt_at, m.correlation_id,
       CASE WHEN m.id = ANY(%(ids)s::varchar[]) THEN m.payload END AS payload
FROM (SELECT DISTINCT key FROM messages WHERE id = ANY(%(ids)s::varchar[])) AS k
CROSS JOIN LATERAL (SELECT * FROM messages WHERE messages.key = k.key OFFSET 0) AS m
ORDER BY m.key, m.occurred_at, m.id
"""

_ABANDON = """
INSERT INTO attempts (message_id, number, started_at, finished_at, outcome, detail, worker)
SELECT id, attempts, updated_at, %(now)s, 'abandoned', %(why)s, claimed_by
FROM messages WHERE id = ANY(%(ids)s::varchar[]) AND state = 'delivering'
"""

_HOLD = "UPDATE messages SET state = 'held', updated_at = %(now)s WHERE id = ANY(%(ids)s::varchar[])"

_CLAIM = """
UPDATE messages SET state = 'delivering', attempts = attempts + 1, lease_until = %(lease_until)s,
       next_attempt_at = NULL, claimed_by = %(worker)s, updated_at = %(now)s
WHERE id = ANY(%(ids)s::varchar[])
"""

# Outcomes: each message updated only if this attempt still owns it (not taken over), and one
# attempts row per outcome, marked superseded where it did not own it any more.
_RECORD = """
WITH v AS (
    SELECT * FROM unnest(
        %(id)s::varchar[], %(number)s::int[], %(state)s::varchar[], %(next_attempt_at)s::timestamptz[],
        %(last_error)s::text[], %(partner_ref)s::varchar[], %(started_at)s::timestamptz[],
        %(outcome)s::varchar[], %(detail)s::text[], %(attempt_ref)s::varchar[], %(response)s::text[],
        %(worker)s::varchar[]
    ) AS v(id, number, state, next_attempt_at, last_error, partner_ref, started_at, outcome, detail,
           attempt_ref, response, worker)
), u AS (
    UPDATE messages AS m SET
        state = v.state, next_attempt_at = v.next_attempt_at,
        last_error = COALESCE(v.last_error, m.last_error), partner_ref = COALESCE(v.partner_ref, m.partner_ref),
        lease_until = NULL, claimed_by = NULL, updated_at = %(now)s,
        delivered_at = CASE WHEN v.state = 'delivered' THEN %(now)s ELSE m.delivered_at END
    FROM v
    WHERE m.id = v.id AND m.id = ANY(%(id)s::varchar[]) AND m.state = 'delivering' AND m.attempts = v.number
    RETURNING m.id
), a AS (
    INSERT INTO attempts (message_id, number, started_at, finished_at, outcome, detail, partner_ref, response, worker)
    SELECT v.id, v.number, v.started_at, %(now)s, v.outcome,
           CASE WHEN u.id IS NULL THEN v.detail || %(superseded)s ELSE v.detail END,
           v.attempt_ref, v.response, v.worker
    FROM v LEFT JOIN u ON u.id = v.id
    ON CONFLICT (message_id, number) DO UPDATE SET
        finished_at = EXCLUDED.finished_at, outcome = EXCLUDED.outcome, detail = EXCLUDED.detail,
        partner_ref = EXCLUDED.partner_ref, response = EXCLUDED.response, worker = EXCLUDED.worker
)
SELECT id FROM u
"""

# The earliest unfinished message of each key is queued again if it was held; the relay is
# woken (NOTIFY is delivered at commit) to publish it.
_RELEASE = """
WITH f AS (
    SELECT m.id, m.state FROM unnest(%(keys)s::varchar[]) AS k(key)
    CROSS JOIN LATERAL (
        SELECT id, state FROM messages
        WHERE messages.key = k.key AND connector = %(connector)s
          AND state IN ('queued', 'delivering', 'retrying', 'held')
        ORDER BY occurred_at, id LIMIT 1
    ) AS m
), r AS (
    UPDATE messages SET state = 'queued', updated_at = %(now)s
    FROM f WHERE messages.id = f.id AND f.state = 'held'
    RETURNING messages.id, messages.type
), o AS (
    INSERT INTO outbox (message_id, routing_key, created_at, available_at)
    SELECT id, type, %(now)s, %(now)s FROM r
)
SELECT pg_notify(%(channel)s, '') FROM r LIMIT 1
"""

# Deleting published rows commits asynchronously too: a row that comes back after a crash is
# published again, and the copy is ignored by the workers (its message is no longer queued).
_PUBLISHED = """
DELETE FROM outbox USING (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit
WHERE outbox.id = ANY(%s::bigint[])
"""


class PgLedger(Ledger):
    """``Ledger`` on PostgreSQL; see the module docstring."""

    def __init__(self, engine: Engine, lease_seconds: float = 120.0, clock: Callable[[], datetime] = utcnow):
        super().__init__(engine, lease_seconds, clock)
        # The hot statements run on connections of their own that always use the generic plan
        # of a prepared statement. PostgreSQL would otherwise plan them anew at every call
        # (their array parameters make each custom plan look cheaper), which cost half of
        # their server time; the engine's other queries keep custom plans, which partial
        # indexes need.
        given = engine.url.query.get("options") or ()
        options = " ".join([*([given] if isinstance(given, str) else given), "-c plan_cache_mode=force_generic_plan"])
        self.hot = create_engine(
            engine.url.difference_update_query(["options"]),
            pool_size=engine.pool.size(),  # type: ignore[attr-defined]
            max_overflow=10,
            pool_recycle=1800,
            connect_args={"options": options},
        )

    def close(self) -> None:
        self.hot.dispose()
        super().close()

    @contextmanager
    def _conn(self, autocommit: bool = False) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection as psycopg sees it (its statements are prepared once and kept)."""
        pooled = self.hot.raw_connection()
        try:
            conn: psycopg.Connection[Any] = pooled.driver_connection  # type: ignore[assignment]
            conn.autocommit = autocommit
            try:
                yield conn
            finally:
                if autocommit:
                    conn.autocommit = False
        finally:
            pooled.close()

    # ------------------------------------------------------------ ingress
    def accept(
        self,
        source: str,
        items: Sequence[NewMessage],
        respond: Respond,
        idem: IdempotencyKey | None = None,
        defer: float = 0.0,
    ) -> StoredAnswer:
        if idem is not None:  # rare: the portable path, in one transaction with the answer
            return super().accept(source, items, respond, idem, defer)
        with self._conn(autocommit=True) as conn:  # one statement: its own transaction
            results, to_publish = self._add(conn, source, items, defer)
            if to_publish and defer <= 0:  # nobody publishes these at once: wake the relay
                conn.execute(f"NOTIFY {OUTBOX_CHANNEL}")
        status, body = respond(results)
        return StoredAnswer(status, body, False, "", to_publish)

    def _add(
        self, conn: psycopg.Connection[Any], source: str, items: Sequence[NewMessage], defer: float
    ) -> tuple[list[Accepted], list[tuple[int, OutgoingMessage]]]:
        now = self.now()
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
            cur.execute(_ACCEPT, params)
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

    def published(self, outbox_ids: Sequence[int]) -> None:
        if outbox_ids:
            with self._conn(autocommit=True) as conn:
                conn.execute(_PUBLISHED, (list(outbox_ids),))

    # ------------------------------------------------------------ worker
    def claim(
        self, deliveries: Sequence[tuple[str, bool]], connector: str, worker: str
    ) -> tuple[list[Claim], set[str]]:
        ids = list(dict.fromkeys(mid for mid, _ in deliveries))
        batch = set(ids)
        now = self.now()
        p = {"ns": LOCK_NAMESPACE, "connector": connector, "ids": ids, "now": now}
        with self._conn() as conn, conn.transaction(), conn.cursor(row_factory=namedtuple_row) as cur:
            cur.execute(_LOCK_KEYS_OF_MESSAGES, p)
            cur.execute(_MESSAGES_OF_BATCH_KEYS, p)
            rows: list[Any] = cur.fetchall()
            candidates = [r for r in rows if r.id in batch]
            mine = [r for r in rows if r.connector == connector]
            redelivered = {mid for mid, r in deliveries if r}
            plan = plan_claims(candidates, mine, connector, redelivered, now)
            if plan.taken_over:
                cur.execute(_ABANDON, p | {"ids": plan.taken_over, "why": "redelivered: worker or connection lost"})
            if plan.held:
                cur.execute(_HOLD, p | {"ids": plan.held})
            if plan.claims:
                claimed = [r.id for r in plan.claims]
                cur.execute(_CLAIM, p | {"ids": claimed, "lease_until": now + self.lease, "worker": worker})
        unknown = (batch - {r.id for r in candidates}) | plan.foreign
        return claims_of(plan.claims, plan.known_keys, deliveries, now, worker), unknown

    def record(
        self, claims: Sequence[Claim], outcomes: Sequence[Outcome], policy: DeliveryPolicy, connector: str
    ) -> dict[str, str]:
        if not claims:
            return {}
        now = self.now()
        pairs = list(zip(claims, outcomes, strict=True))
        verdicts = [judge(cl, oc, policy, now) for cl, oc in pairs]
        tries = [attempt_row(cl, oc, True, now) for cl, oc in pairs]
        params: dict[str, Any] = {
            "id": [v.message_id for v in verdicts],
            "number": [v.attempt for v in verdicts],
            "state": [v.state for v in verdicts],
            "next_attempt_at": [v.next_attempt_at for v in verdicts],
            "last_error": [v.last_error for v in verdicts],
            "partner_ref": [v.partner_ref for v in verdicts],
            "started_at": [t["started_at"] for t in tries],
            "outcome": [t["outcome"] for t in tries],
            "detail": [t["detail"] for t in tries],
            "attempt_ref": [t["partner_ref"] for t in tries],
            "response": [t["response"] for t in tries],
            "worker": [t["worker"] for t in tries],
            "now": now,
            "superseded": SUPERSEDED,
            "ns": LOCK_NAMESPACE,
            "connector": connector,
        }
        with self._conn() as conn, conn.transaction(), conn.cursor() as cur:
            cur.execute(_LOCK_KEYS_ASYNC_COMMIT, params | {"keys": sorted({cl.item.key for cl in claims})})
            cur.execute(_RECORD, params)
            applied = {row[0] for row in cur.fetchall()}
            finished = sorted(
                {
                    cl.item.key
                    for cl, v in zip(claims, verdicts, strict=True)
                    if v.message_id in applied and v.state in ("delivered", "dead")
                }
            )
            if finished:
                cur.execute(_RELEASE, params | {"keys": finished, "channel": OUTBOX_CHANNEL})
        return {v.message_id: v.state for v in verdicts if v.message_id in applied}

    # ------------------------------------------------------------ operator
    def _lock_message_key(self, c: Connection, message_id: str) -> None:
        c.execute(_LOCK_KEY_OF_MESSAGE, {"ns": LOCK_NAMESPACE, "id": message_id})


_ACCEPT_COLUMNS: tuple[str, ...] = ("id", "type", "key", "occurred_at", "natural_key", "connector", "schema_version")
_ACCEPT_COLUMNS += ("correlation_id", "causation_id")
