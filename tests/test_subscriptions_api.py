"""Subscribing through the API: the SSRF guard at subscription time (resolved addresses, not
only literals), credentials refused, a cap per client, and the refusals as problem details."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from connectors.webhooks import WebhookSettings
from hub.api.app import create_app
from hub.bootstrap import Hub, PartnerSettings, bootstrap
from hub.settings import Settings
from hub.ssrf import IPAddress
from tests.factories import create_client
from tests.support.problems import problem

NAMES = {"public.test": "8.8.8.8", "inward.test": "10.0.0.7", "metadata.test": "169.254.169.254"}
URL = "/v1/subscriptions"


def resolve(host: str, _port: int) -> list[IPAddress]:
    if host not in NAMES:
        raise OSError("no such name")
    return [ipaddress.ip_address(NAMES[host])]


def make_hub(db_url: str, **webhooks: Any) -> Hub:
    settings = Settings(database_url=db_url, api_publishes=False, subscriptions_per_client=3)
    return bootstrap(settings, partners=PartnerSettings(webhooks=WebhookSettings(**webhooks)), resolve=resolve)


@pytest.fixture
def hub(db_url: str) -> Iterator[Hub]:
    h = make_hub(db_url, allow_networks=[], allow_loopback=False)  # the production default: nothing inward
    yield h
    h.close()


@pytest.fixture
def api(hub: Hub) -> Iterator[TestClient]:
    with TestClient(create_app(hub, pipeline=False)) as c:
        c.headers["X-API-Key"] = create_client(hub.engine, "ONEGATE", "one-stop", ["subscribe"])
        yield c


def subscribe(api: TestClient, url: str) -> httpx.Response:
    r: httpx.Response = api.post(URL, json={"url": url, "event_types": ["payment.status.changed"]})
    return r


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("http://169.254.169.254/latest/meta-data/iam/security-credentials/", "address_link_local"),
        ("http://0.0.0.0/", "address_unspecified"),
        ("http://[::]/", "address_unspecified"),
        ("http://[fe80::1]/", "address_link_local"),
        ("http://127.0.0.1:8000/v1/admin/clients", "address_loopback"),
        ("http://0x7f.0.0.1/", "address_loopback"),  # normalised by the URL parser to 127.0.0.1
        ("http://2130706433/", "address_loopback"),
        ("http://inward.test/hook", "address_private"),
        ("http://metadata.test/latest", "address_link_local"),
        ("http://nowhere.test/hook", "address_unresolvable"),
        ("https://user:p4ss@public.test/hook", "address_credentials"),
    ],
)
def test_inward_or_credentialled_urls_are_refused_at_subscription(api: TestClient, url: str, rule: str) -> None:
    r = subscribe(api, url)
    doc = problem(r, 422, "validation_failed")
    assert doc["errors"][0]["field"] == "url" and doc["errors"][0]["rule"] == rule, doc
    assert "p4ss" not in r.text
    assert api.get(URL).json() == []


@pytest.mark.parametrize("url", ["ftp://public.test/x", "file:///etc/passwd", "javascript:alert(1)", "not a url"])
def test_other_schemes_are_refused(api: TestClient, url: str) -> None:
    problem(subscribe(api, url), 422, "validation_failed")


def test_a_public_receiver_is_accepted_and_the_cap_holds(api: TestClient) -> None:
    made = [subscribe(api, f"https://public.test/hook/{i}") for i in range(3)]
    assert [r.status_code for r in made] == [201, 201, 201] and made[0].json()["secret"].startswith("whsec_")
    problem(subscribe(api, "https://public.test/hook/4"), 409, "subscription_limit")
    assert api.delete(f"{URL}/{made[0].json()['id']}").status_code == 204
    assert subscribe(api, "https://public.test/hook/5").status_code == 201  # a place came free


def test_the_allow_list_admits_the_provinces_network(db_url: str) -> None:
    hub = make_hub(db_url, allow_networks=["10.0.0.0/24"])
    try:
        with TestClient(create_app(hub, pipeline=False)) as api:
            api.headers["X-API-Key"] = create_client(hub.engine, "ONEGATE", "one-stop", ["subscribe"])
            assert subscribe(api, "http://inward.test/hook").status_code == 201
            problem(subscribe(api, "http://metadata.test/"), 422, "validation_failed")
    finally:
        hub.close()


def test_the_allow_list_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from connectors.webhooks import WebhookSettings

    monkeypatch.setenv("HUB_WEBHOOK_ALLOW_NETWORKS", "10.56.0.0/16, 192.168.20.0/24")
    monkeypatch.setenv("HUB_WEBHOOK_ALLOW_LOOPBACK", "true")
    policy = WebhookSettings().address_policy()
    assert [str(n) for n in policy.allow] == ["10.56.0.0/16", "192.168.20.0/24"] and policy.allow_loopback
    monkeypatch.setenv("HUB_WEBHOOK_ALLOW_NETWORKS", "10.56.0.0/99")
    with pytest.raises(ValueError):
        WebhookSettings()
