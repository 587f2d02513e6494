"""Golden files: port models (``order_*.in.json``) -> VNPost JSON (``*.out.json``), and VNPost
feed pages (``feed_*.in.json``) -> tracking pages (``*.out.json``). Regenerate an ``.out.json``
only after reading its diff: ``UPDATE_GOLDEN=1 pytest tests/vnpost/test_translate.py``."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.vnpost import translate as tr
from connectors.vnpost.config import MITC_STATUS_TABLE
from hub.postal.port import INITIAL_CURSOR, CancelRequest, PostalOrderRequest

GOLDEN = Path(__file__).parent / "golden"
ORDERS = sorted(p.name.removesuffix(".in.json") for p in GOLDEN.glob("order_*.in.json"))
FEEDS = sorted(p.name.removesuffix(".in.json") for p in GOLDEN.glob("feed_*.in.json"))


def _load(name: str) -> Any:
    return json.loads((GOLDEN / name).read_text(encoding="utf-8"))


def _check(case: str, produced: Any) -> None:
    out = GOLDEN / f"{case}.out.json"
    if os.environ.get("UPDATE_GOLDEN"):
        out.write_text(json.dumps(produced, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    assert produced == _load(out.name)


def test_the_golden_cases_are_all_there() -> None:
    assert ORDERS == [
        "order_delivery_direct",
        "order_delivery_lgsp_no_item_code",
        "order_delivery_myvnpost",
        "order_pickup_lgsp",
    ]
    assert FEEDS == [
        "feed_empty_list",
        "feed_empty_no_embedded",
        "feed_mixed",
        "feed_one_as_object",
        "feed_one_in_list",
    ]


@pytest.mark.parametrize("case", ORDERS)
def test_order_golden(case: str) -> None:
    order = PostalOrderRequest.model_validate(_load(f"{case}.in.json"))
    variant = case.split("_")[2]
    _check(case, tr.order_body(order, variant, flag_config=2))


@pytest.mark.parametrize("case", FEEDS)
def test_feed_golden(case: str) -> None:
    page = tr.parse_feed(_load(f"{case}.in.json"), MITC_STATUS_TABLE, INITIAL_CURSOR, "BCCI_H56")
    _check(case, page.model_dump(mode="json"))


def test_pickup_swaps_the_roles_and_delivery_does_not() -> None:
    pickup = PostalOrderRequest.model_validate(_load("order_pickup_lgsp.in.json"))
    body = tr.order_body(pickup, "lgsp")
    assert (body["SenderName"], body["ReceiverName"]) == (pickup.citizen.name, pickup.agency.name)
    assert (body["SenderProvince"], body["ReceiverDistrict"]) == (pickup.citizen.province_id, pickup.agency.district_id)
    delivery = pickup.model_copy(update={"kind": "delivery"})
    body = tr.order_body(delivery, "lgsp")
    assert (body["SenderName"], body["ReceiverName"]) == (pickup.agency.name, pickup.citizen.name)


def test_direct_has_no_item_code_field() -> None:
    order = PostalOrderRequest.model_validate(_load("order_pickup_lgsp.in.json"))
    assert "ItemCode" not in tr.order_body(order, "direct") and "FlagConfig" not in tr.order_body(order, "direct")
    assert tr.order_body(order, "myvnpost")["ItemCode"] == order.item_code


def test_cancel_and_tracking_shapes() -> None:
    number = "000.00.00.H56-251122-0001"
    assert tr.cancel_body(CancelRequest(customer_code="BCCI_H56", order_number=number)) == {
        "CustomerCode": "BCCI_H56",
        "OrderNumber": number,
    }
    assert tr.tracking_params("BCCI_H56", INITIAL_CURSOR, 50) == {
        "CustomerCode": "BCCI_H56",
        "pagesize": "50",
        "lastId": "000000000000000000000000",
    }


def test_a_page_with_an_unreadable_id_is_refused_not_skipped() -> None:
    body = {"_embedded": {"rh:doc": [{"_id": {"$oid": "xyz"}, "OrderNumber": "A", "StatusCode": 1}]}}
    with pytest.raises(ValueError, match="_id"):
        tr.parse_feed(body, MITC_STATUS_TABLE, INITIAL_CURSOR, "BCCI_H56")
    with pytest.raises(ValueError, match="neither"):
        tr.parse_feed({"_embedded": {"rh:doc": "x"}}, MITC_STATUS_TABLE, INITIAL_CURSOR, "BCCI_H56")


@pytest.mark.parametrize(
    ("raw", "iso"),
    [
        ("20251124103000", "2025-11-24T10:30:00+07:00"),
        ("24/11/2025 10:30", "2025-11-24T10:30:00+07:00"),
        ("2025-11-24T03:30:00Z", "2025-11-24T03:30:00+00:00"),
        ("2025-11-24T10:30:00", "2025-11-24T10:30:00+07:00"),
        (1764000000000, "2025-11-24T16:00:00+00:00"),
    ],
)
def test_event_times(raw: Any, iso: str) -> None:
    parsed = tr.parse_time(raw)
    assert parsed is not None and parsed == datetime.fromisoformat(iso)


@pytest.mark.parametrize("raw", ["", "31/02/2025 10:00", "soon", None, True, 10**20, [1]])
def test_unreadable_event_times(raw: Any) -> None:
    assert tr.parse_time(raw) is None
