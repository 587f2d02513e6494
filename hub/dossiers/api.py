"""Ingress of dossier status changes: validate, de-duplicate, record with the outbox, 202."""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool

from hub import jsonbody, metrics
from hub.agencies import binding
from hub.agencies.port import AgencyDirectory
from hub.api.bodies import HubRoute, malformed, read_raw
from hub.api.deps import get_agencies, get_client, get_dossiers, require
from hub.api.errors import field_errors
from hub.api.openapi import errors
from hub.api.problems import FieldError, ProblemError, field_error
from hub.canonical import DossierDefaults, DossierStatusChange, portal_names
from hub.clients import Client
from hub.dossiers.service import Dossiers
from hub.envelope import new_id
from hub.ledger import Accepted, IdempotencyKey
from hub.messages import DOSSIER_STATUS_CHANGED, new_message
from hub.publisher import Publisher

router = APIRouter(tags=["ingress"], route_class=HubRoute)
TYPE = DOSSIER_STATUS_CHANGED
_BATCH = TypeAdapter(list[DossierStatusChange])
# a missing field's error says the portal's name: "Field required (the national portal's TenTTHC)"
PORTAL_NAMES = {path: f"the national portal's {name}" for path, name in portal_names(DossierStatusChange).items()}
EXAMPLE = {
    "dossier_code": "000.00.00.H56-251122-0001",
    "procedure_code": "2.002492",
    "agency_code": "000.00.00.H56",
    "status": 2,
    "occurred_at": "2025-11-22T09:00:00+07:00",
    "received_at": "2025-11-22T09:00:00+07:00",
    "appointment_at": "2025-12-02T17:00:00+07:00",
    "procedure_name": "Cấp giấy phép xây dựng",
    "field_code": "G09-XD01",
    "field_name": "Hoạt động xây dựng",
    "agency_name": "Sở Xây dựng tỉnh Thanh Hóa",
    "summary": "Cấp giấy phép xây dựng nhà ở riêng lẻ",
    "channel": 2,
    "result_delivery": 0,
    "applicant": {"name": "Nguyen Van A", "id_number": "038090001234", "type": 1},
    "fees": [{"code": "LP01", "name": "Lệ phí cấp phép", "amount": 150000, "kind": 2}],
}


class ChangeAccepted(BaseModel):
    """One status change: stored (or a duplicate of one stored before)."""

    message_id: str = Field(description="The hub's id of the message (trace it at /v1/messages/{id}).")
    status: Literal["accepted", "duplicate"]
    correlation_id: str


class ItemResult(BaseModel):
    index: int = Field(ge=0)
    status: Literal["accepted", "duplicate", "rejected"]
    message_id: str | None = None
    errors: list[FieldError] | None = None


class BatchAccepted(BaseModel):
    """A batch, answered per item (valid items are stored, invalid ones named with their errors)."""

    accepted: int = Field(ge=0)
    duplicate: int = Field(ge=0)
    rejected: int = Field(ge=0)
    correlation_id: str
    results: list[ItemResult]


def _request_body() -> dict[str, Any]:
    ref = {"$ref": "#/components/schemas/DossierStatusChange"}
    return {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [ref, {"type": "array", "items": ref, "minItems": 1}],
                    "description": "One status change, or a batch (array) answered per item.",
                },
                "examples": {
                    "one": {"summary": "One status change (received)", "value": EXAMPLE},
                    "batch": {"summary": "A batch of one", "value": [EXAMPLE]},
                },
            }
        },
    }


def _valid_whole(raw: bytes, limit: int) -> tuple[bool, list[DossierStatusChange]] | None:
    """(single, models) when the whole body is valid and within the batch limit, parsed and
    validated in one pass; None otherwise (the per-item path then answers)."""
    start = raw.lstrip()[:1]
    try:
        if start == b"{":
            return True, [jsonbody.validate(DossierStatusChange, raw)]
        if start == b"[":
            models = jsonbody.validate_with(_BATCH, raw)
            return (False, models) if 0 < len(models) <= limit else None
    except ValidationError:
        return None
    except jsonbody.JsonRefused as exc:
        raise malformed(exc) from None
    return None


def _validate_items(
    raw: bytes, limit: int, defaults: DossierDefaults | None = None
) -> tuple[bool, list[tuple[int, DossierStatusChange]], dict[int, Any]]:
    """Each item on its own, the client's defaults filled in where a field is missing: (single, valid
    items with their index, errors by index), or a ``ProblemError`` refusing the whole request."""
    try:
        body = jsonbody.parse(raw)
    except jsonbody.JsonRefused as exc:
        raise malformed(exc) from None
    single = isinstance(body, dict)
    if not single and not isinstance(body, list):
        error = field_error("(body)", "object_type", "the body must be a JSON object or an array of objects")
        raise ProblemError("validation_failed", "the body must be a JSON object or an array of objects", errors=[error])
    items: list[Any] = [body] if single else body
    if not items:
        error = field_error("(body)", "too_short", "a batch holds at least one item")
        raise ProblemError("validation_failed", "the batch is empty", errors=[error])
    if len(items) > limit:
        raise ProblemError("batch_too_large", f"a batch holds at most {limit} items; got {len(items)}")

    valid: list[tuple[int, DossierStatusChange]] = []
    rejected: dict[int, list[dict[str, str]]] = {}
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            rejected[i] = [field_error("(item)", "object_type", "each item must be a JSON object")]
            continue
        try:
            valid.append((i, DossierStatusChange.model_validate(defaults.apply(item) if defaults else item)))
        except ValidationError as exc:
            rejected[i] = field_errors(exc, PORTAL_NAMES)
    if rejected:
        metrics.REJECTED.labels(TYPE).inc(len(rejected))
    if not valid:
        if single:
            raise ProblemError("validation_failed", "the status change is invalid", errors=rejected[0])
        raise ProblemError(
            "validation_failed",
            "no item of the batch is valid; nothing was stored",
            results=[{"index": i, "status": "rejected", "errors": rejected[i]} for i in sorted(rejected)],
        )
    return single, valid, rejected


