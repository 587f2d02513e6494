"""Mock payment gateway serving both profiles: NAPAS under ``/napas``, PayGov under ``/paygov``.

Run: ``python -m connectors.payment_napas.mock --port 8102 [--public-url URL] [--duplicate-callbacks 3 ...]``.
Credentials, paths and codes come from ``NapasSettings`` / ``PayGovSettings`` (``HUB_NAPAS_*``,
``HUB_PAYGOV_*``), so the hub's gateways and the mock agree by default.

It refuses what the real gateways would, with their codes:
- NAPAS: token request with a wrong grant or client (OAuth2 ``invalid_client`` 401 / ``unsupported_grant_type``
  400); a call without a valid, unexpired token (401); another merchant, a missing or invalid field, an amount
  over the merchant limit, an existing order (HTTP 400, ``{"result": "ERROR", "error": {"cause", "explanation"}}``
  with cause ``INVALID_REQUEST`` or ``REQUEST_REJECTED``); status of an unknown order (404).
- PayGov (capability card: ``mock_rules.py``, ``GET /_mock/card``): a wrong bearer token (401); INIT answers
  ``{"error_code", "message"}``: "1" invalid field, "2" wrong ``MaXacThuc``, "3" ``MaThamChieu`` already used,
  "4" unknown ``MaDoiTac`` (all [I]: PayGov's codes are not public); strict (the default): "1" also for an
  ``SoTien`` that is not the sum of the fee lines and an empty beneficiary account or unit. QUERY answers
  ``MaLoi`` "97" wrong ``MaXacThuc``, "01" unknown order, "99" (strict) a ``ThoiGianGD`` other than the INIT
  one, else ``MaLoi`` "00" and the order signed like a confirm with ``TrangThaiGD`` [C] 1 paid, 3 pending,
  4 failed. A confirm signs the INIT ``ThoiGianGD`` (``--paygov-callback-time payment``: the time of
  payment); ``/_mock/callbacks`` records whether the hub's reply echoed ``MaLoi``, ``ThoiGianGD``, ``MaXacThuc``.
  ``--lenient`` drops the strict-only rules.

Faults (``Faults``) hit create/query calls before anything is stored: a hang longer than the client timeout
(then 504) or a 503. Callback faults: see ``Faults``. Pages and ``/_mock/*`` views: ``mock_pages.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

import httpx
from fastapi import FastAPI

from hub import mockkit

from .config import MOCK_URL, NapasSettings, PayGovSettings
from .mock_napas import install_napas
from .mock_pages import install_pages
from .mock_paygov import install_paygov
from .mock_rules import card
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
    strict: bool = True,
    paygov_callback_time: Literal["opening", "payment"] = "opening",
) -> FastAPI:
    """The mock app. ``public_url``: how payers reach it (payment URLs); ``http_factory``: the client that
    sends callbacks to the hub (tests route it in process); ``strict`` (the default): every rule of
    ``mock_rules.RULES``; ``paygov_callback_time``: the time a PayGov confirm signs (the INIT time, or
    the time of payment)."""
    gw = MockGateway(
        napas or NapasSettings(),
        paygov or PayGovSettings(),
        public_url,
        faults,
        http_factory,
        clock,
        max_amount,
        strict,
        paygov_callback_time,
    )
    app = FastAPI(title="Mock payment gateway (NAPAS, PayGov)")
    app.state.gateway = gw
    install_napas(app, gw)
    install_paygov(app, gw)
    install_pages(app, gw)

    @app.get("/_mock/card")
    def capability_card() -> dict[str, Any]:
        return {**card(), "strict": gw.strict, "paygov_callback_time": gw.paygov_callback_time}

    return app


def main(argv: list[str] | None = None) -> None:
    parser = mockkit.mock_parser("Mock payment gateway (NAPAS under /napas, PayGov under /paygov)", 8102)
    parser.add_argument("--public-url", default=None, help="Base URL of payment pages (default http://HOST:PORT)")
    parser.add_argument("--lenient", action="store_true", help="Drop the strict-only rules (mock_rules.RULES)")
    parser.add_argument(
        "--paygov-callback-time",
        choices=("opening", "payment"),
        default="opening",
        help="The time a PayGov confirm signs: the INIT time (default) or the time of payment",
    )
    mockkit.add_fault_flags(parser, Faults)
    args = vars(parser.parse_args(argv))
    host, port, public = args.pop("host"), args.pop("port"), args.pop("public_url")
    strict, callback_time = not args.pop("lenient"), args.pop("paygov_callback_time")
    app = create_app(
        mockkit.faults_from(args, Faults),
        public_url=public or f"http://{host}:{port}",
        strict=strict,
        paygov_callback_time=callback_time,
    )
    mockkit.serve(app, host, port)


if __name__ == "__main__":
    main()
