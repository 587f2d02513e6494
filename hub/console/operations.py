"""What an operator does to the hub, the same from the console, the admin API and the CLI:
hold and resume a partner (and see its health), edit and replay a dead message. Every call is
written to the audit with who, what, why and what came of it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from hub.console import audit
from hub.console.queries import BACKLOG, DELIVERED, FAILING
from hub.db.schema import messages
from hub.ledger import Ledger, NotFound, NotReplayable
from hub.ledger.edits import FieldProblem, InvalidPayload, replay_edited, restore_masked
from hub.ledger.holds import Hold, NotHeld, PartnerHolds, circuits
from hub.trace import masked_payload

MIN_REASON, MAX_REASON = 3, 500
m = messages.c


class ActionRefused(ValueError):
    """Bad input or a state that does not allow the action; the message says which rule."""

    def __init__(self, field: str, rule: str):
        super().__init__(f"{field}: {rule}")
        self.field, self.rule = field, rule


@dataclass(frozen=True)
class Actor:
    name: str  # operator username, "client:<code>" (admin API) or "cli:<os user>"
    remote_addr: str | None = None


def reason_of(value: str | None) -> str:
    reason = " ".join((value or "").split())
    if not MIN_REASON <= len(reason) <= MAX_REASON:
        raise ActionRefused("reason", f"a reason of {MIN_REASON} to {MAX_REASON} characters is required")
    return reason


# ------------------------------------------------------------------ partners
@dataclass
class PartnerHealth:
    connector: str
    hold: Hold | None
    circuit: str  # closed | half_open | open | unknown (no worker reported yet)
    circuit_changed_at: datetime | None
    backlog: dict[str, int]  # queued / delivering / held
    retrying: int
    dead: int
    last_success: datetime | None

    @property
    def backlog_total(self) -> int:
        return sum(self.backlog.values())


def partners(ledger: Ledger, connectors: Sequence[str]) -> list[PartnerHealth]:
    holds = PartnerHolds(ledger).holds()
    states = circuits(ledger)
    out = {
        n: PartnerHealth(
            n,
            holds.get(n),
            str(states[n]["state"]) if n in states else "unknown",
            states[n]["changed_at"] if n in states else None,
            {},
            0,
            0,
            None,
        )
        for n in connectors
    }
    with ledger.engine.connect() as c:
        for r in c.execute(
            select(m.connector, m.state, func.count().label("n")).where(BACKLOG).group_by(m.connector, m.state)
        ):
            if r.connector in out:
                out[r.connector].backlog[r.state] = r.n
        for r in c.execute(
            select(m.connector, m.state, func.count().label("n")).where(FAILING).group_by(m.connector, m.state)
        ):
            if r.connector in out:
                setattr(out[r.connector], r.state, r.n)
        for name, h in out.items():
            h.last_success = c.execute(select(func.max(m.delivered_at)).where(DELIVERED, m.connector == name)).scalar()
    return list(out.values())


def hold(ledger: Ledger, connectors: Sequence[str], connector: str, actor: Actor, reason: str | None) -> Hold:
    try:
        _known(connectors, connector)
        why = reason_of(reason)
    except ActionRefused as exc:
        _audit(ledger, actor, "partner.hold", "refused", connector, reason, str(exc))
        raise
    held, made = PartnerHolds(ledger).hold(connector, actor.name, why)
    detail = "deliveries paused" if made else f"already held since {held.held_at.isoformat()} by {held.held_by}"
    _audit(ledger, actor, "partner.hold", "ok", connector, why, detail)
    return held


def resume(ledger: Ledger, connectors: Sequence[str], connector: str, actor: Actor, reason: str | None) -> int:
    """Returns how many waiting messages were queued again."""
    try:
        _known(connectors, connector)
        why = reason_of(reason)
        done = PartnerHolds(ledger).resume(connector)
    except ActionRefused as exc:
        _audit(ledger, actor, "partner.resume", "refused", connector, reason, str(exc))
        raise
    except NotHeld:
        _audit(ledger, actor, "partner.resume", "refused", connector, reason, "not held")
        raise ActionRefused("connector", f"{connector} is not held") from None
    detail = f"held {done.held_seconds:.0f} s; {done.queued} waiting messages queued again in order"
    _audit(ledger, actor, "partner.resume", "ok", connector, why, detail)
    return done.queued


def _known(connectors: Sequence[str], connector: str) -> None:
    if connector not in connectors:
        raise ActionRefused("connector", f"unknown partner {connector!r}; known: {', '.join(connectors)}")


def _audit(
    ledger: Ledger, actor: Actor, action: str, outcome: str, target: str, reason: str | None, detail: str
) -> None:
    why = (reason or "")[:MAX_REASON] or None
    audit.record(ledger.engine, audit.Action(actor.name, action, outcome, target[:200], why, detail, actor.remote_addr))


def as_dict(h: PartnerHealth) -> dict[str, Any]:
    return {
        "connector": h.connector,
        "held": h.hold is not None,
        "held_at": h.hold.held_at.isoformat() if h.hold else None,
        "held_by": h.hold.held_by if h.hold else None,
        "hold_reason": h.hold.reason if h.hold else None,
        "circuit": h.circuit,
        "circuit_changed_at": h.circuit_changed_at.isoformat() if h.circuit_changed_at else None,
        "backlog": h.backlog_total,
        "backlog_by_state": h.backlog,
        "retrying": h.retrying,
        "dead": h.dead,
        "last_success": h.last_success.isoformat() if h.last_success else None,
    }


# ------------------------------------------------------------------ edit and replay
def payload_of(text: str) -> Any:
    """The JSON an operator submitted, or ``InvalidPayload`` saying where it is not JSON."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidPayload(
            [FieldProblem("(payload)", f"not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})")]
        ) from None


def edit_replay(ledger: Ledger, message_id: str, submitted: Any, actor: Actor, reason: str | None) -> str:
    """Validate the corrected payload against its type's canonical model, then queue a new message
    made from the dead one (kept as it was) and linked to it. Values left as the console showed
    them (masked personal data) keep their original value. Returns the new message's id.
    Raises ``ActionRefused`` (reason, state), ``InvalidPayload`` (per field), ``NotFound``."""
    action = "message.edit_replay"
    try:
        why = reason_of(reason)
        if isinstance(submitted, str):  # the console's text area
            submitted = payload_of(submitted)
        with ledger.engine.connect() as c:
            original = c.execute(select(m.payload).where(m.id == message_id)).scalar()
        if original is None:
            raise NotFound(message_id)
        payload = restore_masked(submitted, masked_payload(original), original)
        changed = sorted(
            k
            for k in set(original) | set(payload if isinstance(payload, dict) else {})
            if not isinstance(payload, dict) or payload.get(k) != original.get(k)
        )
        new = replay_edited(ledger, message_id, payload, actor.name, why)
    except ActionRefused as exc:
        _audit(ledger, actor, action, "refused", message_id, reason, str(exc))
        raise
    except InvalidPayload as exc:
        fields = ", ".join(p.field for p in exc.problems)[:1000]
        _audit(ledger, actor, action, "refused", message_id, reason, f"invalid payload: {fields}")
        raise
    except NotReplayable as exc:
        _audit(ledger, actor, action, "refused", message_id, reason, str(exc))
        raise ActionRefused("state", str(exc)) from None
    except NotFound:
        _audit(ledger, actor, action, "refused", message_id, reason, "no such message")
        raise
    detail = f"replayed as {new}; fields changed: {', '.join(changed) or 'none'}"
    _audit(ledger, actor, action, "ok", message_id, why, detail)
    return new
