"""The client of each variant against respx: auth (token cached, renewed on expiry and once on 401),
URL shapes, answers 100/101 and their classification into the port's values and errors."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

from connectors.vnpost import VnpostClient
from hub.postal.port import CancelRefused, PostalPermanentError, PostalRetryableError
from tests.vnpost.conftest import BASE, cancel, order, settings

OK = {"Status": "100", "Message": "ok"}
ORDER_PATHS = {"direct": "/apiVNPostNGSP/p1.0/order/post", "myvnpost": "/api/api/BCCI/CreateOrder"}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _answer(variant: str, code: str) -> dict[str, Any]:
    if variant == "myvnpost":
        return {"IsSuccess": code == "100", "Code": code, "Message": "m"}
    return {"Status": code, "Message": "m"}


def _routes(router: respx.MockRouter, variant: str) -> tuple[respx.Route, respx.Route]:
    """(token route, order route) of a variant; LGSP uses its token service here."""
    if variant == "direct":
        token = router.post("/token").mock(
            return_value=httpx.Response(200, json={"access_token": "T1", "token_type": "bearer", "expires_in": 600})
        )
    elif variant == "lgsp":
        token = router.post("/lgsp/token").mock(
            return_value=httpx.Response(200, json={"access_token": "T1", "token_type": "Bearer", "expires_in": 600})
        )
    else:
        token = router.post("/api/api/MobileAuthentication/GetAccessToken").mock(
            return_value=httpx.Response(200, json={"IsSuccess": True, "Token": "T1"})
        )
    path = "/lgsp/vnpost" if variant == "lgsp" else ORDER_PATHS[variant]
    return token, router.post(path)


def _client(variant: str, clock: FakeClock | None = None, **overrides: Any) -> VnpostClient:
    extra = {"lgsp_auth": "token_service"} if variant == "lgsp" else {}
    return VnpostClient(settings(variant, **(extra | overrides)), clock=clock or FakeClock())


@pytest.mark.parametrize("variant", ["direct", "lgsp", "myvnpost"])
def test_token_is_cached_and_sent(variant: str) -> None:
    with respx.mock(base_url=BASE, assert_all_called=True) as router:
        token, post = _routes(router, variant)
        post.mock(return_value=httpx.Response(200, json=_answer(variant, "100")))
        client = _client(variant)
        client.create_order(order())
        client.create_order(order())
    assert token.call_count == 1 and post.call_count == 2
    sent = post.calls.last.request
    if variant == "myvnpost":
        assert sent.headers["h-token"] == "T1"
        assert json.loads(token.calls.last.request.content) == {
            "TenDangNhap": "lgsp",
            "MatKhau": "lgsp-dev-myvnpost-password",
        }
    else:
        assert sent.headers["authorization"] == "Bearer T1"
        form = token.calls.last.request
        assert form.content == b"grant_type=client_credentials" and form.headers["authorization"].startswith("Basic ")
    if variant == "lgsp":
        assert sent.url.params["service"] == "OrderPost"


@pytest.mark.parametrize("variant", ["direct", "lgsp", "myvnpost"])
def test_token_is_renewed_on_expiry(variant: str) -> None:
    clock = FakeClock()
    with respx.mock(base_url=BASE) as router:
        token, post = _routes(router, variant)
        post.mock(return_value=httpx.Response(200, json=_answer(variant, "100")))
        client = _client(variant, clock)
        client.create_order(order())
        clock.now += 4000  # past expires_in 600 (and MyVNPost's configured 3600)
        client.create_order(order())
    assert token.call_count == 2


@pytest.mark.parametrize("variant", ["direct", "lgsp", "myvnpost"])
def test_a_401_renews_the_token_once_and_repeats_once(variant: str) -> None:
    with respx.mock(base_url=BASE) as router:
        token, post = _routes(router, variant)
        post.side_effect = [
            httpx.Response(401, json={"fault": {"code": 900901}}),
            httpx.Response(200, json=_answer(variant, "100")),
        ]
        accepted = _client(variant).create_order(order())
    assert accepted.partner_code == "100" and token.call_count == 2 and post.call_count == 2


@pytest.mark.parametrize("variant", ["direct", "lgsp", "myvnpost"])
def test_a_second_401_is_retryable_not_a_loop(variant: str) -> None:
    with respx.mock(base_url=BASE) as router:
        token, post = _routes(router, variant)
        post.mock(return_value=httpx.Response(401, json={"Status": "401"}))
        with pytest.raises(PostalRetryableError):
            _client(variant).create_order(order())
    assert token.call_count == 2 and post.call_count == 2


def test_lgsp_static_token_header_and_service_parameter() -> None:
    with respx.mock(base_url=BASE) as router:
        post = router.post("/lgsp/vnpost").mock(return_value=httpx.Response(200, json=OK))
        o = order(item_code="EB100000015VN")
        VnpostClient(settings("lgsp", lgsp_op_order="YeuCauBuuDienLayKetQua")).create_order(o)
    sent = post.calls.last.request
    assert sent.headers["access_token"] == "lgsp-dev-access-token" and "authorization" not in sent.headers
    assert sent.url.params["service"] == "YeuCauBuuDienLayKetQua"
    body = json.loads(sent.content)
    assert body["ItemCode"] == "EB100000015VN" and body["FlagConfig"] == 2 and body["OrderNumber"] == o.order_number


@pytest.mark.parametrize("variant", ["direct", "lgsp", "myvnpost"])
def test_101_is_already_registered(variant: str) -> None:
    with respx.mock(base_url=BASE) as router:
        _, post = _routes(router, variant)
        post.mock(return_value=httpx.Response(200, json=_answer(variant, "101")))
        accepted = _client(variant).create_order(o := order())
    assert accepted.already_registered and accepted.partner_ref == o.order_number


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (httpx.Response(200, json={"Status": "102", "Message": "SenderTel: bắt buộc"}), PostalPermanentError),
        (httpx.Response(503, text="Service Unavailable"), PostalRetryableError),
        (httpx.Response(200, text="<html>gateway</html>"), PostalRetryableError),
        (httpx.Response(200, content=b"[" * 5000), PostalRetryableError),
        (httpx.ReadTimeout("slow"), PostalRetryableError),
        (httpx.ConnectError("refused"), PostalRetryableError),
    ],
)
def test_failures_become_the_ports_errors(response: Any, error: type[Exception]) -> None:
    with respx.mock(base_url=BASE) as router:
        route = router.post("/lgsp/vnpost")
        if isinstance(response, Exception):
            route.side_effect = response
        else:
            route.mock(return_value=response)
        with pytest.raises(error) as caught:
            VnpostClient(settings("lgsp")).create_order(order())
    # every parametrized error is a PostalError, which names its operation
    assert caught.value.operation == "order"  # type: ignore[attr-defined]


def test_a_token_endpoint_that_refuses_is_retryable() -> None:
    with respx.mock(base_url=BASE) as router:
        router.post("/token").mock(return_value=httpx.Response(401, json={"error": "invalid_client"}))
        with pytest.raises(PostalRetryableError, match="token"):
            VnpostClient(settings("direct")).create_order(order())


def test_cancel_answers() -> None:
    with respx.mock(base_url=BASE) as router:
        route = router.post("/lgsp/vnpost", params={"service": "OrderCancel"})
        route.side_effect = [
            httpx.Response(200, json=OK),
            httpx.Response(200, json={"Status": "101", "Message": "đã hủy"}),
            httpx.Response(200, json={"Status": "104", "Message": "đã nhận bưu gửi"}),
        ]
        client = VnpostClient(settings("lgsp"))
        number = order().order_number
        assert not client.cancel_order(cancel(number)).already_cancelled
        assert client.cancel_order(cancel(number)).already_cancelled
        with pytest.raises(CancelRefused):
            client.cancel_order(cancel(number))
    assert json.loads(route.calls.last.request.content) == {"CustomerCode": "BCCI_H56", "OrderNumber": number}


@pytest.mark.parametrize("variant", ["direct", "lgsp"])
def test_tracking_query_and_page(variant: str) -> None:
    doc = {
        "_id": {"$oid": "6750a1b2c3d4e5f601234567"},
        "OrderNumber": "X",
        "StatusCode": 4,
        "EventTime": "20251124103000",
    }
    with respx.mock(base_url=BASE) as router:
        if variant == "direct":
            router.post("/token").mock(return_value=httpx.Response(200, json={"access_token": "T", "expires_in": 60}))
        path = "/apiVNPostNGSP/p1.0/order/tracking" if variant == "direct" else "/lgsp/vnpost"
        route = router.get(path).mock(return_value=httpx.Response(200, json={"_embedded": {"rh:doc": [doc]}}))
        page = VnpostClient(settings(variant)).tracking("BCCI_H56", page_size=500)
    params = route.calls.last.request.url.params
    assert params["lastId"] == "0" * 24 and params["pagesize"] == "100" and params["CustomerCode"] == "BCCI_H56"
    assert variant == "direct" or params["service"] == "OrderTracking"
    assert [e.status for e in page.events] == ["delivered"] and page.next_cursor == "6750a1b2c3d4e5f601234567"


def test_an_unreadable_feed_page_is_retryable() -> None:
    with respx.mock(base_url=BASE) as router:
        router.get("/lgsp/vnpost").mock(return_value=httpx.Response(200, json={"_embedded": {"rh:doc": [{"_id": 1}]}}))
        with pytest.raises(PostalRetryableError, match="unreadable feed page"):
            VnpostClient(settings("lgsp")).tracking("BCCI_H56")


def test_nothing_connects_at_construction() -> None:
    with respx.mock(base_url=BASE, assert_all_mocked=True) as router:
        client = VnpostClient(settings("direct"))
        client.close()
    assert router.calls.call_count == 0
