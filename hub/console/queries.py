"""What the console's pages read, over the hub's own tables (SQLAlchemy Core; read only but for
the Overview's per-hour counts of finished hours, ``console_hourly``, written once per hour).

Fast on PostgreSQL with millions of messages: every query is served by an index (migration
0008 adds the console's three partial ones on ``messages``; their predicates are written here as
literal SQL, the same text as the index's, so SQLite and PostgreSQL's generic plans can use them;
migration 0013 puts the failures' index on ``error_head``, a generated column, for index-only scans).
Messages accepted in a time range are found through the primary key: ids are ULIDs minted at
acceptance (``hub.envelope.new_id``), so their first ten characters are ``accepted_at``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, case, delete, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql import Select
from ulid import ULID

from hub.console.failures import ErrorClass, classify
from hub.db.schema import (
    CONSOLE_GUARD,
    attempts,
    bulk_replay_items,
    bulk_replays,
    console_hourly,
    message_replays,
    messages,
    operator_actions,
    payment_events,
    payments,
)
from hub.messages import DOSSIER_STATUS_CHANGED
from hub.trace import masked_payload

log = logging.getLogger("hub.console.queries")
m = messages.c
FAILING = text(f"messages.state IN ('dead', 'retrying') AND messages.{CONSOLE_GUARD}")
BACKLOG = text(f"messages.state IN ('queued', 'delivering', 'held') AND messages.{CONSOLE_GUARD}")
DELIVERED = text(f"messages.delivered_at IS NOT NULL AND messages.{CONSOLE_GUARD}")
ERROR: ColumnElement[str | None] = m.error_head  # the start of last_error (a generated column): what classify() reads
PAGE = 50


def id_floor(at: datetime) -> str:
    """The smallest ULID minted at ``at`` (or later)."""
    return str(ULID.from_datetime(at))[:10] + "0" * 16


def hour_of(col: Any, dialect: str) -> ColumnElement[Any]:
    if dialect == "postgresql":
        return func.date_trunc("hour", func.timezone("UTC", col))
    return func.strftime("%Y-%m-%d %H:00:00", col)


# ------------------------------------------------------------------ failures
@dataclass(frozen=True)
class FailureFilters:
    connector: str | None = None
    type: str | None = None
    source: str | None = None  # the client system
    agency: str | None = None  # payload agency_code
    state: str | None = None  # dead | retrying | None: both
    since: datetime | None = None  # last failure at or after
    until: datetime | None = None

    def apply(self, q: Select[Any]) -> Select[Any]:
        q = q.where(FAILING)
        if self.connector:
            q = q.where(m.connector == self.connector)
        if self.type:
            q = q.where(m.type == self.type)
        if self.source:
            q = q.where(m.source == self.source)
        if self.agency:
            q = q.where(m.payload["agency_code"].as_string() == self.agency)
        if self.state in ("dead", "retrying"):
            q = q.where(m.state == self.state)
        if self.since:
            q = q.where(m.updated_at >= self.since)
        if self.until:
            q = q.where(m.updated_at < self.until)
        return q


@dataclass
class Group:
    connector: str
    error: ErrorClass
    dead: int = 0
    retrying: int = 0
    exhausted: int = 0  # died of a spent retry budget
    first_seen: datetime | None = None
    last_seen: datetime | None = None

    @property
    def count(self) -> int:
        return self.dead + self.retrying


def _distinct_errors(c: Connection, f: FailureFilters) -> list[Any]:
    q = f.apply(
        select(
            m.connector,
            ERROR.label("error"),
            m.state,
            func.count().label("n"),
            func.min(m.updated_at).label("first"),
            func.max(m.updated_at).label("last"),
        )
    ).group_by(m.connector, m.state, ERROR)  # the failing index's order: grouped as it is read, no hashing
    return list(c.execute(q))


def failure_groups(engine: Engine, f: FailureFilters) -> list[Group]:
    """Dead and retrying messages grouped by connector x error class, largest group first. The
    database groups by the exact last error; :func:`classify` merges those into classes."""
    with engine.connect() as c:
        return _merge(_distinct_errors(c, f))


def _merge(rows: Sequence[Any]) -> list[Group]:
    groups: dict[tuple[str, str], Group] = {}
    for r in rows:
        err = classify(r.error)
        g = groups.get((r.connector, err.key)) or groups.setdefault((r.connector, err.key), Group(r.connector, err))
        if r.state == "dead":
            g.dead += r.n
            g.exhausted += r.n if err.exhausted else 0
        else:
            g.retrying += r.n
        first, last = _utc(r.first), _utc(r.last)
        g.first_seen = first if g.first_seen is None or first < g.first_seen else g.first_seen
        g.last_seen = last if g.last_seen is None or last > g.last_seen else g.last_seen
    return sorted(groups.values(), key=lambda g: (-g.count, g.connector, g.error.key))


@dataclass
class GroupPage:
    group: Group | None
    messages: list[dict[str, Any]] = field(default_factory=list)
    next_cursor: str | None = None  # "<updated_at iso>|<id>" of the last row, when there is more


def group_messages(
    engine: Engine, connector: str, class_id: str, f: FailureFilters, cursor: str | None = None, limit: int = PAGE
) -> GroupPage:
    """One group's messages, newest failure first, ``limit`` at a time (keyset paging)."""
    f = FailureFilters(**{**f.__dict__, "connector": connector})
    with engine.connect() as c:
        rows = _distinct_errors(c, f)
        mine = [r for r in rows if classify(r.error).id == class_id]
        errors = {r.error for r in mine}
        if not errors:
            return GroupPage(None)
        cond: ColumnElement[bool] = ERROR.in_([e for e in errors if e is not None])
        if None in errors:
            cond = cond | m.last_error.is_(None)
        q = f.apply(select(m.id)).where(cond)
        if cursor:
            at_text, _, mid = cursor.partition("|")
            at = _utc(at_text)
            q = q.where((m.updated_at < at) | ((m.updated_at == at) & (m.id < mid)))
        newest = q.order_by(m.updated_at.desc(), m.id.desc()).limit(limit + 1)  # from the index alone
        shown = (m.id, m.type, m.source, m.key, m.state, m.attempts, m.updated_at, m.accepted_at, m.last_error)
        rows_q = select(*shown).where(m.id.in_(newest.scalar_subquery())).order_by(m.updated_at.desc(), m.id.desc())
        found = [dict(r._mapping) for r in c.execute(rows_q)]
    more = len(found) > limit
    found = found[:limit]
    nxt = f"{_utc(found[-1]['updated_at']).isoformat()}|{found[-1]['id']}" if more else None
    return GroupPage(_merge(mine)[0], found, nxt)


