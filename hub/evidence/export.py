"""Export for the province's security operations centre: JSON lines, one record or seal per line.

A record line is exactly an archive line (``canonical(record + {"hash"})``, see ``model.py``), so
the receiver can re-check hashes and links of a contiguous range; a seal line is
``{"kind": "evidence.seal", "chain", "seq", "head", "at", "key", "signature"}`` (the receiver keeps
them: a seal held outside the hub proves later that nothing before it was removed or rewritten).
With ``facts=True`` a record line is instead one line per fact it holds (a batch record, ``model.py``,
holds several): ``{"kind", "at", "actor", "subject", "digests", "details", "chain", "seq", "hash",
"fact"}``, ``fact`` being its place in the record (1 for a plain record), so that a receiver that
indexes events gets one event per exchange. The mapping of a line to RFC 5424 syslog fields is in the
README ("Evidence").
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, TextIO

from sqlalchemy import Engine, Text, cast, select, type_coerce

from hub.db.schema import evidence, evidence_seals
from hub.evidence.model import BATCH, record_json, timestamp


def export(
    engine: Engine,
    out: TextIO,
    since: datetime,
    until: datetime | None = None,
    *,
    seals: bool = True,
    facts: bool = False,
) -> int:
    """Write the records (time order) and then the seals made in [since, until); returns the lines written.
    ``facts``: one line per fact instead of one per record (batch records expanded)."""
    e = evidence
    as_text = (
        (lambda col: cast(col, Text)) if engine.dialect.name == "postgresql" else (lambda col: type_coerce(col, Text))
    )
    q = select(
        e.c.chain,
        e.c.seq,
        e.c.v,
        e.c.at,
        e.c.kind,
        e.c.actor,
        e.c.subject,
        as_text(e.c.digests),
        as_text(e.c.details),
        e.c.prev_hash,
        e.c.hash,
    ).where(e.c.at >= since)
    if until is not None:
        q = q.where(e.c.at < until)
    n = 0
    with engine.connect() as c:
        for r in c.execution_options(yield_per=10_000).execute(q.order_by(e.c.at, e.c.chain, e.c.seq)):
            if facts:
                n += _fact_lines(out, r)
                continue
            out.write(record_json(r[0], r[1], timestamp(r[3]), r[4], r[5], r[6], r[7], r[8], r[9], r[2], r[10]) + "\n")
            n += 1
        if seals:
            s = evidence_seals
            sq = select(s).where(s.c.sealed_at >= since).order_by(s.c.sealed_at, s.c.chain)
            if until is not None:
                sq = sq.where(s.c.sealed_at < until)
            for r in c.execute(sq):
                line = {
                    "kind": "evidence.seal",
                    "chain": r.chain,
                    "seq": r.seq,
                    "head": r.head_hash,
                    "at": timestamp(r.sealed_at),
                    "key": r.key_id,
                    "signature": r.signature,
                }
                out.write(json.dumps(line, sort_keys=True, separators=(",", ":")) + "\n")
                n += 1
    return n


def _fact_lines(out: TextIO, r: Any) -> int:
    chain, seq, _v, at, kind, actor, subject, digests, details, _prev, hash_ = r
    where = {"chain": chain, "seq": seq, "hash": hash_, "at": timestamp(at), "actor": actor}
    if kind == BATCH:
        inside = json.loads(details)["facts"]
    else:
        inside = [{"kind": kind, "subject": subject, "digests": json.loads(digests), "details": json.loads(details)}]
    for i, fact in enumerate(inside, 1):
        out.write(json.dumps(fact | where | {"fact": i}, sort_keys=True, separators=(",", ":"), ensure_ascii=False))
        out.write("\n")
    return len(inside)
