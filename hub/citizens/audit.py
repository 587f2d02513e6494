"""The audit of population database queries (table ``citizen_queries``): write one row, search rows.

The ID number is stored as a keyed hash only: HMAC-SHA256 under ``HUB_AUDIT_HASH_KEY``. Without
the key a hash cannot be tested against the (small) space of ID numbers; with it, the operator can
find every query about one citizen (:func:`search` with ``id_number``). Rotating the key makes
earlier rows unsearchable by number (they stay readable).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import SecretStr
from sqlalchemy import Engine, insert, select

from hub.db.schema import citizen_queries
from hub.envelope import iso


class IdHasher:
    """HMAC-SHA256 of ID numbers under one secret key."""

    def __init__(self, key: SecretStr) -> None:
        self._mac = hmac.new(key.get_secret_value().encode("utf-8"), digestmod=hashlib.sha256)

    def __call__(self, id_number: str) -> str:
        mac = self._mac.copy()
        mac.update(id_number.strip().encode("ascii", errors="replace"))
        return mac.hexdigest()


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


_INSERT = insert(citizen_queries)  # one statement object: compiled once, parameters per call


def record(engine: Engine, row: QueryRecord) -> None:
    """Write one audit row and commit (before the caller is answered)."""
    values = dict(row.__dict__)
    if values["detail"]:
        values["detail"] = values["detail"][:300]
    with engine.begin() as c:
        c.execute(_INSERT, values)


@dataclass(frozen=True)
class Filters:
    client_code: str | None = None
    officer_code: str | None = None
    operation: str | None = None
    outcome: str | None = None
    request_id: str | None = None
    id_hash: str | None = None
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
        (t.c.officer_code, f.officer_code),
        (t.c.operation, f.operation),
        (t.c.outcome, f.outcome),
        (t.c.request_id, f.request_id),
        (t.c.id_hash, f.id_hash),
    ):
        if value is not None:
            q = q.where(column == value)
    if f.since is not None:
        q = q.where(t.c.at >= f.since)
    if f.until is not None:
        q = q.where(t.c.at < f.until)
    if f.before_id is not None:
        q = q.where(t.c.id < f.before_id)
    with engine.connect() as c:
        rows = c.execute(q).mappings().all()
    return [{**row, "at": iso(row["at"])} for row in rows]
