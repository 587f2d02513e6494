"""Signed callbacks that carry what the hub cannot store: refused up front in the gateway's own
format, recorded in the payment's history, the payment left as it was (never a 500 on every
retry). And a callback while the database is down: the gateway's "send it again"."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from connectors.payment_napas import NapasSettings, PayGovSettings
from connectors.payment_napas.napas import NapasProfile
from connectors.payment_napas.paygov import PayGovProfile
from connectors.payment_napas.signing import PAYGOV_CONFIRM_FIELDS
from connectors.payment_napas.translate import napas_time, paygov_time
from hub.api.app import create_app
from tests import factories
from tests.support.whole_hub import WholeHub, whole_hub

NAPAS = NapasProfile(NapasSettings())
PAYGOV = PayGovProfile(PayGovSettings())


@pytest.fixture
def rig(db_url: str) -> Iterator[tuple[TestClient, WholeHub]]:
    with whole_hub(db_url) as whole, TestClient(create_app(whole.hub, pipeline=False)) as api:
        yield api, whole


def _open(api: TestClient, whole: WholeHub, profile: str) -> dict[str, Any]:
    body = factories.payment_request(client_reference=f"REF-{datetime.now().timestamp()}", profile=profile)
    r = api.post("/v1/payments", json=body, headers={"X-API-Key": whole.key})
    assert r.status_code == 201, r.text
    opened: dict[str, Any] = r.json()
    return opened


def napas_callback(reference: str, amount: int, receipt: str, **order: Any) -> dict[str, str]:
    return NAPAS.encode_notification(
        {
            "merchantId": NAPAS.merchant,
            "order": {"id": reference, "amount": amount, "currency": "VND", **order},
            "response": {"gatewayCode": "APPROVED"},
            "result": "SUCCESS",
            "transaction": {"id": "1", "receipt": receipt},
            "timeOfRecord": napas_time(datetime.now(tz=UTC)),
        }
    )


def paygov_callback(reference: str, amount: str, txn: str, **over: str) -> dict[str, Any]:
    message = {
        "LoaiBanTin": "CONFIRM",
        "MaLoi": "00",
        "MaDoiTac": PAYGOV.merchant,
        "MaThamChieu": reference,
        "SoTien": amount,
        "MaTienTe": "VND",
        "MaGiaoDich": txn,
        "MaNganHang": "PAYMENT",
        "ThoiGianGD": paygov_time(datetime.now(tz=UTC)),
        "ThongTinGiaoDich": "Lệ phí",
        **over,
    }
    return PAYGOV.sign(message, PAYGOV_CONFIRM_FIELDS)


UNSTORABLE_NAPAS = {
    "long_transaction_id": lambda ref, amount: napas_callback(ref, amount, "T" * 101),
    "control_in_transaction_id": lambda ref, amount: napas_callback(ref, amount, "T\x01X"),
    "currency_not_a_code": lambda ref, amount: napas_callback(ref, amount, "T1", currency="VN\u0111"),
}


@pytest.mark.parametrize("case", list(UNSTORABLE_NAPAS))
def test_a_signed_napas_callback_the_hub_cannot_store_is_refused_and_recorded(
    rig: tuple[TestClient, WholeHub], case: str
) -> None:
    api, whole = rig
    p = _open(api, whole, "napas")
    body = UNSTORABLE_NAPAS[case](p["id"], p["amount"])
    for _ in range(3):  # the gateway retries: the same clean refusal each time
        r = api.post("/v1/callbacks/payment/napas", json=body)
        assert (r.status_code, r.json()["error"]["cause"]) == (400, "INVALID_REQUEST"), r.text
    detail = api.get(f"/v1/payments/{p['id']}", headers={"X-API-Key": whole.key}).json()
    assert detail["state"] == "pending"
    refused = [e for e in detail["history"] if e["outcome"] == "unstorable"]
    assert len(refused) == 3 and "T" * 101 not in str(detail)


def test_a_signed_paygov_callback_with_a_long_transaction_id_is_refused_and_recorded(
    rig: tuple[TestClient, WholeHub],
) -> None:
    api, whole = rig
    p = _open(api, whole, "paygov")
    r = api.post("/v1/callbacks/payment/paygov", json=paygov_callback(p["id"], str(p["amount"]), "G" * 300))
    assert (r.status_code, r.json()["MaLoi"]) == (200, "99")
    detail = api.get(f"/v1/payments/{p['id']}", headers={"X-API-Key": whole.key}).json()
    assert detail["state"] == "pending" and [e["kind"] for e in detail["history"] if e["outcome"] == "unstorable"]
    ok = api.post("/v1/callbacks/payment/paygov", json=paygov_callback(p["id"], str(p["amount"]), "G1"))
    assert ok.json()["MaLoi"] == "00"  # a storable result still settles it
    assert api.get(f"/v1/payments/{p['id']}", headers={"X-API-Key": whole.key}).json()["state"] == "paid"


@pytest.mark.parametrize(
    "reference", ["X" * 27, "01KAQ3Z5X7E8R9T0Y1V2W3X4Y\u0111", "not-an-id", "01KAQ3Z5X7E8R9T0Y1V2W3X4YU"]
)
def test_a_signed_callback_for_a_reference_the_hub_never_gave_is_unknown(
    rig: tuple[TestClient, WholeHub], reference: str
) -> None:
    api, _ = rig
    r = api.post("/v1/callbacks/payment/napas", json=napas_callback(reference, 1000, "T1"))
    assert (r.status_code, r.json()["error"]["cause"]) == (404, "ORDER_NOT_FOUND")
    r = api.post("/v1/callbacks/payment/paygov", json=paygov_callback(reference, "1000", "T1"))
    assert r.json()["MaLoi"] == "01"


@pytest.mark.parametrize("amount", ["1" * 5000, "1e999999999", "-5", "1.5", "99999999999999999999"])
def test_a_signed_callback_with_an_absurd_amount_is_refused(rig: tuple[TestClient, WholeHub], amount: str) -> None:
    api, whole = rig
    p = _open(api, whole, "paygov")
    r = api.post("/v1/callbacks/payment/paygov", json=paygov_callback(p["id"], amount, "G1"))
    assert r.status_code == 200 and r.json()["MaLoi"] in ("99", "04"), r.text


def test_huge_integers_in_a_paygov_callback_are_refused_before_signing(rig: tuple[TestClient, WholeHub]) -> None:
    api, _ = rig
    body = b'{"LoaiBanTin": "CONFIRM", "MaLoi": ' + b"9" * 4000 + b', "MaXacThuc": "x"}'
    r = api.post("/v1/callbacks/payment/paygov", content=body, headers={"content-type": "application/json"})
    assert (r.status_code, r.json()["MaLoi"]) == (200, "99")
