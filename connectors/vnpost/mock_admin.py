"""The mock VNPost's admin routes (``/_mock/*``, never faulted): state, faults, reset, the clock,
waybill pools and scenarios. Bodies are parsed with the same safe-JSON rules as partner calls."""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from pydantic import ValidationError

from . import safe_json
from .mock_state import SCENARIOS, Faults, MockState


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = safe_json.loads(await request.body() or b"{}", max_bytes=16 * 1024)
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

    @app.get("/_mock/faults")
    def get_faults() -> dict[str, Any]:
        with state.lock:
            remaining = max(0.0, state.outage_until - time.monotonic())
            return state.faults.model_dump() | {"outage_remaining_seconds": round(remaining, 3)}

    @app.post("/_mock/faults")
    async def set_faults(request: Request) -> dict[str, Any]:
        patch = await _body(request)
        expire = patch.pop("expire_tokens", False) is True
        with state.lock:
            try:
                faults = Faults.model_validate(state.faults.model_dump() | patch)
            except ValidationError as exc:
                fields = sorted({".".join(map(str, e["loc"])) for e in exc.errors()})
                raise HTTPException(422, f"invalid fault settings: {', '.join(fields)}") from None
            state.set_faults(faults, reseed="seed" in patch, start_outage="outage_seconds" in patch)
            if expire:
                state.tokens.clear()
        return get_faults()

    @app.post("/_mock/reset")
    def reset() -> dict[str, str]:
        state.reset()
        return {"status": "reset"}

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
