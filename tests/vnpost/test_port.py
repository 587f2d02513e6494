"""The postal port's models refuse what does not fit, naming the field, never echoing personal data
in their representation; the canonical messages parse their payloads."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from hub.messages import POSTAL_CANCEL_REQUESTED as CANCEL_REQUESTED
from hub.messages import POSTAL_ORDER_REQUESTED as ORDER_REQUESTED
from hub.messages import parse
from hub.postal.messages import PostalStatusChanged
from hub.postal.port import CancelRequest, PostalOrderRequest, PostalParty, TrackingPage
from tests.vnpost.conftest import CITIZEN_ADDRESS, CITIZEN_NAME, CITIZEN_PHONE, order


def _payload(**changes: Any) -> dict[str, Any]:
    return order().model_dump(mode="json") | changes


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"cod_amount": True}, "cod_amount"),
        ({"cod_amount": 1.5}, "cod_amount"),
        ({"cod_amount": "1000"}, "cod_amount"),
        ({"cod_amount": 10**12}, "cod_amount"),
        ({"cod_amount": -1}, "cod_amount"),
        ({"kind": "parcel"}, "kind"),
        ({"order_number": "HS-1"}, "order_number"),
        ({"item_code": "BK99003228VN"}, "item_code"),
        ({"customer_code": "has space"}, "customer_code"),
        ({"description": ""}, "description"),
        ({"extra": 1}, "extra"),
    ],
)
def test_an_order_refuses(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        PostalOrderRequest.model_validate(_payload(**changes))
    assert field in {str(e["loc"][0]) for e in refused.value.errors()}


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"province_id": True}, "province_id"), ({"district_id": "90001"}, "district_id"), ({"phone": "12"}, "phone")],
)
def test_a_party_refuses(changes: dict[str, Any], field: str) -> None:
    party = order().citizen.model_dump() | changes
    with pytest.raises(ValidationError) as refused:
        PostalParty.model_validate(party)
    assert [e["loc"] for e in refused.value.errors()] == [(field,)]


def test_a_pickup_collects_no_cash() -> None:
    with pytest.raises(ValidationError, match="cod_amount: must be 0 for a pickup"):
        order(kind="pickup", cod_amount=20000)
    assert order(kind="delivery", cod_amount=20000).cod_amount == 20000


def test_sender_and_receiver_follow_the_kind() -> None:
    d, p = order(kind="delivery"), order(kind="pickup")
    assert (d.sender, d.receiver) == (d.agency, d.citizen)
    assert (p.sender, p.receiver) == (p.citizen, p.agency)


def test_no_personal_data_in_representations() -> None:
    o = order()
    for text in (repr(o), str(o), repr(o.citizen), str(o.citizen)):
        assert CITIZEN_NAME not in text and CITIZEN_PHONE not in text and CITIZEN_ADDRESS not in text


def test_messages_parse_their_payloads() -> None:
    o = order()
    assert parse(ORDER_REQUESTED, o.model_dump(mode="json")) == o
    cancel = parse(CANCEL_REQUESTED, {"customer_code": "BCCI_H56", "order_number": o.order_number})
    assert isinstance(cancel, CancelRequest)
    with pytest.raises(KeyError):
        parse("postal.no.such.type", {})
    event = PostalStatusChanged.model_validate(
        {
            "order_id": "01K",
            "dossier_code": o.order_number,
            "kind": "delivery",
            "status": "delivered",
            "previous_status": "out_for_delivery",
            "occurred_at": "2025-11-24T10:30:00",
            "raw_status": "4",
            "final": True,
        }
    )
    assert event.occurred_at.utcoffset() is not None  # naive times are read as Asia/Ho_Chi_Minh


def test_a_tracking_page_cursor_is_24_hex() -> None:
    with pytest.raises(ValidationError):
        TrackingPage(events=(), next_cursor="0" * 23)
