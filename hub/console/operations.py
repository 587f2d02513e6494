"""What an operator does to the hub, the same from the console, the admin API and the CLI:
hold and resume a partner (and see its health), edit and replay a dead message, manage client
systems (create, rotate, disable, enable: ``hub.clients``, the lifecycle ``lgsp clients`` and
/v1/admin/clients use, which records each change in ``client_changes`` and in the audit, in the
change's transaction). Every call is written to the audit with who, what, why and what came of it."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select

from hub import clients
from hub.console import audit
from hub.console.queries import BACKLOG, DELIVERED, FAILING
from hub.db.schema import messages
from hub.ledger import Ledger, NotFound, NotReplayable
from hub.ledger.edits import FieldProblem, InvalidPayload, replay_edited, restore_masked
from hub.ledger.holds import Hold, NotHeld, PartnerHolds, circuits
from hub.trace import masked_payload

MIN_REASON, MAX_REASON = 3, 500
CLIENT_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")  # as /v1/admin/clients
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


# ------------------------------------------------------------------ client systems
def list_clients(engine: Engine, now: datetime) -> list[dict[str, Any]]:
    """Every client system with its grants, and the agencies it sent messages for in the last 7 days."""
    from datetime import timedelta

    from hub.console.queries import id_floor

    found = clients.list_clients(engine)
    agency = m.payload["agency_code"].as_string()
    q = (
        select(m.source, agency.label("agency"), func.count().label("n"))
        .where(m.id >= id_floor(now - timedelta(days=7)))
        .group_by(m.source, agency)
    )
    seen: dict[str, dict[str, int]] = {}
    with engine.connect() as c:
        for r in c.execute(q):
            if r.agency:
                seen.setdefault(r.source, {})[r.agency] = r.n
    return [{**x, "agencies": dict(sorted(seen.get(x["code"], {}).items()))} for x in found]


def create_client(engine: Engine, code: str, name: str, grants: list[str], actor: Actor, reason: str | None) -> str:
    """Register a client system; returns its API key (shown once)."""
    from hub.citizens.grants import GrantError, check_grants

    try:
        why = reason_of(reason)
        if not CLIENT_CODE.match(code):
            raise ActionRefused("code", "letters, digits, '.', '_', '-' (up to 64), starting with a letter or digit")
        if not grants:
            raise ActionRefused("grants", "give at least one grant")
        try:
            check_grants(grants)
        except GrantError as exc:
            raise ActionRefused("grants", str(exc)) from None
        key = clients.create_client(engine, code, name or code, grants, actor=_who(actor), why=_why(actor, why))
    except ActionRefused as exc:
        _client_audit(engine, actor, "client.create", "refused", code, reason, str(exc))
        raise
    except clients.ClientExists:
        _client_audit(engine, actor, "client.create", "refused", code, why, "exists")
        raise ActionRefused("code", f"a client {code} exists; rotate its key instead") from None
    return key  # audited by hub.clients, in the change's transaction


def rotate_client(engine: Engine, code: str, grace_seconds: int, actor: Actor, reason: str | None) -> str:
    """A new key (returned, shown once); the current one works ``grace_seconds`` more."""
    try:
        why = reason_of(reason)
        if not 0 <= grace_seconds <= 30 * 86_400:
            raise ActionRefused("grace_seconds", "0 to 30 days")
        key, _ = clients.rotate(engine, code, _who(actor), grace_seconds, _why(actor, why))
    except ActionRefused as exc:
        _client_audit(engine, actor, "client.rotate", "refused", code, reason, str(exc))
        raise
    except clients.ClientNotFound:
        _client_audit(engine, actor, "client.rotate", "refused", code, reason, "no such client")
        raise ActionRefused("code", f"no client {code}") from None
    return key


def set_client_disabled(engine: Engine, code: str, disabled: bool, actor: Actor, reason: str | None) -> None:
    action = "client.disable" if disabled else "client.enable"
    try:
        why = reason_of(reason)
        if (clients.get(engine, code)["disabled_at"] is not None) == disabled:  # nothing to change
            _client_audit(engine, actor, action, "ok", code, why, "already " + ("disabled" if disabled else "enabled"))
            return
        clients.set_disabled(engine, code, disabled, _who(actor), _why(actor, why))
    except ActionRefused as exc:
        _client_audit(engine, actor, action, "refused", code, reason, str(exc))
        raise
    except clients.ClientNotFound:
        _client_audit(engine, actor, action, "refused", code, reason, "no such client")
        raise ActionRefused("code", f"no client {code}") from None


def _why(actor: Actor, reason: str) -> clients.Why:
    return clients.Why(reason, actor.remote_addr)


def _who(actor: Actor) -> str:
    """How ``client_changes`` names who made a change."""
    return actor.name if ":" in actor.name else f"operator:{actor.name}"


def _client_audit(
    engine: Engine, actor: Actor, action: str, outcome: str, code: str, reason: str | None, detail: str
) -> None:
    why = (reason or "")[:MAX_REASON] or None
    audit.record(engine, audit.Action(actor.name, action, outcome, code[:200], why, detail, actor.remote_addr))
