"""Mock payment gateway serving both profiles: NAPAS under ``/napas``, PayGov under ``/paygov``.

Run: ``python -m connectors.payment_napas.mock --port 8102 [--public-url URL] [--duplicate-callbacks 3 ...]``.
Credentials, paths and codes come from ``NapasSettings`` / ``PayGovSettings`` (``HUB_NAPAS_*``,
``HUB_PAYGOV_*``), so the hub's gateways and the mock agree by default.

It refuses what the real gateways would, with their codes:
- NAPAS: token request with a wrong grant or client (OAuth2 ``invalid_client`` 401 / ``unsupported_grant_type``
  400); a call without a valid, unexpired token (401); another merchant, a missing or invalid field, an amount
  over the merchant limit, an existing order (HTTP 400, ``{"result": "ERROR", "error": {"cause", "explanation"}}``
  with cause ``INVALID_REQUEST`` or ``REQUEST_REJECTED``); status of an unknown order (404).
- PayGov: a wrong bearer token (401); INIT answers ``{"error_code", "message"}``: "1" invalid field, "2" wrong
  ``MaXacThuc``, "3" ``MaThamChieu`` already used, "4" unknown ``MaDoiTac`` (all [I]: PayGov's codes are not
  public); QUERY answers ``MaLoi`` "97" wrong ``MaXacThuc``, "01" unknown order, else the order signed like a
  confirm with ``TrangThaiGD`` 0 pending / 1 paid / 2 failed [I].

Faults (``Faults``) hit create/query calls before anything is stored: a hang longer than the client timeout
(then 504) or a 503. Callback faults: see ``Faults``. Pages and ``/_mock/*`` views: ``mock_pages.py``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import datetime

import httpx
from fastapi import FastAPI

from .config import MOCK_URL, NapasSettings, PayGovSettings
from .mock_napas import install_napas
from .mock_pages import install_pages
from .mock_paygov import install_paygov
from .mock_state import Faults, MockGateway
from .translate import utcnow

__all__ = ["Faults", "MockGateway", "create_app", "main"]


def create_app(
    faults: Faults | None = None,
    napas: NapasSettings | None = None,
    paygov: PayGovSettings | None = None,
    public_url: str = MOCK_URL,
    http_factory: Callable[[], httpx.Client] | None = None,
    clock: Callable[[], datetime] = utcnow,
    max_amount: int = 500_000_000,
) -> FastAPI:
    """The mock app. ``public_url``: how payers reach it (payment URLs); ``http_factory``: the client that
    sends callbacks to the hub (tests route it in process)."""
    gw = MockGateway(
        napas or NapasSettings(), paygov or PayGovSettings(), public_url, faults, http_factory, clock, max_amount
    )
    app = FastAPI(title="Mock payment gateway (NAPAS, PayGov)")
    app.state.gateway = gw
    install_napas(app, gw)
    install_paygov(app, gw)
    install_pages(app, gw)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Mock payment gateway (NAPAS under /napas, PayGov under /paygov)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8102)
    parser.add_argument("--public-url", default=None, help="Base URL of payment pages (default http://HOST:PORT)")
    for name, spec in Faults.model_fields.items():
        flag = "--" + name.replace("_", "-")
        if spec.annotation is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=spec.default)
        else:
            kind = int if name in ("duplicate_callbacks", "amount_delta", "seed") else float
            parser.add_argument(flag, type=kind, default=spec.default, help=spec.description)
    args = vars(parser.parse_args(argv))
    host, port, public = args.pop("host"), args.pop("port"), args.pop("public_url")
    import uvicorn

    app = create_app(Faults(**args), public_url=public or f"http://{host}:{port}")
    uvicorn.run(app, host=host, port=port, log_level="info")


if __name__ == "__main__":
    main()