def _utc(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# ------------------------------------------------------------------ overview
SERIES = ("accepted", "delivered", "retrying", "dead")


@dataclass
class ConnectorHealth:
    connector: str
    hourly: dict[str, list[int]]  # series -> 24 counts, oldest hour first
    backlog: dict[str, int]  # queued / delivering / held now
    retrying: int = 0  # now
    dead: int = 0  # now
    last_success: datetime | None = None
    p95_seconds: float | None = None  # accepted -> delivered, of the last 24 hours' deliveries
    delivered_24h: int = 0

    @property
    def backlog_total(self) -> int:
        return sum(self.backlog.values())


@dataclass
class Overview:
    now: datetime
    hours: list[datetime]  # the 24 hour buckets (UTC), oldest first
    connectors: list[ConnectorHealth]
    sync: dict[str, Any]  # the population database's synchronous calls (citizen_queries)


FINAL_AFTER = timedelta(minutes=15)  # an hour's accepted / delivered counts are final this long after it ends


def overview(engine: Engine, connectors: Sequence[str], now: datetime) -> Overview:
    """Per connector: accepted / delivered / retrying / dead per hour over the last 24 hours
    (retrying and dead: messages in that state now, by the hour of their last failure), the
    counts now, last success, p95 of accepted -> delivered.

    Accepted and delivered per finished hour come from ``console_hourly`` (each hour counted once,
    the first time an Overview needs it, :func:`_finished_hours`); only the hours not final yet
    are counted here. The failures (series and counts now) are one scan of the failing index, the
    p95 one grouped percentile, the last successes one statement."""
    start = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=23)
    hours = [start + timedelta(hours=i) for i in range(24)]
    index = {h: i for i, h in enumerate(hours)}
    names = list(connectors)
    health = {n: ConnectorHealth(n, {s: [0] * 24 for s in SERIES}, {}) for n in names}
    dialect = engine.dialect.name
    live_from = max(start, _final_until(now))  # hours from here on are counted live
    with engine.connect() as c:
        counts = _finished_hours(c, names, start, live_from) | _count_hours(c, names, live_from, None, dialect)
        for (name, at), (accepted, delivered) in counts.items():
            if name in health and (i := index.get(at)) is not None:
                health[name].hourly["accepted"][i] += accepted
                health[name].hourly["delivered"][i] += delivered
        hour = case((m.updated_at >= start, hour_of(m.updated_at, dialect)), else_=None).label("hour")
        q = select(m.connector, m.state, hour, func.count().label("n")).where(FAILING, m.connector.in_(names))
        for r in c.execute(q.group_by(m.connector, m.state, hour)):
            h = health[r.connector]
            setattr(h, r.state, getattr(h, r.state) + r.n)
            if r.hour is not None and (i := index.get(_utc(r.hour))) is not None:
                h.hourly[r.state][i] += r.n
        for r in c.execute(
            select(m.connector, m.state, func.count().label("n")).where(BACKLOG).group_by(m.connector, m.state)
        ):
            if r.connector in health:
                health[r.connector].backlog[r.state] = r.n
        last = [
            select(func.max(m.delivered_at)).where(DELIVERED, m.connector == name).scalar_subquery().label(f"c{i}")
            for i, name in enumerate(names)
        ]
        if last:
            row = c.execute(select(*last)).one()
            for i, name in enumerate(names):
                health[name].last_success = row[i]
        for name, p95 in _p95(c, dialect, names, start).items():
            health[name].p95_seconds = p95
        for h in health.values():
            h.delivered_24h = sum(h.hourly["delivered"])
        sync = _sync_health(c, start)
    return Overview(now, hours, list(health.values()), sync)


