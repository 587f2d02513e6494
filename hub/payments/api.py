"""Fee payments: open one (synchronously, through the gateway), read it, and the gateways'
signed result callbacks (answered in each gateway's own format, never problem details)."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Body, Depends, Path, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from hub import metrics
from hub.agencies import binding
from hub.agencies.port import AgencyNotConfigured
from hub.api.bodies import HubRoute
from hub.api.deps import database_unavailable, get_client, get_payments, get_settings, require
from hub.api.limits import BodyTimeout
from hub.api.openapi import errors
from hub.api.problems import ProblemError, field_error
from hub.clients import ADMIN, Client
from hub.envelope import iso
from hub.payments.models import (
    EXAMPLE,
    NapasNotification,
    NapasReply,
    OpenPayment,
    PayGovConfirm,
    PayGovReply,
    PaymentDetail,
    PaymentView,
)
from hub.payments.port import (
    CallbackAnswer,
    CallbackRejected,
    FeeItem,
    PaymentGateway,
    PaymentOrder,
    PaymentResult,
)
from hub.payments.rules import PAYMENT_ID
from hub.payments.service import GatewayUnavailable, PaymentConflict, Payments, ProfileNotOfAgency
from hub.settings import Settings

router = APIRouter(tags=["payments"], route_class=HubRoute)
log = structlog.get_logger("hub.api.payments")
GRANT = "payment.open"
CALLBACKS = "/v1/callbacks/"


def view(p: dict[str, Any], full: bool = False) -> dict[str, Any]:
    out = {
        "id": p["id"],
        "client_reference": p["client_reference"],
        "dossier_code": p["dossier_code"],
        "profile": p["profile"],
        "state": p["state"],
        "amount": p["amount"],
        "currency": p["currency"],
        "payment_url": p["payment_url"],
        "created_at": iso(p["created_at"]),
        "settled_at": iso(p["settled_at"]),
    }
    if full:
        out["details"] = p["details"]
        out["last_error"] = p["last_error"]
        out["history"] = [
            {"at": iso(e["at"]), "kind": e["kind"], "outcome": e["outcome"], "detail": e["detail"]} for e in p["events"]
        ]
    return out


@router.post(
    "/v1/payments",
    status_code=201,
    summary="Open a fee payment for a dossier at the gateway; returns the payment URL",
    response_model=PaymentView,
    responses={
        200: {"model": PaymentView, "description": "This client_reference was opened before: the same payment"},
        202: {"model": PaymentView, "description": "The gateway did not answer in time: in_doubt, settled by query"},
        **errors(
            403,
            409,
            422,
            502,
            503,
            _403="The client is not granted `payment.open`, or is not bound to the agency (agency_not_bound)",
            _422="Validation failed; the dossier code is not of its agency's province (dossier_code_province); "
            "the agency has no configuration for the gateway (agency_not_configured, e.g. its PayGov beneficiary)",
            _409="client_reference already used for a different request",
            _502="The gateway refused the order (`payment_id` names the payment, state refused)",
            _503="The gateway (or the hub's database) is unavailable: nothing was opened; Retry-After",
        ),
    },
)
async def open_payment(
    cmd: Annotated[OpenPayment, Body(openapi_examples={"napas": {"summary": "A fee paid at NAPAS", "value": EXAMPLE}})],
    payments: Payments = Depends(get_payments),
    client: Client = Depends(get_client),
) -> JSONResponse:
    require(GRANT, client)
    refused = binding.quick(client.agencies, cmd.agency_code, cmd.dossier_code)
    if refused == binding.ASK:  # a dossier code of another province: the directory decides
        refused = await run_in_threadpool(
            binding.check, client.agencies, payments.agencies, cmd.agency_code, cmd.dossier_code
        )
    if isinstance(refused, binding.Refusal):
        raise ProblemError(refused.code, f"the payment is refused: {refused.message}", errors=[refused.error()])
    try:  # the agency's gateway profile (``lgsp agencies``: payment.profile), else the request's, else the default
        profile = await run_in_threadpool(payments.profile_for, cmd.agency_code, cmd.profile)
    except ProfileNotOfAgency as exc:
        error = field_error("profile", "payment_profile_of_agency", str(exc))
        raise ProblemError(
            "validation_failed", f"the payment is refused: {exc}", errors=[error], agency=exc.agency
        ) from None
    if profile == "paygov" and cmd.procedure_name is None:
        error = field_error("procedure_name", "missing", "required for the paygov profile (TenTTHC of the receipt)")
        raise ProblemError("validation_failed", "the paygov profile needs the procedure's name", errors=[error])
    order = PaymentOrder(
        reference="",  # the hub's payment id, set when recorded
        dossier_code=cmd.dossier_code,
        procedure_code=cmd.procedure_code,
        agency_code=cmd.agency_code,
        amount=cmd.amount,
        description=cmd.description,
        fee_items=tuple(FeeItem(f.code, f.name, f.amount) for f in cmd.fee_items),
        payer_name=cmd.payer.name,
        return_url=str(cmd.return_url),
        procedure_name=cmd.procedure_name or "",
        payer_id_number=cmd.payer.id_number or "",
    )
    digest = hashlib.sha256(cmd.model_dump_json().encode()).hexdigest()
    try:
        opened = await run_in_threadpool(payments.open, client.id, order, cmd.client_reference, profile, digest)
    except AgencyNotConfigured as exc:
        error = field_error("agency_code", "agency_not_configured", f"{exc}: an operator adds it (`lgsp agencies`)")
        raise ProblemError(
            "agency_not_configured", f"{exc} (`lgsp agencies`, /v1/admin/agencies)", errors=[error], agency=exc.agency
        ) from None
    except PaymentConflict:
        raise ProblemError(
            "client_reference_reused", "this client_reference was used for a different request"
        ) from None
    except GatewayUnavailable as exc:
        raise ProblemError(
            "gateway_unavailable",
            "the payment gateway cannot be reached; nothing was opened",
            retry_after=exc.retry_after,
        ) from None
    p = opened.payment
    if p["state"] == "refused":
        raise ProblemError("gateway_refused", "the gateway refused the order", payment_id=p["id"])
    status = 202 if p["state"] in ("in_doubt", "opening") else (201 if opened.created else 200)
    return JSONResponse(view(p), status_code=status)


@router.get(
    "/v1/payments/{payment_id}",
    summary="A payment: state and history (callbacks, queries)",
    response_model=PaymentDetail,
    responses=errors(404, _404="No such payment (or not this client's)"),
)
async def get_payment(
    payment_id: str = Path(pattern=PAYMENT_ID.pattern, examples=["01KAQ3Z5X7E8R9T0Y1V2W3X4Y5"]),
    payments: Payments = Depends(get_payments),
    client: Client = Depends(get_client),
) -> dict[str, Any]:
    p = await run_in_threadpool(payments.get, payment_id)
    if p is None or (p["client_id"] != client.id and not client.may(ADMIN)):
        raise ProblemError("not_found", "no such payment")
    return view(p, full=True)


# ---------------------------------------------------------------- callbacks: the gateways' own formats
def _callback_doc(model: type[Any], reply: type[Any], statuses: dict[int, str], example: dict[str, Any]) -> Any:
    content = {"application/json": {"schema": {"$ref": f"#/components/schemas/{reply.__name__}"}}}
    return {
        "openapi_extra": {
            "x-lgsp-partner-format": True,
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"$ref": f"#/components/schemas/{model.__name__}"},
                        "examples": {"signed": {"summary": "A signed result (stale by now)", "value": example}},
                    }
                },
            },
        },
        "responses": {s: {"description": d, "content": content} for s, d in statuses.items()},
    }


NAPAS_STATUSES = {
    200: "Accepted (SUCCESS), or already confirmed",
    400: "Unreadable notification (INVALID_REQUEST), or a result the hub cannot store",
    401: "Bad checksum (INVALID_CHECKSUM) or stale (EXPIRED)",
    403: "Another merchant (MERCHANT_MISMATCH)",
    404: "No such order (ORDER_NOT_FOUND)",
    408: "The notification's body did not arrive in time (INVALID_REQUEST)",
    409: "Amount or currency differs from the order (AMOUNT_MISMATCH)",
    413: "Body too large (INVALID_REQUEST)",
    503: "The hub cannot record it now (SERVER_BUSY): send it again",
}
PAYGOV_STATUSES = {
    200: "Every answer. Accepted (recorded now or before): the confirm's own MaLoi, ThoiGianGD and MaXacThuc echoed, "
    "MoTaLoi empty. Refused, signed by the hub: MaLoi 01 unknown order, 04 amount, 03 partner, 97 signature, "
    "98 stale, 99 invalid data, 96 unavailable (send again)",
    408: "The body did not arrive in time (MaLoi 99)",
    413: "Body too large (MaLoi 99)",
}
NAPAS_EXAMPLE = {"data": "eyJwYXltZW50UmVzdWx0Ijp7fX0=", "checksum": "0" * 64}
PAYGOV_EXAMPLE = {
    "LoaiBanTin": "CONFIRM",
    "MaLoi": "00",
    "MaDoiTac": "LGSPHUB",
    "MaThamChieu": "01KAQ3Z5X7E8R9T0Y1V2W3X4Y5",
    "SoTien": "150000",
    "MaTienTe": "VND",
    "MaGiaoDich": "PG123456",
    "MaNganHang": "PAYMENT",
    "ThoiGianGD": "20251122090000",
    "ThongTinGiaoDich": "Lệ phí cấp giấy phép xây dựng",
    "MaXacThuc": "0" * 64,
}


@router.post(
    "/v1/callbacks/payment/napas",
    summary="NAPAS payment result notification (signed; answered in NAPAS's format)",
    response_model=NapasReply,
    **_callback_doc(NapasNotification, NapasReply, NAPAS_STATUSES, NAPAS_EXAMPLE),
)
async def napas_callback(
    request: Request, payments: Payments = Depends(get_payments), settings: Settings = Depends(get_settings)
) -> JSONResponse:
    return await _callback(request, payments, settings.callback_max_bytes, "napas")


@router.post(
    "/v1/callbacks/payment/paygov",
    summary="PayGov payment confirmation (signed; answered in PayGov's format)",
    response_model=PayGovReply,
    **_callback_doc(PayGovConfirm, PayGovReply, PAYGOV_STATUSES, PAYGOV_EXAMPLE),
)
async def paygov_callback(
    request: Request, payments: Payments = Depends(get_payments), settings: Settings = Depends(get_settings)
) -> JSONResponse:
    return await _callback(request, payments, settings.callback_max_bytes, "paygov")


async def _callback(request: Request, payments: Payments, limit: int, profile: str) -> JSONResponse:
    gateway = payments.gateway(profile)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():  # never more than the limit in memory
            size += len(chunk)
            if size > limit:
                await _evidence(payments, profile, "too_large", b"".join(chunks))
                return _refuse(gateway, profile, "malformed", 413)
            chunks.append(chunk)
    except BodyTimeout:
        await _evidence(payments, profile, "body_timeout", b"".join(chunks))
        return _refuse(gateway, profile, "malformed", 408)
    body = b"".join(chunks)
    try:
        result = gateway.parse_callback(body)
    except CallbackRejected as exc:
        await _evidence(payments, profile, exc.reason, body)
        return _refuse(gateway, profile, exc.reason)
    try:
        answer = await run_in_threadpool(payments.settle, result, "callback", body)
    except Exception as exc:
        if not database_unavailable(exc):
            raise
        structlog.get_logger("hub.api.payments").warning(
            "payment.callback_unrecorded", profile=profile, error=type(exc).__name__
        )
        return _reply(gateway, "unavailable", result=result)
    if answer == "malformed":
        metrics.CALLBACKS_REFUSED.labels(profile, "unstorable").inc()
        log.warning("payment.callback_refused", profile=profile, reason="unstorable", payment_id=result.reference)
    return _reply(gateway, answer, result=result)


async def _evidence(payments: Payments, profile: str, reason: str, body: bytes) -> None:
    """The evidence of a refused callback; a database that is down does not change the answer."""
    try:
        await run_in_threadpool(payments.refused_callback, profile, reason, body)
    except Exception as exc:
        if not database_unavailable(exc):
            raise
        structlog.get_logger("hub.api.payments").warning(
            "payment.callback_evidence_unrecorded", error=type(exc).__name__
        )


def _reply(
    gateway: PaymentGateway, answer: CallbackAnswer, status: int | None = None, result: PaymentResult | None = None
) -> JSONResponse:
    code, body = gateway.callback_reply(answer, result)
    return JSONResponse(body, status_code=status or code)


def _refuse(gateway: PaymentGateway, profile: str, reason: CallbackAnswer, status: int | None = None) -> JSONResponse:
    metrics.CALLBACKS_REFUSED.labels(profile, reason).inc()
    log.warning("payment.callback_refused", profile=profile, reason=reason)
    return _reply(gateway, reason, status)


def extend_schema(schema: dict[str, Any]) -> None:
    """The callbacks' bodies and replies (read raw: not FastAPI's to declare)."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in (NapasNotification, PayGovConfirm, NapasReply, PayGovReply):
        components[model.__name__] = model.model_json_schema(ref_template="#/components/schemas/{model}")
