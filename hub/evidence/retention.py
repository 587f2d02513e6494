"""Retention: personal data in payloads kept only as long as configured, and old evidence archived.

**Payloads.** A message is *final* when it is ``delivered``, or ``dead`` and not replayed since
(a replay makes it ``queued`` again; ``hub/ledger/schedule.py``). Once it has been final for
``HUB_RETENTION_PAYLOAD_DAYS`` (per type: ``HUB_RETENTION_PAYLOAD_DAYS_BY_TYPE``), the fields of its
payload that hold personal data (:data:`PERSONAL_FIELDS`: the applicant, the officer, free texts)
are removed and the payload gets a marker instead::

    "_redacted": {"at": "...Z", "digest": "hmac-sha256:<v>:<hex>", "fields": ["applicant", ...]}

``digest`` is ``Keyring.json(original payload)``: the digest the evidence's ``message.accepted``
fact holds, so the evidence still proves what was accepted. Everything else stays (status, dates,
codes), so traces, timelines and reports stay whole. In the same transaction: a row in
``payload_redactions`` and a ``payload.redacted`` evidence fact. A redacted message cannot be
replayed. The job walks ``messages`` by id from a cursor (``job_cursors``) that stops at the
oldest message not yet final, so no index is added to the spine's hottest table.

**Evidence.** With ``HUB_EVIDENCE_KEEP_DAYS`` set, records older than that are exported to signed
archive segments and pruned from the database (``archive.py``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import Engine, insert, select, text, update
from sqlalchemy.exc import SQLAlchemyError
from ulid import ULID

from hub.db.schema import job_cursors, messages, payload_redactions
from hub.envelope import utcnow
from hub.evidence.keyring import Keyring
from hub.evidence.model import Fact, timestamp
from hub.evidence.signing import Signer
from hub.evidence.store import record_many
from hub.privacy import PAYLOAD_PERSONAL_FIELDS
from hub.settings import Settings

log = structlog.get_logger("hub.evidence")
PERSONAL_FIELDS = PAYLOAD_PERSONAL_FIELDS
MARKER = "_redacted"
FINAL = ("delivered", "dead")
CURSOR = "retention.payloads"
LOCK_KEY = 712036  # pg_try_advisory_lock(LOCK_KEY): one retention run at a time


def redacted(payload: dict[str, Any], digest: str, at: datetime) -> tuple[dict[str, Any], list[str]]:
    """The payload without its personal fields, with the marker (pure)."""
    fields = sorted(k for k in payload if k in PERSONAL_FIELDS)
    kept = {k: v for k, v in payload.items() if k not in PERSONAL_FIELDS}
    kept[MARKER] = {"at": timestamp(at), "digest": digest, "fields": fields}
    return kept, fields


class Retention:
    def __init__(
        self,
        engine: Engine,
        keyring: Keyring,
        settings: Settings,
        signer: Signer | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.keyring = keyring
        self.s = settings
        self.signer = signer
        self.now = clock

    def _keep(self, type_: str) -> timedelta | None:
        days = self.s.retention_payload_days_by_type.get(type_, self.s.retention_payload_days)
        return None if days is None else timedelta(days=days)

    def redact_payloads(self) -> int:
        """Redact every message final for longer than its retention; returns how many."""
        if self.s.retention_payload_days is None and not self.s.retention_payload_days_by_type:
            return 0
        keeps = [
            k
            for k in [self._keep(t) for t in self.s.retention_payload_days_by_type] + [self._keep("")]
            if k is not None
        ]
        if not keeps:
            return 0
        now = self.now()
        # nothing accepted after this can be due: ids are ULIDs, whose first 10 characters are the time
        floor = str(ULID.from_datetime(now - min(keeps)))[:10] + "0" * 16
        m = messages
        with self.engine.connect() as c:
            cursor = c.execute(select(job_cursors.c.cursor).where(job_cursors.c.name == CURSOR)).scalar() or ""
        total, stuck = 0, None
        while True:
            with self.engine.connect() as c:
                batch = c.execute(
                    select(m.c.id, m.c.type, m.c.state, m.c.updated_at, payload_redactions.c.message_id.label("done"))
                    .outerjoin(payload_redactions, payload_redactions.c.message_id == m.c.id)
                    .where(m.c.id > cursor, m.c.id < floor)
                    .order_by(m.c.id)
                    .limit(self.s.retention_batch)
                ).all()
            if not batch:
                break
            due, before = [], cursor
            for r in batch:
                keep = self._keep(r.type)
                if r.done is None and keep is not None:
                    if r.state in FINAL and r.updated_at <= now - keep:
                        due.append(r.id)
                    elif stuck is None:
                        stuck = before  # not final yet, or not for long enough: the next run starts here
                before = r.id
            total += self._redact(due, now)
            cursor = batch[-1].id
        self._save_cursor(stuck if stuck is not None else cursor, now)
        return total

    def _redact(self, ids: list[str], now: datetime) -> int:
        if not ids:
            return 0
        m = messages
        done, facts = [], []
        with self.engine.begin() as c:
            for mid in ids:
                row = c.execute(select(m.c.payload, m.c.type).where(m.c.id == mid)).first()
                if row is None or MARKER in row.payload:
                    continue
                digest = self.keyring.json(row.payload)
                new, fields = redacted(row.payload, digest, now)
                changed = c.execute(  # only if still final: a replay since makes it queued again
                    update(m).where(m.c.id == mid, m.c.state.in_(FINAL)).values(payload=new)
                ).rowcount
                if not changed:
                    continue
                done.append({"message_id": mid, "redacted_at": now, "digest": digest, "fields": fields})
                facts.append(
                    Fact(
                        "payload.redacted",
                        f"message:{mid}",
                        "hub:retention",
                        {"payload": digest},
                        {"fields": fields, "type": row.type},
                        at=now,
                    )
                )
            if done:
                c.execute(insert(payload_redactions), done)
                record_many(c, facts, chains=self.s.evidence_chains)
        return len(done)

    def _save_cursor(self, cursor: str, now: datetime) -> None:
        j = job_cursors
        with self.engine.begin() as c:
            if c.execute(update(j).where(j.c.name == CURSOR).values(cursor=cursor, updated_at=now)).rowcount == 0:
                c.execute(insert(j).values(name=CURSOR, cursor=cursor, updated_at=now))

    def archive_evidence(self) -> int:
        if self.s.evidence_keep_days is None or self.signer is None:
            return 0
        from hub.evidence.archive import archive

        before = self.now() - timedelta(days=self.s.evidence_keep_days)
        segments = archive(
            self.engine,
            self.signer,
            Path(self.s.evidence_archive_dir),
            before=before,
            prune=True,
            max_records=self.s.evidence_segment_records,
            clock=self.now,
        )
        return len(segments)

    def run_once(self) -> tuple[int, int]:
        """One run; on PostgreSQL under a session advisory lock, so of several relays one runs at a
        time (the others skip this round)."""
        if self.engine.dialect.name != "postgresql":
            return self.redact_payloads(), self.archive_evidence()
        with self.engine.connect() as c:
            if not c.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY}).scalar():
                return 0, 0
            try:
                return self.redact_payloads(), self.archive_evidence()
            finally:
                c.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
                c.commit()

    def run_forever(self, stop: threading.Event) -> None:
        """The retention job (a thread of the relay process, beside the chainer)."""
        while not stop.wait(self.s.retention_interval):
            try:
                payloads, segments = self.run_once()
            except (SQLAlchemyError, OSError, RuntimeError) as exc:
                log.warning("retention.failed", error=type(exc).__name__)
                continue
            if payloads or segments:
                log.info("retention.done", payloads_redacted=payloads, evidence_segments_archived=segments)
