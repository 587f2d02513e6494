"""The real gateways against the mock: in process (TestClient) and over loopback sockets (uvicorn), where
a hang longer than the client timeout is a real timeout."""

from __future__ import annotations

import httpx
import pytest

from connectors.payment_napas import NapasSettings, PayGovSettings, build_gateway
from hub.payments.port import GatewayTimeout, PermanentGatewayError, RetryableGatewayError

from .conftest import BASE, OPENED, Rig, order, reference

PROFILES = ("napas", "paygov")


@pytest.mark.parametrize("profile", PROFILES)
def test_an_order_from_creation_to_payment(rig: Rig, profile: str) -> None:
    gateway = rig.gateway(profile)
    ref = reference()
    created = gateway.create_order(order(ref))
    assert created.reference == ref and created.payment_url == f"{BASE}/pay/{ref}"
    assert rig.http.get(created.payment_url).status_code == 200
    pending = gateway.query(ref, OPENED)
    assert (pending.state, pending.amount, pending.gateway_txn_id) == ("pending", 150_000, None)
    rig.act(ref, "pay")
    paid = gateway.query(ref, OPENED)
    [result] = rig.hub.results
    assert (paid.state, paid.amount, paid.currency) == ("paid", 150_000, "VND")
    assert paid.gateway_txn_id == result.gateway_txn_id and paid.gateway_txn_id
    assert gateway.query(reference(), OPENED).state == "unknown"


@pytest.mark.parametrize("profile", PROFILES)
def test_a_declined_order_queries_as_failed(rig: Rig, profile: str) -> None:
    ref = reference()
    rig.gateway(profile).create_order(order(ref))
    rig.act(ref, "decline")
    assert rig.gateway(profile).query(ref, OPENED).state == "failed"


def test_napas_token_is_cached_and_renewed_when_the_gateway_drops_it(rig: Rig) -> None:
    for _ in range(2):
        rig.napas.create_order(order())
    rig.napas.query(reference(), OPENED)
    assert rig.http.get("/_mock/stats").json()["calls"]["napas.token"] == 1
    rig.faults(expire_tokens=True)
    rig.napas.create_order(order())  # 401, a new token, the same call once more
    stats = rig.http.get("/_mock/stats").json()
    assert stats["calls"]["napas.token"] == 2 and stats["calls"]["napas.create"] == 4
    assert stats["rejected_by_code"] == {"401": 1} and stats["orders"] == {"pending": 3}


def test_napas_short_lived_tokens_are_renewed_before_expiry(rig: Rig) -> None:
    rig.faults(token_ttl_seconds=30)  # shorter than the 60 s renewal margin: every call takes a new token
    rig.napas.query(reference(), OPENED)
    rig.napas.query(reference(), OPENED)
    assert rig.http.get("/_mock/stats").json()["calls"]["napas.token"] == 2


@pytest.mark.parametrize("profile", PROFILES)
def test_refusals_are_permanent(rig: Rig, profile: str) -> None:
    gateway = rig.gateway(profile)
    with pytest.raises(PermanentGatewayError, match="limit"):
        gateway.create_order(order(amount=600_000_000))
    ref = reference()
    gateway.create_order(order(ref))
    with pytest.raises(PermanentGatewayError) as duplicate:
        gateway.create_order(order(ref))
    assert duplicate.value.code in ("INVALID_REQUEST", "3")
    assert [o["reference"] for o in rig.http.get("/_mock/orders").json()] == [ref]


@pytest.mark.parametrize("profile", PROFILES)
def test_a_hang_longer_than_the_client_timeout_is_in_doubt(live_url: str, profile: str) -> None:
    gateway = build_gateway(profile, _settings(profile, live_url, timeout=0.3))
    try:
        ref = reference()
        gateway.create_order(order(ref))  # a real round trip first (and the NAPAS token)
        httpx.post(f"{live_url}/_mock/faults", json={"timeout_rate": 1.0, "hang_seconds": 1.0}).raise_for_status()
        with pytest.raises(GatewayTimeout, match="no answer in time"):
            gateway.create_order(order())
        with pytest.raises(GatewayTimeout):
            gateway.query(ref, OPENED)
        stats = httpx.get(f"{live_url}/_mock/stats").json()
        assert stats["faults_injected"] == {"timeout": 2} and stats["orders"] == {"pending": 1}
    finally:
        httpx.post(f"{live_url}/_mock/faults", json={"timeout_rate": 0.0}).raise_for_status()
        gateway.close()


def test_an_unreachable_gateway_is_retryable() -> None:
    gateway = build_gateway("paygov", PayGovSettings(base_url="http://127.0.0.1:9/paygov", timeout=1))
    with pytest.raises(RetryableGatewayError, match="not sent"):
        gateway.create_order(order())


def _settings(profile: str, url: str, timeout: float) -> NapasSettings | PayGovSettings:
    if profile == "napas":
        return NapasSettings(base_url=f"{url}/napas", timeout=timeout)
    return PayGovSettings(base_url=f"{url}/paygov", timeout=timeout)
