"""Fixtures of the payment gateway tests: orders, the mock gateway in process, a fake hub that answers
its callbacks with the real gateways, and the mock served on a loopback port (real timeouts)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import count
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from connectors.payment_napas import NapasSettings, PayGovSettings, build_gateway
from connectors.payment_napas.mock import MockGateway, create_app
from hub.agencies.port import PayGovBeneficiary
from hub.payments.port import CallbackAnswer, CallbackRejected, FeeItem, PaymentGateway, PaymentOrder, PaymentResult
from tests.support.clock import OffsetClock
from tests.support.live import serve

BASE = "http://testserver"
PAYER = "Nguyễn Văn An"
NAPAS_SECRET = "napas-dev-client-secret"
PAYGOV_SECRET = "paygov-dev-secret-key"
PAYGOV_TOKEN = "paygov-dev-access-token"
_serial = count(1)
OPENED = datetime.now(tz=UTC).replace(microsecond=0)  # orders' INIT time (PaymentOrder.opened_at); queries repeat it
BENEFICIARY = PayGovBeneficiary(
    account="3511.0.1055555", bank_code="KBNN", account_name="Sở Xây dựng Thanh Hóa", unit_name="Sở Xây dựng"
)


def reference() -> str:
    """A fresh 26-character ULID-shaped payment id."""
    return f"01JDTEST{next(_serial):018d}"


def order(ref: str | None = None, amount: int = 150_000, **overrides: Any) -> PaymentOrder:
    fields: dict[str, Any] = {
        "reference": ref or reference(),
        "dossier_code": "000.00.00.H56-250225-0001",
        "procedure_code": "2.002492",
        "agency_code": "000.00.00.H56",
        "amount": amount,
        "description": "Lệ phí cấp giấy phép",
        "fee_items": (FeeItem("LP01", "Lệ phí", amount),),
        "payer_name": PAYER,
        "return_url": "https://onegate.example/return",
        "procedure_name": "Cấp giấy phép xây dựng",
        "payer_id_number": "038090001234",
        "beneficiary": BENEFICIARY,
        "opened_at": OPENED,
    }
    return PaymentOrder(**(fields | overrides))


def napas_settings(**overrides: Any) -> NapasSettings:
    return NapasSettings(base_url=f"{BASE}/napas", query_backoff_seconds=0, **overrides)


def paygov_settings(**overrides: Any) -> PayGovSettings:
    return PayGovSettings(base_url=f"{BASE}/paygov", query_backoff_seconds=0, **overrides)


@dataclass
class FakeHub:
    """The hub's callback route, reduced to the gateway calls it makes: parse, then reply. A result for a
    reference settled before gets ``already_settled``; the amounts the hub expects can be set."""

    gateways: dict[str, PaymentGateway] = field(default_factory=dict)
    results: list[PaymentResult] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    expected_amounts: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, request: httpx.Request) -> httpx.Response:
        gateway = self.gateways[request.url.path.rsplit("/", 1)[-1]]
        try:
            result = gateway.parse_callback(request.content)
        except CallbackRejected as exc:
            with self.lock:
                self.rejected.append(exc.reason)
            status, body = gateway.callback_reply(exc.reason)
            return httpx.Response(status, json=body)
        with self.lock:
            expected = self.expected_amounts.get(result.reference, result.amount)
            seen = any(r.reference == result.reference for r in self.results)
            answer: CallbackAnswer = (
                "amount_mismatch" if result.amount != expected else "already_settled" if seen else "ok"
            )
            if answer == "ok":
                self.results.append(result)
        status, body = gateway.callback_reply(answer, result)
        return httpx.Response(status, json=body)

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self.handle))


Clock = OffsetClock


@dataclass
class Rig:
    """The mock gateway in process, both real gateways pointed at it, and the fake hub behind it."""

    http: TestClient
    mock: MockGateway
    hub: FakeHub
    napas: PaymentGateway
    paygov: PaymentGateway
    clock: Clock

    def gateway(self, profile: str) -> PaymentGateway:
        return self.napas if profile == "napas" else self.paygov

    def faults(self, **values: Any) -> dict[str, Any]:
        response = self.http.post("/_mock/faults", json=values)
        response.raise_for_status()
        return dict(response.json())

    def act(self, ref: str, action: str) -> dict[str, Any]:
        response = self.http.post(f"/_mock/orders/{ref}/{action}")
        assert response.status_code == 200, response.text
        return dict(response.json())

    def callbacks(self, ref: str | None = None) -> list[dict[str, Any]]:
        return list(self.http.get("/_mock/callbacks", params={"reference": ref} if ref else {}).json())


@pytest.fixture
def rig() -> Iterator[Rig]:
    hub = FakeHub()
    app = create_app(public_url=BASE, http_factory=hub.client)
    clock = Clock()
    with TestClient(app, base_url=BASE) as http:
        napas = build_gateway("napas", napas_settings(), http=http, clock=clock)
        paygov = build_gateway("paygov", paygov_settings(), http=http, clock=clock)
        hub.gateways.update(napas=napas, paygov=paygov)
        yield Rig(http, app.state.gateway, hub, napas, paygov, clock)


@pytest.fixture(scope="session")
def live_mock() -> Iterator[str]:
    """The mock served by uvicorn on a free loopback port in a background thread (real sockets and timeouts)."""
    with serve(lambda url: create_app(public_url=url), "mock gateway", lifespan="auto") as url:
        yield url


@pytest.fixture
def live_url(live_mock: str) -> str:
    httpx.post(f"{live_mock}/_mock/reset").raise_for_status()
    return live_mock


def at(text: str) -> datetime:
    """An aware UTC datetime from ISO text without offset."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)