def _final_until(now: datetime) -> datetime:
    """The end of the last hour whose counts are final: its end is ``FINAL_AFTER`` ago (a message
    accepted or delivered just before the hour ended is committed by then)."""
    return (now.astimezone(UTC) - FINAL_AFTER).replace(minute=0, second=0, microsecond=0)


def _count_hours(
    c: Connection, names: Sequence[str], since: datetime, until: datetime | None, dialect: str
) -> dict[tuple[str, datetime], tuple[int, int]]:
    """(connector, hour) -> (accepted, delivered) over [since, until), from the primary key
    (ids are ULIDs of accepted_at) and the delivered index."""
    out: dict[tuple[str, datetime], tuple[int, int]] = {}
    for series, col, where in (
        ("accepted", m.accepted_at, (m.id >= id_floor(since - timedelta(minutes=5)),)),
        ("delivered", m.delivered_at, (DELIVERED,)),
    ):
        hour = hour_of(col, dialect).label("hour")
        q = select(m.connector, hour, func.count().label("n")).where(*where, col >= since, m.connector.in_(names))
        if until is not None:
            q = q.where(col < until)
            if series == "accepted":
                q = q.where(m.id < id_floor(until + timedelta(minutes=5)))
        for r in c.execute(q.group_by(m.connector, hour)):
            key = (r.connector, _utc(r.hour))
            a, d = out.get(key, (0, 0))
            out[key] = (a + r.n, d) if series == "accepted" else (a, d + r.n)
    return out


