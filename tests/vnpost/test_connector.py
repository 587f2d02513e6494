"""The ledger connector, conformance-style: one outcome per item in order; an exception becomes
retry; an unknown type becomes dead; a redelivery in doubt is harmless; the card is true."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

import connectors.vnpost as vnpost
from connectors.vnpost import VnpostClient, VnpostConnector, VnpostSettings, build_connector
from hub.messages import POSTAL_CANCEL_REQUESTED as CANCEL_REQUESTED
from hub.messages import POSTAL_ORDER_REQUESTED as ORDER_REQUESTED
from hub.ports import DeliveryItem, Outcome, OutcomeKind
from hub.postal.messages import order_key
from hub.postal.port import (
    ITEM_CODE_PATTERN,
    CancelRequest,
    CancelResult,
    OrderAccepted,
    PostalOrderRequest,
    PostalPermanentError,
    PostalRetryableError,
    TrackingPage,
)
from tests.vnpost.conftest import BASE, CUSTOMER, order, settings

K = OutcomeKind
_n = iter(range(1, 10**6))


def item(message_type: str, payload: dict[str, Any], in_doubt: bool = False, key: str | None = None) -> DeliveryItem:
    number = payload.get("order_number", "x")
    return DeliveryItem(
        message_id=f"M{next(_n):06d}",
        type=message_type,
        key=key or order_key(CUSTOMER, str(number)),
        payload=payload,
        attempt=2 if in_doubt else 1,
        key_known_to_partner=False,
        in_doubt=in_doubt,
    )


def order_item(o: PostalOrderRequest, in_doubt: bool = False) -> DeliveryItem:
    return item(ORDER_REQUESTED, o.model_dump(mode="json"), in_doubt)


def cancel_item(o: PostalOrderRequest) -> DeliveryItem:
    return item(CANCEL_REQUESTED, {"customer_code": CUSTOMER, "order_number": o.order_number})


class Gateway:
    """A scripted port implementation: answers or raises what it is told, in turn."""

    variant = "fake"

    def __init__(self, *script: Any) -> None:
        self.script, self.calls = list(script), 0

    def _next(self) -> Any:
        self.calls += 1
        answer = self.script.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def create_order(self, order: PostalOrderRequest) -> OrderAccepted:
        result: OrderAccepted = self._next()
        return result

    def cancel_order(self, request: CancelRequest) -> CancelResult:
        result: CancelResult = self._next()
        return result

    def tracking(self, customer_code: str, cursor: str = "0" * 24, page_size: int = 50) -> TrackingPage:
        raise NotImplementedError

    def close(self) -> None:
        pass


@pytest.fixture
def connector(mock_app: Any, variant: str) -> Iterator[VnpostConnector]:
    with TestClient(mock_app, base_url=BASE) as tc:
        c = VnpostConnector(settings(variant), VnpostClient(settings(variant), http=tc))
        yield c
        c.close()


def kinds(outcomes: list[Outcome]) -> list[OutcomeKind]:
    return [o.kind for o in outcomes]


def test_one_outcome_per_item_in_order(connector: VnpostConnector, admin: TestClient) -> None:
    a, b = order(), order(kind="pickup")
    batch = [
        order_item(a),
        item("dossier.status.changed", {"order_number": "y"}),
        order_item(b),
        cancel_item(a),
        item(ORDER_REQUESTED, {"order_number": "z", "kind": "parcel"}),
    ]
    outcomes = connector.deliver(batch)
    assert kinds(outcomes) == [K.DELIVERED, K.DEAD, K.DELIVERED, K.DELIVERED, K.DEAD]
    # the mock numbers a parcel ordered without a waybill number, and says so (ItemCode): the reference
    assert re.fullmatch(ITEM_CODE_PATTERN, outcomes[0].partner_ref or "") and "order registered" in outcomes[0].detail
    assert "not handled" in outcomes[1].detail and "order cancelled" in outcomes[3].detail
    assert "payload does not fit" in outcomes[4].detail and "kind" in outcomes[4].detail
    assert connector.deliver([]) == []


def test_a_redelivery_in_doubt_is_harmless(connector: VnpostConnector, admin: TestClient) -> None:
    o = order()
    first, again = connector.deliver([order_item(o)]), connector.deliver([order_item(o, in_doubt=True)])
    assert kinds(first + again) == [K.DELIVERED, K.DELIVERED]
    assert "already registered" in again[0].detail and again[0].partner_ref == first[0].partner_ref
    orders = [x for x in admin.get("/_mock/state").json()["orders"] if x["OrderNumber"] == o.order_number]
    assert len(orders) == 1
    assert kinds(connector.deliver([cancel_item(o), cancel_item(o)])) == [K.DELIVERED, K.DELIVERED]


def test_a_cancel_after_pickup_is_dead_with_its_reason(connector: VnpostConnector, admin: TestClient) -> None:
    o = order()
    connector.deliver([order_item(o)])
    admin.post("/_mock/clock/advance", json={"seconds": 61})
    (outcome,) = connector.deliver([cancel_item(o)])
    assert outcome.kind is K.DEAD and "cancel" in outcome.detail and outcome.response == "104"


@pytest.mark.parametrize("fault", [{"error_5xx_rate": 1.0}, {"outage_seconds": 30}])
def test_partner_failures_are_retry(connector: VnpostConnector, admin: TestClient, fault: dict[str, Any]) -> None:
    admin.post("/_mock/faults", json=fault)
    assert kinds(connector.deliver([order_item(order())])) == [K.RETRY]


def test_an_exception_becomes_retry_and_holds_back_its_order() -> None:
    o, other = order(), order()
    accepted = OrderAccepted(customer_code=CUSTOMER, order_number=other.order_number, partner_code="100")
    gw = Gateway(RuntimeError("bug"), accepted)
    outcomes = VnpostConnector(VnpostSettings(), gw).deliver([order_item(o), cancel_item(o), order_item(other)])
    assert kinds(outcomes) == [K.RETRY, K.RETRY, K.DELIVERED]
    assert "RuntimeError" in outcomes[0].detail and "earlier message" in outcomes[1].detail and gw.calls == 2


def test_the_ports_errors_map_to_retry_and_dead() -> None:
    gw = Gateway(PostalRetryableError("order", "busy"), PostalPermanentError("order", "SenderTel: bắt buộc", "102"))
    outcomes = VnpostConnector(VnpostSettings(), gw).deliver([order_item(order()), order_item(order())])
    assert kinds(outcomes) == [K.RETRY, K.DEAD] and outcomes[1].detail == "order: code 102: SenderTel: bắt buộc"


def test_the_gateway_is_chosen_by_customer_code() -> None:
    o = order(customer_code="BCCI_H22")
    accepted = OrderAccepted(customer_code="BCCI_H22", order_number=o.order_number, partner_code="100")
    default, h22 = Gateway(), Gateway(accepted)
    outcomes = VnpostConnector(VnpostSettings(), default, {"BCCI_H22": h22}).deliver([order_item(o)])
    assert kinds(outcomes) == [K.DELIVERED] and (default.calls, h22.calls) == (0, 1)


def test_the_capability_card_is_true() -> None:
    card = vnpost.__doc__ or ""
    assert "Capability card" in card
    fields = set(VnpostSettings.model_fields)
    named = {m.lower() for m in re.findall(r"HUB_VNPOST_([A-Z_]*[A-Z])\b", card)}
    assert named and named <= fields, named - fields
    for word in ("variant", "lgsp_auth", "already_codes", "status_table", "retryable_codes", "myvnpost_token_ttl"):
        assert word in fields
    c = build_connector()
    assert c.name == vnpost.NAME == "vnpost" and c.message_types == (ORDER_REQUESTED, CANCEL_REQUESTED)
    assert c.policy.max_attempts == VnpostSettings().max_attempts
    c.close()
