"""The real gateways against scripted answers (respx): requests, token cache, retries, classification."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx
from structlog.testing import capture_logs

from connectors.payment_napas import NapasGateway, NapasSettings, PayGovGateway, PayGovSettings
from hub.payments.port import GatewayTimeout, PermanentGatewayError, RetryableGatewayError

from .conftest import NAPAS_SECRET, PAYER, PAYGOV_SECRET, PAYGOV_TOKEN, at, order

NAPAS = "https://napas.test"
PAYGOV = "https://paygov.test"
MERCHANT_API = "/api/rest/version/1/merchant/LGSPHUB01/order"
REF = "01JDCLIENT0000000000000001"
CREATED = {"result": "SUCCESS", "paymentUrl": "https://pay.test/p/1", "session": {"id": "SESSION1"}}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Napas:
    """respx routes of a NAPAS gateway: tokens T1, T2, ...; scripted create and status answers."""

    def __init__(self, router: respx.MockRouter) -> None:
        self.issued = 0
        self.token = router.post("/api/oauth/token").mock(side_effect=self._token)
        self.create = router.put(url__regex=rf"{MERCHANT_API}/[^/]+/transaction/1$").mock(
            return_value=httpx.Response(201, json=CREATED)
        )
        self.status = router.get(url__regex=rf"{MERCHANT_API}/[^/]+/domestic$")
        self.expires_in = 120

    def _token(self, request: httpx.Request) -> httpx.Response:
        self.issued += 1
        return httpx.Response(
            200, json={"access_token": f"T{self.issued}", "token_type": "bearer", "expires_in": self.expires_in}
        )


@pytest.fixture
def napas_api() -> Iterator[Napas]:
    with respx.mock(base_url=NAPAS, assert_all_called=False) as router:
        yield Napas(router)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def napas(napas_api: Napas, clock: Clock) -> Iterator[NapasGateway]:
    gateway = NapasGateway(NapasSettings(base_url=NAPAS, query_backoff_seconds=0), monotonic=clock)
    yield gateway
    gateway.close()


# ------------------------------------------------------------------ NAPAS: requests and token
def test_create_order_request(napas: NapasGateway, napas_api: Napas) -> None:
    created = napas.create_order(order(REF))
    assert (created.reference, created.gateway_ref, created.payment_url) == (REF, "SESSION1", "https://pay.test/p/1")
    token_request = napas_api.token.calls.last.request
    form = dict(httpx.QueryParams(token_request.content.decode()))
    assert form == {"grant_type": "client_credentials", "client_id": "lgsp-hub", "client_secret": NAPAS_SECRET}
    request = napas_api.create.calls.last.request
    assert request.url.path == f"{MERCHANT_API}/{REF}/transaction/1"
    assert request.headers["authorization"] == "Bearer T1"
    body = json.loads(request.content)
    assert body["apiOperation"] == "PURCHASE"
    assert body["order"] | {"item": None} == {
        "amount": 150000,
        "currency": "VND",
        "reference": REF,
        "description": "Lệ phí cấp giấy phép",
        "notificationUrl": "http://127.0.0.1:8000/v1/callbacks/payment/napas",
        "item": None,
    }
    assert body["interaction"] == {"returnUrl": "https://onegate.example/return"}
    assert PAYER not in request.content.decode()  # NAPAS's hosted page does not need the payer's name


def test_token_is_cached_until_shortly_before_expiry(napas: NapasGateway, napas_api: Napas, clock: Clock) -> None:
    napas_api.status.mock(return_value=httpx.Response(200, json={"result": "SUCCESS", "response": {}}))
    napas.create_order(order())
    napas.query(REF)
    clock.now += 59  # expires_in 120 minus the 60 s margin: still good
    napas.query(REF)
    assert napas_api.token.call_count == 1
    clock.now += 2
    napas.query(REF)
    assert napas_api.token.call_count == 2
    assert napas_api.status.calls.last.request.headers["authorization"] == "Bearer T2"


def test_a_401_renews_the_token_once_and_repeats_the_call_once(napas: NapasGateway, napas_api: Napas) -> None:
    napas_api.create.side_effect = [httpx.Response(401, json={"result": "ERROR"}), httpx.Response(201, json=CREATED)]
    assert napas.create_order(order()).payment_url == CREATED["paymentUrl"]
    assert napas_api.token.call_count == 2
    assert [c.request.headers["authorization"] for c in napas_api.create.calls] == ["Bearer T1", "Bearer T2"]


def test_a_second_401_is_retryable_not_a_loop(napas: NapasGateway, napas_api: Napas) -> None:
    napas_api.create.mock(return_value=httpx.Response(401, json={"result": "ERROR"}))
    with pytest.raises(RetryableGatewayError):
        napas.create_order(order())
    assert (napas_api.token.call_count, napas_api.create.call_count) == (2, 2)


@pytest.mark.parametrize(
    "answer",
    [httpx.Response(401, json={"error": "invalid_client"}), httpx.Response(200, json={}), httpx.ReadTimeout("slow")],
    ids=["refused", "no-token", "timeout"],
)
def test_token_failures_are_retryable_and_send_no_order(
    napas: NapasGateway, napas_api: Napas, answer: httpx.Response | Exception
) -> None:
    napas_api.token.side_effect = [answer]
    with pytest.raises(RetryableGatewayError) as caught:
        napas.create_order(order())
    assert napas_api.create.call_count == 0
    assert NAPAS_SECRET not in str(caught.value)


# ------------------------------------------------------------------ NAPAS: classification, no blind retry
@pytest.mark.parametrize(
    ("answer", "error", "code"),
    [
        (httpx.ReadTimeout("slow"), GatewayTimeout, None),
        (httpx.WriteTimeout("slow"), GatewayTimeout, None),
        (httpx.RemoteProtocolError("dropped"), GatewayTimeout, None),
        (httpx.ConnectError("refused"), RetryableGatewayError, None),
        (httpx.Response(503, text="Service Unavailable"), RetryableGatewayError, None),
        (httpx.Response(500, text="oops"), RetryableGatewayError, None),
        (httpx.Response(429), RetryableGatewayError, None),
        (httpx.Response(504, text="Gateway Timeout"), GatewayTimeout, None),
        (httpx.Response(200, text="<html>"), GatewayTimeout, None),
        (
            httpx.Response(200, json={"result": "ERROR", "error": {"cause": "SERVER_BUSY"}}),
            RetryableGatewayError,
            "SERVER_BUSY",
        ),
        (
            httpx.Response(200, json={"result": "ERROR", "error": {"cause": "SERVER_FAILED"}}),
            GatewayTimeout,
            "SERVER_FAILED",
        ),
        (
            httpx.Response(
                400, json={"result": "ERROR", "error": {"cause": "INVALID_REQUEST", "explanation": "order exists"}}
            ),
            PermanentGatewayError,
            "INVALID_REQUEST",
        ),
        (httpx.Response(200, json={"result": "FAILURE"}), PermanentGatewayError, "FAILURE"),
        (httpx.Response(201, json={"result": "SUCCESS"}), PermanentGatewayError, None),  # no payment URL
    ],
)
def test_create_order_classifies_and_never_retries(
    napas: NapasGateway, napas_api: Napas, answer: httpx.Response | Exception, error: type[Exception], code: str | None
) -> None:
    napas_api.create.side_effect = [answer, httpx.Response(201, json=CREATED)]
    with pytest.raises(error) as caught:
        napas.create_order(order())
    assert type(caught.value) is error and getattr(caught.value, "code", None) == code
    assert napas_api.create.call_count == 1


def test_query_states_and_unknown(napas: NapasGateway, napas_api: Napas) -> None:
    def answer(code: str, receipt: str | None = "503112345678") -> httpx.Response:
        body = {
            "result": "SUCCESS",
            "order": {"id": REF, "amount": "150000.00", "currency": "VND"},
            "transaction": {"id": "1", "receipt": receipt},
            "response": {"gatewayCode": code},
        }
        return httpx.Response(200, json=body)

    napas_api.status.side_effect = [
        answer("APPROVED"),
        answer("DECLINED"),
        answer("PENDING", None),
        httpx.Response(404, json={"result": "ERROR", "error": {"cause": "INVALID_REQUEST"}}),
    ]
    paid, failed, pending, unknown = (napas.query(REF) for _ in range(4))
    assert (paid.state, paid.amount, paid.currency, paid.gateway_txn_id, paid.code) == (
        "paid",
        150000,
        "VND",
        "503112345678",
        "APPROVED",
    )
    assert (failed.state, pending.state, pending.gateway_txn_id) == ("failed", "pending", None)
    assert (unknown.state, unknown.amount, unknown.reference) == ("unknown", None, REF)
    assert napas_api.status.calls.last.request.url.path == f"{MERCHANT_API}/{REF}/domestic"


def test_query_retries_retryable_errors_a_bounded_number_of_times(napas: NapasGateway, napas_api: Napas) -> None:
    ok = httpx.Response(200, json={"result": "SUCCESS", "response": {"gatewayCode": "APPROVED"}})
    napas_api.status.side_effect = [httpx.Response(503), httpx.ConnectError("refused"), ok]
    assert napas.query(REF).state == "paid"
    napas_api.status.side_effect = None
    napas_api.status.return_value = httpx.Response(503)
    before = napas_api.status.call_count
    with pytest.raises(RetryableGatewayError):
        napas.query(REF)
    assert napas_api.status.call_count - before == 3  # query_attempts


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (httpx.ReadTimeout("slow"), GatewayTimeout),
        (httpx.Response(400, json={"result": "ERROR"}), PermanentGatewayError),
    ],
)
def test_query_does_not_retry_other_errors(
    napas: NapasGateway, napas_api: Napas, answer: httpx.Response | Exception, error: type[Exception]
) -> None:
    napas_api.status.side_effect = [answer]
    with pytest.raises(error):
        napas.query(REF)
    assert napas_api.status.call_count == 1


def test_logs_and_errors_hold_no_secret_token_or_payer(napas: NapasGateway, napas_api: Napas) -> None:
    napas_api.create.side_effect = [httpx.Response(201, json=CREATED), httpx.Response(400, json={"result": "ERROR"})]
    with capture_logs() as logs:
        napas.create_order(order())
        with pytest.raises(PermanentGatewayError) as caught:
            napas.create_order(order())
    text = json.dumps(logs, default=str) + str(caught.value) + repr(order())
    assert [e["event"] for e in logs] == ["payment_gateway.created", "payment_gateway.create_failed"]
    for secret in (NAPAS_SECRET, "T1", PAYER):
        assert secret not in text
    assert NAPAS_SECRET not in repr(napas.settings)


# ------------------------------------------------------------------ PayGov
@pytest.fixture
def paygov_api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=PAYGOV, assert_all_called=False) as router:
        yield router


@pytest.fixture
def paygov(paygov_api: respx.MockRouter) -> Iterator[PayGovGateway]:
    clock = at("2025-02-25T01:30:00")
    gateway = PayGovGateway(PayGovSettings(base_url=PAYGOV, query_backoff_seconds=0), clock=lambda: clock)
    yield gateway
    gateway.close()


def init_answer(code: str = "0", message: Any = None) -> httpx.Response:
    inner = {"MaThamChieu": REF, "UrlThanhToan": "https://paygov.test/pay/1"} if message is None else message
    return httpx.Response(
        200, json={"error_code": code, "message": inner if isinstance(inner, str) else json.dumps(inner)}
    )


def test_init_request_and_answer(paygov: PayGovGateway, paygov_api: respx.MockRouter) -> None:
    route = paygov_api.post("/init").mock(return_value=init_answer())
    created = paygov.create_order(order(REF))
    assert (created.reference, created.gateway_ref, created.payment_url) == (REF, REF, "https://paygov.test/pay/1")
    request = route.calls.last.request
    assert request.headers["authorization"] == f"Bearer {PAYGOV_TOKEN}"
    body = json.loads(request.content)
    fields = "LoaiBanTin PhienBan MaDoiTac MaThamChieu SoTien LoaiHinhThanhToan MaKenhThanhToan MaThietBi NgonNgu "
    fields += "MaTienTe MaNganHang ThongTinGiaoDich ThoiGianGD Ip"
    joined = "|".join([*(body[k] for k in fields.split()), PAYGOV_SECRET])
    assert body["MaXacThuc"] == hashlib.sha256(joined.encode()).hexdigest()
    bill = body["ThongTinBienLai"]
    assert (bill["MaHoSo"], bill["MaTTHC"], bill["MaDVC"], bill["MaDonVi"]) == (
        "000.00.00.H56-250225-0001",
        "2.002492",
        "2.002492.01",
        "000.00.00.H56",
    )
    assert bill["MaDichVu"] == "2" and bill["HoTenNguoiNop"] == PAYER  # the e-receipt needs the payer
    assert bill["PhiLePhi"] == [
        {"LoaiPhiLePhi": "Phi", "MaPhiLePhi": "LP01", "TenPhiLePhi": "Lệ phí", "SoTien": "150000"}
    ]
    assert body["UrlTraVe"] == "https://onegate.example/return"


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (init_answer("3", "MaThamChieu đã tồn tại"), PermanentGatewayError),
        (init_answer("0", "not json"), PermanentGatewayError),
        (init_answer("0", {"MaThamChieu": REF}), PermanentGatewayError),
        (httpx.Response(401, json={"error_code": "-1"}), RetryableGatewayError),
        (httpx.Response(502), RetryableGatewayError),
        (httpx.Response(200, json={"message": "?"}), GatewayTimeout),
        (httpx.ReadTimeout("slow"), GatewayTimeout),
    ],
    ids=["refused", "message-not-json", "no-url", "unauthorized", "502", "no-error-code", "timeout"],
)
def test_init_classification(
    paygov: PayGovGateway, paygov_api: respx.MockRouter, answer: httpx.Response | Exception, error: type[Exception]
) -> None:
    route = paygov_api.post("/init").mock(side_effect=[answer, init_answer()])
    with pytest.raises(error) as caught:
        paygov.create_order(order())
    assert type(caught.value) is error and route.call_count == 1


def test_init_codes_can_be_configured_retryable(paygov_api: respx.MockRouter) -> None:
    paygov_api.post("/init").mock(return_value=init_answer("96", "Hệ thống bận"))
    gateway = PayGovGateway(PayGovSettings(base_url=PAYGOV, retryable_codes=("96",)))
    with pytest.raises(RetryableGatewayError, match="error_code 96"):
        gateway.create_order(order())


def signed_query_answer(state: str, secret: str = PAYGOV_SECRET, **overrides: str) -> httpx.Response:
    body = {
        "LoaiBanTin": "QUERY",
        "MaLoi": "00",
        "MaDoiTac": "LGSPHUB01",
        "MaThamChieu": REF,
        "SoTien": "150000",
        "MaTienTe": "VND",
        "MaGiaoDich": "TXN9",
        "MaNganHang": "PAYMENT",
        "ThoiGianGD": "20250225084500",
        "ThongTinGiaoDich": "Lệ phí",
    } | overrides
    body["MaXacThuc"] = hashlib.sha256("|".join([*body.values(), secret]).encode()).hexdigest()
    return httpx.Response(200, json=body | {"TrangThaiGD": state})


def test_query_request_and_states(paygov: PayGovGateway, paygov_api: respx.MockRouter) -> None:
    """MaLoi "00" = the query succeeded; TrangThaiGD 1 paid, 4 failed, 3 pending [C THH]; the query carries
    the order's original transaction time, not "now"."""
    route = paygov_api.post("/query").mock(
        side_effect=[
            signed_query_answer("1"),
            signed_query_answer("4"),
            signed_query_answer("3", MaGiaoDich=""),
            httpx.Response(200, json={"MaLoi": "01", "MoTaLoi": "Không tìm thấy giao dịch"}),
        ]
    )
    opened = at("2025-02-24T01:00:00")  # 08:00 Vietnam time, the day before the clock's "now"
    paid, failed, pending, unknown = (paygov.query(REF, opened) for _ in range(4))
    assert (paid.state, paid.amount, paid.currency, paid.gateway_txn_id, paid.code) == (
        "paid",
        150000,
        "VND",
        "TXN9",
        "00/1",
    )
    assert (failed.state, failed.code, pending.state, pending.gateway_txn_id) == ("failed", "00/4", "pending", None)
    assert (unknown.state, unknown.code) == ("unknown", "01")
    sent = json.loads(route.calls.last.request.content)
    assert sent["ThoiGianGD"] == "20250224080000"
    joined = f"QUERY|1.0.6|LGSPHUB01|{REF}|20250224080000|{PAYGOV_SECRET}"
    assert sent["MaXacThuc"] == hashlib.sha256(joined.encode()).hexdigest()


