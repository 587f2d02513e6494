"""Mock NAPAS routes (under ``/napas``): OAuth2 token, order creation, order status. See ``mock.py``."""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from .mock_state import MockGateway, MockOrder, as_object, fault_of, read_json
from .translate import napas_time, parse_amount


def _napas_error(status: int, cause: str, explanation: str) -> JSONResponse:
    return JSONResponse({"result": "ERROR", "error": {"cause": cause, "explanation": explanation}}, status_code=status)


def install_napas(app: FastAPI, gw: MockGateway) -> None:
    s = gw.napas.settings
    api = f"/napas{s.api_path}/{{merchant}}/order/{{order_id}}"

    @app.post(f"/napas{s.token_path}")
    async def token(request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
        with gw.lock:
            gw.calls["napas.token"] += 1
        if form.get("grant_type") != s.grant_type:
            gw.reject("unsupported_grant_type")
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        ok_id = secrets.compare_digest(form.get("client_id", "").encode(), s.client_id.encode())
        ok_secret = secrets.compare_digest(form.get("client_secret", "").encode(), gw.napas._secret().encode())
        if not (ok_id and ok_secret):
            gw.reject("invalid_client")
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        value, ttl = gw.issue_token()
        return JSONResponse({"access_token": value, "token_type": "Bearer", "expires_in": int(ttl), "scope": "payment"})

    def guard(request: Request, merchant: str) -> Response | None:
        if not gw.token_ok(request.headers.get("authorization")):
            gw.reject("401")
            return _napas_error(401, "INVALID_REQUEST", "Invalid or expired access token")
        if merchant != s.merchant_id:
            gw.reject("REQUEST_REJECTED")
            return _napas_error(400, "REQUEST_REJECTED", "Unknown merchant")
        return None

    @app.put(api + "/transaction/{transaction_id}")
    async def create(request: Request, merchant: str, order_id: str, transaction_id: str) -> Response:
        with gw.lock:
            gw.calls["napas.create"] += 1
        refused = guard(request, merchant)
        if refused is not None:
            return refused
        fault = await fault_of(gw)
        if fault is not None:
            return fault
        body = await read_json(request) or {}
        order = as_object(body.get("order"))
        raw_url = as_object(body.get("interaction")).get("returnUrl")
        return_url = raw_url if isinstance(raw_url, str) else ""
        problem = None
        try:
            amount = parse_amount(order.get("amount"))
        except ValueError:
            amount, problem = 0, "order.amount: a whole number of VND is required"
        if body.get("apiOperation") != s.api_operation:
            problem = f"apiOperation: {s.api_operation} expected"
        elif order.get("currency") != "VND":
            problem = "order.currency: VND expected"
        elif order.get("reference") != order_id:
            problem = "order.reference: must equal the orderId of the path"
        elif not return_url.startswith(("http://", "https://")):
            problem = "interaction.returnUrl: an http(s) URL is required"
        elif problem is None and amount <= 0:
            problem = "order.amount: must be positive"
        if problem:
            gw.reject("INVALID_REQUEST")
            return _napas_error(400, "INVALID_REQUEST", problem)
        if amount > gw.max_amount:
            gw.reject("REQUEST_REJECTED")
            return _napas_error(400, "REQUEST_REJECTED", f"amount above the merchant limit of {gw.max_amount} VND")
        notify = order.get("notificationUrl")
        now = gw.clock()
        record = MockOrder(
            profile="napas",
            reference=order_id,
            amount=amount,
            currency="VND",
            description=str(order.get("description") or ""),
            dossier_code="",
            return_url=return_url,
            callback_url=notify if isinstance(notify, str) and notify else s.callback_url,
            gateway_ref="SESSION" + secrets.token_hex(12).upper(),
            created_at=now,
        )
        if not gw.add_order(record):
            gw.reject("INVALID_REQUEST")
            return _napas_error(400, "INVALID_REQUEST", "order already exists")
        answer = {
            "result": "SUCCESS",
            "merchantId": s.merchant_id,
            "order": {
                "id": order_id,
                "reference": order_id,
                "amount": amount,
                "currency": "VND",
                "status": "INITIATED",
            },
            "transaction": {"id": transaction_id, "type": "PAYMENT"},
            "response": {"gatewayCode": "PENDING"},
            "session": {"id": record.gateway_ref},
            "paymentUrl": gw.payment_url(order_id),
            "timeOfRecord": napas_time(now),
        }
        return JSONResponse(answer, status_code=201)

    @app.get(api + "/domestic")
    async def status(request: Request, merchant: str, order_id: str) -> Response:
        with gw.lock:
            gw.calls["napas.query"] += 1
        refused = guard(request, merchant)
        if refused is not None:
            return refused
        fault = await fault_of(gw)
        if fault is not None:
            return fault
        with gw.lock:
            order = gw.orders.get(order_id)
            if order is None or order.profile != "napas":
                return _napas_error(404, "INVALID_REQUEST", "Order not found")
            code = {"pending": "PENDING", "paid": "APPROVED", "failed": "DECLINED"}[order.state]
            return JSONResponse(
                {
                    "result": "SUCCESS",
                    "merchantId": s.merchant_id,
                    "order": {"id": order_id, "reference": order_id, "amount": order.amount, "currency": "VND"},
                    "transaction": {"id": s.transaction_id, "receipt": order.txn_id or None, "amount": order.amount},
                    "response": {"gatewayCode": code},
                    "timeOfRecord": napas_time(order.settled_at or order.created_at),
                }
            )
