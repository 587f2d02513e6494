"""Read side of the ledger: one message with its attempts, a dossier's timeline, dead lists.
Personal data in payloads is masked here, before anything leaves the hub."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from hub.canonical import id_mask, name_mask
from hub.db.schema import attempts, messages
from hub.envelope import iso


def masked_payload(payload: dict[str, Any]) -> dict[str, Any]:
    out = dict(payload)
    applicant = out.get("applicant")
    if isinstance(applicant, dict):
        out["applicant"] = {
            **applicant,
            "name": name_mask(applicant.get("name")),
            "id_number": id_mask(applicant.get("id_number")),
            **{k: "***" for k in ("phone", "email", "address") if applicant.get(k)},
        }
    return out


def _summary(r: Any) -> dict[str, Any]:
    return {
        "id": r.id,
        "type": r.type,
        "source": r.source,
        "key": r.key,
        "status": (r.payload or {}).get("status"),
        "occurred_at": iso(r.occurred_at),
        "state": r.state,
        "attempts": r.attempts,
        "accepted_at": iso(r.accepted_at),
        "delivered_at": iso(r.delivered_at),
        "next_attempt_at": iso(r.next_attempt_at),
        "last_error": r.last_error,
        "partner_ref": r.partner_ref,
    }


def get_message(engine: Engine, message_id: str) -> dict[str, Any] | None:
    with engine.connect() as c:
        r = c.execute(select(messages).where(messages.c.id == message_id)).first()
        if r is None:
            return None
        history = c.execute(select(attempts).where(attempts.c.message_id == message_id).order_by(attempts.c.id)).all()
    steps = [
        {
            "attempt": a.number,
            "started_at": iso(a.started_at),
            "finished_at": iso(a.finished_at),
            "outcome": a.outcome,
            "detail": a.detail,
            "partner_ref": a.partner_ref,
            "response": a.response,
            "worker": a.worker,
        }
        for a in history
    ]
    if r.state == "delivering":  # the attempt in flight is recorded on the message until it ends
        steps.append(
            {
                "attempt": r.attempts,
                "started_at": iso(r.updated_at),
                "finished_at": None,
                "outcome": None,
                "detail": "in progress",
                "partner_ref": None,
                "response": None,
                "worker": r.claimed_by,
            }
        )
    return {
        **_summary(r),
        "connector": r.connector,
        "correlation_id": r.correlation_id,
        "updated_at": iso(r.updated_at),
        "payload": masked_payload(r.payload),
        "history": steps,
    }


def timeline(engine: Engine, key: str, source: str | None = None) -> list[dict[str, Any]]:
    q = select(messages).where(messages.c.key == key).order_by(messages.c.occurred_at, messages.c.id)
    if source is not None:
        q = q.where(messages.c.source == source)
    with engine.connect() as c:
        return [_summary(r) for r in c.execute(q)]


def list_messages(engine: Engine, state: str | None, limit: int, source: str | None = None) -> list[dict[str, Any]]:
    q = select(messages).order_by(messages.c.id.desc()).limit(limit)
    if state:
        q = q.where(messages.c.state == state)
    if source is not None:
        q = q.where(messages.c.source == source)
    with engine.connect() as c:
        return [_summary(r) for r in c.execute(q)]
