"""Every delivery connector, and the fake, against the connector contract (``connector_contract.py``);
the synchronous ports against theirs. Each class says how to build the connector and its double."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Mapping, Sequence
from itertools import count
from typing import Any, ClassVar

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic_settings import BaseSettings

import connectors.national_portal as portal_pkg
import connectors.payment_napas as payments_pkg
import connectors.population_db as popdb_pkg
import connectors.vnpost as vnpost_pkg
import connectors.webhooks as webhooks_pkg
from connectors.national_portal import NationalPortalSettings
from connectors.national_portal import errors as portal_errors
from connectors.national_portal import translate as portal_tr
from connectors.national_portal.client import NationalPortalConnector
from connectors.national_portal.mock import create_app as portal_mock
from connectors.payment_napas import NapasSettings, PayGovSettings, build_gateway
from connectors.payment_napas import errors as payment_errors
from connectors.population_db import PopulationDbClient, PopulationDbSettings
from connectors.population_db.mock import Faults as PopulationDbFaults
from connectors.population_db.mock import create_app as popdb_mock
from connectors.vnpost import VnpostClient, VnpostConnector, VnpostSettings
from connectors.vnpost import errors as vnpost_errors
from connectors.vnpost.mock import MockOptions
from connectors.vnpost.mock import create_app as vnpost_mock
from connectors.webhooks import WebhookConnector, WebhookSettings
from hub.canonical import DossierStatusChange
from hub.citizens.port import PopulationDbError
from hub.http import HttpFailure
from hub.messages import PAYMENT_STATUS_CHANGED, POSTAL_ORDER_REQUESTED
from hub.partners import Verdict
from hub.payments.port import GatewayError
from hub.ports import Connector, DeliveryItem, Outcome
from hub.subscriptions.port import Subscriber
from tests.connector_contract import KIND_OF, Answer, DeliveryConnectorContract, SyncPortContract, card_of
from tests.fakes import FakeConnector
from tests.national_portal.conftest import change
from tests.national_portal.conftest import item as portal_item
from tests.payment_napas.conftest import order as payment_order
from tests.population_db.conftest import verify_req
from tests.vnpost.conftest import BASE as VNPOST_BASE
from tests.vnpost.conftest import order

V = Verdict
_n = count(1)


# ---------------------------------------------------------------- the fake
class TestFakeConnector(DeliveryConnectorContract):
    ANSWERS: ClassVar = (
        Answer("delivered", V.OK, on_card="the outcome ``decide`` returns, as is"),
        Answer("retry", V.RETRYABLE, on_card="the outcome ``decide`` returns, as is"),
        Answer("dead", V.PERMANENT, on_card="the outcome ``decide`` returns, as is"),
    )

    @pytest.fixture(autouse=True)
    def partner(self) -> None:
        self.fake = FakeConnector()  # one partner for the whole test: the fake holds what it got

    def make(self) -> Connector:
        return self.fake

    def item(self) -> DeliveryItem:
        return portal_item(change())

    def ref_of(self, item: DeliveryItem) -> str:
        return "ref-" + item.message_id

    def copies_at_partner(self, item: DeliveryItem) -> int:
        return sum(1 for d in self.fake.delivered if d.message_id == item.message_id)

    def breaking(self, exc: Exception) -> Connector:
        def decide(_item: DeliveryItem) -> Outcome:
            raise exc

        return FakeConnector(decide=decide)

    def answering(self, answer: Answer) -> Connector:
        return FakeConnector(decide=lambda it: Outcome(KIND_OF[answer.verdict], answer.name, "ref-" + it.message_id))

    def card(self) -> str:
        return card_of(FakeConnector.__doc__)

    def package_names(self) -> tuple[str, tuple[str, ...]]:
        return "national_portal", portal_pkg.MESSAGE_TYPES


# ---------------------------------------------------------------- the national portal
class _PortalDouble:
    """A scripted portal (``hub.http.JsonHttp``): logins succeed, ``DongBoHoSoMC`` succeeds, and
    ``CapNhatTienDoHoSoMC`` gives ``answer``; or every call raises ``raises``."""

    def __init__(self, answer: Answer | None = None, raises: Exception | None = None) -> None:
        self.answer, self.raises = answer, raises

    def post_json(self, url: str, payload: Any, headers: Mapping[str, str]) -> tuple[int, Any]:
        if self.raises is not None:
            raise self.raises
        if "service" not in payload:
            return 200, {"error_code": 0, "session": "S-1"}
        if payload["service"] != portal_tr.PROGRESS_SERVICE or self.answer is None:
            return 200, {"error_code": 0, "message": "Thành công"}
        if self.answer.raises is not None:
            raise self.answer.raises("ReadTimeout")
        return self.answer.status, self.answer.body

    def close(self) -> None:
        pass


class TestNationalPortalConnector(DeliveryConnectorContract):
    ANSWERS: ClassVar = (
        Answer("success", V.OK, body={"error_code": "00"}, on_card='``error_code`` 0, ``"0"``, ``"00"``'),
        Answer(
            "already", V.ALREADY, body={"error_code": "-3", "message": "đã tồn tại"}, on_card='``error_code`` "3"/"-3"'
        ),
        Answer("expired", V.AUTH, body={"error_code": "-2"}, on_card='``error_code`` "-2" [I]'),
        Answer(
            "validation",
            V.PERMANENT,
            body={"error_code": "1", "message": "Thiếu trường"},
            on_card="validation rejections",
        ),
        Answer("unknown", V.NOT_FOUND, body={"error_code": "4"}, on_card='``error_code`` "4" [I]'),
        Answer("busy", V.RETRYABLE, status=503, body={}, on_card="HTTP 408, 429, 5xx"),
        Answer("no code", V.RETRYABLE, body={"message": "?"}, on_card="an answer without ``error_code``"),
        Answer("timeout", V.RETRYABLE, raises=HttpFailure, on_card="timeout / connection error"),
    )

    @pytest.fixture(autouse=True)
    def partner(self) -> Iterator[None]:
        with TestClient(portal_mock(), base_url="http://testserver") as mock:
            self.mock = mock
            yield

    def settings(self) -> NationalPortalSettings:
        return NationalPortalSettings(base_url="http://testserver", lookup_concurrency=1)

    def make(self) -> Connector:
        return NationalPortalConnector(self.settings(), http=self.mock)

    def item(self) -> DeliveryItem:
        return portal_item(change())

    def ref_of(self, item: DeliveryItem) -> str:
        return DossierStatusChange.model_validate(item.payload).natural_key()

    def copies_at_partner(self, item: DeliveryItem) -> int:
        r = self.mock.get(f"/_mock/dossiers/{item.payload['dossier_code']}")
        if r.status_code == 404:
            return 0
        key = portal_tr.progress_key(portal_tr.to_progress(item.payload))
        return sum(1 for e in r.json()[portal_tr.PROGRESS_LIST_KEY] if portal_tr.progress_key(e) == key)

    def breaking(self, exc: Exception) -> Connector:
        return NationalPortalConnector(self.settings(), http=_PortalDouble(raises=exc))

    def answering(self, answer: Answer) -> Connector:
        return NationalPortalConnector(self.settings(), http=_PortalDouble(answer))

    def card(self) -> str:  # the card's "Answers" names errors.py's table as its classification
        return card_of(portal_pkg.__doc__) + (portal_errors.__doc__ or "")

    def package_names(self) -> tuple[str, tuple[str, ...]]:
        return portal_pkg.NAME, portal_pkg.MESSAGE_TYPES

    def card_settings(self) -> type[NationalPortalSettings]:
        return NationalPortalSettings


# ---------------------------------------------------------------- webhooks
class _Receivers:
    """Subscribers and their receiver: keeps one event per ``webhook-id`` (as Standard Webhooks
    receivers do) and answers ``status``; or its transport raises ``raises``."""

    def __init__(self, status: int = 204, raises: Exception | None = None) -> None:
        self.status, self.raises = status, raises
        self.kept: dict[str, bytes] = {}  # webhook-id -> body

    def active(self, ids: Collection[str]) -> Mapping[str, Subscriber]:
        return {i: Subscriber(i, f"http://receiver.test/hooks/{i}", "whsec_" + "A" * 32) for i in ids}

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.raises is not None:
            raise self.raises
        if 200 <= self.status < 300:
            self.kept.setdefault(request.headers["webhook-id"], request.content)
        return httpx.Response(self.status, headers={"location": "http://elsewhere.test/"})


class TestWebhookConnector(DeliveryConnectorContract):
    ANSWERS: ClassVar = (
        Answer("2xx", V.OK, status=204, on_card="2xx delivered"),
        Answer("gone", V.PERMANENT, status=410, on_card="410 Gone dead"),
        Answer("redirect", V.PERMANENT, status=302, on_card="a redirect dead"),
        Answer("other", V.RETRYABLE, status=500, on_card="any other status"),
        Answer("timeout", V.RETRYABLE, raises=httpx.ReadTimeout, on_card="a timeout"),
        Answer("refused", V.RETRYABLE, raises=httpx.ConnectError, on_card="a connection error"),
    )

    @pytest.fixture(autouse=True)
    def partner(self) -> None:
        self.receivers = _Receivers()

    def _connector(self, receivers: _Receivers) -> Connector:
        http = httpx.Client(transport=httpx.MockTransport(receivers.handle))
        return WebhookConnector(receivers, WebhookSettings(), http=http)

    def make(self) -> Connector:
        return self._connector(self.receivers)

    def item(self) -> DeliveryItem:
        n = next(_n)
        event = {"type": PAYMENT_STATUS_CHANGED, "data": {"payment_id": f"P{n}", "state": "paid"}}
        return DeliveryItem(
            f"W{n:06d}",
            PAYMENT_STATUS_CHANGED,
            f"sub-{n}",
            {"subscription_id": f"sub-{n}", "event": event},
            1,
            False,
            False,
        )

    def ref_of(self, item: DeliveryItem) -> str:
        return item.message_id

    def copies_at_partner(self, item: DeliveryItem) -> int:
        event = item.payload["event"]
        return sum(1 for body in self.receivers.kept.values() if json.loads(body) == event)

    def breaking(self, exc: Exception) -> Connector:
        return self._connector(_Receivers(raises=exc))

    def answering(self, answer: Answer) -> Connector:
        raises = answer.raises("no answer") if answer.raises is not None else None
        return self._connector(_Receivers(answer.status, raises))

    def card(self) -> str:
        return card_of(webhooks_pkg.__doc__)

    def package_names(self) -> tuple[str, tuple[str, ...]]:
        return webhooks_pkg.NAME, webhooks_pkg.MESSAGE_TYPES

    def card_settings(self) -> type[WebhookSettings]:
        return WebhookSettings


# ---------------------------------------------------------------- VNPost (the ledger connector)
class _VnpostDouble:
    """A scripted VNPost (direct variant): tokens are granted, the order call gives ``answer``."""

    def __init__(self, answer: Answer | None = None, raises: Exception | None = None) -> None:
        self.answer, self.raises = answer, raises

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.raises is not None:
            raise self.raises
        if request.url.path == VnpostSettings().token_path:
            return httpx.Response(200, json={"access_token": "T", "token_type": "bearer", "expires_in": 3600})
        assert self.answer is not None
        if self.answer.raises is not None:
            raise self.answer.raises("no answer")
        return httpx.Response(self.answer.status, json=self.answer.body)


class TestVnpostConnector(DeliveryConnectorContract):
    ANSWERS: ClassVar = (
        Answer("registered", V.OK, body={"Status": "100", "Message": "ok"}, on_card='``Status "100"`` success'),
        Answer(
            "already", V.ALREADY, body={"Status": "101", "Message": "đã tồn tại"}, on_card='answered ``Status "101"``'
        ),
        Answer(
            "refused",
            V.PERMANENT,
            status=400,
            body={"Status": "102", "Message": "SenderTel"},
            on_card="other refusals permanent",
        ),
        Answer("expired", V.AUTH, status=401, body={}, on_card="401 renew"),
        Answer("busy", V.RETRYABLE, status=503, body={}, on_card="5xx"),
        Answer("timeout", V.RETRYABLE, raises=httpx.ReadTimeout, on_card="no answer"),
    )

    @pytest.fixture(autouse=True)
    def partner(self) -> Iterator[None]:
        self.app = vnpost_mock(MockOptions(realtime=False, step_seconds=60, token_ttl_seconds=600))
        with TestClient(self.app, base_url=VNPOST_BASE) as mock:
            self.mock = mock
            yield

    def settings(self) -> VnpostSettings:
        return VnpostSettings(variant="direct", base_url=VNPOST_BASE)

    def _over(self, http: httpx.Client) -> Connector:
        s = self.settings()
        return VnpostConnector(s, VnpostClient(s, http=http))

    def make(self) -> Connector:
        return self._over(self.mock)

    def item(self) -> DeliveryItem:
        o = order()
        return DeliveryItem(
            f"V{next(_n):06d}",
            POSTAL_ORDER_REQUESTED,
            f"order:{o.order_number}",
            o.model_dump(mode="json"),
            1,
            False,
            False,
        )

    def ref_of(self, item: DeliveryItem) -> str:
        """The waybill number (ItemCode) the mock gave the order (VNPost numbers a parcel ordered
        without one), else the order number."""
        number = item.payload["order_number"]
        placed = [o for (_customer, n), o in self.app.state.mock.orders.items() if n == number]
        return (placed[0].item_code if placed else None) or str(number)

    def copies_at_partner(self, item: DeliveryItem) -> int:
        orders = self.app.state.mock.orders
        return sum(1 for (_customer, number) in orders if number == item.payload.get("order_number"))

    def breaking(self, exc: Exception) -> Connector:
        return self._over(httpx.Client(transport=httpx.MockTransport(_VnpostDouble(raises=exc).handle)))

    def answering(self, answer: Answer) -> Connector:
        return self._over(httpx.Client(transport=httpx.MockTransport(_VnpostDouble(answer).handle)))

    def card(self) -> str:
        return card_of(vnpost_pkg.__doc__) + (vnpost_errors.__doc__ or "")

    def package_names(self) -> tuple[str, tuple[str, ...]]:
        return vnpost_pkg.NAME, vnpost_pkg.MESSAGE_TYPES

    def card_settings(self) -> type[VnpostSettings]:
        return VnpostSettings


# ---------------------------------------------------------------- the synchronous ports
class _GatewayDouble:
    """A scripted gateway: tokens are granted; every other call gives ``answer``."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/oauth/token"):
            return httpx.Response(200, json={"access_token": "T", "token_type": "bearer", "expires_in": 600})
        if self.answer.raises is not None:
            raise self.answer.raises("no answer")
        return httpx.Response(self.answer.status, json=self.answer.body)


