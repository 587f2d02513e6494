"""The ledger's delivery: a worker claims the messages of a batch (a lease on each), renews the
leases while it works, and records each outcome; a message that reaches delivered or dead
releases the next held message of its ordering key. The decisions are ``hub.ledger.model``'s."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from hub.db.bulk import bulk_update
from hub.db.schema import attempts, messages
from hub.evidence import facts as evidence
from hub.ledger.base import Basis
from hub.ledger.model import (
    ABANDONED,
    APPLIED,
    RECORDED_FACT,
    TERMINAL,
    Claim,
    Held,
    Verdict,
    attempt_row,
    first_unfinished,
    judge,
    may_renew,
    plan_claims,
    standing,
)
from hub.ledger.outbox import Outbox
from hub.ports import DeliveryItem, DeliveryPolicy, Outcome


class Delivery:
    def __init__(self, basis: Basis, outbox: Outbox) -> None:
        self.b, self.outbox = basis, outbox

    def claim(self, deliveries: Sequence[str], connector: str, worker: str) -> tuple[list[Claim], set[str]]:
        """Decide, for each message id of a batch, whether this worker delivers it now (a broker
        redelivery makes no difference: see ``plan_claims``). Returns the claims and the ids the
        ledger does not know (poison)."""
        ids = list(dict.fromkeys(deliveries))
        now = self.b.now()
        with self.b.engine.begin() as c:
            rows = {r.id: r for r in c.execute(select(messages).where(messages.c.id.in_(ids)))}
            keys = {r.key for r in rows.values()}
            plan = plan_claims(rows.values(), messages_of_keys(c, connector, keys), connector, now, self.b.grace)
            abandon(c, plan.taken_over, ABANDONED, self.b.now())
            if plan.held:
                c.execute(update(messages).where(messages.c.id.in_(plan.held)).values(state="held", updated_at=now))
            if plan.claims:
                c.execute(
                    update(messages)
                    .where(messages.c.id.in_([r.id for r in plan.claims]))
                    .values(
                        state="delivering",
                        attempts=messages.c.attempts + 1,
                        lease_until=now + self.b.lease,
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
        now = self.b.now()
        by_id = {h.message_id: h for h in held}
        with self.b.engine.begin() as c:
            rows = c.execute(
                select(
                    messages.c.id, messages.c.state, messages.c.attempts, messages.c.claimed_by, messages.c.lease_until
                ).where(messages.c.id.in_(by_id))
            ).all()
            owned = [r.id for r in rows if may_renew(r, by_id[r.id], now)]
            if owned:
                c.execute(update(messages).where(messages.c.id.in_(owned)).values(lease_until=now + self.b.lease))
        return set(owned)

    def record(
        self, claims: Sequence[Claim], outcomes: Sequence[Outcome], policy: DeliveryPolicy, connector: str
    ) -> dict[str, str]:
        """Record the outcome of each claimed delivery; release the next held message of each
        key that reached a terminal state. Returns message id -> new state."""
        now = self.b.now()
        verdicts = [judge(cl, oc, policy, now) for cl, oc in zip(claims, outcomes, strict=True)]
        with self.b.engine.begin() as c:
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
        stmt = (postgresql.insert if self.b.pg else sqlite.insert)(attempts)
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
        release = [p for p in first_unfinished(messages_of_keys(c, connector, keys)).values() if p.state == "held"]
        if release:
            c.execute(
                update(messages)
                .where(messages.c.id.in_([p.id for p in release]))
                .values(state="queued", updated_at=self.b.now())
            )
            self.outbox.enqueue(c, [p.id for p in release])


def messages_of_keys(c: Connection, connector: str, keys: Iterable[str]) -> list[Any]:
    """Every message (id, key, occurred_at, state) of these ordering keys and this connector,
    in (key, occurred_at, id) order."""
    keys = sorted(set(keys))
    if not keys:
        return []
    q = (
        select(messages.c.id, messages.c.key, messages.c.occurred_at, messages.c.state)
        .where(messages.c.connector == connector, messages.c.key.in_(keys))
        .order_by(messages.c.key, messages.c.occurred_at, messages.c.id)
    )
    return list(c.execute(q))


def abandon(c: Connection, ids: Sequence[str], why: str, now: datetime) -> None:
    """Record the attempt in flight of each of these (delivering) messages as abandoned."""
    if not ids:
        return
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
        log = evidence.of(c)
        if log.enabled:  # the abandoned attempts' evidence, in the same transaction
            log.stage(c, log.abandoned([(r.id, r.attempts, r.claimed_by) for r in rows], now))


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
