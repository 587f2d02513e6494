"""Webhook subscriptions of local systems (see connectors/webhooks)."""

from __future__ import annotations

import base64
import secrets
from typing import Any

from sqlalchemy import Engine, insert, select, update

from hub.db.schema import subscriptions
from hub.envelope import iso, new_id, utcnow

EVENT_TYPES = ("payment.status.changed",)


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` + base64 of 24 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def create(engine: Engine, client_id: int, url: str, event_types: list[str]) -> dict[str, Any]:
    """Register a subscription; the returned view holds the secret, which is never shown again."""
    row = {
        "id": new_id(),
        "client_id": client_id,
        "url": url,
        "event_types": sorted(set(event_types)),
        "secret": new_secret(),
        "created_at": utcnow(),
    }
    with engine.begin() as c:
        c.execute(insert(subscriptions).values(**row))
    return {**view(row), "secret": row["secret"]}


def list_for(engine: Engine, client_id: int | None) -> list[dict[str, Any]]:
    q = select(subscriptions).where(subscriptions.c.disabled_at.is_(None)).order_by(subscriptions.c.id)
    if client_id is not None:
        q = q.where(subscriptions.c.client_id == client_id)
    with engine.connect() as c:
        return [view(r._mapping) for r in c.execute(q)]


def disable(engine: Engine, sub_id: str, client_id: int | None) -> bool:
    """Stop a subscription (events not yet delivered to it go dead). False if not found."""
    q = update(subscriptions).where(subscriptions.c.id == sub_id, subscriptions.c.disabled_at.is_(None))
    if client_id is not None:
        q = q.where(subscriptions.c.client_id == client_id)
    with engine.begin() as c:
        return c.execute(q.values(disabled_at=utcnow())).rowcount == 1


def view(r: Any) -> dict[str, Any]:
    return {"id": r["id"], "url": r["url"], "event_types": r["event_types"], "created_at": iso(r["created_at"])}
