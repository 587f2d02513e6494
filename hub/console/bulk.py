"""Bulk replay of the dead messages of a filter or a group (partner x error class), with a dry run
first: how many, which partners and types, and which would fail validation today against their
type's canonical model (those are left out of the run). The run queues each message through
``Ledger.replay`` (a fresh retry budget, one transaction each, the key's lock held like every
replay), records its outcome per message and its progress as it goes, and is audited at its start
(what was selected, by whom, why) and at its end (what came of it).

The console and the admin API run it on a thread of the api process and show its progress; the
CLI runs it in its own process. Every selected message is an item from the start (``pending``).
The process running it is its owner and renews a lease (``heartbeat_at``, every
``HEARTBEAT_SECONDS``) while it runs; a run whose owner stopped renewing for ``LEASE_SECONDS`` (the
process was killed or restarted) is marked ``interrupted`` when it is next read, its progress kept,
and an operator can resume it (console, admin API, CLI): the resumed run does the items not done.

Never an item twice: a run takes each chunk (``replaying``, ``claimed_at``) before replaying it
and records the outcomes after; an item found ``replaying`` on resume (the owner stopped between
the two) was replayed if its message's retry budget was restarted at or after the claim (a replay
sets ``budget_since``), and is then recorded as queued without being replayed again."""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, Text, bindparam, case, cast, func, insert, select, update

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
LEASE_SECONDS = 60.0  # a running bulk replay not renewed for this long is interrupted
HEARTBEAT_SECONDS = 10.0
PROCESS = f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(4)}"  # this process, as an owner
UNDONE = ("pending", "replaying")
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
    now = utcnow()
    with engine.begin() as c:
        c.execute(
            insert(bulk_replays).values(
                id=bid,
                created_at=now,
                operator=actor.name[:64],
                reason=why,
                selection=sel.as_json(),
                total=len(ids),
                done=0,
                state="running",
                owner=PROCESS,
                heartbeat_at=now,
            )
        )
        for i in range(0, len(ids), 5_000):
            c.execute(
                insert(bulk_replay_items),
                [{"bulk_id": bid, "message_id": mid, "outcome": "pending"} for mid in ids[i : i + 5_000]],
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


class LeaseLost(Exception):
    """Another process took the bulk replay over (this one was thought gone): stop."""


def run(ledger: Ledger, bulk_id: str, actor: Actor) -> dict[str, int]:
    """Replay the bulk replay's items not done yet (those that fail validation today are left
    out), a chunk at a time, renewing this process's lease; outcomes and progress are written per
    chunk. The run must be owned by this process (``start`` or ``resume``)."""
    counts = {"queued": 0, "invalid": 0, "refused": 0, "error": 0}
    beat = _Heartbeat(ledger.engine, bulk_id)
    beat.start()
    try:
        after = ""  # items are done in message id order: each chunk starts past the last one taken
        while (taken := _next_chunk(ledger, bulk_id, beat, after)) is not None:
            after, chunk = taken
            with ledger.engine.connect() as c:
                found = {r.id: r for r in c.execute(select(m.id, m.type, PAYLOAD_JSON).where(m.id.in_(chunk)))}
            items = []
            for mid in chunk:
                if not beat.holds():
                    raise LeaseLost(bulk_id)
                outcome, detail = _replay_one(ledger, mid, found.get(mid))
                counts[outcome] += 1
                items.append({"b": bulk_id, "mid": mid, "outcome": outcome, "detail": detail})
            _record_outcomes(ledger.engine, bulk_id, items)
            beat.renewed()
    except LeaseLost:
        log.warning("bulk replay %s: taken over by another process; this one stops", bulk_id)
        return counts
    except Exception:
        log.exception("bulk replay %s failed", bulk_id)
        _finish(ledger.engine, bulk_id, "failed", actor)
        raise
    finally:
        beat.stop()
    _finish(ledger.engine, bulk_id, "finished", actor)
    return counts


def _record_outcomes(engine: Engine, bulk_id: str, items: list[dict[str, Any]]) -> None:
    with engine.begin() as c:
        _write_outcomes(c, bulk_id, items, heartbeat_at=utcnow())


def _write_outcomes(c: Connection, bulk_id: str, items: list[dict[str, Any]], **run: Any) -> None:
    """Each item's outcome (``{"b", "mid", "outcome", "detail"}``) and the run's count of items done
    (with ``run``'s other columns)."""
    it = bulk_replay_items.c
    if items:
        c.execute(
            update(bulk_replay_items)
            .where(it.bulk_id == bindparam("b"), it.message_id == bindparam("mid"))
            .values(outcome=bindparam("outcome"), detail=bindparam("detail")),
            items,
        )
    done = bulk_replays.c.done + len(items)
    c.execute(update(bulk_replays).where(bulk_replays.c.id == bulk_id).values(done=done, **run))


def _next_chunk(ledger: Ledger, bulk_id: str, beat: _Heartbeat, after: str) -> tuple[str, list[str]] | None:
    """Take the next items not done past ``after`` (``replaying``, claimed now), if this process
    still owns the run; the last id seen and the chunk, or None when none is left. An item a
    stopped run had taken was replayed if its message's budget restarted at or after that claim:
    recorded as queued, not taken again (the chunk is then empty or short)."""
    it = bulk_replay_items.c
    now = ledger.now()
    with ledger.engine.begin() as c:
        owned = c.execute(
            update(bulk_replays)
            .where(bulk_replays.c.id == bulk_id, bulk_replays.c.owner == PROCESS, bulk_replays.c.state == "running")
            .values(heartbeat_at=utcnow())
        ).rowcount
        if not owned:
            beat.lost.set()
            raise LeaseLost(bulk_id)
        beat.renewed()
        rows = c.execute(
            select(it.message_id, it.outcome, it.claimed_at, m.budget_since)
            .select_from(bulk_replay_items)
            .outerjoin(messages, m.id == it.message_id)
            .where(it.bulk_id == bulk_id, it.message_id > after, it.outcome.in_(UNDONE))
            .order_by(it.message_id)
            .limit(CHUNK)
        ).all()
        done_before = [
            {
                "b": bulk_id,
                "mid": r.message_id,
                "outcome": "queued",
                "detail": "replayed before the run was interrupted",
            }
            for r in rows
            if r.outcome == "replaying"
            and r.budget_since is not None
            and _aware(r.budget_since) >= _aware(r.claimed_at)
        ]
        if done_before:
            _write_outcomes(c, bulk_id, done_before)
        if not rows:
            return None
        skip = {x["mid"] for x in done_before}
        chunk = [r.message_id for r in rows if r.message_id not in skip]
        if chunk:
            c.execute(
                update(bulk_replay_items)
                .where(it.bulk_id == bulk_id, it.message_id.in_(chunk))
                .values(outcome="replaying", claimed_at=now)
            )
    return rows[-1].message_id, chunk


def _aware(at: datetime) -> datetime:
    from datetime import UTC

    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


class _Heartbeat:
    """Renews this process's lease on a bulk replay every ``HEARTBEAT_SECONDS`` while it runs;
    ``lost`` is set if the run is no longer this process's (another one took it over). ``holds()``
    is false too once no renewal has succeeded for half the lease (the database out of reach):
    the run stops replaying before another process could take it for gone and resume it."""

    def __init__(self, engine: Engine, bulk_id: str):
        self.engine, self.bulk_id = engine, bulk_id
        self.lost = threading.Event()
        self.last_ok = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"bulk-beat-{bulk_id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def renewed(self) -> None:
        self.last_ok = time.monotonic()

    def holds(self) -> bool:
        return not self.lost.is_set() and time.monotonic() - self.last_ok < LEASE_SECONDS / 2

    def _beat(self) -> None:
        b = bulk_replays.c
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                with self.engine.begin() as c:
                    mine = c.execute(
                        update(bulk_replays)
                        .where(b.id == self.bulk_id, b.owner == PROCESS, b.state == "running")
                        .values(heartbeat_at=utcnow())
                    ).rowcount
            except Exception as exc:  # the database is out of reach a moment: the next beat tries again
                log.warning("bulk replay %s: heartbeat not written: %s", self.bulk_id, type(exc).__name__)
                continue
            if not mine:
                self.lost.set()
                return
            self.renewed()


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


def _finish(engine: Engine, bulk_id: str, state: str, actor: Actor) -> None:
    it = bulk_replay_items.c
    with engine.begin() as c:
        c.execute(
            update(bulk_replays)
            .where(bulk_replays.c.id == bulk_id, bulk_replays.c.owner == PROCESS)
            .values(state=state, finished_at=utcnow())
        )
        reason = c.execute(select(bulk_replays.c.reason).where(bulk_replays.c.id == bulk_id)).scalar()
        counts: dict[str, int] = {
            r.outcome: r.n
            for r in c.execute(
                select(it.outcome, func.count().label("n")).where(it.bulk_id == bulk_id).group_by(it.outcome)
            )
        }
        summary = ", ".join(f"{k} {counts.get(k, 0)}" for k in ("queued", "invalid", "refused", "error"))
        outcome = "ok" if state == "finished" else "error"
        audit.record(
            c,
            audit.Action(actor.name, "bulk.replay", outcome, bulk_id, reason, f"{state}: {summary}", actor.remote_addr),
        )


def run_in_background(ledger: Ledger, bulk_id: str, actor: Actor) -> threading.Thread:
    t = threading.Thread(target=run, args=(ledger, bulk_id, actor), name=f"bulk-{bulk_id}", daemon=True)
    t.start()
    return t


# ------------------------------------------------------------------ interrupted runs
def sweep(engine: Engine, now: datetime | None = None) -> list[str]:
    """Mark ``interrupted`` every running bulk replay whose owner has not renewed its lease for
    ``LEASE_SECONDS`` (its process stopped); their progress is kept. Returns their ids."""
    now = now or utcnow()
    b = bulk_replays.c
    stale = (b.state == "running") & (
        (b.heartbeat_at.is_(None)) | (b.heartbeat_at < now - timedelta(seconds=LEASE_SECONDS))
    )
    with engine.begin() as c:
        found = c.execute(select(b.id, b.owner, b.done, b.total, b.reason).where(stale)).all()
        gone = []
        for r in found:
            hit = c.execute(update(bulk_replays).where(b.id == r.id, stale).values(state="interrupted")).rowcount
            if hit:
                gone.append(r.id)
                detail = f"interrupted: its process ({r.owner or 'unknown'}) stopped; {r.done} of {r.total} done"
                audit.record(c, audit.Action("hub", "bulk.interrupted", "error", r.id, r.reason, detail))
    for bid in gone:
        log.warning("bulk replay %s interrupted: its process stopped renewing its lease", bid)
    return gone


def resume(ledger: Ledger, bulk_id: str, actor: Actor, reason: str | None, now: datetime | None = None) -> int:
    """Take an interrupted bulk replay over (this process owns it from now); returns how many
    items are left to do. ``ActionRefused`` if it is not interrupted (still running: its owner is
    alive; finished) or does not exist. Then ``run`` (or ``run_in_background``) it."""
    engine = ledger.engine
    b = bulk_replays.c
    try:
        why = reason_of(reason)
        sweep(engine, now)
        with engine.begin() as c:
            row = c.execute(select(b.state).where(b.id == bulk_id)).first()
            if row is None:
                raise ActionRefused("bulk_id", f"no bulk replay {bulk_id}")
            took = c.execute(
                update(bulk_replays)
                .where(b.id == bulk_id, b.state == "interrupted")
                .values(state="running", owner=PROCESS, heartbeat_at=utcnow(), finished_at=None)
            ).rowcount
            if not took:
                raise ActionRefused("state", f"bulk replay {bulk_id} is {row.state}; only an interrupted one resumes")
            it = bulk_replay_items.c
            left = c.execute(select(func.count()).where(it.bulk_id == bulk_id, it.outcome.in_(UNDONE))).scalar_one()
            audit.record(
                c,
                audit.Action(actor.name, "bulk.resume", "ok", bulk_id, why, f"resumed: {left} left", actor.remote_addr),
            )
    except ActionRefused as exc:
        audit.record(
            engine,
            audit.Action(
                actor.name,
                "bulk.resume",
                "refused",
                bulk_id[:200],
                (reason or "")[:MAX_REASON] or None,
                str(exc),
                actor.remote_addr,
            ),
        )
        raise
    return int(left)


def unfinished(engine: Engine, limit: int = 20) -> list[dict[str, Any]]:
    """Bulk replays running or interrupted (a running one whose owner is gone marked so first),
    newest first: what the Failures page lists, with a link to resume the interrupted ones."""
    sweep(engine)
    b = bulk_replays.c
    with engine.connect() as c:
        rows = c.execute(
            select(b.id, b.created_at, b.operator, b.reason, b.total, b.done, b.state)
            .where(b.state.in_(("running", "interrupted")))
            .order_by(b.created_at.desc())
            .limit(limit)
        ).all()
    return [dict(r._mapping) for r in rows]


def status(engine: Engine, bulk_id: str, limit: int = 200, now: datetime | None = None) -> dict[str, Any] | None:
    """The bulk replay, its counts per outcome, and its first ``limit`` outcomes that were not "queued"
    then the queued ones, then those not done. A running one whose owner is gone is marked
    interrupted first (``sweep``)."""
    sweep(engine, now)
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
            .order_by(case((it.outcome == "queued", 1), (it.outcome.in_(UNDONE), 2), else_=0), it.message_id)
            .limit(limit)
        ).all()
    out = dict(row._mapping)
    out["counts"] = counts
    out["items"] = [dict(i._mapping) for i in items]
    out["percent"] = round(100 * row.done / row.total) if row.total else 100
    out["left"] = sum(n for k, n in counts.items() if k in UNDONE)
    return out


def _audit(engine: Engine, actor: Actor, outcome: str, target: str, reason: str | None, detail: str) -> None:
    why = (reason or "")[:MAX_REASON] or None
    audit.record(engine, audit.Action(actor.name, "bulk.replay", outcome, target[:200], why, detail, actor.remote_addr))