class TestNapasGateway(SyncPortContract):
    """``PaymentGateway.create_order`` of the NAPAS profile (PayGov's answers: tests/payment_napas)."""

    FAMILY = GatewayError
    KIND = "payment_gateway"
    HEADINGS: ClassVar = ("Port", "napas", "paygov", "Idempotency key", "Callbacks", "Mock")
    CREATED: ClassVar = {"result": "SUCCESS", "paymentUrl": "https://pay.test/p/1", "session": {"id": "S1"}}
    ANSWERS: ClassVar = (
        Answer("created", V.OK, status=201, body=CREATED, on_card="``create_order``"),
        Answer("busy", V.RETRYABLE, status=503, body={}, on_card="503 (before processing)"),
        Answer("throttled", V.RETRYABLE, status=429, body={}, on_card="HTTP 429"),
        Answer("refused", V.RETRYABLE, raises=httpx.ConnectError, on_card="connection refused / connect timeout"),
        Answer("timeout", V.RETRYABLE, raises=httpx.ReadTimeout, on_card="read/write timeout"),
        Answer("gateway timeout", V.RETRYABLE, status=504, body={}, on_card="HTTP 504"),
        Answer(
            "invalid",
            V.PERMANENT,
            status=400,
            body={"result": "ERROR", "error": {"cause": "INVALID_REQUEST", "explanation": "order exists"}},
            on_card="NAPAS ``result`` ERROR",
        ),
        Answer("failure", V.PERMANENT, body={"result": "FAILURE"}, on_card="or FAILURE"),
    )

    def call(self, answer: Answer) -> object:
        http = httpx.Client(transport=httpx.MockTransport(_GatewayDouble(answer).handle))
        gateway = build_gateway("napas", NapasSettings(base_url="https://napas.test"), http=http)
        try:
            return gateway.create_order(payment_order())
        finally:
            gateway.close()

    def card(self) -> str:
        return card_of(payments_pkg.__doc__) + (payment_errors.__doc__ or "")

    def package_kind(self) -> str:
        return str(payments_pkg.KIND)

    def card_settings(self) -> Sequence[type[BaseSettings]]:
        return (NapasSettings, PayGovSettings)


