"""The mock gateway: it refuses what the real gateways would, pages and payer actions send (or do not send)
signed callbacks that the profiles accept, and every fault behaves as described."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from connectors.payment_napas import NapasGateway, PayGovGateway
from connectors.payment_napas.mock import create_app
from connectors.payment_napas.signing import PAYGOV_INIT_FIELDS, PAYGOV_QUERY_FIELDS
from hub.payments.port import RetryableGatewayError

from .conftest import BASE, NAPAS_SECRET, OPENED, PAYGOV_TOKEN, Rig, at, order, reference

PROFILES = ("napas", "paygov")
MERCHANT_API = "/napas/api/rest/version/1/merchant"


def opened(rig: Rig, profile: str, amount: int = 150_000) -> str:
    ref = reference()
    rig.gateway(profile).create_order(order(ref, amount=amount))
    rig.hub.expected_amounts[ref] = amount
    return ref


def napas_token(http: TestClient, secret: str = NAPAS_SECRET, grant: str = "client_credentials") -> Any:
    form = {"grant_type": grant, "client_id": "lgsp-hub", "client_secret": secret}
    return http.post("/napas/api/oauth/token", data=form)


def napas_put(http: TestClient, ref: str, body: dict[str, Any], token: str | None, merchant: str = "LGSPHUB01") -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return http.put(f"{MERCHANT_API}/{merchant}/order/{ref}/transaction/1", json=body, headers=headers)


def wait_for(condition: Any, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


# ------------------------------------------------------------------ NAPAS protocol
def test_napas_token_endpoint_checks_client_and_grant(rig: Rig) -> None:
    assert napas_token(rig.http, secret="wrong").status_code == 401
    assert napas_token(rig.http, secret="wrong").json() == {"error": "invalid_client"}
    assert napas_token(rig.http, grant="password").status_code == 400
    answer = napas_token(rig.http).json()
    assert answer["token_type"] == "Bearer" and answer["expires_in"] == 3600 and answer["access_token"]


def test_napas_order_needs_a_valid_token_and_this_merchant(rig: Rig) -> None:
    assert isinstance(rig.napas, NapasGateway)
    ref = reference()
    body = rig.napas.format.order_body(order(ref))
    assert napas_put(rig.http, ref, body, None).status_code == 401
    assert napas_put(rig.http, ref, body, "made-up").json()["error"]["explanation"].startswith("Invalid or expired")
    token = napas_token(rig.http).json()["access_token"]
    refused = napas_put(rig.http, ref, body, token, merchant="OTHERSHOP")
    assert (refused.status_code, refused.json()["error"]["cause"]) == (400, "REQUEST_REJECTED")
    rig.faults(expire_tokens=True)
    assert napas_put(rig.http, ref, body, token).status_code == 401
    assert rig.http.get("/_mock/orders").json() == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"apiOperation": "PURCHASE_OTP"}, "apiOperation"),
        ({"order": {"currency": "USD"}}, "order.currency"),
        ({"order": {"reference": "01JDSOMETHINGELSE000000001"}}, "order.reference"),
        ({"order": {"amount": "12.5"}}, "order.amount"),
        ({"order": {"amount": 0}}, "order.amount"),
        ({"interaction": {}}, "interaction.returnUrl"),
    ],
)
def test_napas_order_fields_are_validated(rig: Rig, change: dict[str, Any], field: str) -> None:
    assert isinstance(rig.napas, NapasGateway)
    ref = reference()
    body = rig.napas.format.order_body(order(ref))
    for key, value in change.items():
        body[key] = body[key] | value if isinstance(value, dict) and value else value
    answer = napas_put(rig.http, ref, body, napas_token(rig.http).json()["access_token"])
    assert answer.status_code == 400
    assert answer.json()["error"]["cause"] == "INVALID_REQUEST" and answer.json()["error"]["explanation"].startswith(
        field
    )
    assert rig.http.get("/_mock/stats").json()["rejected_by_code"] == {"INVALID_REQUEST": 1}


# ------------------------------------------------------------------ PayGov protocol
def paygov_post(rig: Rig, path: str, body: dict[str, Any], token: str = PAYGOV_TOKEN) -> dict[str, Any]:
    answer = rig.http.post(f"/paygov{path}", json=body, headers={"Authorization": f"Bearer {token}"})
    return {"status": answer.status_code, **answer.json()}


def test_paygov_init_refusals(rig: Rig) -> None:
    assert isinstance(rig.paygov, PayGovGateway)
    fmt = rig.paygov.format
    ref = reference()
    body = fmt.init_body(order(ref), at("2025-02-25T01:30:00"))
    assert paygov_post(rig, "/init", body, token="wrong")["status"] == 401
    assert paygov_post(rig, "/init", body | {"SoTien": "1"})["error_code"] == "2"  # signature no longer matches
    assert paygov_post(rig, "/init", fmt.sign(body | {"MaDoiTac": "OTHER"}, PAYGOV_INIT_FIELDS))["error_code"] == "4"
    missing = fmt.sign(body | {"ThongTinGiaoDich": "", "MaNganHang": "VCB"}, PAYGOV_INIT_FIELDS)
    answer = paygov_post(rig, "/init", missing)
    assert answer["error_code"] == "1" and "MaNganHang" in answer["message"] and "ThongTinGiaoDich" in answer["message"]
    no_bill = {k: v for k, v in body.items() if k != "ThongTinBienLai"}
    assert "ThongTinBienLai" in paygov_post(rig, "/init", no_bill)["message"]
    assert paygov_post(rig, "/init", body)["error_code"] == "0"
    assert paygov_post(rig, "/init", body)["error_code"] == "3"  # MaThamChieu already used
    assert [o["reference"] for o in rig.http.get("/_mock/orders").json()] == [ref]


def test_paygov_query_refusals(rig: Rig) -> None:
    assert isinstance(rig.paygov, PayGovGateway)
    fmt = rig.paygov.format
    body = fmt.query_body(reference(), at("2025-02-25T01:30:00"))
    assert paygov_post(rig, "/query", body | {"ThoiGianGD": "20250225083001"})["MaLoi"] == "97"
    assert paygov_post(rig, "/query", body)["MaLoi"] == "01"  # not found
    other = fmt.sign(body | {"MaDoiTac": "OTHER"}, PAYGOV_QUERY_FIELDS)
    assert paygov_post(rig, "/query", other)["MaLoi"] == "99"


# ------------------------------------------------------------------ pages and payer actions
@pytest.mark.parametrize("profile", PROFILES)
def test_pay_sends_a_signed_callback_the_profile_accepts(rig: Rig, profile: str) -> None:
    ref = opened(rig, profile)
    assert rig.act(ref, "pay") == {"reference": ref, "state": "paid", "abandoned": False, "callbacks": "sent"}
    [result] = rig.hub.results
    assert (result.profile, result.reference, result.outcome, result.amount, result.currency) == (
        profile,
        ref,
        "paid",
        150_000,
        "VND",
    )
    [sent] = rig.callbacks(ref)
    assert sent["status"] == 200 and sent["url"].endswith(f"/v1/callbacks/payment/{profile}")
    ok = {"napas": {"result": "SUCCESS", "message": "accepted"}, "paygov": {"MaLoi": "00"}}[profile]
    assert ok.items() <= sent["answer"].items()
    assert rig.gateway(profile).query(ref, OPENED).state == "paid"


@pytest.mark.parametrize("profile", PROFILES)
def test_decline_sends_a_failed_result_and_abandon_sends_nothing(rig: Rig, profile: str) -> None:
    declined, abandoned = opened(rig, profile), opened(rig, profile)
    rig.act(declined, "decline")
    assert [(r.reference, r.outcome) for r in rig.hub.results] == [(declined, "failed")]
    assert rig.act(abandoned, "abandon") == {
        "reference": abandoned,
        "state": "pending",
        "abandoned": True,
        "callbacks": "none",
    }
    assert rig.callbacks(abandoned) == [] and rig.gateway(profile).query(abandoned, OPENED).state == "pending"
    assert rig.http.post(f"/_mock/orders/{declined}/pay").status_code == 409  # settled once


def test_payment_page_and_form_actions(rig: Rig) -> None:
    ref = opened(rig, "napas", amount=1_250_000)
    page = rig.http.get(f"/pay/{ref}")
    assert page.status_code == 200 and "1,250,000 VND" in page.text
    for action in ("pay", "decline", "abandon"):
        assert f'formaction="/pay/{ref}/{action}"' in page.text
    answer = rig.http.post(f"/pay/{ref}/pay", data={"action": "pay"}, follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (303, "https://onegate.example/return")
    assert "paid" in rig.http.get(f"/pay/{ref}").text and len(rig.hub.results) == 1
    assert rig.http.get("/pay/01JDNOSUCHORDER00000000001").status_code == 404
    assert ref in rig.http.get("/_mock").text


# ------------------------------------------------------------------ callback faults
@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("parallel", [False, True])
def test_duplicate_callbacks(rig: Rig, profile: str, parallel: bool) -> None:
    rig.faults(duplicate_callbacks=5, parallel_duplicates=parallel)
    ref = opened(rig, profile)
    rig.act(ref, "pay")
    sent = rig.callbacks(ref)
    assert sorted(c["copy"] for c in sent) == [1, 2, 3, 4, 5]
    assert len({str(c["body"]) for c in sent}) == 1  # identical copies
    assert len(rig.hub.results) == 1  # the fake hub applied one, answered the rest "already settled"
    if profile == "napas":
        assert sorted(c["answer"]["message"] == "already confirmed" for c in sent) == [False, True, True, True, True]
    else:  # PayGov: every accepted confirm, the first or a repeat, is answered with its own fields echoed [C THH]
        assert all(c["echoed"] and c["answer"]["MaLoi"] == "00" for c in sent)


def test_late_callbacks_arrive_after_the_delay(rig: Rig) -> None:
    rig.faults(callback_delay_seconds=0.3)
    ref = opened(rig, "paygov")
    started = time.monotonic()
    assert rig.act(ref, "pay")["callbacks"] == "scheduled"
    assert rig.callbacks(ref) == []
    wait_for(lambda: len(rig.callbacks(ref)) == 1)
    assert time.monotonic() - started >= 0.3 and rig.hub.results[0].reference == ref


@pytest.mark.parametrize("profile", PROFILES)
def test_dropped_callbacks_leave_only_the_query(rig: Rig, profile: str) -> None:
    rig.faults(drop_callbacks=True)
    ref = opened(rig, profile)
    assert rig.act(ref, "pay")["callbacks"] == "dropped"
    assert rig.callbacks() == [] and rig.hub.results == []
    status = rig.gateway(profile).query(ref, OPENED)
    assert (status.state, status.amount) == ("paid", 150_000)
    assert rig.http.get("/_mock/stats").json()["faults_injected"] == {"dropped_callback": 1}


@pytest.mark.parametrize(("profile", "refusal"), [("napas", "INVALID_CHECKSUM"), ("paygov", "'MaLoi': '97'")])
def test_bad_signatures_are_refused_by_the_hub(rig: Rig, profile: str, refusal: str) -> None:
    rig.faults(bad_signature=True)
    ref = opened(rig, profile)
    rig.act(ref, "pay")
    assert rig.hub.rejected == ["bad_signature"] and rig.hub.results == []
    [sent] = rig.callbacks(ref)
    assert refusal in str(sent["answer"])
    assert sent["status"] == (401 if profile == "napas" else 200)


@pytest.mark.parametrize("profile", PROFILES)
def test_amount_mismatch(rig: Rig, profile: str) -> None:
    rig.faults(amount_delta=-1000)
    ref = opened(rig, profile)
    rig.act(ref, "pay")
    [sent] = rig.callbacks(ref)
    parsed = rig.gateway(profile).parse_callback(json.dumps(sent["body"]).encode())
    assert parsed.amount == 149_000  # correctly signed, a different amount
    assert rig.hub.results == []
    mismatch = {"napas": "AMOUNT_MISMATCH", "paygov": "'MaLoi': '04'"}[profile]
    assert mismatch in str(sent["answer"])
    assert rig.gateway(profile).query(ref, OPENED).amount == 150_000  # the order itself is unchanged


@pytest.mark.parametrize("profile", PROFILES)
def test_resend_replays_the_same_old_callback(rig: Rig, profile: str) -> None:
    ref = opened(rig, profile)
    assert rig.http.post(f"/_mock/orders/{ref}/resend").status_code == 409  # nothing sent yet
    rig.act(ref, "pay")
    replay = rig.http.post(f"/_mock/orders/{ref}/resend").json()
    assert replay["status"] == 200 and len(rig.hub.results) == 1  # already settled, nothing applied
    # the same callback, past the window: NAPAS's is 15 minutes, PayGov's a day (its confirm may sign the INIT time)
    rig.clock.offset = timedelta(minutes=20) if profile == "napas" else timedelta(days=1, minutes=1)
    later = rig.http.post(f"/_mock/orders/{ref}/resend").json()
    assert rig.hub.rejected == ["stale"] and later["status"] == (401 if profile == "napas" else 200)
    first, *replays = rig.callbacks(ref)
    assert [c["resent"] for c in replays] == [True, True] and all(c["body"] == first["body"] for c in replays)


# ------------------------------------------------------------------ create/query faults, admin
@pytest.mark.parametrize("profile", PROFILES)
def test_5xx_fault_answers_before_storing(rig: Rig, profile: str) -> None:
    rig.faults(error_5xx_rate=1.0)
    with pytest.raises(RetryableGatewayError, match="HTTP 503"):
        rig.gateway(profile).create_order(order())
    assert rig.http.get("/_mock/orders").json() == []
    with pytest.raises(RetryableGatewayError):
        rig.gateway(profile).query(reference(), OPENED)
    stats = rig.http.get("/_mock/stats").json()
    assert stats["faults_injected"] == {"5xx": 4}  # one create + three query attempts


def test_fault_rates_are_seeded_probabilities() -> None:
    def run() -> list[int]:
        app = create_app(public_url=BASE)
        with TestClient(app, base_url=BASE) as http:
            http.post("/_mock/faults", json={"error_5xx_rate": 0.5, "seed": 11}).raise_for_status()
            return [
                http.get(f"{MERCHANT_API}/LGSPHUB01/order/X/domestic", headers=_bearer(http)).status_code
                for _ in range(30)
            ]

    first = run()
    assert first == run() and 5 < first.count(503) < 25 and 404 in first


def _bearer(http: TestClient) -> dict[str, str]:
    return {"Authorization": "Bearer " + napas_token(http).json()["access_token"]}


def test_admin_views_faults_and_reset(rig: Rig) -> None:
    ref = opened(rig, "napas")
    rig.act(ref, "pay")
    view = rig.http.get(f"/_mock/orders/{ref}").json()
    assert (view["state"], view["amount"], view["profile"]) == ("paid", 150_000, "napas") and view["last_callback"]
    stats = rig.http.get("/_mock/stats").json()
    assert stats["orders"] == {"paid": 1} and stats["callbacks_sent"] == 1 and stats["callback_answers"] == {"200": 1}
    assert stats["calls"]["napas.create"] == 1
    assert rig.http.post("/_mock/faults", json={"duplicate_callbacks": 0}).status_code == 422
    assert rig.http.post("/_mock/faults", json={"no_such_fault": 1}).status_code == 422
    assert rig.faults(hang_seconds=1)["hang_seconds"] == 1 and rig.http.get("/_mock/faults").json()["hang_seconds"] == 1
    assert rig.http.post("/_mock/reset").json() == {"status": "reset"}
    assert rig.http.get("/_mock/orders").json() == [] and rig.http.get("/_mock/faults").json()["hang_seconds"] == 15
    assert rig.http.get(f"/_mock/orders/{ref}").status_code == 404