def _finished_hours(
    c: Connection, names: Sequence[str], start: datetime, until: datetime
) -> dict[tuple[str, datetime], tuple[int, int]]:
    """The finished hours' counts in [start, until): read from ``console_hourly``; the hours
    missing there are counted (one pass over the span they cover) and written, zeros included."""
    if until <= start or not names:
        return {}
    t = console_hourly.c
    rows = c.execute(
        select(t.connector, t.hour, t.accepted, t.delivered).where(
            t.connector.in_(names), t.hour >= start, t.hour < until
        )
    )
    out = {(r.connector, _utc(r.hour)): (r.accepted, r.delivered) for r in rows}
    wanted = [start + timedelta(hours=i) for i in range(int((until - start) / timedelta(hours=1)))]
    missing = [h for h in wanted if any((n, h) not in out for n in names)]
    if not missing:
        return out
    lo, hi = missing[0], missing[-1] + timedelta(hours=1)
    counted = _count_hours(c, names, lo, hi, c.dialect.name)
    fresh = {(n, h): counted.get((n, h), (0, 0)) for h in missing for n in names if (n, h) not in out}
    new = [{"connector": n, "hour": h, "accepted": a, "delivered": d} for (n, h), (a, d) in fresh.items()]
    insert_ = pg_insert if c.dialect.name == "postgresql" else sqlite_insert
    try:
        c.execute(insert_(console_hourly).on_conflict_do_nothing(), new)  # another process may have counted them
        c.execute(delete(console_hourly).where(t.hour < start - KEEP_HOURS))
        c.commit()
    except SQLAlchemyError as exc:  # not kept (a read-only database, a busy SQLite file): counted again next time
        c.rollback()
        log.warning("overview: hourly counts not kept: %s", type(exc).__name__)
    return out | fresh


KEEP_HOURS = timedelta(days=7)


def _p95(c: Connection, dialect: str, names: Sequence[str], since: datetime) -> dict[str, float | None]:
    """connector -> p95 of accepted -> delivered (seconds) over the deliveries since ``since``."""
    took = m.delivered_at - m.accepted_at
    where = (DELIVERED, m.connector.in_(names), m.delivered_at >= since)
    if dialect == "postgresql":
        p95 = func.percentile_cont(0.95).within_group(func.extract("epoch", took))
        q = select(m.connector, p95.label("p95")).where(*where).group_by(m.connector)
        return {r.connector: float(r.p95) for r in c.execute(q) if r.p95 is not None}
    spans: dict[str, list[float]] = {}
    for r in c.execute(select(m.connector, m.delivered_at, m.accepted_at).where(*where)):
        spans.setdefault(r.connector, []).append((_utc(r.delivered_at) - _utc(r.accepted_at)).total_seconds())
    return {n: sorted(xs)[min(len(xs) - 1, int(0.95 * len(xs)))] for n, xs in spans.items()}


ANSWERED = ("matched", "mismatch", "found", "not_found")


def _sync_health(c: Connection, since: datetime) -> dict[str, Any]:
    from hub.db.schema import citizen_queries as cq

    answered = cq.c.outcome.in_(ANSWERED)
    row = c.execute(
        select(
            func.count().label("calls"),
            func.count().filter(answered).label("answered"),
            func.max(cq.c.duration_ms).label("slowest"),
        ).where(cq.c.at >= since)
    ).one()
    last_ok = c.execute(select(cq.c.at).where(answered).order_by(cq.c.at.desc()).limit(1)).scalar()
    return {
        "calls": row.calls,
        "answered": row.answered,
        "failed": row.calls - row.answered,
        "slowest_ms": row.slowest,
        "last_success": last_ok,
    }


