"""Read side of the ledger: one message with its attempts, a dossier's timeline, dead lists.
Personal data in payloads is masked here, before anything leaves the hub."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine, select

from hub.db.schema import attempts, messages, payment_events, payments
from hub.envelope import iso
from hub.privacy import mask_id, mask_name


def masked_payload(payload: dict[str, Any]) -> dict[str, Any]:
    out = dict(payload)
    applicant = out.get("applicant")
    if isinstance(applicant, dict):
        out["applicant"] = {
            **applicant,
            "name": mask_name(applicant.get("name")),
            "id_number": mask_id(applicant.get("id_number")),
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
        # its personal data was replaced by a digest (hub/evidence/retention.py): when, which fields
        "redacted": (r.payload or {}).get("_redacted"),
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


def timeline(engine: Engine, key: str, client: tuple[str, int] | None = None) -> dict[str, Any]:
    """A dossier's journey: its messages in order and its payments, each with every gateway
    call, callback and query, and the messages the hub sent about it (events to subscribers,
    the report to the portal). ``client`` (code, id): only what that client sent or opened."""
    pq = select(payments).where(payments.c.dossier_code == key).order_by(payments.c.created_at)
    mq = select(messages).where(messages.c.key == key)
    if client is not None:
        pq = pq.where(payments.c.client_id == client[1])
        mq = mq.where(messages.c.source == client[0])
    with engine.connect() as c:
        pays = c.execute(pq).all()
        events = c.execute(
            select(payment_events)
            .where(payment_events.c.payment_id.in_([p.id for p in pays]))
            .order_by(payment_events.c.id)
        ).all()
        announced = [m["message_id"] for e in events if e.kind == "announce" for m in json.loads(e.detail or "[]")]
        rows = {r.id: r for r in c.execute(mq)}
        rows |= {r.id: r for r in c.execute(select(messages).where(messages.c.id.in_(announced)))}
    return {
        "messages": [_summary(r) for r in sorted(rows.values(), key=lambda r: (r.occurred_at, r.id))],
        "payments": [
            {
                "id": p.id,
                "state": p.state,
                "amount": p.amount,
                "currency": p.currency,
                "profile": p.profile,
                "created_at": iso(p.created_at),
                "settled_at": iso(p.settled_at),
                "history": [
                    {"at": iso(e.at), "kind": e.kind, "outcome": e.outcome, "detail": e.detail}
                    for e in events
                    if e.payment_id == p.id
                ],
            }
            for p in pays
        ],
    }


def list_messages(engine: Engine, state: str | None, limit: int, source: str | None = None) -> list[dict[str, Any]]:
    q = select(messages).order_by(messages.c.id.desc()).limit(limit)
    if state:
        q = q.where(messages.c.state == state)
    if source is not None:
        q = q.where(messages.c.source == source)
    with engine.connect() as c:
        return [_summary(r) for r in c.execute(q)]