def test_a_query_that_did_not_succeed_is_not_read_as_a_state(
    paygov: PayGovGateway, paygov_api: respx.MockRouter
) -> None:
    paygov_api.post("/query").mock(return_value=signed_query_answer("4", MaLoi="99"))
    with pytest.raises(PermanentGatewayError, match="MaLoi 99"):
        paygov.query(REF, at("2025-02-24T01:00:00"))


def test_a_query_answer_signed_over_nfd_text_is_verified_as_sent(
    paygov: PayGovGateway, paygov_api: respx.MockRouter
) -> None:
    """The MAC covers ThongTinGiaoDich as the gateway wrote it; the hub makes text NFC only after
    the check, so decomposed tones in the answer are not mistaken for a forgery."""
    nfd = unicodedata.normalize("NFD", "Lệ phí cấp giấy phép")
    paygov_api.post("/query").mock(return_value=signed_query_answer("1", ThongTinGiaoDich=nfd))
    assert paygov.query(REF).state == "paid"


@pytest.mark.parametrize(
    "answer",
    [
        signed_query_answer("1", secret="forged"),
        signed_query_answer("1", MaThamChieu="01JDOTHER00000000000000001"),
        httpx.Response(200, json={"MaLoi": "97", "MoTaLoi": "Sai mã xác thực"}),
        httpx.Response(200, json={"error_code": "2", "message": "Sai mã xác thực"}),
        httpx.Response(200, json=["?"]),
    ],
    ids=["forged-answer", "other-order", "refused", "wrapped-refusal", "not-object"],
)
def test_query_answers_that_cannot_be_trusted(
    paygov: PayGovGateway, paygov_api: respx.MockRouter, answer: httpx.Response
) -> None:
    paygov_api.post("/query").mock(return_value=answer)
    with pytest.raises(PermanentGatewayError):
        paygov.query(REF)


def test_paygov_query_retries_5xx(paygov: PayGovGateway, paygov_api: respx.MockRouter) -> None:
    route = paygov_api.post("/query").mock(side_effect=[httpx.Response(503), signed_query_answer("1")])
    assert paygov.query(REF).state == "paid" and route.call_count == 2


def test_gateway_messages_are_shortened_and_id_numbers_masked(
    paygov: PayGovGateway, paygov_api: respx.MockRouter
) -> None:
    echo = f"Dữ liệu không hợp lệ: SoCMNDNguoiNop 038099012345 {'x' * 300}"
    paygov_api.post("/init").mock(return_value=init_answer("1", echo))
    with pytest.raises(PermanentGatewayError) as caught:
        paygov.create_order(order())
    message = str(caught.value)
    assert "038099012345" not in message and "*********345" in message
    assert message.endswith("…") and len(message) < 260
