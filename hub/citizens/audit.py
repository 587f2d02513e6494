"""The audit of population database queries (table ``citizen_queries``): write one row, search rows.

The ID number is stored as a keyed hash only: HMAC-SHA256 under a versioned key
(``hub/evidence/keyring.py``: ``HUB_AUDIT_HASH_KEY`` is version 1, ``HUB_AUDIT_HASH_KEYS`` adds
more). Without the key a hash cannot be tested against the (small) space of ID numbers; with it, the
operator can find every query about one citizen (:func:`search` with ``id_hashes``). Each row keeps
the version it was hashed with (``id_hash_key``, null = 1); a search hashes the number under every
kept version, so rotating the key keeps older rows searchable as long as their key is kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import SecretStr
from sqlalchemy import Engine, and_, insert, or_, select

from hub.db.schema import citizen_queries
from hub.envelope import iso
from hub.evidence import facts as evidence
from hub.evidence.keyring import Keyring, id_bytes
from hub.evidence.model import Fact


class IdHasher:
    """HMAC-SHA256 of ID numbers under the keyring's current key (a single key is version 1)."""

    def __init__(self, key: SecretStr | Keyring) -> None:
        self.keyring = key if isinstance(key, Keyring) else Keyring({"1": key})
        self.version = self.keyring.current

    def __call__(self, id_number: str) -> str:
        return self.keyring.hex(id_bytes(id_number))

    def every(self, id_number: str) -> dict[str, str]:
        """version -> hash, under every kept key (to search rows written before a rotation)."""
        return self.keyring.every(id_bytes(id_number))


@dataclass(frozen=True)
class QueryRecord:
    """One row of ``citizen_queries``; every value here is safe to store (no personal data)."""

    at: datetime
    operation: str  # verify | lookup
    client_code: str
    outcome: str
    http_status: int
    duration_ms: int
    officer_code: str | None = None
    purpose: str | None = None
    service_code: str | None = None
    id_hash: str | None = None
    reason: str | None = None
    detail: str | None = None
    fields: list[str] | None = None
    request_id: str | None = None
    id_hash_key: str | None = None  # the key version of id_hash
    agency_code: str | None = None  # the officer's agency (named in the query, or the client's only one)


_INSERT = insert(citizen_queries)  # one statement object: compiled once, parameters per call


def record(engine: Engine, row: QueryRecord) -> None:
    """Write one audit row and its ``citizen.query`` evidence fact, and commit (before the caller is answered)."""
    values = dict(row.__dict__)
    if values["detail"]:
        values["detail"] = values["detail"][:300]
    with engine.begin() as c:
        inserted = c.execute(_INSERT, values).inserted_primary_key
        log = evidence.of(c)
        log.stage(c, [query_fact(log, int(inserted[0]) if inserted else 0, row)])


def query_fact(log: evidence.EvidenceLog, row_id: int, row: QueryRecord) -> Fact:
    """The evidence of one query: the ID number as the row's own keyed hash (same key version), the
    officer and the purpose as digests, the rest as it is (codes and outcomes)."""
    digests = {"id_number": f"hmac-sha256:{row.id_hash_key or '1'}:{row.id_hash}"} if row.id_hash else {}
    digests |= {k: log.digest(v) for k, v in (("officer", row.officer_code), ("purpose", row.purpose)) if v}
    details = {
        "operation": row.operation,
        "agency_code": row.agency_code,
        "outcome": row.outcome,
        "http_status": row.http_status,
        "reason": row.reason,
        "service_code": row.service_code,
        "fields": row.fields,
        "request_id": row.request_id,
    }
    return Fact(
        "citizen.query", f"citizen-query:{row_id}", f"client:{row.client_code}"[:100], digests, details, at=row.at
    )


@dataclass(frozen=True)
class Filters:
    client_code: str | None = None
    agency_code: str | None = None
    officer_code: str | None = None
    operation: str | None = None
    outcome: str | None = None
    request_id: str | None = None
    id_hash: str | None = None
    id_hashes: Mapping[str, str] | None = None  # key version -> hash of one number (IdHasher.every)
    since: datetime | None = None  # at >= since
    until: datetime | None = None  # at < until
    before_id: int | None = None  # paging: rows older than this one
    limit: int = 100


def search(engine: Engine, f: Filters) -> list[dict[str, Any]]:
    """Matching rows, newest first."""
    t = citizen_queries
    q = select(t).order_by(t.c.id.desc()).limit(f.limit)
    for column, value in (
        (t.c.client_code, f.client_code),
        (t.c.agency_code, f.agency_code),
        (t.c.officer_code, f.officer_code),
        (t.c.operation, f.operation),
        (t.c.outcome, f.outcome),
        (t.c.request_id, f.request_id),
        (t.c.id_hash, f.id_hash),
    ):
        if value is not None:
            q = q.where(column == value)
    if f.id_hashes is not None:  # a row matches the hash of its own key version (null: version 1)
        legacy = or_(t.c.id_hash_key.is_(None), t.c.id_hash_key == "1")
        q = q.where(
            or_(*(and_(t.c.id_hash == h, legacy if v == "1" else t.c.id_hash_key == v) for v, h in f.id_hashes.items()))
        )
    if f.since is not None:
        q = q.where(t.c.at >= f.since)
    if f.until is not None:
        q = q.where(t.c.at < f.until)
    if f.before_id is not None:
        q = q.where(t.c.id < f.before_id)
    with engine.connect() as c:
        rows = c.execute(q).mappings().all()
    return [{**row, "at": iso(row["at"])} for row in rows]
