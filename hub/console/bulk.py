"""Bulk replay of the dead messages of a filter or a group (partner x error class), with a dry run
first: how many, which partners and types, and which would fail validation today against their
type's canonical model (those are left out of the run). The run queues each message through
``Ledger.replay`` (a fresh retry budget, one transaction each, the key's lock held like every
replay), records its outcome per message and its progress as it goes, and is audited at its start
(what was selected, by whom, why) and at its end (what came of it).

The console and the admin API run it on a thread of the api process and show its progress; the
CLI runs it in its own process. A run cut short by a stopped process stays ``running`` with the
outcomes it recorded; running the same selection again replays what is still dead."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, Text, cast, insert, select, update

from hub.console import audit
from hub.console.failures import classify
from hub.console.operations import MAX_REASON, ActionRefused, Actor, reason_of
from hub.console.queries import ERROR, FailureFilters, _distinct_errors
from hub.db.schema import bulk_replay_items, bulk_replays, messages
from hub.envelope import new_id, utcnow
from hub.ledger import Ledger, NotFound, NotReplayable
from hub.ledger.edits import check_json

log = logging.getLogger("hub.console.bulk")
MAX_MESSAGES = 50_000  # one bulk replay at most; narrow the filter for more
CHUNK = 500
SHOWN_INVALID = 100
m = messages.c
PAYLOAD_JSON = cast(m.payload, Text).label("payload_json")  # validated as text: one pass in pydantic-core


@dataclass(frozen=True)
class Selection:
    """Dead messages of a filter, or of one group (``connector`` and ``class_id``)."""

    connector: str | None = None
    type: str | None = None
    source: str | None = None
    agency: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    class_id: str | None = None

    def filters(self) -> FailureFilters:
        return FailureFilters(self.connector, self.type, self.source, self.agency, "dead", self.since, self.until)

    def as_json(self) -> dict[str, Any]:
        return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in asdict(self).items() if v}

    def check(self) -> None:
        if self.class_id and not self.connector:
            raise ActionRefused("class_id", "a group is one partner's: give its connector too")


def _where(engine: Engine, sel: Selection) -> ColumnElement[bool] | None:
    """The group's condition (its exact last errors), None for a plain filter; ``ActionRefused`` if
    the group has no dead message."""
    if not sel.class_id:
        return None
    with engine.connect() as c:
        errors = {r.error for r in _distinct_errors(c, sel.filters()) if classify(r.error).id == sel.class_id}
    if not errors:
        raise ActionRefused("class_id", "no dead message of this group matches the filter")
    cond: ColumnElement[bool] = ERROR.in_([e for e in errors if e is not None])
    if None in errors:
        cond = cond | m.last_error.is_(None)
    return cond


def _rows(engine: Engine, sel: Selection, *columns: Any) -> Iterator[Any]:
    sel.check()
    cond = _where(engine, sel)
    q = sel.filters().apply(select(*columns))
    if cond is not None:
        q = q.where(cond)
    q = q.order_by(m.updated_at, m.id).limit(MAX_MESSAGES + 1)
    with engine.connect() as c:
        yield from c.execution_options(yield_per=CHUNK).execute(q)


@dataclass
class DryRun:
    total: int = 0
    by_connector: dict[str, int] = field(default_factory=dict)
    by_type: dict[str, int] = field(default_factory=dict)
    invalid_count: int = 0  # would fail validation today: left out of the run
    invalid: list[dict[str, str]] = field(default_factory=list)  # the first SHOWN_INVALID: id, field, message
    redacted: int = 0  # payload redacted under the retention policy: cannot be replayed
    too_many: bool = False  # more than MAX_MESSAGES: narrow the filter

    @property
    def replayable(self) -> int:
        return self.total - self.invalid_count - self.redacted


def _problem(mtype: str, payload_json: str) -> tuple[str, str] | None:
    if '"_redacted"' in payload_json and "_redacted" in json.loads(payload_json):
        return ("(payload)", "redacted")
    found = check_json(mtype, payload_json)
    return None if found is None else (found.field, found.message)


def dry_run(engine: Engine, sel: Selection) -> DryRun:
    out = DryRun()
    for r in _rows(engine, sel, m.id, m.connector, m.type, PAYLOAD_JSON):
        if out.total == MAX_MESSAGES:
            out.too_many = True
            break
        out.total += 1
        out.by_connector[r.connector] = out.by_connector.get(r.connector, 0) + 1
        out.by_type[r.type] = out.by_type.get(r.type, 0) + 1
        problem = _problem(r.type, r.payload_json)
        if problem is None:
            continue
        if problem[1] == "redacted":
            out.redacted += 1
            continue
        out.invalid_count += 1
        if len(out.invalid) < SHOWN_INVALID:
            out.invalid.append({"id": r.id, "field": problem[0], "message": problem[1]})
    return out


# ------------------------------------------------------------------ the run
def start(ledger: Ledger, sel: Selection, actor: Actor, reason: str | None) -> tuple[str, list[str]]:
    """Record a bulk replay of what the selection holds now; returns its id and the messages' ids."""
    engine = ledger.engine
    try:
        why = reason_of(reason)
        ids = [r.id for r in _rows(engine, sel, m.id)]
        if len(ids) > MAX_MESSAGES:
            raise ActionRefused("selection", f"more than {MAX_MESSAGES} messages: narrow the filter")
        if not ids:
            raise ActionRefused("selection", "no dead message matches")
    except ActionRefused as exc:
        _audit(engine, actor, "refused", str(sel.as_json()), reason, str(exc))
        raise
    bid = new_id()
    with engine.begin() as c:
        c.execute(
            insert(bulk_replays).values(
                id=bid,
                created_at=utcnow(),
                operator=actor.name[:64],
                reason=why,
                selection=sel.as_json(),
                total=len(ids),
                done=0,
                state="running",
            )
        )
        audit.record(
            c,
            audit.Action(
                actor.name,
                "bulk.replay",
                "ok",
                bid,
                why,
                f"started: {len(ids)} messages of {sel.as_json()}",
                actor.remote_addr,
            ),
        )
    return bid, ids


