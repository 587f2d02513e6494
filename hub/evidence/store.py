"""Writing facts: one cheap insert into ``evidence_staged``, inside the caller's own transaction.

No lock is taken and the chain is not read: the fact is committed (or rolled back) with the state
it records, and the chainer links it later. So a fact exists if and only if its transaction
committed, and recording it costs the spine one row in a small table. Facts recorded together
(:func:`record_batched`) share a row: one batch record per chain, actor and time (``model.py``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, insert

from hub.db.schema import evidence_staged
from hub.envelope import utcnow
from hub.evidence.model import BATCH, Fact, chain_of

DEFAULT_CHAINS = 4
_INSERT = insert(evidence_staged)  # compiled once

# For a psycopg connection (the PostgreSQL hot path): every fact of a call in one statement.
# (arrays in binary, %b: psycopg's text format escapes every element with a regex)
PG_INSERT = (
    "INSERT INTO evidence_staged (chain, at, kind, actor, subject, digests, details) "
    "SELECT c, a, k, ac, su, dg::json, de::json FROM unnest(%b::smallint[], %b::timestamptz[], %b::text[], "
    "%b::text[], %b::text[], %b::text[], %b::text[]) AS u(c, a, k, ac, su, dg, de)"
)


def row(fact: Fact, chains: int = DEFAULT_CHAINS) -> dict[str, Any]:
    fact.check()
    return {
        "chain": chain_of(fact.subject, chains),
        "at": fact.at or utcnow(),
        "kind": fact.kind,
        "actor": fact.actor,
        "subject": fact.subject,
        "digests": dict(fact.digests),
        "details": dict(fact.details),
    }


def record(conn: Connection, fact: Fact, *, chains: int = DEFAULT_CHAINS) -> None:
    """Stage one fact in ``conn``'s transaction (committed with it)."""
    conn.execute(_INSERT, row(fact, chains))


def record_many(conn: Connection, facts: Iterable[Fact], *, chains: int = DEFAULT_CHAINS) -> int:
    """Stage several facts in ``conn``'s transaction (one multi-row insert on PostgreSQL)."""
    rows = [row(f, chains) for f in facts]
    if rows:
        conn.execute(_INSERT, rows)
    return len(rows)


def batched(facts: Iterable[Fact], chains: int = DEFAULT_CHAINS) -> list[dict[str, Any]]:
    """The staged rows of facts recorded together: the facts of one chain, actor and time are one batch
    record (``model.py``), in the order given; a fact alone in its group stays a plain record."""
    groups: dict[tuple[int, str, Any], list[Fact]] = {}
    for f in facts:
        f.check()
        groups.setdefault((chain_of(f.subject, chains), f.actor, f.at), []).append(f)
    now = None
    out = []
    for (chain, actor, at), group in groups.items():
        if at is None:
            at = now = now or utcnow()
        if len(group) == 1:
            f = group[0]
            out.append(
                {"chain": chain, "at": at, "kind": f.kind, "actor": actor, "subject": f.subject}
                | {"digests": dict(f.digests), "details": dict(f.details)}
            )
            continue
        entries = [
            {"kind": f.kind, "subject": f.subject, "digests": dict(f.digests), "details": dict(f.details)}
            for f in group
        ]
        out.append(
            {"chain": chain, "at": at, "kind": BATCH, "actor": actor, "subject": BATCH}
            | {"digests": {}, "details": {"facts": entries}}
        )
    return out


def record_batched(conn: Connection, facts: Iterable[Fact], *, chains: int = DEFAULT_CHAINS) -> int:
    """Stage facts recorded together in ``conn``'s transaction as batch records (:func:`batched`);
    returns the facts staged."""
    facts = list(facts)
    if facts:
        conn.execute(_INSERT, batched(facts, chains))
    return len(facts)


def pg_params(facts: Sequence[Fact], chains: int = DEFAULT_CHAINS) -> tuple[list[Any], ...]:
    """The arrays of :data:`PG_INSERT` (one per column)."""
    rows = [row(f, chains) for f in facts]
    return (
        [r["chain"] for r in rows],
        [r["at"] for r in rows],
        [r["kind"] for r in rows],
        [r["actor"] for r in rows],
        [r["subject"] for r in rows],
        [json.dumps(r["digests"]) for r in rows],
        [json.dumps(r["details"]) for r in rows],
    )


def record_pg(cursor: Any, facts: Sequence[Fact], *, chains: int = DEFAULT_CHAINS) -> int:
    """Stage facts through a psycopg cursor or connection, in its transaction: one statement, binary arrays."""
    if facts:
        cursor.execute(PG_INSERT, pg_params(facts, chains))
    return len(facts)