async def _bound(
    client: Client,
    directory: AgencyDirectory,
    single: bool,
    valid: list[tuple[int, DossierStatusChange]],
    rejected: dict[int, Any],
    unit_required: bool = False,
) -> tuple[list[tuple[int, DossierStatusChange]], dict[int, Any]]:
    """The items this client may push (``hub.agencies.binding``: its agencies, their provinces'
    dossier codes and, when ``unit_required``, a portal unit of the agency); the others rejected with
    the field and the rule. One item refused: its problem."""
    refused: dict[int, binding.Refusal] = {}
    ask: list[tuple[int, DossierStatusChange]] = []
    for i, m in valid:
        verdict = binding.quick(client.agencies, m.agency_code, m.dossier_code)
        if isinstance(verdict, binding.Refusal):
            refused[i] = verdict
        elif verdict == binding.ASK:
            ask.append((i, m))
    if ask:  # a dossier code of another province: the directory decides (the 2025 merger)

        def decide() -> dict[int, binding.Refusal | None]:
            return {i: binding.check(client.agencies, directory, m.agency_code, m.dossier_code) for i, m in ask}

        refused |= {i: r for i, r in (await run_in_threadpool(decide)).items() if r is not None}
    if unit_required:  # the agency's own portal unit, or nothing accepted that could not go out
        codes = {m.agency_code for i, m in valid if i not in refused}

        def units() -> dict[str, binding.Refusal | None]:
            return {code: binding.portal_unit(directory, code) for code in codes}

        missing = await run_in_threadpool(units)
        refused |= {i: r for i, m in valid if i not in refused and (r := missing[m.agency_code]) is not None}
    if not refused:
        return valid, rejected
    metrics.REJECTED.labels(TYPE).inc(len(refused))
    if single:
        r = refused[0]
        raise ProblemError(r.code, f"the status change is refused: {r.message}", errors=[r.error()])
    rejected = {**rejected, **{i: [r.error()] for i, r in refused.items()}}
    kept = [(i, m) for i, m in valid if i not in refused]
    if not kept:
        raise ProblemError(
            "validation_failed",
            "no item of the batch may be pushed by this client; nothing was stored",
            results=[{"index": i, "status": "rejected", "errors": rejected[i]} for i in sorted(rejected)],
        )
    return kept, rejected


@router.post(
    "/v1/dossiers/status-changes",
    status_code=202,
    summary="Publish dossier status changes (one, or a batch)",
    openapi_extra={"requestBody": _request_body()},
    response_model=ChangeAccepted | BatchAccepted,
    responses={
        202: {"description": "Accepted: stored durably; will be delivered to the national portal"},
        **errors(
            403,
            422,
            _403="The client is not granted `dossier.status.changed`, or is not bound to the dossier's agency "
            "(`errors`: agency_code, agency_not_bound)",
            _422="Validation failed, the dossier code is not of its agency's province (dossier_code_province), or "
            "the agency has no portal unit and the hub no fallback (agency_code, agency_not_configured)",
        ),
    },
)
async def post_status_changes(
    request: Request,
    dossiers: Dossiers = Depends(get_dossiers),
    client: Client = Depends(get_client),
    agencies: AgencyDirectory = Depends(get_agencies),
    idempotency_key: str | None = Header(
        default=None, max_length=200, description="Retries with the same key return the first answer"
    ),
    correlation_id: str | None = Header(default=None, alias="X-Correlation-ID", max_length=64),
) -> JSONResponse:
    require(TYPE, client)
    raw = await read_raw(request)
    limit = dossiers.max_batch_items
    defaults = dossiers.defaults_for(client.code)
    whole = None if defaults else _valid_whole(raw, limit)
    if whole is not None:  # the common case: everything valid, the JSON parsed once
        single, models = whole
        valid, rejected = list(enumerate(models)), dict[int, Any]()
    else:
        single, valid, rejected = _validate_items(raw, limit, defaults)

    valid, rejected = await _bound(client, agencies, single, valid, rejected, dossiers.portal_unit_required)
    corr = correlation_id or new_id()
    connector = dossiers.connector
    new = [
        new_message(
            TYPE,
            key=m.dossier_code,
            occurred_at=m.occurred_at,
            natural_key=m.natural_key(),
            connector=connector,
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
    defer = dossiers.outbox_defer if publisher else 0.0
    answer = await run_in_threadpool(dossiers.accept, client.code, new, respond, idem, defer)
    if publisher is not None:
        publisher.submit(answer.to_publish)
    if answer.replayed:
        if idem is not None and answer.request_hash != idem.request_hash:
            raise ProblemError(
                "idempotency_key_reused", "this Idempotency-Key was used before with a different request body"
            )
        return JSONResponse(answer.body, status_code=answer.status_code, headers={"Idempotent-Replayed": "true"})
    created = sum(1 for r in answer.body.get("results", [answer.body]) if r.get("status") == "accepted")
    metrics.ACCEPTED.labels(TYPE).inc(created)
    metrics.DUPLICATES.labels(TYPE).inc(len(valid) - created)
    return JSONResponse(answer.body, status_code=answer.status_code)
