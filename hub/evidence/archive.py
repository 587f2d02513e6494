"""Signed archive segments: old records exported to JSON lines files, then (by a setting) pruned.

A segment ``evidence-c<chain>-<first>-<last>.jsonl`` holds records ``first..last`` of one chain, one
``canonical(record + {"hash"})`` per line; ``<segment>.sig`` holds its manifest (chain, range,
count, ``prev`` = the hash of record ``first - 1``, i.e. the link to the previous segment, ``head``,
the file's SHA-256) and the Ed25519 signature over it (encoding in ``hub/evidence/model.py``). The
records are checked while they are written: a broken chain is never archived (and so never signed
again). Records are pruned only once ``evidence_archives`` lists their segment (a trigger checks).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Text, cast, delete, func, insert, select, text, type_coerce

from hub.db.schema import evidence, evidence_archives
from hub.envelope import utcnow
from hub.evidence.model import GENESIS, V, manifest_bytes, record_json, timestamp
from hub.evidence.signing import Signer

SUFFIX, SIG = ".jsonl", ".sig"
COLUMNS = (
    evidence.c.seq,
    evidence.c.v,
    evidence.c.at,
    evidence.c.kind,
    evidence.c.actor,
    evidence.c.subject,
    evidence.c.digests,
    evidence.c.details,
    evidence.c.prev_hash,
    evidence.c.hash,
)


class ArchiveError(RuntimeError):
    pass


@dataclass(frozen=True)
class Segment:
    path: Path
    manifest: dict[str, Any]
    signature: str

    @property
    def chain(self) -> int:
        return int(self.manifest["chain"])

    @property
    def first(self) -> int:
        return int(self.manifest["first_seq"])

    @property
    def last(self) -> int:
        return int(self.manifest["last_seq"])


def segment_name(chain: int, first: int, last: int) -> str:
    return f"evidence-c{chain:03d}-{first:012d}-{last:012d}{SUFFIX}"


def db_rows(c: Connection, chain: int, after: int = 0, upto: int | None = None) -> Iterator[tuple[Any, ...]]:
    """Records of a chain in seq order, streamed (a server-side cursor on PostgreSQL); ``digests`` and
    ``details`` as the JSON text stored (the text that was hashed)."""
    if c.dialect.name == "postgresql":
        yield from _pg_rows(c, chain, after, upto)
        return
    as_text = (lambda col: cast(col, Text)) if c.dialect.name == "postgresql" else (lambda col: type_coerce(col, Text))
    cols = [*COLUMNS[:6], as_text(evidence.c.digests), as_text(evidence.c.details), *COLUMNS[8:]]
    q = select(*cols).where(evidence.c.chain == chain, evidence.c.seq > after).order_by(evidence.c.seq)
    if upto is not None:
        q = q.where(evidence.c.seq <= upto)
    yield from c.execution_options(yield_per=20_000).execute(q)


_PG_ROWS = (
    "SELECT seq, v, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), kind, actor, subject, "
    "digests::text, details::text, prev_hash, hash FROM evidence WHERE chain = %s AND seq > %s AND seq <= %s "
    "ORDER BY seq"
)


def _pg_rows(c: Connection, chain: int, after: int, upto: int | None) -> Iterator[tuple[Any, ...]]:
    """The PostgreSQL fast path: a named (server-side) psycopg cursor, the time formatted by the server
    exactly as ``model.timestamp`` does."""
    raw: Any = c.connection.dbapi_connection  # psycopg.Connection
    with raw.cursor(name=f"evidence_rows_{chain}") as cur:
        cur.itersize = 20_000
        cur.execute(_PG_ROWS, (chain, after, upto if upto is not None else 2**62))
        yield from cur


def line(chain: int, r: Any) -> bytes:
    """One archive line: the record's canonical JSON with its hash."""
    at = r[2] if isinstance(r[2], str) else timestamp(r[2])  # PostgreSQL's rows carry it formatted already
    return (record_json(chain, r[0], at, r[3], r[4], r[5], r[6], r[7], r[8], r[1], r[9]) + "\n").encode()


