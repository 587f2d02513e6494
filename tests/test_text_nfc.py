"""Every Vietnamese text field is NFC from ingress on, for every partner (``hub.jsonbody``, the one place
the hub reads JSON): a one-stop system's dossier, a payment the hub opens at the gateway, VNPost's feed.
Input arrives as NFD (macOS, some Java and .NET stacks); the partners want NFC, and PayGov signs bytes."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx
from fastapi.testclient import TestClient
from sqlalchemy import select

from connectors.vnpost import VnpostClient
from hub import jsonbody
from hub.api.app import create_app
from hub.bootstrap import Hub, bootstrap
from hub.canonical import DossierStatusChange
from hub.db.schema import messages, payments
from hub.settings import Settings
from tests.factories import create_client, status_change
from tests.test_payments_api import Rig, payment_request, rig  # noqa: F401  (the payment rig fixture)
from tests.vnpost.conftest import BASE, settings

NAME, PLACE, FEE = "Nguyễn Thị Hoà", "Phường Điện Biên, tỉnh Thanh Hóa", "Lệ phí cấp giấy phép xây dựng"


def nfd(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    assert decomposed != text  # the test sends text that NFC would change
    return decomposed


def strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [k, *strings(v)]]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


def all_nfc(value: Any) -> bool:
    return all(unicodedata.is_normalized("NFC", s) for s in strings(value))


@pytest.mark.parametrize("escaped", [False, True], ids=["utf8", "json-escapes"])
def test_jsonbody_reads_every_string_as_nfc(escaped: bool) -> None:
    body = {nfd("Họ tên"): [nfd(NAME), {"x": nfd(PLACE)}], "n": 1}
    raw = json.dumps(body, ensure_ascii=escaped).encode()
    assert not all_nfc(json.loads(raw))
    parsed = jsonbody.parse(raw)
    assert all_nfc(parsed) and parsed["Họ tên"][0] == NAME
    assert jsonbody.parse(raw, normalise=False) == json.loads(raw)  # the mocks judge the text as sent
    model = jsonbody.validate(DossierStatusChange, json.dumps(status_change(summary=nfd(PLACE))).encode())
    assert model.summary == PLACE


@pytest.fixture
def hub(tmp_path: Any) -> Iterator[Hub]:
    h = bootstrap(Settings(database_url=f"sqlite:///{tmp_path}/nfc.db", api_publishes=False))
    yield h
    h.close()


@pytest.mark.parametrize("batch", [False, True])
def test_a_dossier_sent_in_nfd_is_stored_and_delivered_in_nfc(hub: Hub, batch: bool) -> None:
    key = create_client(hub.engine, "ONEGATE", "one-stop", ["dossier.status.changed"])
    change = status_change(
        procedure_name=nfd("Cấp giấy phép xây dựng"),
        summary=nfd(PLACE),
        agency_name=nfd("Sở Xây dựng tỉnh Thanh Hóa"),
        applicant={"name": nfd(NAME), "type": 1, "address": nfd(PLACE)},
        fees=[{"name": nfd(FEE), "amount": 150000, "kind": 2}],
        handler={"name": nfd("Trần Thị Bình")},
    )
    with TestClient(create_app(hub, pipeline=False)) as api:
        body = json.dumps([change] if batch else change, ensure_ascii=False).encode()
        r = api.post(
            "/v1/dossiers/status-changes", content=body, headers={"X-API-Key": key, "content-type": "application/json"}
        )
    assert r.status_code == 202, r.text
    with hub.engine.connect() as c:
        (payload,) = c.execute(select(messages.c.payload)).scalars().all()
    assert all_nfc(payload) and payload["applicant"]["name"] == NAME and payload["fees"][0]["name"] == FEE


@pytest.mark.parametrize("profile", ["napas", "paygov"])
def test_a_payment_opened_in_nfd_is_kept_and_sent_to_the_gateway_in_nfc(rig: Rig, profile: str) -> None:  # noqa: F811
    body = payment_request(
        profile=profile,
        description=nfd(FEE),
        fee_items=[{"code": "LP01", "name": nfd(FEE), "amount": 150_000}],
        payer={"name": nfd(NAME)},
    )
    r = rig.api.post(
        "/v1/payments", content=json.dumps(body).encode(), headers={**rig.auth, "content-type": "application/json"}
    )
    assert r.status_code == 201, r.text
    with rig.hub.engine.connect() as c:
        details = c.execute(select(payments.c.details).where(payments.c.id == r.json()["id"])).scalar_one()
    assert all_nfc(details) and FEE in strings(details)
    order = rig.gateway.get(f"/_mock/orders/{r.json()['id']}").json()  # what the gateway received
    assert all_nfc(order) and FEE in json.dumps(order, ensure_ascii=False)


def test_a_vnpost_feed_in_nfd_is_read_in_nfc() -> None:
    doc = {
        "_id": {"$oid": "6750a1b2c3d4e5f601234567"},
        "OrderNumber": "000.00.00.H56-251122-0001",
        "StatusCode": 4,
        "EventTime": "20251124103000",
        "StatusMessage": nfd("Phát thành công cho người nhận Nguyễn Thị Hoà"),
    }
    with respx.mock(base_url=BASE) as router:
        router.post("/token").mock(return_value=httpx.Response(200, json={"access_token": "T", "expires_in": 60}))
        router.get("/apiVNPostNGSP/p1.0/order/tracking").mock(
            return_value=httpx.Response(200, content=json.dumps({"_embedded": {"rh:doc": [doc]}}).encode())
        )
        page = VnpostClient(settings("direct")).tracking("BCCI_H56")
    (event,) = page.events
    assert event.note and unicodedata.is_normalized("NFC", event.note) and "Phát thành công" in event.note