# ------------------------------------------------------------------ one message
def message(engine: Engine, message_id: str) -> dict[str, Any] | None:
    """The envelope, the payload (personal data masked), every attempt, and what operators did to it."""
    with engine.connect() as c:
        row = c.execute(select(messages).where(m.id == message_id)).first()
        if row is None:
            return None
        tries = c.execute(select(attempts).where(attempts.c.message_id == message_id).order_by(attempts.c.number)).all()
        actions = c.execute(
            select(operator_actions).where(operator_actions.c.target == message_id).order_by(operator_actions.c.id)
        ).all()
        r = message_replays.c
        links = c.execute(
            select(message_replays, messages.c.state)
            .join(messages, messages.c.id == r.replay_id)
            .where((r.original_id == message_id) | (r.replay_id == message_id))
            .order_by(r.at)
        ).all()
        b, bi = bulk_replays.c, bulk_replay_items.c
        bulk_runs = c.execute(
            select(b.id, b.created_at, b.operator, b.reason, bi.outcome, bi.detail)
            .join(bulk_replay_items, bi.bulk_id == b.id)
            .where(bi.message_id == message_id)
            .order_by(b.created_at)
        ).all()
    out = dict(row._mapping)
    out["payload"] = json.dumps(masked_payload(row.payload), ensure_ascii=False, indent=2)
    out["attempt_rows"] = [dict(a._mapping) for a in tries]
    out["actions"] = [dict(a._mapping) for a in actions]
    out["bulk"] = [dict(b._mapping) for b in bulk_runs]  # bulk replays that took this message in
    out["replays"] = [dict(x._mapping) for x in links if x.original_id == message_id]  # edited copies of this one
    out["replay_of"] = next((dict(x._mapping) for x in links if x.replay_id == message_id), None)
    out["error"] = classify(row.last_error) if row.state in ("dead", "retrying") and row.last_error else None
    return out


# ------------------------------------------------------------------ a dossier's journey
def dossier(engine: Engine, code: str) -> dict[str, Any] | None:
    """A dossier's journey on one time line: its messages (status changes and what the hub sent
    about it) with their deliveries and the partner's answers, its payments with every gateway
    call and callback; how long each step took, and the appointment date."""
    with engine.connect() as c:
        pays = c.execute(select(payments).where(payments.c.dossier_code == code).order_by(payments.c.created_at)).all()
        events = (
            c.execute(
                select(payment_events)
                .where(payment_events.c.payment_id.in_([p.id for p in pays]))
                .order_by(payment_events.c.id)
            ).all()
            if pays
            else []
        )
        announced = [x["message_id"] for e in events if e.kind == "announce" for x in json.loads(e.detail or "[]")]
        rows = {r.id: r for r in c.execute(select(messages).where(m.key == code))}
        if announced:
            rows |= {r.id: r for r in c.execute(select(messages).where(m.id.in_(announced)))}
        tries = (
            c.execute(
                select(attempts)
                .where(attempts.c.message_id.in_(list(rows)))
                .order_by(attempts.c.message_id, attempts.c.number)
            ).all()
            if rows
            else []
        )
    if not rows and not pays:
        return None
    by_message: dict[str, list[dict[str, Any]]] = {}
    for a in tries:
        by_message.setdefault(a.message_id, []).append(dict(a._mapping))
    entries: list[dict[str, Any]] = []
    for r in rows.values():
        entries.append(
            {
                "at": _utc(r.occurred_at),
                "kind": "message",
                "message": dict(r._mapping),
                "status": (r.payload or {}).get("status"),
                "attempts": by_message.get(r.id, []),
                "took": (_utc(r.delivered_at) - _utc(r.accepted_at)).total_seconds() if r.delivered_at else None,
            }
        )
    for p in pays:
        evs = [dict(e._mapping) for e in events if e.payment_id == p.id]
        entries.append(
            {
                "at": _utc(p.created_at),
                "kind": "payment",
                "payment": dict(p._mapping),
                "events": evs,
                "took": (_utc(p.settled_at) - _utc(p.created_at)).total_seconds() if p.settled_at else None,
            }
        )
    entries.sort(key=lambda e: (e["at"], e["kind"]))
    for prev, e in zip([None, *entries], entries, strict=False):
        e["since_previous"] = (e["at"] - prev["at"]).total_seconds() if prev else None
    statuses = [e for e in entries if e["kind"] == "message" and e["message"]["type"] == DOSSIER_STATUS_CHANGED]
    latest = statuses[-1]["message"]["payload"] if statuses else {}
    return {
        "code": code,
        "entries": entries,
        "appointment_at": _parse(latest.get("appointment_at")),
        "received_at": _parse(latest.get("received_at")),
        "finished_at": _parse(latest.get("finished_at") or latest.get("returned_at")),
        "procedure": latest.get("procedure_name") or latest.get("procedure_code"),
        "agency": latest.get("agency_code"),
        "status": latest.get("status"),
    }


def _parse(value: Any) -> datetime | None:
    return _utc(value) if isinstance(value, str) and value else None
