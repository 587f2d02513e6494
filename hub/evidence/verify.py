"""``lgsp evidence verify``: walk every chain, its archives then the database, and name the first break.

Per chain, in seq order: each record must have the next seq (else records were removed, or
reordered/duplicated in a file), link to the record before it (``prev``; else it was inserted or
moved, or its predecessor edited and rehashed), and match its own hash (else it was edited). Every
seal on the way must verify with a trusted public key (else forged) and name the hash the chain has
at its seq (else the records up to it were rewritten); a seal past the chain's end means the chain
was truncated. An archive must verify against its signed manifest (range, count, link to the
previous segment, head, file SHA-256); records still in the database after their archive must
link to it and reach its head. Trust comes from the public keys given, never from the database.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Engine, func, select

from hub.db.schema import evidence, evidence_archives, evidence_seals
from hub.evidence.archive import Segment, db_rows, read_segments
from hub.evidence.model import (
    GENESIS,
    RECORD_PREFIX,
    manifest_bytes,
    record_bytes,
    record_hash,
    record_object,
    seal_bytes,
    timestamp,
)
from hub.evidence.signing import verifies

_sha256 = hashlib.sha256


class Problem(NamedTuple):
    chain: int
    seq: int
    kind: str  # missing | out_of_order | unlinked | edited | seal_* | truncated | archive_*
    where: str  # "database", "archive <file> line <n>", "seal"
    message: str


@dataclass
class Seal:
    seq: int
    head: str
    at: datetime
    key_id: str
    signature: str


class Walk:
    """Follows one chain record by record; stops at the first problem (``self.problem``)."""

    def __init__(
        self,
        chain: int,
        seq: int = 0,
        prev: str = GENESIS,
        seals: Mapping[int, Seal] | None = None,
        keys: Mapping[str, Ed25519PublicKey] | None = None,
        expect: Mapping[int, tuple[str, str]] | None = None,
        capture: int | None = None,
    ) -> None:
        self.chain, self.seq, self.prev = chain, seq, prev
        self.seals = seals or {}
        self.keys = keys or {}
        self.expect = dict(expect or {})  # seq -> (hash, what says so): archive heads
        self.capture, self.captured = capture, None if capture else GENESIS
        self.problem: Problem | None = None
        self.records = 0
        self.seals_checked = 0
        self.last_sealed = 0
        self._recent: dict[str, int] = {}
        self._order: deque[str] = deque()

    def fail(self, seq: int, kind: str, where: str, message: str) -> Problem:
        self.problem = Problem(self.chain, seq, kind, where, message)
        return self.problem

    def step(
        self,
        seq: int,
        v: int,
        at: datetime | str,
        kind: str,
        actor: str,
        subject: str,
        digests: Any,
        details: Any,
        prev: str,
        hash_: str,
        where: str,
        body: bytes | None = None,
    ) -> Problem | None:
        """One record; ``digests`` and ``details`` as objects or as their stored JSON text; ``body``: the
        bytes hashed, if the caller has them (an archive line)."""
        expected = self.seq + 1
        if seq != expected:
            if seq > expected:
                span = f"record {expected} is" if seq == expected + 1 else f"records {expected}..{seq - 1} are"
                return self.fail(expected, "missing", where, f"{span} missing (removed)")
            return self.fail(seq, "out_of_order", where, f"record {seq} comes after record {self.seq} (reordered)")
        if prev != self.prev:
            before = self._recent.get(prev)
            why = (
                f"it follows record {before} directly: what lies between was inserted, or it was moved"
                if before is not None
                else "it links to no record before it: reordered or inserted, or the record before it was rewritten"
            )
            return self.fail(seq, "unlinked", where, f"record {seq} does not follow record {self.seq}: {why}")
        at_text = at if isinstance(at, str) else timestamp(at)
        if body is None and isinstance(digests, str) and isinstance(details, str):
            body = record_bytes(self.chain, seq, at_text, kind, actor, subject, digests, details, prev, v)
        if body is None or _sha256(body).hexdigest() != hash_:  # the definition (texts not canonical, or edited)
            d = json.loads(digests) if isinstance(digests, str) else digests
            e = json.loads(details) if isinstance(details, str) else details
            obj = record_object(self.chain, seq, at_text, kind, actor, subject, d, e, prev, v)
            if record_hash(obj) != hash_:
                return self.fail(seq, "edited", where, f"record {seq}'s content does not match its hash (edited)")
        self.seq, self.prev = seq, hash_
        self.records += 1
        self._recent[hash_] = seq
        self._order.append(hash_)
        if len(self._order) > 4096:
            self._recent.pop(self._order.popleft(), None)
        if seq == self.capture:
            self.captured = hash_
        if seq in self.expect and self.expect[seq][0] != hash_:
            return self.fail(seq, "archive_mismatch", where, f"record {seq} differs from {self.expect[seq][1]}")
        seal = self.seals.get(seq)
        return self.check_seal(seal) if seal is not None else None

    def check_seal(self, seal: Seal) -> Problem | None:
        key = self.keys.get(seal.key_id)
        if key is None:
            return self.fail(
                seal.seq,
                "seal_unknown_key",
                "seal",
                f"the seal at record {seal.seq} is by key {seal.key_id}, not a trusted key",
            )
        data = seal_bytes(self.chain, seal.seq, seal.head, timestamp(seal.at), seal.key_id)
        if not verifies(key, seal.signature, data):
            return self.fail(
                seal.seq, "seal_forged", "seal", f"the seal at record {seal.seq} does not verify: forged or altered"
            )
        if seal.head != self.prev:
            return self.fail(
                seal.seq,
                "seal_mismatch",
                "seal",
                f"the seal at record {seal.seq} does not match the chain: the records up to it were rewritten",
            )
        self.seals_checked += 1
        self.last_sealed = seal.seq
        return None


@dataclass
class ChainReport:
    chain: int
    records: int = 0
    archives: int = 0
    seals: int = 0
    last_seq: int = 0
    last_sealed: int = 0
    problem: Problem | None = None

    @property
    def unsealed(self) -> int:
        return self.last_seq - self.last_sealed


@dataclass
class Report:
    chains: list[ChainReport] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and all(c.problem is None for c in self.chains)


def verify(
    engine: Engine,
    keys: Mapping[str, Ed25519PublicKey],
    archive_dir: Path | None,
    progress: Callable[[int], None] | None = None,
) -> Report:
    report = Report()
    segments: list[Segment] = []
    if archive_dir is not None and archive_dir.is_dir():
        segments, bad = read_segments(archive_dir)
        report.problems += [Problem(-1, 0, "archive_unreadable", str(p), why) for p, why in bad]
    with engine.connect() as c:
        known = {int(x) for x in c.execute(select(evidence.c.chain).distinct()).scalars()}
        known |= {int(x) for x in c.execute(select(evidence_seals.c.chain).distinct()).scalars()}
        registered = c.execute(select(evidence_archives)).all()
    on_disk = {(s.chain, s.first) for s in segments}
    for r in registered:
        if (r.chain, r.first_seq) not in on_disk:
            where = f"archive {r.file}"
            report.problems.append(Problem(r.chain, r.first_seq, "archive_missing", where, f"{where} is missing"))
    known |= {s.chain for s in segments}
    for chain in sorted(known):
        report.chains.append(_verify_chain(engine, chain, [s for s in segments if s.chain == chain], keys, progress))
    return report


def _verify_chain(
    engine: Engine,
    chain: int,
    segments: list[Segment],
    keys: Mapping[str, Ed25519PublicKey],
    progress: Callable[[int], None] | None,
) -> ChainReport:
    out = ChainReport(chain, archives=len(segments))
    with engine.connect() as c:
        s = evidence_seals
        seals = {
            r.seq: Seal(r.seq, r.head_hash, r.sealed_at, r.key_id, r.signature)
            for r in c.execute(select(s).where(s.c.chain == chain))
        }
        db_first = c.execute(select(func.min(evidence.c.seq)).where(evidence.c.chain == chain)).scalar()
        capture = db_first - 1 if db_first else None
        walk = Walk(chain, seals=seals, keys=keys, capture=capture)
        for seg in segments:
            if _walk_segment(walk, seg, keys, progress) is not None:
                break
        if walk.problem is None and db_first is not None:
            if db_first > walk.seq + 1:
                walk.fail(
                    walk.seq + 1,
                    "missing",
                    "database",
                    f"records {walk.seq + 1}..{db_first - 1} are missing (in no archive and not in the database)",
                )
            else:
                expect = {seg.last: (seg.manifest["head"], f"archive {seg.path.name}") for seg in segments}
                db_walk = Walk(chain, db_first - 1, walk.captured or GENESIS, seals, keys, expect)
                overlap = max(0, walk.seq - (db_first - 1))  # archived records still in the database
                db_walk.records, db_walk.seals_checked = walk.records - overlap, walk.seals_checked
                walk = db_walk
                _feed(walk, db_rows(c, chain), "database", progress)
    if walk.problem is None:
        beyond = [q for q in sorted(seals) if q > walk.seq]
        if beyond:
            walk.fail(
                beyond[0],
                "truncated",
                "seal",
                f"the seal at record {beyond[0]} seals records that are "
                f"missing: the chain ends at record {walk.seq} (truncated)",
            )
    out.records, out.seals, out.last_seq = walk.records, walk.seals_checked, walk.seq
    out.last_sealed, out.problem = walk.last_sealed, walk.problem
    return out


def _feed(walk: Walk, rows: Iterable[Any], where: str, progress: Callable[[int], None] | None) -> Problem | None:
    n = 0
    step = walk.step
    for r in rows:
        if step(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], where) is not None:
            return walk.problem
        n += 1
        if progress is not None and n == 10_000:
            progress(n)
            n = 0
    if progress is not None and n:
        progress(n)
    return None


def _walk_segment(
    walk: Walk, seg: Segment, keys: Mapping[str, Ed25519PublicKey], progress: Callable[[int], None] | None
) -> Problem | None:
    m, name = seg.manifest, seg.path.name
    key = keys.get(str(m.get("key")))
    if key is None or not verifies(key, seg.signature, manifest_bytes(m)):
        return walk.fail(
            seg.first,
            "archive_signature",
            f"archive {name}",
            f"archive {name}: its manifest does not verify with a trusted key (forged or altered)",
        )
    if seg.first != walk.seq + 1:
        return walk.fail(
            walk.seq + 1,
            "missing",
            f"archive {name}",
            f"records {walk.seq + 1}..{seg.first - 1} are missing before archive {name}",
        )
    if m["prev"] != walk.prev:
        return walk.fail(
            seg.first, "archive_link", f"archive {name}", f"archive {name} does not link to the segment before it"
        )
    digest = hashlib.sha256()
    try:
        with seg.path.open("rb") as f:
            rows = _lines(f, digest)
            number = 0
            for number, o in enumerate(rows, 1):
                where = f"archive {name} line {number}"
                if walk.step(o[0], o[1], o[2], o[3], o[4], o[5], o[6], o[7], o[8], o[9], where, o[10]) is not None:
                    return walk.problem
            if progress is not None:
                progress(number)
    except OSError:
        return walk.fail(seg.first, "archive_missing", f"archive {name}", f"archive {name} cannot be read")
    except (ValueError, KeyError, TypeError):
        return walk.fail(
            walk.seq + 1,
            "archive_malformed",
            f"archive {name}",
            f"archive {name}: a line after record {walk.seq} is not a record",
        )
    if walk.seq != seg.last or walk.prev != m["head"] or m["count"] != seg.last - seg.first + 1:
        return walk.fail(
            walk.seq,
            "archive_truncated",
            f"archive {name}",
            f"archive {name} ends at record {walk.seq}, its manifest at {seg.last}",
        )
    if digest.hexdigest() != m["sha256"]:
        return walk.fail(
            seg.first,
            "archive_altered",
            f"archive {name}",
            f"archive {name}: its bytes differ from the signed manifest",
        )
    return None


def _lines(f: Any, digest: Any) -> Iterable[tuple[Any, ...]]:
    """Archive lines as step() arguments, with the bytes hashed: the line less its top-level ``"hash"``
    member (the last occurrence: no JSON string can hold an unescaped quote)."""
    for raw in f:
        digest.update(raw)
        o = json.loads(raw)
        h = o["hash"]
        member = b',"hash":"' + str(h).encode() + b'"'
        text = raw.rstrip(b"\n")
        i = text.rfind(member)
        body = RECORD_PREFIX + text[:i] + text[i + len(member) :] if i >= 0 else None
        yield (
            o["seq"],
            o["v"],
            o["at"],
            o["kind"],
            o["actor"],
            o["subject"],
            o["digests"],
            o["details"],
            o["prev"],
            h,
            body,
        )
