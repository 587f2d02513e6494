"""The mock VNPost's admin routes (``/_mock/*``, never faulted): state, the clock, waybill pools and
scenarios; faults and reset are the mock kit's (``hub.mockkit``). Bodies are read by ``hub.jsonbody``."""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI, HTTPException, Request

from hub import jsonbody, mockkit

from .errors import MAX_DEPTH
from .mock_state import SCENARIOS, MockState


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = jsonbody.parse(await request.body() or b"{}", max_depth=MAX_DEPTH, max_bytes=16 * 1024)
    except ValueError as exc:
        raise HTTPException(400, f"body: {exc}") from None
    if not isinstance(body, dict):
        raise HTTPException(422, "body: a JSON object")
    return body


def install_admin(app: FastAPI, state: MockState) -> None:
    @app.get("/_mock/state")
    def view() -> dict[str, Any]:
        with state.lock:
            return state.view()

    def faults() -> dict[str, Any]:
        remaining = max(0.0, state.outage_until - time.monotonic())
        return state.faults.model_dump() | {"outage_remaining_seconds": round(remaining, 3)}

    mockkit.install_admin(app, state, actions={"expire_tokens": lambda: state.tokens.clear()}, view=faults)

    @app.get("/_mock/clock")
    def clock() -> dict[str, Any]:
        with state.lock:
            return {"now": state.clock.now().isoformat(), "realtime": state.clock.realtime}

    @app.post("/_mock/clock/advance")
    async def advance(request: Request) -> dict[str, Any]:
        seconds = (await _body(request)).get("seconds")
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or not 0 <= seconds <= 366 * 86400:
            raise HTTPException(422, "seconds: a number from 0 to one year")
        with state.lock:
            now = state.clock.advance(float(seconds))
            state.tick()
        return {"now": now.isoformat()}

    @app.post("/_mock/waybills")
    async def waybills(request: Request) -> dict[str, Any]:
        body = await _body(request)
        customer, count = body.get("customer_code"), body.get("count", 10)
        if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 1000:
            raise HTTPException(422, "count: an integer from 1 to 1000")
        with state.lock:
            if customer not in state.pools:
                raise HTTPException(404, "customer_code: not a customer of this mock")
            return {"customer_code": customer, "item_codes": state.allocate(str(customer), count)}

    @app.post("/_mock/orders/{customer}/{order_number}/scenario")
    async def scenario(customer: str, order_number: str, request: Request) -> dict[str, Any]:
        name = (await _body(request)).get("scenario")
        with state.lock:
            if (customer, order_number) not in state.orders:
                raise HTTPException(404, "unknown order")
            try:
                return state.set_scenario(customer, order_number, str(name)).view()
            except ValueError as exc:
                raise HTTPException(409 if str(name) in SCENARIOS else 422, str(exc)) from None