def read_segments(directory: Path) -> tuple[list[Segment], list[tuple[Path, str]]]:
    """The segments in a directory (each with its manifest), and the files that could not be read."""
    found, bad = [], []
    for sig in sorted(directory.glob(f"evidence-c*{SUFFIX}{SIG}")):
        try:
            doc = json.loads(sig.read_text("utf-8"))
            seg = Segment(sig.with_suffix(""), dict(doc["manifest"]), str(doc["signature"]))
            seg.chain, seg.first, seg.last  # noqa: B018 -- they must be numbers
        except (OSError, ValueError, KeyError, TypeError) as exc:
            bad.append((sig, f"unreadable signature file ({type(exc).__name__})"))
            continue
        found.append(seg)
    return sorted(found, key=lambda s: (s.chain, s.first)), bad


def archive(
    engine: Engine,
    signer: Signer,
    directory: Path,
    *,
    before: datetime,
    prune: bool,
    max_records: int = 1_000_000,
    clock: Any = utcnow,
) -> list[Segment]:
    """Export every record older than ``before`` not yet archived, segment by segment; prune them if asked."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    with engine.connect() as c:
        chains = c.execute(select(evidence.c.chain).distinct()).scalars().all()
    for chain in sorted(chains):
        while True:
            with engine.connect() as c:
                a = evidence_archives
                last = c.execute(
                    select(a.c.last_seq, a.c.head_hash).where(a.c.chain == chain).order_by(a.c.last_seq.desc()).limit(1)
                ).first()
                start, prev = (last.last_seq, last.head_hash) if last else (0, GENESIS)
                end = c.execute(
                    select(func.max(evidence.c.seq)).where(
                        evidence.c.chain == chain, evidence.c.seq > start, evidence.c.at < before
                    )
                ).scalar()
                if end is None:
                    break
                end = min(end, start + max_records)
                seg = _write(c, signer, directory, chain, start, prev, end, clock)
            with engine.begin() as c:
                m = seg.manifest
                c.execute(
                    insert(evidence_archives).values(
                        chain=chain,
                        first_seq=m["first_seq"],
                        last_seq=m["last_seq"],
                        records=m["count"],
                        prev_hash=m["prev"],
                        head_hash=m["head"],
                        file=m["file"],
                        sha256=m["sha256"],
                        created_at=clock(),
                    )
                )
                if prune:
                    prune_segment(c, seg)
            written.append(seg)
    return written


def prune_segment(c: Connection, seg: Segment) -> None:
    if c.dialect.name == "postgresql":
        c.execute(text("SET LOCAL lgsp.evidence_maintenance = 'prune'"))
    c.execute(delete(evidence).where(evidence.c.chain == seg.chain, evidence.c.seq.between(seg.first, seg.last)))


def _write(
    c: Connection, signer: Signer, directory: Path, chain: int, start: int, prev: str, end: int, clock: Any
) -> Segment:
    from hub.evidence.verify import Walk

    name = segment_name(chain, start + 1, end)
    path, tmp = directory / name, directory / (name + ".tmp")
    digest, walk = hashlib.sha256(), Walk(chain, start, prev)
    with tmp.open("wb") as f:
        rows = list_or_stream(db_rows(c, chain, start, end), walk)
        for r in rows:
            data = line(chain, r)
            digest.update(data)
            f.write(data)
        f.flush()
        os.fsync(f.fileno())
    if walk.problem is not None or walk.seq != end:
        tmp.unlink()
        problem = walk.problem.message if walk.problem else f"records {walk.seq + 1}..{end} are missing"
        raise ArchiveError(f"chain {chain} is broken, nothing archived: {problem} (run `lgsp evidence verify`)")
    manifest = {
        "v": V,
        "chain": chain,
        "first_seq": start + 1,
        "last_seq": end,
        "count": end - start,
        "prev": prev,
        "head": walk.prev,
        "file": name,
        "sha256": digest.hexdigest(),
        "created_at": timestamp(clock()),
        "key": signer.key_id,
    }
    signature = signer.sign(manifest_bytes(manifest))
    sig = path.with_name(name + SIG)
    sig.write_text(json.dumps({"manifest": manifest, "signature": signature}, indent=1) + "\n", "utf-8")
    os.replace(tmp, path)
    return Segment(path, manifest, signature)


def list_or_stream(rows: Iterator[tuple[Any, ...]], walk: Any) -> Iterator[tuple[Any, ...]]:
    """Pass rows through while the walk accepts them (stops at the first problem)."""
    for r in rows:
        if walk.step(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], "database") is not None:
            return
        yield r
