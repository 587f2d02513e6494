"""The mock gateway's pages and admin: a payment page per order, payer actions, ``/_mock/*`` views.

- ``GET /pay/{ref}``: HTML page with Pay / Decline / Abandon buttons (form POST ``/pay/{ref}/{action}``, then
  back to the order's return URL).
- ``POST /_mock/orders/{ref}/pay|decline|abandon``: the same actions as JSON, for tests. Pay and decline
  send the signed callback (faults permitting); abandon sends nothing.
- ``POST /_mock/orders/{ref}/resend``: send the order's last callback again, unchanged (a replay).
- Read-only: ``GET /_mock`` (HTML index), ``/_mock/orders``, ``/_mock/orders/{ref}``, ``/_mock/callbacks``
  (each with the hub's answer), ``/_mock/stats``; ``GET/POST /_mock/faults``, ``POST /_mock/reset``.
"""

from __future__ import annotations

from html import escape
from typing import Any, Literal

from fastapi import FastAPI, HTTPException
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from hub import mockkit

from .mock_state import MockGateway, MockOrder

Action = Literal["pay", "decline", "abandon"]
_STYLE = (
    "body{font-family:sans-serif;max-width:42em;margin:2em auto}button{font-size:1.1em;margin:.3em;padding:.4em 1em}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .5em}"
)


def _page(title: str, body: str) -> HTMLResponse:
    html = f"<!doctype html><html lang=vi><head><meta charset=utf-8><title>{escape(title)}</title>"
    html += f"<style>{_STYLE}</style></head><body>{body}</body></html>"
    return HTMLResponse(html)


def _payment_page(order: MockOrder) -> HTMLResponse:
    gateway = "NAPAS" if order.profile == "napas" else "PayGov (Cổng thanh toán DVCQG)"
    rows = f"<p>Mã tham chiếu (reference): <code>{escape(order.reference)}</code></p>"
    rows += f"<p>Nội dung (description): {escape(order.description)}</p>"
    rows += f"<p>Số tiền (amount): <b>{order.amount:,} VND</b></p>"
    if order.state != "pending":
        return _page(gateway, f"<h1>{gateway}</h1>{rows}<p>Giao dịch đã kết thúc (settled): <b>{order.state}</b></p>")
    buttons = "".join(
        f'<button name=action value={a} formaction="/pay/{escape(order.reference)}/{a}">{label}</button>'
        for a, label in (("pay", "Thanh toán (Pay)"), ("decline", "Từ chối (Decline)"), ("abandon", "Bỏ (Abandon)"))
    )
    return _page(gateway, f"<h1>{gateway} — mock</h1>{rows}<form method=post>{buttons}</form>")


def install_pages(app: FastAPI, gw: MockGateway) -> None:
    def order_or_404(reference: str) -> MockOrder:
        with gw.lock:
            order = gw.orders.get(reference)
        if order is None:
            raise HTTPException(404, f"no order {reference}")
        return order

    async def act(reference: str, action: Action) -> tuple[MockOrder, str]:
        order_or_404(reference)
        try:
            order = gw.settle(reference, action)
        except ValueError as exc:
            raise HTTPException(409, str(exc)) from exc
        delivery = "none" if action == "abandon" else await run_in_threadpool(gw.dispatch, order)
        return order, delivery

    @app.get("/pay/{reference}", response_class=HTMLResponse)
    def payment_page(reference: str) -> HTMLResponse:
        return _payment_page(order_or_404(reference))

    @app.post("/pay/{reference}/{action}")
    async def payer_action(reference: str, action: Action) -> Response:
        order, _ = await act(reference, action)
        if order.return_url:
            return RedirectResponse(order.return_url, status_code=303)
        return _page("Mock", f"<p>{escape(reference)}: {escape(order.state)}</p>")

    @app.post("/_mock/orders/{reference}/{action}")
    async def mock_action(reference: str, action: Action | Literal["resend"]) -> dict[str, Any]:
        if action == "resend":
            order_or_404(reference)
            try:
                record = await run_in_threadpool(gw.resend, reference)
            except ValueError as exc:
                raise HTTPException(409, str(exc)) from exc
            return {"reference": reference, "status": record.status, "answer": record.answer, "error": record.error}
        order, delivery = await act(reference, action)
        return {"reference": reference, "state": order.state, "abandoned": order.abandoned, "callbacks": delivery}

    @app.get("/_mock", response_class=HTMLResponse)
    def index() -> HTMLResponse:
        with gw.lock:
            orders = list(gw.orders.values())
        rows = "".join(
            f"<tr><td><a href='/pay/{escape(o.reference)}'>{escape(o.reference)}</a></td><td>{o.profile}</td>"
            f"<td>{o.amount:,}</td><td>{o.state}{' (abandoned)' if o.abandoned else ''}</td></tr>"
            for o in orders
        )
        links = " · ".join(f"<a href='/_mock/{p}'>{p}</a>" for p in ("orders", "callbacks", "stats", "faults"))
        table = f"<table><tr><th>reference</th><th>profile</th><th>amount</th><th>state</th></tr>{rows}</table>"
        return _page("Mock gateway", f"<h1>Mock payment gateway</h1><p>{links}</p>{table}")

    @app.get("/_mock/orders")
    def orders() -> list[dict[str, Any]]:
        with gw.lock:
            return [o.view() for o in gw.orders.values()]

    @app.get("/_mock/orders/{reference}")
    def one_order(reference: str) -> dict[str, Any]:
        with gw.lock:
            return order_or_404(reference).view()

    @app.get("/_mock/callbacks")
    def callbacks(reference: str | None = None) -> list[dict[str, Any]]:
        with gw.lock:
            return [vars(c).copy() for c in gw.callbacks if reference is None or c.reference == reference]

    @app.get("/_mock/stats")
    def stats() -> dict[str, Any]:
        return gw.stats()

    mockkit.install_admin(app, gw, actions={"expire_tokens": lambda: gw.tokens.clear()})
