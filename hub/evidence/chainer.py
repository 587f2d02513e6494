"""The chainer: links staged facts into the chains, in batches, and seals the chains at intervals.

Run by the relay process (``run_forever``), by any number of them: a batch of one chain is taken
under a transaction-scoped advisory lock of that chain (``pg_try_advisory_xact_lock``; SQLite has
one writer), so two chainers never fork a chain, and a chain busy elsewhere is skipped, not waited
for. One transaction per batch: the staged rows are deleted, the records inserted, the seal (when
due) written, all or nothing.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import structlog
from sqlalchemy import Connection, Engine, bindparam, delete, func, insert, select, text
from sqlalchemy.exc import SQLAlchemyError

from hub.db.schema import UTCDateTime, evidence, evidence_archives, evidence_seals, evidence_staged
from hub.envelope import utcnow
from hub.evidence.model import GENESIS, V, record_bytes, seal_bytes, timestamp
from hub.evidence.model import text as canonical_text
from hub.evidence.signing import Signer

log = structlog.get_logger("hub.evidence")
LOCK_SPACE = 712035  # pg_try_advisory_xact_lock(LOCK_SPACE, chain)
_COLUMNS = ("chain", "seq", "v", "at", "kind", "actor", "subject", "digests", "details", "prev_hash", "hash")
# arrays in binary (%b): psycopg's text format escapes every element with a regex
_PG_INSERT = (
    f"INSERT INTO evidence ({', '.join(_COLUMNS)}) "  # noqa: S608 -- our own column names
    "SELECT c, s, v, a, k, ac, su, dg::json, de::json, p, h FROM unnest(%b::smallint[], %b::bigint[], "
    "%b::smallint[], %b::timestamptz[], %b::text[], %b::text[], %b::text[], %b::text[], %b::text[], %b::text[], "
    "%b::text[]) AS u(c, s, v, a, k, ac, su, dg, de, p, h)"
)
_SQLITE_INSERT = text(
    f"INSERT INTO evidence ({', '.join(_COLUMNS)}) VALUES ({', '.join(':' + k for k in _COLUMNS)})"  # noqa: S608
).bindparams(bindparam("at", type_=UTCDateTime()))
_INSERT_SEAL = insert(evidence_seals)


class Head(NamedTuple):
    seq: int
    hash: str


def head(c: Connection, chain: int) -> Head:
    """The last record of a chain, in the database or (all pruned) in its last archive."""
    r = c.execute(
        select(evidence.c.seq, evidence.c.hash)
        .where(evidence.c.chain == chain)
        .order_by(evidence.c.seq.desc())
        .limit(1)
    ).first()
    if r is not None:
        return Head(r.seq, r.hash)
    a = evidence_archives
    r = c.execute(
        select(a.c.last_seq, a.c.head_hash).where(a.c.chain == chain).order_by(a.c.last_seq.desc()).limit(1)
    ).first()
    return Head(r.last_seq, r.head_hash) if r is not None else Head(0, GENESIS)


def link(chain: int, start: Head, staged: list[Any]) -> list[dict[str, Any]]:
    """The records for staged rows (in id order), continuing the chain from ``start``. ``digests`` and
    ``details`` are kept as their canonical JSON text: what is hashed is what is stored."""
    seq, prev = start
    out = []
    sha256 = hashlib.sha256
    for s in staged:
        seq += 1
        digests, details = canonical_text(s.digests), canonical_text(s.details)
        h = sha256(record_bytes(chain, seq, timestamp(s.at), s.kind, s.actor, s.subject, digests, details, prev))
        out.append(
            {
                "chain": chain,
                "seq": seq,
                "v": V,
                "at": s.at,
                "kind": s.kind,
                "actor": s.actor,
                "subject": s.subject,
                "digests": digests,
                "details": details,
                "prev_hash": prev,
                "hash": (prev := h.hexdigest()),
            }
        )
    return out


def insert_records(c: Connection, records: list[dict[str, Any]]) -> None:
    """Insert linked records, their JSON columns as the very text that was hashed."""
    if c.dialect.name == "postgresql":
        raw = c.connection.dbapi_connection
        assert raw is not None  # a Connection in use always holds its DBAPI connection
        cur = raw.cursor()
        cur.execute(_PG_INSERT, [[r[k] for r in records] for k in _COLUMNS])
        return
    c.execute(_SQLITE_INSERT, records)


class Chainer:
    def __init__(
        self,
        engine: Engine,
        signer: Signer,
        *,
        chains: int = 4,
        batch: int = 1000,
        seal_interval: float = 10.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.signer = signer
        self.chains = chains
        self.batch = batch
        self.seal_interval = timedelta(seconds=seal_interval)
        self.now = clock
        self.pg = engine.dialect.name == "postgresql"
        self._extra: set[int] = set()  # chains found staged beyond ``chains`` (the setting was lowered)
        self._looked_for_extra = False

    def chain_once(self, *, seal: bool | None = None) -> int:
        """One batch of every chain; returns the facts chained. ``seal``: True = seal every chain
        that grew, False = never, None = when the seal interval has passed."""
        if not self._looked_for_extra:
            with self.engine.connect() as c:
                found = c.execute(select(evidence_staged.c.chain).distinct()).scalars().all()
            self._extra = {int(x) for x in found} - set(range(self.chains))
            self._looked_for_extra = True
        return sum(self._chain(chain, seal) for chain in [*range(self.chains), *sorted(self._extra)])

    def drain(self, *, seal: bool | None = None) -> int:
        """Chain until nothing is staged (tests, benchmarks, the end of a run)."""
        total = 0
        while n := self.chain_once(seal=seal):
            total += n
        if seal is not False:
            self.chain_once(seal=True)  # seals what the last batches added
        return total

    def _chain(self, chain: int, seal: bool | None) -> int:
        t = evidence_staged
        with self.engine.begin() as c:
            if self.pg:
                if not c.execute(select(func.pg_try_advisory_xact_lock(LOCK_SPACE, chain))).scalar():
                    return 0  # another chainer has it right now
                # The staged rows' deletion and the records' insertion commit together or not at all: a
                # crash that loses this commit leaves the facts staged, chained again later.
                c.execute(text("SET LOCAL lgsp.evidence_maintenance = 'chainer'; SET LOCAL synchronous_commit = off"))
            ids = select(t.c.id).where(t.c.chain == chain).order_by(t.c.id).limit(self.batch)
            taken = list(
                c.execute(
                    delete(t)
                    .where(t.c.id.in_(ids.scalar_subquery()))
                    .returning(t.c.id, t.c.at, t.c.kind, t.c.actor, t.c.subject, t.c.digests, t.c.details)
                ).all()
            )
            taken.sort(key=lambda r: r.id)
            top = head(c, chain)
            if taken:
                records = link(chain, top, taken)
                insert_records(c, records)
                top = Head(records[-1]["seq"], records[-1]["hash"])
            if seal is not False:
                self._seal_if_due(c, chain, top, force=bool(seal))
        return len(taken)

    def _seal_if_due(self, c: Connection, chain: int, top: Head, *, force: bool) -> None:
        if top.seq == 0:
            return
        s = evidence_seals
        last = c.execute(
            select(s.c.seq, s.c.sealed_at).where(s.c.chain == chain).order_by(s.c.seq.desc()).limit(1)
        ).first()
        now = self.now()
        if last is not None and (last.seq >= top.seq or (not force and now - last.sealed_at < self.seal_interval)):
            return
        at = timestamp(now)
        signature = self.signer.sign(seal_bytes(chain, top.seq, top.hash, at, self.signer.key_id))
        c.execute(
            _INSERT_SEAL,
            {
                "chain": chain,
                "seq": top.seq,
                "head_hash": top.hash,
                "sealed_at": now,
                "key_id": self.signer.key_id,
                "signature": signature,
            },
        )

    def run_forever(self, stop: threading.Event, every: float = 1.0, max_rate: float | None = None) -> None:
        """The chainer's loop (a thread of the relay process): chain what is staged, seal when due.
        ``max_rate`` (facts/s) paces it during a backlog, leaving the CPU to the spine; the staged table
        holds the rest meanwhile (the facts are committed; only their linking waits)."""
        while not stop.is_set():
            started = time.monotonic()
            try:
                n = self.chain_once()
            except SQLAlchemyError as exc:
                log.warning("evidence.chain_failed", error=type(exc).__name__)
                n = 0
            if n < self.batch:  # nothing more waiting, probably
                stop.wait(every)
            elif max_rate:
                stop.wait(max(0.0, n / max_rate - (time.monotonic() - started)))