class TestPopulationDb(SyncPortContract):
    """``PopulationDb.verify`` against the mock population database, its faults injected."""

    FAMILY = PopulationDbError
    KIND = "population_db"
    HEADINGS: ClassVar = ("Protocol", "Auth", "Operations", "Idempotency", "Port", "Errors", "Mock")
    ANSWERS: ClassVar = (
        Answer("verified", V.OK, body={}, on_card="``verify`` -> ``XacThucThongTinCongDan``"),
        Answer("busy", V.RETRYABLE, body={"fault_rate": 1, "fault_kind": "busy"}, on_card="99 busy"),
        Answer("5xx", V.RETRYABLE, body={"error_5xx_rate": 1}, on_card="5xx"),
        Answer("timeout", V.RETRYABLE, raises=httpx.ReadTimeout, on_card="hangs"),
        Answer("invalid", V.PERMANENT, body={"fault_rate": 1, "fault_kind": "invalid"}, on_card="01 invalid"),
        Answer(
            "not authorised",
            V.PERMANENT,
            body={"fault_rate": 1, "fault_kind": "not_authorised"},
            on_card="02 not authorised",
        ),
        Answer(
            "hostile",
            V.PERMANENT,
            body={"hostile_rate": 1, "hostile_kind": "dtd"},
            on_card="DTDs, entities and external references refused",
        ),
    )

    def call(self, answer: Answer) -> object:
        settings = PopulationDbSettings(base_url="http://testserver")
        if answer.raises is not None:
            raises = answer.raises("no answer")

            def hang(_request: httpx.Request) -> httpx.Response:
                raise raises

            with PopulationDbClient(settings, http=httpx.Client(transport=httpx.MockTransport(hang))) as client:
                return client.verify(verify_req())
        mock = TestClient(popdb_mock(PopulationDbFaults(**answer.body)), base_url="http://testserver")
        with mock, PopulationDbClient(settings, http=mock) as client:
            return client.verify(verify_req())

    def card(self) -> str:
        return card_of(popdb_pkg.__doc__)

    def package_kind(self) -> str:
        return str(popdb_pkg.KIND)

    def card_settings(self) -> Sequence[type[BaseSettings]]:
        return (PopulationDbSettings,)
