"""The client of each variant against the mock VNPost served on a loopback port: orders, the
idempotent repeat, cancel before and after pickup, the feed walked by its cursor, parcels followed
to the end through duplicated and out-of-order events, and what the mock refuses."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from itertools import pairwise
from typing import Any

import httpx
import pytest

from connectors.vnpost import VnpostClient
from connectors.vnpost.mock import MockOptions, create_app
from connectors.vnpost.mock_state import SCENARIOS
from hub.postal.port import INITIAL_CURSOR, CancelRefused, PostalRetryableError, TrackingEvent, s10
from hub.postal.rules import PHASE, ParcelStatus, apply, fold
from tests.support.live import serve
from tests.vnpost.conftest import CUSTOMER, cancel, order, settings

S = ParcelStatus


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    app = create_app(MockOptions(realtime=False, step_seconds=60, token_ttl_seconds=600))
    with serve(lambda _u: app, "mock VNPost") as base:
        yield base


@pytest.fixture(autouse=True)
def _reset(url: str) -> None:
    httpx.post(f"{url}/_mock/reset").raise_for_status()


@pytest.fixture
def client(url: str, variant: str) -> Iterator[VnpostClient]:
    c = VnpostClient(settings(variant, url, timeout=5.0))
    yield c
    c.close()


def admin(url: str, path: str, body: dict[str, Any]) -> Any:
    r = httpx.post(f"{url}/_mock/{path}", json=body)
    r.raise_for_status()
    return r.json()


def walk(client: VnpostClient, page_size: int = 50) -> list[TrackingEvent]:
    """The whole feed, page by page, from the first cursor."""
    events: list[TrackingEvent] = []
    cursor = INITIAL_CURSOR
    while True:
        page = client.tracking(CUSTOMER, cursor, page_size)
        events += page.events
        if page.empty:
            return events
        assert page.next_cursor > cursor
        cursor = page.next_cursor


def test_order_then_the_same_order_again(client: VnpostClient, url: str) -> None:
    o = order()
    first, second = client.create_order(o), client.create_order(o)
    assert (first.already_registered, second.already_registered) == (False, True)
    assert second.partner_code == "101"
    state = httpx.get(f"{url}/_mock/state").json()
    assert [x["OrderNumber"] for x in state["orders"]] == [o.order_number]
    assert [e.status for e in walk(client)] == [S.ACCEPTED]


def test_cancel_before_and_after_pickup(client: VnpostClient, url: str) -> None:
    early, late = order(), order()
    client.create_order(early)
    assert not client.cancel_order(cancel(early.order_number)).already_cancelled
    assert client.cancel_order(cancel(early.order_number)).already_cancelled
    client.create_order(late)
    admin(url, "clock/advance", {"seconds": 61})  # the postman collected it
    with pytest.raises(CancelRefused) as refused:
        client.cancel_order(cancel(late.order_number))
    assert refused.value.code == "104"
    with pytest.raises(CancelRefused):
        client.cancel_order(cancel(order().order_number))  # unknown order
    final = {e.order_number: s for e in walk(client) if (s := e.status)}
    assert final[early.order_number] is S.CANCELLED and final[late.order_number] is S.PICKED_UP


def test_the_feed_is_walked_by_its_cursor(client: VnpostClient) -> None:
    numbers = [client.create_order(order()).order_number for _ in range(5)]
    events = walk(client, page_size=2)
    assert [e.order_number for e in events] == numbers
    ids = [e.feed_id for e in events]
    assert ids == sorted(ids) and len(set(ids)) == 5
    assert client.tracking(CUSTOMER, ids[-1]).empty  # nothing after the last cursor


@pytest.mark.parametrize("scenario", ["delivered", "returned", "pickup_failed", "second_attempt"])
def test_a_parcel_is_followed_to_the_end(client: VnpostClient, url: str, scenario: str) -> None:
    o = order()
    client.create_order(o)
    admin(url, f"orders/{CUSTOMER}/{o.order_number}/scenario", {"scenario": scenario})
    seen: list[ParcelStatus] = []
    state, cursor = None, INITIAL_CURSOR
    for _ in range(12):  # one step of the mock's clock at a time, as a poller would see it
        page = client.tracking(CUSTOMER, cursor)
        cursor = page.next_cursor
        for event in page.events:
            applied = apply(state, event)
            state = applied.state
            if applied.status_changed:
                assert event.status is not None  # a change comes from a known status
                seen.append(event.status)
        admin(url, "clock/advance", {"seconds": 60})
    steps = SCENARIOS[scenario]  # the journey the mock walks, each new status once
    assert seen == [x for i, x in enumerate(steps) if i == 0 or steps[i - 1] is not x]
    assert seen[-1] in (S.DELIVERED, S.RETURNED)
    if scenario == "returned":
        assert seen.count(S.DELIVERY_FAILED) == 2 and seen[-2:] == [S.RETURNING, S.RETURNED]


def test_duplicated_and_out_of_order_events_are_resolved_by_the_rules(client: VnpostClient, url: str) -> None:
    admin(url, "faults", {"duplicate_rate": 0.5, "reorder_rate": 0.5, "seed": 7})
    orders = [order() for _ in range(4)]
    for o, scenario in zip(orders, ["delivered", "returned", "pickup_failed", "second_attempt"], strict=True):
        client.create_order(o)
        admin(url, f"orders/{CUSTOMER}/{o.order_number}/scenario", {"scenario": scenario})
    admin(url, "clock/advance", {"seconds": 3600})  # every step due at once: emitted faulted
    events = walk(client, page_size=7)
    injected = httpx.get(f"{url}/_mock/state").json()["faults_injected"]
    assert injected.get("duplicate", 0) > 0 and injected.get("reorder", 0) > 0
    by_order: dict[str, list[TrackingEvent]] = {}
    for e in events:
        by_order.setdefault(e.order_number, []).append(e)
    times_out_of_order = any(
        later.occurred_at < earlier.occurred_at for es in by_order.values() for earlier, later in pairwise(es)
    )
    assert times_out_of_order
    finals = [fold(by_order[o.order_number]) for o in orders]
    assert [f.status for f in finals if f] == [S.DELIVERED, S.RETURNED, S.DELIVERED, S.DELIVERED]
    for es in by_order.values():  # the hub's view never goes back a phase
        state, phases = None, []
        for e in es:
            state = apply(state, e).state
            phases.append(PHASE[state.status] if state else 0)
        assert phases == sorted(phases)


def test_a_lost_page_is_read_again_from_the_same_cursor(client: VnpostClient, url: str) -> None:
    client.create_order(order())
    admin(url, "faults", {"lose_page_rate": 1.0})
    with pytest.raises(PostalRetryableError):
        client.tracking(CUSTOMER)
    admin(url, "faults", {"lose_page_rate": 0.0})
    assert len(client.tracking(CUSTOMER).events) == 1


def test_one_entry_page_as_an_object(client: VnpostClient, url: str) -> None:
    admin(url, "faults", {"one_as_object": True})
    client.create_order(order())
    assert len(client.tracking(CUSTOMER).events) == 1


@pytest.mark.parametrize("fault", [{"error_5xx_rate": 1.0}, {"outage_seconds": 30}])
def test_5xx_and_outage_are_retryable(client: VnpostClient, url: str, fault: dict[str, Any]) -> None:
    admin(url, "faults", fault)
    with pytest.raises(PostalRetryableError):
        client.create_order(order())
    admin(url, "faults", {"error_5xx_rate": 0.0, "outage_seconds": 0})
    client.create_order(order())


def test_a_slow_token_endpoint_times_out_retryably(url: str) -> None:
    admin(url, "faults", {"token_latency_ms": 1500})
    client = VnpostClient(settings("direct", url, timeout=0.3))
    with pytest.raises(PostalRetryableError, match="token"):
        client.create_order(order())
    client.close()


def test_an_expired_token_is_renewed(client: VnpostClient, url: str) -> None:
    client.create_order(order())
    admin(url, "faults", {"expire_tokens": True})
    client.create_order(order())  # 401, new token, repeated once
    admin(url, "clock/advance", {"seconds": 601})  # past the mock's token lifetime
    client.create_order(order())


# ------------------------------------------------------------------ what the mock refuses
def _headers(url: str, variant: str) -> dict[str, str]:
    if variant == "lgsp":
        return {"access_token": "lgsp-dev-access-token"}
    if variant == "myvnpost":
        r = httpx.post(
            f"{url}/api/api/MobileAuthentication/GetAccessToken",
            json={"TenDangNhap": "lgsp", "MatKhau": "lgsp-dev-myvnpost-password"},
        )
        return {"h-token": r.json()["Token"]}
    basic = base64.b64encode(b"lgsp-dev-consumer-key:lgsp-dev-consumer-secret").decode()
    r = httpx.post(
        f"{url}/token", data={"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {basic}"}
    )
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _order_url(url: str, variant: str) -> str:
    paths = {"direct": "/apiVNPostNGSP/p1.0/order/post", "myvnpost": "/api/api/BCCI/CreateOrder"}
    return url + paths.get(variant, "/lgsp/vnpost?service=OrderPost")


def _code(r: httpx.Response) -> str:
    body = r.json()
    return str(body.get("Code", body.get("Status")))


def _body(variant: str, **changes: Any) -> dict[str, Any]:
    from connectors.vnpost.translate import order_body

    return order_body(order(), variant) | changes


@pytest.mark.parametrize(
    "headers",
    [{}, {"access_token": "wrong"}, {"Authorization": "Bearer lgsp-1-0"}, {"h-token": "nope"}],
)
def test_missing_or_wrong_tokens_are_refused(url: str, variant: str, headers: dict[str, str]) -> None:
    r = httpx.post(_order_url(url, variant), json=_body(variant), headers=headers)
    assert r.status_code == 401
    if variant == "direct":
        assert r.json()["fault"]["code"] in (900901, 900902)


def test_wrong_client_credentials_and_logins_are_refused(url: str) -> None:
    bad = base64.b64encode(b"lgsp-dev-consumer-key:wrong").decode()
    r = httpx.post(f"{url}/token", data={"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {bad}"})
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    r = httpx.post(f"{url}/token", data={"grant_type": "password"}, headers={"Authorization": f"Basic {bad}"})
    assert r.status_code == 400
    r = httpx.post(f"{url}/api/api/MobileAuthentication/GetAccessToken", json={"TenDangNhap": "lgsp", "MatKhau": "x"})
    assert r.json()["IsSuccess"] is False


def test_a_token_expires_on_the_mock_clock(url: str, variant: str) -> None:
    headers = _headers(url, variant)
    assert httpx.post(_order_url(url, variant), json=_body(variant), headers=headers).status_code == 200
    admin(url, "clock/advance", {"seconds": 601})
    r = httpx.post(_order_url(url, variant), json=_body(variant), headers=headers)
    assert r.status_code == (200 if variant == "lgsp" else 401)  # the LGSP's static token does not expire


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"SenderTel": ""}, "SenderTel"),
        ({"ReceiverName": None}, "ReceiverName"),
        ({"ReceiverProvince": True}, "ReceiverProvince"),
        ({"SenderProvince": "10"}, "SenderProvince"),
        ({"ReceiverProvince": 77777}, "ReceiverProvince"),
        ({"ReceiverDistrict": 90380}, "ReceiverDistrict"),  # a district of another province
        ({"SenderDistrict": 0}, "SenderDistrict"),
        ({"CODAmount": -1}, "CODAmount"),
        ({"ItemCode": "12345"}, "ItemCode"),
    ],
)
def test_invalid_orders_are_refused_naming_the_field(
    url: str, variant: str, changes: dict[str, Any], field: str
) -> None:
    r = httpx.post(_order_url(url, variant), json=_body(variant, **changes), headers=_headers(url, variant))
    assert r.status_code == 200 and _code(r) == "102" and field in r.json()["Message"]


def test_waybills_unknown_reused_and_issued(url: str) -> None:
    headers, post = _headers(url, "lgsp"), _order_url(url, "lgsp")
    (issued,) = admin(url, "waybills", {"customer_code": CUSTOMER, "count": 1})["item_codes"]
    assert issued.endswith("VN") and len(issued) == 13
    assert _code(httpx.post(post, json=_body("lgsp", ItemCode=s10("EB", 99)), headers=headers)) == "103"
    assert _code(httpx.post(post, json=_body("lgsp", ItemCode=issued), headers=headers)) == "100"
    assert _code(httpx.post(post, json=_body("lgsp", ItemCode=issued), headers=headers)) == "103"  # reused


def test_unknown_customer(url: str) -> None:
    r = httpx.post(_order_url(url, "lgsp"), json=_body("lgsp", CustomerCode="NOBODY"), headers=_headers(url, "lgsp"))
    assert _code(r) == "106"


@pytest.mark.parametrize(
    "content", [b"[" * 5000 + b"]" * 5000, b'{"a":' * 3000 + b"1" + b"}" * 3000, b'{"x": "\\ud800"}']
)
def test_hostile_json_is_refused_cleanly(url: str, content: bytes) -> None:
    headers = _headers(url, "lgsp") | {"Content-Type": "application/json"}
    r = httpx.post(_order_url(url, "lgsp"), content=content, headers=headers)
    assert r.status_code == 400 and _code(r) == "102"


def test_the_feed_refuses_bad_queries(url: str) -> None:
    headers = _headers(url, "lgsp")
    base = f"{url}/lgsp/vnpost?service=OrderTracking&CustomerCode={CUSTOMER}"
    assert httpx.get(base + "&lastId=xyz", headers=headers).status_code == 400
    assert httpx.get(base + "&pagesize=0", headers=headers).status_code == 400
    assert httpx.get(f"{url}/lgsp/vnpost?service=OrderTracking&CustomerCode=NOBODY", headers=headers).status_code == 400
    assert httpx.get(f"{url}/lgsp/vnpost?service=Nope", headers=headers).status_code == 404


def test_s10_check_digits() -> None:
    assert s10("EB", 12345678) == "EB123456785VN"  # weights 8 6 4 2 3 5 9 7: sum 171, 11 - 6 = 5


def test_a_scenario_is_chosen_before_the_first_step(url: str, client: VnpostClient) -> None:
    o = order()
    client.create_order(o)
    admin(url, "clock/advance", {"seconds": 61})
    r = httpx.post(f"{url}/_mock/orders/{CUSTOMER}/{o.order_number}/scenario", json={"scenario": "returned"})
    assert r.status_code == 409
    assert httpx.post(f"{url}/_mock/faults", json={"duplicate_rate": 2}).status_code == 422
