"""The message envelope and its AMQP/HTTP headers, encoded and decoded in one place."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ulid import ULID

from hub.ports import OutgoingMessage
from hub.routing import routing_key

HEADER_PREFIX = "x-lgsp-"


def new_id() -> str:
    """A sortable unique id (ULID, 26 chars)."""
    return str(ULID())


def utcnow() -> datetime:
    return datetime.now(tz=UTC)


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z (stored datetimes come back aware, see db.schema.UTCDateTime)."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


def encode_headers(row: Mapping[str, Any]) -> dict[str, str]:
    out = {
        HEADER_PREFIX + "message-id": row["id"],
        HEADER_PREFIX + "type": row["type"],
        HEADER_PREFIX + "source": row["source"],
        HEADER_PREFIX + "key": row["key"],
        HEADER_PREFIX + "correlation-id": row["correlation_id"],
        HEADER_PREFIX + "schema-version": str(row["schema_version"]),
    }
    if row.get("causation_id"):
        out[HEADER_PREFIX + "causation-id"] = row["causation_id"]
    return out


def to_outgoing(row: Mapping[str, Any]) -> OutgoingMessage:
    """A ledger row (messages table) as a broker message; the body is the full envelope.

    The payload comes either decoded (``payload``) or as the JSON text the ledger stores
    (``payload_json``), which is spliced in as is: the relay does not decode and re-encode it."""
    head = {
        "id": row["id"],
        "type": row["type"],
        "source": row["source"],
        "key": row["key"],
        "occurred_at": iso(row["occurred_at"]),
        "correlation_id": row["correlation_id"],
        "causation_id": row.get("causation_id"),
        "idempotency_key": row["natural_key"],
        "schema_version": row["schema_version"],
    }
    payload = row["payload_json"] if "payload_json" in row else json.dumps(row["payload"], ensure_ascii=False)
    text = json.dumps(head, ensure_ascii=False, separators=(",", ":"))
    return OutgoingMessage(
        message_id=row["id"],
        routing_key=routing_key(row["connector"], row["type"]),
        body=f'{text[:-1]},"payload":{payload}}}'.encode(),
        headers=encode_headers(row),
    )
