"""Fee payments: open one (synchronously, through the gateway), read it, and the gateways'
signed result callbacks."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, Literal

import structlog
from fastapi import APIRouter, Body, Depends, HTTPException, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, StrictInt, model_validator
from starlette.concurrency import run_in_threadpool

from connectors.payment_napas import PROFILES, CallbackRejected, FeeItem, PaymentOrder
from hub import metrics
from hub.api.deps import get_client, get_hub, require
from hub.bootstrap import Hub
from hub.canonical import AGENCY_CODE_PATTERN, DOSSIER_CODE_PATTERN, PROCEDURE_CODE_PATTERN
from hub.clients import ADMIN, Client
from hub.envelope import iso
from hub.payments import GatewayUnavailable, PaymentConflict

router = APIRouter(tags=["payments"])
log = structlog.get_logger("hub.api.payments")
GRANT = "payment.open"
MAX_AMOUNT = 10_000_000_000  # VND


class FeeItemIn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    code: str = Field(min_length=1, max_length=50, description="Fee code (MaPhiLePhi).")
    name: str = Field(min_length=1, max_length=200, description="Fee name (TenPhiLePhi).")
    amount: StrictInt = Field(gt=0, le=MAX_AMOUNT, description="VND, an integer.")


class PayerIn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str = Field(min_length=1, max_length=200, description="Payer's full name (HoTenNguoiNop); never logged.")


class OpenPayment(BaseModel):
    """Open a fee payment for a dossier. ``client_reference`` is the client's own id for it:
    sending the same request again returns the same payment."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    client_reference: str = Field(pattern=r"^[A-Za-z0-9._:-]{1,100}$")
    dossier_code: str = Field(pattern=DOSSIER_CODE_PATTERN, description="Dossier code (MaHoSo).")
    procedure_code: str = Field(pattern=PROCEDURE_CODE_PATTERN, description="National procedure code (MaTTHC).")
    agency_code: str = Field(pattern=AGENCY_CODE_PATTERN, description="Agency code (MaDonVi).")
    amount: StrictInt = Field(gt=0, le=MAX_AMOUNT, description="Total in VND, an integer: the sum of the fee items.")
    currency: Literal["VND"] = "VND"
    fee_items: list[FeeItemIn] = Field(min_length=1, max_length=50)
    description: str = Field(min_length=1, max_length=210, description="Shown to the payer (NoiDungThanhToan).")
    payer: PayerIn
    return_url: HttpUrl = Field(description="Where the gateway sends the citizen after paying.")
    profile: Literal["napas", "paygov"] | None = Field(
        default=None, description="Gateway; default HUB_PAYMENT_PROFILE."
    )

    @model_validator(mode="after")
    def _total(self) -> OpenPayment:
        if sum(f.amount for f in self.fee_items) != self.amount:
            raise ValueError("amount: must equal the sum of fee_items amounts")
        return self


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
    responses={
        200: {"description": "This client_reference was opened before: the same payment"},
        202: {"description": "The gateway did not answer in time: in_doubt, settled by query; GET it later"},
        409: {"description": "client_reference already used for a different request"},
        422: {"description": "Validation failed: each error names the field and the rule"},
        502: {"description": "The gateway refused the order"},
        503: {"description": "The gateway is unreachable: nothing was opened, retry later"},
    },
)
async def open_payment(
    cmd: Annotated[OpenPayment, Body()], hub: Hub = Depends(get_hub), client: Client = Depends(get_client)
) -> JSONResponse:
    require(GRANT, client)
    profile = cmd.profile or hub.settings.payment_profile
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
    )
    digest = hashlib.sha256(cmd.model_dump_json().encode()).hexdigest()
    try:
        opened = await run_in_threadpool(hub.payments.open, client.id, order, cmd.client_reference, profile, digest)
    except PaymentConflict:
        return JSONResponse(
            {"error": "client_reference_reused", "message": "this client_reference was used for a different request"},
            status_code=409,
        )
    except GatewayUnavailable as exc:
        return JSONResponse(
            {"error": "gateway_unavailable", "message": "the payment gateway cannot be reached; nothing was opened"},
            status_code=503,
            headers={"Retry-After": str(exc.retry_after)},
        )
    p = opened.payment
    if p["state"] == "refused":
        return JSONResponse({"error": "gateway_refused", "message": p["last_error"], "payment": view(p)}, 502)
    status = 202 if p["state"] in ("in_doubt", "opening") else (201 if opened.created else 200)
    return JSONResponse(view(p), status_code=status)


@router.get("/v1/payments/{payment_id}", summary="A payment: state and history (callbacks, queries)")
async def get_payment(
    payment_id: str = Path(max_length=26), hub: Hub = Depends(get_hub), client: Client = Depends(get_client)
) -> dict[str, Any]:
    p = await run_in_threadpool(hub.payments.get, payment_id)
    if p is None or (p["client_id"] != client.id and not client.may(ADMIN)):
        raise HTTPException(status_code=404, detail={"error": "not_found", "message": f"no payment {payment_id}"})
    return view(p, full=True)


@router.post(
    "/v1/callbacks/payment/{profile}",
    summary="Payment result callback from a gateway (signed; answered in the gateway's own format)",
)
async def payment_callback(request: Request, profile: str = Path(), hub: Hub = Depends(get_hub)) -> JSONResponse:
    if profile not in PROFILES:
        raise HTTPException(status_code=404, detail={"error": "not_found", "message": f"no gateway profile {profile}"})
    gateway = hub.gateway(profile)
    raw = await request.body()
    if len(raw) > hub.settings.callback_max_bytes:
        return _refuse(gateway, profile, "malformed", 413)
    try:
        result = gateway.parse_callback(raw)
    except CallbackRejected as exc:
        return _refuse(gateway, profile, exc.reason)
    answer = await run_in_threadpool(hub.payments.settle, result, "callback")
    status, body = gateway.callback_reply(answer)  # type: ignore[arg-type]
    return JSONResponse(body, status_code=status)


def _refuse(gateway: Any, profile: str, reason: str, status: int | None = None) -> JSONResponse:
    metrics.CALLBACKS_REFUSED.labels(profile, reason).inc()
    log.warning("payment.callback_refused", profile=profile, reason=reason)
    code, body = gateway.callback_reply(reason)
    return JSONResponse(body, status_code=status or code)
