"""Postal orders (pickup of a dossier, delivery of its result by VNPost) and VNPost's tracking pushes.

``POST /v1/postal/orders`` answers 202 with the hub's order id once the order and its ledger message
are stored (VNPost is called by the vnpost worker, with retries); 200 with the first order when the
dossier was ordered before for this kind. ``GET`` shows the parcel's status and every tracking event;
``cancel`` is refused (409) once the parcel is picked up. ``POST /v1/callbacks/vnpost`` takes the
tracking events an LGSP pushes, signed with the shared secret (``HUB_POSTAL_PUSH_SECRET``):
``X-Lgsp-Signature: sha256=<hex HMAC-SHA256 of the body>``; answered in the LGSP's shape.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Body, Depends, Header, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from hub import jsonbody, metrics
from hub.agencies.port import AgencyNotConfigured
from hub.api.bodies import HubRoute
from hub.api.deps import database_unavailable, get_client, get_postal, get_settings, require
from hub.api.limits import BodyTimeout
from hub.api.openapi import errors
from hub.api.problems import ProblemError, field_error
from hub.clients import ADMIN, Client
from hub.settings import Settings

from .models import EXAMPLE, ORDER_ID, PostalOrderDetail, PostalOrderIn, PostalOrderView, PushAnswer
from .service import AgencyUnusable, CancelNotAllowed, OrderedByAnother, OrderOpen, Postal, UnmappableUnit
from .waybills import PoolExhausted, WaybillRefused

router = APIRouter(tags=["postal"], route_class=HubRoute)
log = structlog.get_logger("hub.api.postal")
GRANT = "postal.order"
SIGNATURE_HEADER = "X-Lgsp-Signature"
PUSH_MAX_DEPTH = 20


class CancelIn(BaseModel):
    reason: str | None = Field(default=None, max_length=500, description="Why (kept by the hub).")


def _summary(o: dict[str, Any], duplicate: bool = False) -> dict[str, Any]:
    """The view's fields in the model's order (as documented), ``duplicate`` last."""
    return {**{k: o[k] for k in PostalOrderView.model_fields if k != "duplicate"}, "duplicate": duplicate}


def _detail(o: dict[str, Any]) -> dict[str, Any]:
    return {k: o[k] for k in PostalOrderDetail.model_fields if k != "duplicate"} | {"duplicate": False}


def _own(o: dict[str, Any] | None, client: Client) -> dict[str, Any]:
    if o is None or (o["client_id"] != client.id and not client.may(ADMIN)):
        raise ProblemError("not_found", "no such postal order")
    return o


@router.post(
    "/v1/postal/orders",
    status_code=202,
    summary="Order a VNPost pickup of a dossier or delivery of its result",
    response_model=PostalOrderView,
    responses={
        202: {"model": PostalOrderView, "description": "Stored: the order is on its way to VNPost"},
        200: {"model": PostalOrderView, "description": "This dossier and kind were ordered before: that order"},
        **errors(
            403,
            409,
            422,
            _403="The client is not granted `postal.order`",
            _409="The dossier's order of the other kind is not finished, another client ordered this dossier "
            "and kind, or the agency's waybill pool has no free number left (`waybill_pool_exhausted`)",
            _422="Invalid field, an agency without VNPost configuration, an administrative unit that "
            "cannot be mapped to VNPost's ids (`errors` names the field and the unit), or an `item_code` that "
            "is not a free number of the agency's waybill pool",
        ),
    },
)
async def order(
    cmd: Annotated[PostalOrderIn, Body(openapi_examples={"delivery": {"summary": "Result by post", "value": EXAMPLE}})],
    postal: Postal = Depends(get_postal),
    client: Client = Depends(get_client),
) -> JSONResponse:
    require(GRANT, client)
    try:
        placed = await run_in_threadpool(postal.order, client.id, client.code, cmd)
    except UnmappableUnit as exc:
        raise ProblemError(
            "unmappable_unit", str(exc), errors=[field_error(exc.field, "unmappable_unit", str(exc))]
        ) from None
    except AgencyNotConfigured as exc:
        raise ProblemError(
            "validation_failed", str(exc), errors=[field_error("agency_code", "agency_not_configured", str(exc))]
        ) from None
    except AgencyUnusable as exc:
        raise ProblemError(
            "validation_failed", str(exc), errors=[field_error("agency_code", "agency_misconfigured", str(exc))]
        ) from None
    except OrderOpen as exc:
        raise ProblemError("postal_order_open", str(exc), order_id=exc.order_id) from None
    except WaybillRefused as exc:
        raise ProblemError(
            "validation_failed", str(exc), errors=[field_error("item_code", exc.rule, str(exc))]
        ) from None
    except PoolExhausted as exc:
        raise ProblemError("waybill_pool_exhausted", str(exc)) from None
    except OrderedByAnother:
        raise ProblemError("conflict", "this dossier was ordered for this kind by another client system") from None
    body = _summary(placed.order, duplicate=not placed.created)
    return JSONResponse(body, status_code=202 if placed.created else 200)


@router.get(
    "/v1/postal/orders/{order_id}",
    summary="A postal order: its parcel's status and every tracking event",
    response_model=PostalOrderDetail,
    responses=errors(404, _404="No such order (or not this client's)"),
)
async def get_order(
    order_id: str = Path(pattern=ORDER_ID, examples=["01KAQ3Z5X7E8R9T0Y1V2W3X4Y5"]),
    postal: Postal = Depends(get_postal),
    client: Client = Depends(get_client),
) -> dict[str, Any]:
    return _detail(_own(await run_in_threadpool(postal.get, order_id), client))


@router.post(
    "/v1/postal/orders/{order_id}/cancel",
    status_code=202,
    summary="Cancel a postal order (only before the parcel is picked up)",
    response_model=PostalOrderView,
    responses={
        202: {"model": PostalOrderView, "description": "Cancel requested (or already requested, or cancelled)"},
        **errors(
            403,
            404,
            409,
            _403="The client is not granted `postal.order`",
            _404="No such order (or not this client's)",
            _409="The parcel was picked up already: it can no longer be cancelled",
        ),
    },
)
async def cancel_order(
    body: Annotated[
        CancelIn | None,
        Body(openapi_examples={"reason": {"summary": "Why", "value": {"reason": "công dân nhận trực tiếp"}}}),
    ] = None,
    order_id: str = Path(pattern=ORDER_ID, examples=["01KAQ3Z5X7E8R9T0Y1V2W3X4Y5"]),
    postal: Postal = Depends(get_postal),
    client: Client = Depends(get_client),
) -> JSONResponse:
    require(GRANT, client)
    _own(await run_in_threadpool(postal.get, order_id), client)
    try:
        o = await run_in_threadpool(postal.cancel, order_id, client.code, body.reason if body else None)
    except CancelNotAllowed as exc:
        raise ProblemError("postal_cancel_refused", str(exc), reason=exc.status) from None
    return JSONResponse(_summary(_own(o, client)), status_code=202)


# ---------------------------------------------------------------- the LGSP's push (its own format)
PUSH_STATUSES = {
    200: "Received (Status 100): every event applied once, those seen before ignored",
    400: "Unreadable body (Status 102)",
    401: "Missing or wrong signature (Status 401)",
    404: "Pushes are not enabled (no HUB_POSTAL_PUSH_SECRET) (Status 404)",
    408: "The body did not arrive in time (Status 102)",
    413: "Body too large (Status 102)",
    503: "The hub cannot record it now (Status 503): push it again",
}
PUSH_EXAMPLE = {
    "_embedded": {
        "rh:doc": [
            {
                "_id": {"$oid": "692d2a8000000000000000a1"},
                "CustomerCode": "BCCI_H56",
                "OrderNumber": "000.00.00.H56-251122-0001",
                "ItemCode": "EB100000015VN",
                "StatusCode": "2",
                "StatusMessage": "Đã nhận hàng",
                "EventTime": "2025-11-22T10:00:00+07:00",
                "POSID": "440000",
            }
        ]
    }
}


def _push_doc() -> dict[str, Any]:
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/PushAnswer"}}}
    return {
        "openapi_extra": {
            "x-lgsp-partner-format": True,
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"type": "object", "description": "A tracking feed page (HAL) or one entry."},
                        "examples": {"page": {"summary": "One tracking event", "value": PUSH_EXAMPLE}},
                    }
                },
            },
        },
        "responses": {s: {"description": d, "content": content} for s, d in PUSH_STATUSES.items()},
    }


def _answer(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"Status": code, "Message": message}, status_code=status)


def signature(secret: str, body: bytes) -> str:
    """The value of ``X-Lgsp-Signature`` for a body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@router.post(
    "/v1/callbacks/vnpost",
    summary="VNPost tracking events pushed by an LGSP (signed; answered in the LGSP's format)",
    response_model=PushAnswer,
    **_push_doc(),
)
async def vnpost_push(
    request: Request,
    postal: Postal = Depends(get_postal),
    settings: Settings = Depends(get_settings),
    x_lgsp_signature: str | None = Header(default=None, max_length=200, description="sha256=<hex HMAC>"),
) -> JSONResponse:
    secret = settings.postal_push_secret
    if secret is None:
        return _answer(404, "404", "pushes are not enabled")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():  # never more than the limit in memory
            size += len(chunk)
            if size > settings.callback_max_bytes:
                return _refuse(413, "102", "body too large")
            chunks.append(chunk)
    except BodyTimeout:
        return _refuse(408, "102", "the body did not arrive in time")
    raw = b"".join(chunks)
    expected = signature(secret.get_secret_value(), raw)
    if x_lgsp_signature is None or not hmac.compare_digest(x_lgsp_signature.strip(), expected):
        return _refuse(401, "401", "missing or wrong signature")
    try:
        data = jsonbody.parse(raw, max_depth=PUSH_MAX_DEPTH, max_bytes=settings.callback_max_bytes)
        events = postal.parse_push(data)
    except (ValueError, ValidationError) as exc:
        return _refuse(400, "102", f"unreadable: {str(exc)[:100]}")
    try:
        verdicts = await run_in_threadpool(postal.ingest, events, "push")
    except Exception as exc:
        if not database_unavailable(exc):
            raise
        structlog.get_logger("hub.api.postal").warning("postal.push_unrecorded", error=type(exc).__name__)
        return _answer(503, "503", "cannot record it now: push it again")
    counted = ", ".join(f"{k} {v}" for k, v in sorted(verdicts.items())) or "nothing"
    return _answer(200, "100", f"received {len(events)}: {counted}")


def _refuse(status: int, code: str, why: str) -> JSONResponse:
    metrics.CALLBACKS_REFUSED.labels("vnpost", code).inc()
    log.warning("postal.push_refused", reason=why)
    return _answer(status, code, why)


def extend_schema(schema: dict[str, Any]) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["PushAnswer"] = PushAnswer.model_json_schema(ref_template="#/components/schemas/{model}")
