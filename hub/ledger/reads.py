"""What other domains may read of the ledger inside their own transaction (never its tables)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from hub.db.schema import messages


def latest_payload(c: Connection, key: str, message_type: str) -> dict[str, Any] | None:
    """The payload of the latest message of a type for an ordering key (by ``occurred_at``, then
    id), whatever its state; ``None`` when the ledger holds none."""
    payload: dict[str, Any] | None = c.execute(
        select(messages.c.payload)
        .where(messages.c.key == key, messages.c.type == message_type)
        .order_by(messages.c.occurred_at.desc(), messages.c.id.desc())
        .limit(1)
    ).scalar()
    return payload
