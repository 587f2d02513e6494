"""Mock VNPost: the partner's stand-in for development, demos and tests, in all three variants at once.

Run: ``python -m connectors.vnpost.mock --port 8104 [--step-seconds 30] [--no-realtime] [--duplicate-rate 0.2 ...]``.
Paths and credentials come from ``VnpostSettings`` (``HUB_VNPOST_*``), so the connector and the mock
agree by default. It refuses what VNPost would, in the variant's own shapes:

- auth: a missing, wrong or expired token (direct: HTTP 401 with the WSO2 ``fault`` body, codes
  900902 missing / 900901 invalid; LGSP: 401 ``{Status: "401"}``; MyVNPost: 401 ``{IsSuccess: false}``);
  a token request with wrong client credentials (401 ``invalid_client``) or grant (400), or a wrong
  MyVNPost login (``IsSuccess: false``). Tokens expire on the mock's clock.
- orders (answers HTTP 200 ``{Status, Message}``, MyVNPost ``{IsSuccess, Code, Message}``): "100"
  registered, with the order's waybill number as ``ItemCode`` ([I]: the field of the feed and of
  the LGSP body; an order sent without one is numbered by the mock, as VNPost numbers the parcels
  of the ``…WithoutItemCode`` path, and the feed's entries carry it); "101" the same
  (CustomerCode, OrderNumber) again (already registered, nothing changes; a dossier's second kind
  has its own OrderNumber, ``…-TG`` / ``…-KQ``); "102" invalid data, the message naming each
  field (missing required fields, unit ids
  that are not integers, booleans or unknown to VNPost, a district not of its province, district 0
  unless ``accept_district_zero``, a negative or non-numeric CODAmount); "103" a waybill (ItemCode)
  not issued to this customer or in use by another order; "106" an unknown customer code.
- cancel: "100" cancelled before pickup, "101" already cancelled, "104" refused once picked up
  (or finished), "105" unknown order.
- the feed: ``CustomerCode`` required and known, ``pagesize`` 1-100, ``lastId`` 24 hex digits
  (else HTTP 400 "102"); HAL ``{_embedded: {"rh:doc": [...]}, _returned, _size, _total_pages}``.

Codes other than "100"/"101", the MyVNPost paths and the feed's StatusCode table are [I].
Admin (never faulted): GET ``/_mock/state``, GET/POST ``/_mock/faults``, POST ``/_mock/reset``,
GET ``/_mock/clock``, POST ``/_mock/clock/advance {"seconds"}``, POST ``/_mock/waybills
{"customer_code", "count"}``, POST ``/_mock/orders/{customer}/{order_number}/scenario {"scenario"}``.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from hub import mockkit
from hub.postal.units import UnitMap

from .config import Variant, VnpostSettings
from .mock_admin import install_admin
from .mock_http import MockHttp, problems_of
from .mock_state import Faults, MockOptions, MockState, Order

__all__ = ["Faults", "MockOptions", "MockState", "create_app", "main"]


def create_app(
    options: MockOptions | None = None,
    faults: Faults | None = None,
    settings: VnpostSettings | None = None,
    units: UnitMap | None = None,
) -> FastAPI:
    s = settings or VnpostSettings()
    state = MockState(options or MockOptions(), faults)
    known = (units or UnitMap.load(placeholders=True)).known_ids()
    h = MockHttp(state, s)
    app = FastAPI(title="Mock VNPost (direct MITC, province LGSP, MyVNPost)")
    app.state.mock = state

    async def order(request: Request, variant: Variant) -> Response:
        body = await h.guarded(request, variant)
        if isinstance(body, Response):
            return body
        problems = problems_of(body, variant, known, state.options.accept_district_zero)
        customer, number = str(body.get("CustomerCode") or ""), str(body.get("OrderNumber") or "")
        item_code = body.get("ItemCode") if isinstance(body.get("ItemCode"), str) else None
        with state.lock:
            if problems:
                return h.answer(variant, "102", "Dữ liệu không hợp lệ (invalid data): " + "; ".join(problems[:10]))
            if customer not in state.pools:
                return h.answer(variant, "106", "Mã khách hàng không tồn tại (unknown CustomerCode)")
            existing = state.orders.get((customer, number))
            if existing is not None and existing.status.value != "cancelled":
                why = f"Đơn hàng {number} đã tồn tại (already registered)"
                return h.answer(variant, "101", why, item_code=existing.item_code)
            pool = state.pools[customer]
            if item_code and (item_code not in pool.issued or item_code in pool.in_use):
                why = "đang được dùng (in use)" if item_code in pool.issued else "không được cấp (not issued)"
                return h.answer(variant, "103", f"ItemCode {item_code} {why} for CustomerCode {customer}")
            created = state.create(customer, number, body, variant, item_code)
        answer = h.answer(variant, "100", "Tạo đơn hàng thành công (order registered)", item_code=created.item_code)
        return answer

    async def cancel(request: Request, variant: Variant) -> Response:
        body = await h.guarded(request, variant)
        if isinstance(body, Response):
            return body
        key = (str(body.get("CustomerCode") or ""), str(body.get("OrderNumber") or ""))
        with state.lock:
            found: Order | None = state.orders.get(key)
            if found is None:
                return h.answer(variant, "105", f"Không tìm thấy đơn hàng (unknown order) {key[1][:60]}")
            outcome = state.cancel(found)
        codes = {"cancelled": ("100", "Hủy đơn hàng thành công"), "already": ("101", "Đơn hàng đã được hủy")}
        code, message = codes.get(outcome, ("104", "Không thể hủy: bưu gửi đã được nhận (already picked up)"))
        return h.answer(variant, code, message)

    async def tracking(request: Request, variant: Variant) -> Response:
        return await h.feed(request, variant)

    routes: dict[Variant, dict[str, tuple[str, str]]] = {
        "direct": {
            "order": ("POST", s.order_path),
            "cancel": ("POST", s.cancel_path),
            "tracking": ("GET", s.tracking_path),
        },
        "myvnpost": {
            "order": ("POST", s.myvnpost_order_path),
            "cancel": ("POST", s.myvnpost_cancel_path),
            "tracking": ("GET", s.myvnpost_tracking_path),
        },
    }
    handlers = {"order": order, "cancel": cancel, "tracking": tracking}
    for variant, ops in routes.items():
        for op, (method, path) in ops.items():
            app.add_api_route(path, _bind(handlers[op], variant), methods=[method], include_in_schema=False)

    lgsp_ops = {s.lgsp_op_order: order, s.lgsp_op_cancel: cancel, s.lgsp_op_tracking: tracking}

    async def lgsp(request: Request) -> Response:
        handler = lgsp_ops.get(request.query_params.get("service", ""))
        if handler is None:
            return JSONResponse({"Status": "404", "Message": "service không tồn tại (unknown service)"}, 404)
        return await handler(request, "lgsp")

    app.add_api_route(s.lgsp_path, lgsp, methods=["GET", "POST"], include_in_schema=False)
    app.add_api_route(s.token_path, _bind(h.oauth_token, "direct"), methods=["POST"], include_in_schema=False)
    app.add_api_route(s.lgsp_token_path, _bind(h.oauth_token, "lgsp"), methods=["POST"], include_in_schema=False)
    app.add_api_route(s.myvnpost_token_path, h.myvnpost_token, methods=["POST"], include_in_schema=False)
    install_admin(app, state)
    return app


def _bind(
    handler: Callable[[Request, Variant], Awaitable[Response]], variant: Variant
) -> Callable[[Request], Awaitable[Response]]:
    async def route(request: Request) -> Response:
        return await handler(request, variant)

    return route


def main(argv: list[str] | None = None) -> None:
    parser = mockkit.mock_parser("Mock VNPost (direct MITC, province LGSP, MyVNPost)", 8104)
    parser.add_argument("--step-seconds", type=float, default=MockOptions.step_seconds, help="Time between statuses.")
    parser.add_argument("--realtime", action=argparse.BooleanOptionalAction, default=True, help="Clock runs by itself.")
    parser.add_argument("--accept-district-zero", action="store_true", help="Accept district id 0.")
    parser.add_argument("--scenario", default=MockOptions.default_scenario, help="Default journey of new orders.")
    mockkit.add_fault_flags(parser, Faults)
    args = vars(parser.parse_args(argv))
    host, port = args.pop("host"), args.pop("port")
    options = MockOptions(
        step_seconds=args.pop("step_seconds"),
        realtime=args.pop("realtime"),
        accept_district_zero=args.pop("accept_district_zero"),
        default_scenario=args.pop("scenario"),
    )
    mockkit.serve(create_app(options, mockkit.faults_from(args, Faults)), host, port)


if __name__ == "__main__":
    main()
