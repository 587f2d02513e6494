"""Read side of the ledger: one message with its attempts, a dossier's timeline, dead lists.
Personal data in payloads is masked here, before anything leaves the hub."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine, select

from hub.db.schema import attempts, messages, payment_events, payments, postal_events, postal_orders
from hub.envelope import iso
from hub.privacy import mask_id, mask_name


def _masked_party(party: dict[str, Any]) -> dict[str, Any]:
    """A postal order's party (hub.postal.port.PostalParty): unit ids kept, the rest masked."""
    return {
        **party,
        "name": mask_name(party.get("name")),
        **{k: "***" for k in ("phone", "email", "address") if party.get(k)},
    }


def masked_payload(payload: dict[str, Any]) -> dict[str, Any]:
    out = dict(payload)
    for role in ("citizen", "agency"):  # postal.order.requested
        if isinstance(out.get(role), dict):
            out[role] = _masked_party(out[role])
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
    status = (r.payload or {}).get("status")
    if not isinstance(status, int) or isinstance(status, bool):  # e.g. a postal step's parcel status
        status = None
    return {
        "id": r.id,
        "type": r.type,
        "source": r.source,
        "key": r.key,
        "status": status,  # a dossier status change's TrangThaiHoSo
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
    """A dossier's journey: its messages in order, its payments, each with every gateway
    call, callback and query, its parcels (postal orders) with every tracking event, and the
    messages the hub sent about them (events to subscribers, the reports to the portal, the
    orders to VNPost). ``client`` (code, id): only what that client sent, opened or ordered."""
    pq = select(payments).where(payments.c.dossier_code == key).order_by(payments.c.created_at)
    oq = select(postal_orders).where(postal_orders.c.dossier_code == key).order_by(postal_orders.c.created_at)
    mq = select(messages).where(messages.c.key == key)
    if client is not None:
        pq = pq.where(payments.c.client_id == client[1])
        oq = oq.where(postal_orders.c.client_id == client[1])
        mq = mq.where(messages.c.source == client[0])
    with engine.connect() as c:
        orders = c.execute(oq).all()
        tracking = c.execute(
            select(postal_events)
            .where(postal_events.c.order_id.in_([o.id for o in orders]))
            .order_by(postal_events.c.occurred_at, postal_events.c.id)
        ).all()
        # the orders (and cancels) sent to VNPost; the portal's postal steps are keyed by the dossier
        sent = [m for o in orders for m in (o.order_message_id, o.cancel_message_id) if m]
        by_order = {r.id: r for r in c.execute(select(messages).where(messages.c.id.in_(sent)))}
        pays = c.execute(pq).all()
        events = c.execute(
            select(payment_events)
            .where(payment_events.c.payment_id.in_([p.id for p in pays]))
            .order_by(payment_events.c.id)
        ).all()
        announced = [m["message_id"] for e in events if e.kind == "announce" for m in json.loads(e.detail or "[]")]
        rows = {r.id: r for r in c.execute(mq)}
        rows |= {r.id: r for r in c.execute(select(messages).where(messages.c.id.in_(announced)))}
        rows |= by_order
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
        "parcels": [
            {
                "id": o.id,
                "kind": o.kind,
                "item_code": o.item_code,
                "status": o.status,
                "created_at": iso(o.created_at),
                "history": [
                    {
                        "occurred_at": iso(e.occurred_at),
                        "status": e.status,
                        "raw_status": e.raw_status,
                        "verdict": e.verdict,
                        "source": e.source,
                    }
                    for e in tracking
                    if e.order_id == o.id
                ],
            }
            for o in orders
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
