"""Ingress of dossier status changes: validate, de-duplicate, record with the outbox, 202."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool

from connectors import connector_for
from hub import metrics
from hub.api.deps import get_client, get_hub, require
from hub.api.errors import field_errors
from hub.bootstrap import Hub
from hub.canonical import DossierStatusChange
from hub.clients import Client
from hub.envelope import new_id
from hub.ledger import Accepted, IdempotencyKey, NewMessage
from hub.publisher import Publisher

router = APIRouter(tags=["ingress"])
TYPE = "dossier.status.changed"
SCHEMA_VERSION = 1
_BATCH = TypeAdapter(list[DossierStatusChange])


def problem(status: int, error: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": error, "message": message, **extra})


def _schema_ref() -> dict[str, Any]:
    ref = {"$ref": "#/components/schemas/DossierStatusChange"}
    return {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [ref, {"type": "array", "items": ref, "minItems": 1}],
                    "description": "One status change, or a batch (array) answered per item.",
                }
            }
        },
    }


def _valid_whole(raw: bytes, limit: int) -> tuple[bool, list[DossierStatusChange]] | None:
    """(single, models) when the whole body is valid and within the batch limit, parsed and
    validated by pydantic in one pass; None otherwise (the per-item path then answers)."""
    start = raw.lstrip()[:1]
    try:
        if start == b"{":
            return True, [DossierStatusChange.model_validate_json(raw, strict=True)]
        if start == b"[":
            models = _BATCH.validate_json(raw, strict=True)
            return (False, models) if 0 < len(models) <= limit else None
    except ValidationError:
        return None
    return None


def _validate_items(
    raw: bytes, limit: int
) -> JSONResponse | tuple[bool, list[tuple[int, DossierStatusChange]], dict[int, list[dict[str, str]]]]:
    """Each item on its own: (single, valid items with their index, errors by index), or the
    refusal of the whole request."""
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return problem(400, "malformed_json", f"the body is not valid JSON: {exc}")
    single = isinstance(body, dict)
    if not single and not isinstance(body, list):
        return problem(422, "validation_failed", "the body must be a JSON object or an array of objects")
    items: list[Any] = [body] if single else body
    if not items:
        return problem(422, "validation_failed", "the batch is empty")
    if len(items) > limit:
        return problem(413, "batch_too_large", f"a batch holds at most {limit} items; got {len(items)}")

    valid: list[tuple[int, DossierStatusChange]] = []
    rejected: dict[int, list[dict[str, str]]] = {}
    for i, item in enumerate(items):
        try:
            if not isinstance(item, dict):
                raise ValueError
            valid.append((i, DossierStatusChange.model_validate_json(json.dumps(item), strict=True)))
        except ValidationError as exc:
            rejected[i] = field_errors(exc)
        except ValueError:
            rejected[i] = [{"field": "(item)", "rule": "object_type", "message": "each item must be a JSON object"}]
    if rejected:
        metrics.REJECTED.labels(TYPE).inc(len(rejected))
    if not valid:
        if single:
            return problem(422, "validation_failed", "the status change is invalid", errors=rejected[0])
        return problem(
            422,
            "validation_failed",
            "no item of the batch is valid; nothing was stored",
            results=[{"index": i, "status": "rejected", "errors": rejected[i]} for i in sorted(rejected)],
        )
    return single, valid, rejected


@router.post(
    "/v1/dossiers/status-changes",
    status_code=202,
    summary="Publish dossier status changes (one, or a batch)",
    openapi_extra={"requestBody": _schema_ref()},
    responses={
        202: {"description": "Accepted: stored durably; will be delivered to the national portal"},
        400: {"description": "Malformed JSON"},
        401: {"description": "Missing or invalid API key"},
        413: {"description": "Body or batch too large"},
        422: {"description": "Validation failed: each error names the field and the rule"},
    },
)
async def post_status_changes(
    request: Request,
    hub: Hub = Depends(get_hub),
    client: Client = Depends(get_client),
    idempotency_key: str | None = Header(
        default=None, max_length=200, description="Retries with the same key return the first answer"
    ),
    correlation_id: str | None = Header(default=None, alias="X-Correlation-ID", max_length=64),
) -> JSONResponse:
    require(TYPE, client)
    ctype = request.headers.get("content-type", "")
    if "json" not in ctype:
        return problem(415, "unsupported_media_type", "send the body as application/json")
    raw = await request.body()
    limit = hub.settings.max_batch_items
    whole = _valid_whole(raw, limit)
    if whole is not None:  # the common case: everything valid, the JSON parsed once
        single, models = whole
        valid, rejected = list(enumerate(models)), dict[int, list[dict[str, str]]]()
    else:
        checked = _validate_items(raw, limit)
        if isinstance(checked, JSONResponse):
            return checked
        single, valid, rejected = checked

    corr = correlation_id or new_id()
    connector = connector_for(TYPE)
    new = [
        NewMessage(
            type=TYPE,
            key=m.dossier_code,
            occurred_at=m.occurred_at,
            natural_key=m.natural_key(),
            connector=connector,
            schema_version=SCHEMA_VERSION,
            payload=m.model_dump(mode="json"),
            payload_json=m.model_dump_json(),
            correlation_id=corr,
        )
        for _, m in valid
    ]

    def respond(results: list[Accepted]) -> tuple[int, dict[str, Any]]:
        if single:
            r = results[0]
            return 202, {
                "message_id": r.message_id,
                "status": "accepted" if r.created else "duplicate",
                "correlation_id": corr,
            }
        per_item: dict[int, dict[str, Any]] = {
            i: {"index": i, "status": "rejected", "errors": e} for i, e in rejected.items()
        }
        for (i, _), r in zip(valid, results, strict=True):
            per_item[i] = {"index": i, "status": "accepted" if r.created else "duplicate", "message_id": r.message_id}
        counts = {
            s: sum(1 for v in per_item.values() if v["status"] == s) for s in ("accepted", "duplicate", "rejected")
        }
        return 202, {**counts, "correlation_id": corr, "results": [per_item[i] for i in sorted(per_item)]}

    idem = None
    if idempotency_key:
        idem = IdempotencyKey(client.id, idempotency_key, hashlib.sha256(raw).hexdigest())
    publisher: Publisher | None = request.app.state.publisher
    defer = hub.settings.outbox_defer if publisher else 0.0
    answer = await run_in_threadpool(hub.ledger.accept, client.code, new, respond, idem, defer)
    if publisher is not None:
        publisher.submit(answer.to_publish)
    if answer.replayed:
        if idem is not None and answer.request_hash != idem.request_hash:
            return problem(
                422,
                "idempotency_key_reused",
                "this Idempotency-Key was used before with a different request body",
            )
        return JSONResponse(answer.body, status_code=answer.status_code, headers={"Idempotent-Replayed": "true"})
    created = sum(1 for r in answer.body.get("results", [answer.body]) if r.get("status") == "accepted")
    metrics.ACCEPTED.labels(TYPE).inc(created)
    metrics.DUPLICATES.labels(TYPE).inc(len(valid) - created)
    return JSONResponse(answer.body, status_code=answer.status_code)