def run(ledger: Ledger, bulk_id: str, ids: Sequence[str], actor: Actor) -> dict[str, int]:
    """Replay each message (those that fail validation today are left out); outcomes and progress
    are written per chunk."""
    counts = {"queued": 0, "invalid": 0, "refused": 0, "error": 0}
    try:
        for i in range(0, len(ids), CHUNK):
            chunk = ids[i : i + CHUNK]
            with ledger.engine.connect() as c:
                found = {r.id: r for r in c.execute(select(m.id, m.type, PAYLOAD_JSON).where(m.id.in_(chunk)))}
            items = []
            for mid in chunk:
                outcome, detail = _replay_one(ledger, mid, found.get(mid))
                counts[outcome] += 1
                items.append({"bulk_id": bulk_id, "message_id": mid, "outcome": outcome, "detail": detail})
            with ledger.engine.begin() as c:
                c.execute(insert(bulk_replay_items), items)
                c.execute(update(bulk_replays).where(bulk_replays.c.id == bulk_id).values(done=i + len(chunk)))
    except Exception:
        log.exception("bulk replay %s failed", bulk_id)
        _finish(ledger.engine, bulk_id, "failed", counts, actor)
        raise
    _finish(ledger.engine, bulk_id, "finished", counts, actor)
    return counts


def _replay_one(ledger: Ledger, mid: str, row: Any) -> tuple[str, str | None]:
    if row is None:
        return "refused", "no such message"
    problem = _problem(row.type, row.payload_json)
    if problem is not None:
        return (
            ("refused", "payload redacted")
            if problem[1] == "redacted"
            else ("invalid", f"{problem[0]}: {problem[1]}"[:500])
        )
    try:
        ledger.replay(mid)
    except (NotFound, NotReplayable) as exc:
        return "refused", str(exc)[:500]
    except Exception as exc:  # recorded, and the run goes on
        return "error", type(exc).__name__
    return "queued", None


def _finish(engine: Engine, bulk_id: str, state: str, counts: dict[str, int], actor: Actor) -> None:
    summary = ", ".join(f"{k} {v}" for k, v in counts.items())
    with engine.begin() as c:
        c.execute(update(bulk_replays).where(bulk_replays.c.id == bulk_id).values(state=state, finished_at=utcnow()))
        reason = c.execute(select(bulk_replays.c.reason).where(bulk_replays.c.id == bulk_id)).scalar()
        outcome = "ok" if state == "finished" else "error"
        audit.record(
            c,
            audit.Action(actor.name, "bulk.replay", outcome, bulk_id, reason, f"{state}: {summary}", actor.remote_addr),
        )


def run_in_background(ledger: Ledger, bulk_id: str, ids: Sequence[str], actor: Actor) -> threading.Thread:
    t = threading.Thread(target=run, args=(ledger, bulk_id, list(ids), actor), name=f"bulk-{bulk_id}", daemon=True)
    t.start()
    return t


def status(engine: Engine, bulk_id: str, limit: int = 200) -> dict[str, Any] | None:
    """The bulk replay, its counts per outcome, and its first ``limit`` outcomes that were not "queued"
    then the queued ones."""
    from sqlalchemy import case, func

    with engine.connect() as c:
        row = c.execute(select(bulk_replays).where(bulk_replays.c.id == bulk_id)).first()
        if row is None:
            return None
        it = bulk_replay_items.c
        counts = {
            r.outcome: r.n
            for r in c.execute(
                select(it.outcome, func.count().label("n")).where(it.bulk_id == bulk_id).group_by(it.outcome)
            )
        }
        items = c.execute(
            select(it.message_id, it.outcome, it.detail)
            .where(it.bulk_id == bulk_id)
            .order_by(case((it.outcome == "queued", 1), else_=0), it.message_id)
            .limit(limit)
        ).all()
    out = dict(row._mapping)
    out["counts"] = counts
    out["items"] = [dict(i._mapping) for i in items]
    out["percent"] = round(100 * row.done / row.total) if row.total else 100
    return out


def _audit(engine: Engine, actor: Actor, outcome: str, target: str, reason: str | None, detail: str) -> None:
    why = (reason or "")[:MAX_REASON] or None
    audit.record(engine, audit.Action(actor.name, "bulk.replay", outcome, target[:200], why, detail, actor.remote_addr))
