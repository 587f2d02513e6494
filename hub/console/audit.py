"""The operators' audit: one append-only row per action (console and ``lgsp operators``), and
its search for the Audit page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, or_, select

from hub.db.schema import operator_actions
from hub.envelope import utcnow
from hub.evidence import facts as evidence

# What the console and the CLI record (action names are stable: the Audit page filters on them).
ACTIONS = (
    "login",
    "logout",
    "lockout",
    "csrf.refused",
    "message.replay",
    "message.edit_replay",
    "bulk.replay",
    "partner.hold",
    "partner.resume",
    "client.create",
    "client.rotate",
    "client.disable",
    "client.enable",
    "client.grant",  # these four: /v1/admin/clients and `lgsp clients` (hub.clients records every change)
    "client.revoke_grant",
    "client.bind_agency",
    "client.unbind_agency",
    "bulk.resume",
    "bulk.interrupted",
    "operator.create",
    "operator.disable",
    "operator.reset_password",
)


@dataclass(frozen=True)
class Action:
    operator: str
    action: str
    outcome: str  # ok | refused | error
    target: str | None = None
    reason: str | None = None
    detail: str | None = None
    remote_addr: str | None = None


def record(engine: Engine | Connection, a: Action, at: datetime | None = None) -> None:
    """Write one audit row (in the caller's transaction when given a connection)."""
    if a.action not in ACTIONS:
        raise ValueError(f"action: unknown action {a.action!r}")
    values = {
        "at": at or utcnow(),
        "operator": a.operator[:64],
        "action": a.action,
        "target": (a.target or None) and a.target[:200],
        "reason": a.reason,
        "outcome": a.outcome,
        "detail": a.detail,
        "remote_addr": a.remote_addr,
    }
    if isinstance(engine, Connection):
        _write(engine, a, values)
        return
    with engine.begin() as c:
        _write(c, a, values)


def _write(c: Connection, a: Action, values: dict[str, Any]) -> None:
    """The row and its ``operator.action`` evidence fact (free texts and the address as digests)."""
    c.execute(insert(operator_actions).values(**values))
    log = evidence.of(c)
    texts = {"reason": a.reason, "detail": a.detail, "remote_addr": a.remote_addr}
    subject = f"message:{a.target}" if a.action == "message.replay" and a.target else f"operator:{values['operator']}"
    fact = log.operator(f"operator:{values['operator']}", a.action, subject, a.outcome, at=values["at"], texts=texts)
    log.stage(c, [fact])


@dataclass(frozen=True)
class Filters:
    operator: str | None = None
    action: str | None = None
    target: str | None = None
    text: str | None = None  # in the reason or the detail
    since: datetime | None = None
    until: datetime | None = None
    before_id: int | None = None  # paging: rows older than this one
    limit: int = 50


def search(engine: Engine, f: Filters) -> list[dict[str, Any]]:
    """Newest first."""
    t = operator_actions
    q = select(t).order_by(t.c.id.desc()).limit(f.limit)
    if f.operator:
        q = q.where(t.c.operator == f.operator)
    if f.action:
        q = q.where(t.c.action == f.action)
    if f.target:
        q = q.where(t.c.target == f.target)
    if f.text:
        like = "%" + f.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        q = q.where(or_(t.c.reason.like(like, escape="\\"), t.c.detail.like(like, escape="\\")))
    if f.since:
        q = q.where(t.c.at >= f.since)
    if f.until:
        q = q.where(t.c.at < f.until)
    if f.before_id:
        q = q.where(t.c.id < f.before_id)
    with engine.connect() as c:
        return [dict(r._mapping) for r in c.execute(q)]
