"""Fee payments through the hub's API with the real gateway profiles (NAPAS, PayGov) against the
mock gateway in process, whose signed callbacks come back into the hub: open, pay, duplicate /
late / missing / replayed / tampered / foreign / oversized callbacks, reconciliation, the trace.
On SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from connectors.payment_napas import NapasSettings, PayGovSettings, build_gateway
from connectors.payment_napas.mock import create_app as create_gateway_app
from connectors.webhooks import WebhookSettings
from hub.api.app import create_app
from hub.bootstrap import Hub, PartnerSettings, bootstrap
from hub.db.schema import messages, payment_events, payments
from hub.payments.reconcile import reconcile
from hub.settings import Settings
from hub.transports.inprocess import InProcessTransport
from tests import factories
from tests.factories import create_client
from tests.support.clock import OffsetClock

GATEWAY = "http://gateway.test"


Clock = OffsetClock


@dataclass
class Rig:
    hub: Hub
    api: TestClient
    gateway: TestClient
    key: str
    clock: Clock

    def open(self, profile: str = "napas", **over: Any) -> httpx.Response:
        r: httpx.Response = self.api.post(
            "/v1/payments", json=payment_request(profile=profile, **over), headers=self.auth
        )
        return r

    @property
    def auth(self) -> dict[str, str]:
        return {"X-API-Key": self.key}

    def act(self, payment_id: str, action: str) -> dict[str, Any]:
        r = self.gateway.post(f"/_mock/orders/{payment_id}/{action}")
        assert r.status_code == 200, r.text
        return dict(r.json())

    def faults(self, **values: Any) -> None:
        self.gateway.post("/_mock/faults", json=values).raise_for_status()

    def state(self, payment_id: str) -> str:
        return str(self.api.get(f"/v1/payments/{payment_id}", headers=self.auth).json()["state"])

    def callbacks(self, payment_id: str) -> list[dict[str, Any]]:
        return list(self.gateway.get("/_mock/callbacks", params={"reference": payment_id}).json())

    def count(self, table: Any, **where: Any) -> int:
        with self.hub.engine.connect() as c:
            q = select(func.count()).select_from(table)
            for k, v in where.items():
                q = q.where(table.c[k] == v)
            return int(c.execute(q).scalar_one())


def payment_request(**over: Any) -> dict[str, Any]:
    return factories.payment_request(**{"client_reference": f"ONEGATE-{next(_refs)}", **over})


_refs = itertools.count(1)


@pytest.fixture
def rig(db_url: str) -> Iterator[Rig]:
    hub = bootstrap(
        Settings(database_url=db_url, api_publishes=False),
        transport=InProcessTransport(),
        partners=PartnerSettings(webhooks=WebhookSettings(allow_loopback=True)),  # nothing is delivered here
    )
    clock = Clock()
    with TestClient(create_app(hub, pipeline=False)) as api:

        def into_hub(request: httpx.Request) -> httpx.Response:
            r = api.post(request.url.path, content=request.content, headers={"content-type": "application/json"})
            return httpx.Response(r.status_code, content=r.content, headers={"content-type": "application/json"})

        gateway_app = create_gateway_app(
            public_url=GATEWAY, http_factory=lambda: httpx.Client(transport=httpx.MockTransport(into_hub))
        )
        with TestClient(gateway_app, base_url=GATEWAY) as gateway:
            settings: dict[str, NapasSettings | PayGovSettings] = {
                "napas": NapasSettings(base_url=f"{GATEWAY}/napas", query_backoff_seconds=0),
                "paygov": PayGovSettings(base_url=f"{GATEWAY}/paygov", query_backoff_seconds=0),
            }
            # the gateways talk to the mock through its TestClient, which exists only now
            hub.payments.gateways.update(
                {p: build_gateway(p, settings[p], http=gateway, clock=clock) for p in settings}
            )
            key = create_client(hub.engine, "ONEGATE", "one-stop", ["payment.open", "subscribe"])
            yield Rig(hub, api, gateway, key, clock)
    hub.close()


@pytest.mark.parametrize("profile", ["napas", "paygov"])
def test_open_pay_and_the_callback_settles_it_once(rig: Rig, profile: str) -> None:
    r = rig.open(profile)
    assert r.status_code == 201, r.text
    p = r.json()
    assert p["state"] == "pending" and p["payment_url"].startswith(GATEWAY) and p["amount"] == 150_000
    again = rig.api.post("/v1/payments", json=payment_request(profile=profile, **_same(p)), headers=rig.auth)
    assert again.status_code == 200 and again.json()["id"] == p["id"]  # same client reference: same payment

    rig.act(p["id"], "pay")
    (cb,) = rig.callbacks(p["id"])
    assert cb["status"] == 200  # answered in the gateway's own format
    assert rig.state(p["id"]) == "paid"
    history = rig.api.get(f"/v1/payments/{p['id']}", headers=rig.auth).json()["history"]
    steps = [(e["kind"], e["outcome"]) for e in history]
    assert steps[-2:] == [("callback", "paid"), ("announce", "queued")]
    # the national portal will hear of it once (delivered by the portal worker)
    assert rig.count(messages, type="dossier.fee.paid", key=p["dossier_code"]) == 1


def _same(p: dict[str, Any]) -> dict[str, Any]:
    """The original request's identity (client reference, dossier) to send it again."""
    return {"client_reference": p["client_reference"], "dossier_code": p["dossier_code"]}


def test_declined_payment_is_failed_and_not_reported_paid(rig: Rig) -> None:
    p = rig.open().json()
    rig.act(p["id"], "decline")
    assert rig.state(p["id"]) == "failed"
    assert rig.count(messages, type="dossier.fee.paid", key=p["dossier_code"]) == 0


def test_a_flood_of_parallel_duplicate_callbacks_changes_the_state_once(rig: Rig) -> None:
    rig.api.post(
        "/v1/subscriptions",
        json={"url": "http://127.0.0.1:9/hooks", "event_types": ["payment.status.changed"]},
        headers=rig.auth,
    ).raise_for_status()
    rig.faults(duplicate_callbacks=12, parallel_duplicates=True)
    p = rig.open().json()
    rig.act(p["id"], "pay")
    callbacks = rig.callbacks(p["id"])
    assert len(callbacks) == 12 and all(c["status"] == 200 for c in callbacks)
    assert rig.state(p["id"]) == "paid"
    outcomes = [e["outcome"] for e in rig.api.get(f"/v1/payments/{p['id']}", headers=rig.auth).json()["history"]]
    assert outcomes.count("paid") == 1 and outcomes.count("already_settled") == 11
    assert rig.count(messages, type="payment.status.changed") == 1  # one event for the one subscriber
    assert rig.count(messages, type="dossier.fee.paid", key=p["dossier_code"]) == 1


def test_missing_callback_is_settled_by_reconciliation_and_a_late_one_changes_nothing(rig: Rig) -> None:
    rig.faults(drop_callbacks=True)
    p = rig.open().json()
    rig.act(p["id"], "pay")
    assert rig.callbacks(p["id"]) == [] and rig.state(p["id"]) == "pending"
    assert reconcile(rig.hub.payments, older_than=0) == 1  # the job that runs beside the relay
    assert rig.state(p["id"]) == "paid"
    late = rig.api.post("/v1/callbacks/payment/napas", json=signed_callback(rig, p["id"]))  # it comes after all
    assert napas_error(late) == (200, "SUCCESS") and late.json()["message"] == "already confirmed"
    assert rig.state(p["id"]) == "paid"
    assert rig.count(messages, type="dossier.fee.paid", key=p["dossier_code"]) == 1


def test_gateway_timeout_at_open_is_in_doubt_and_settled_by_a_query_never_a_guess(rig: Rig) -> None:
    rig.faults(timeout_rate=1.0, hang_seconds=0.0)  # the gateway answers 504: it may have the order
    r = rig.open()
    assert r.status_code == 202 and r.json()["state"] == "in_doubt"
    p = r.json()
    rig.faults(timeout_rate=0.0)
    assert reconcile(rig.hub.payments, older_than=0) == 0  # the gateway never saw it: not opened, not paid
    assert rig.state(p["id"]) == "not_opened"


def napas_error(r: httpx.Response | dict[str, Any]) -> tuple[int, str]:
    """(HTTP status, NAPAS error cause) of the hub's answer to a callback."""
    if isinstance(r, dict):  # the mock's record of a callback it sent
        return int(r["status"]), str((r["answer"].get("error") or {}).get("cause", r["answer"].get("result")))
    body = r.json()
    return r.status_code, str((body.get("error") or {}).get("cause", body.get("result")))


def signed_callback(rig: Rig, payment_id: str, **changes: Any) -> dict[str, Any]:
    """The mock gateway's signed NAPAS notification for a payment, as it would send it."""
    assert isinstance(rig.gateway.app, FastAPI)
    gw = rig.gateway.app.state.gateway
    with gw.lock:
        order = gw.orders[payment_id]
        order.state = "paid"
        body = dict(gw.callback_body(order))
    if changes:  # re-encode a modified result, signed correctly by the given profile
        result = json.loads(base64.b64decode(body["data"]))["paymentResult"] | changes.pop("result", {})
        body = changes.pop("profile", gw.napas).encode_notification(result)
    return body


def test_tampered_data_or_checksum_is_refused_in_the_gateways_format_and_changes_nothing(rig: Rig) -> None:
    p = rig.open().json()
    body = signed_callback(rig, p["id"])
    data = json.loads(base64.b64decode(body["data"]))
    data["paymentResult"]["order"]["amount"] = 1  # "paid" 1 VND, with the original checksum
    tampered = {"data": base64.b64encode(json.dumps(data).encode()).decode(), "checksum": body["checksum"]}
    assert napas_error(rig.api.post("/v1/callbacks/payment/napas", json=tampered)) == (401, "INVALID_CHECKSUM")
    wrong = {**body, "checksum": "0" * 64}
    assert napas_error(rig.api.post("/v1/callbacks/payment/napas", json=wrong)) == (401, "INVALID_CHECKSUM")
    garbage = rig.api.post("/v1/callbacks/payment/napas", content=b"not json at all")
    assert napas_error(garbage) == (400, "INVALID_REQUEST")
    assert rig.state(p["id"]) == "pending" and rig.count(payments, state="paid") == 0
    # the genuine one still works afterwards
    assert napas_error(rig.api.post("/v1/callbacks/payment/napas", json=body)) == (200, "SUCCESS")
    assert rig.state(p["id"]) == "paid"


def test_replayed_old_callback_is_refused_as_stale(rig: Rig) -> None:
    p = rig.open().json()
    rig.act(p["id"], "pay")
    assert rig.state(p["id"]) == "paid"
    rig.clock.offset = timedelta(hours=2)  # much later, someone replays the captured callback
    replay = rig.gateway.post(f"/_mock/orders/{p['id']}/resend").json()
    assert napas_error(replay) == (401, "EXPIRED")
    history = rig.api.get(f"/v1/payments/{p['id']}", headers=rig.auth).json()["history"]
    assert [e["outcome"] for e in history].count("paid") == 1


def test_callback_for_another_merchant_is_refused(rig: Rig) -> None:
    from connectors.payment_napas.napas import NapasProfile

    p = rig.open().json()
    foreign = NapasProfile(NapasSettings(merchant_id="SOMEONE-ELSE"))  # same secret, another merchant
    body = signed_callback(rig, p["id"], result={"merchantId": "SOMEONE-ELSE"}, profile=foreign)
    assert napas_error(rig.api.post("/v1/callbacks/payment/napas", json=body)) == (403, "MERCHANT_MISMATCH")
    assert rig.state(p["id"]) == "pending"


def test_amount_different_from_what_was_opened_changes_nothing(rig: Rig) -> None:
    rig.faults(amount_delta=1_000_000)  # the callback claims more than was opened
    p = rig.open().json()
    rig.act(p["id"], "pay")
    (cb,) = rig.callbacks(p["id"])
    assert napas_error(cb) == (409, "AMOUNT_MISMATCH")
    assert rig.state(p["id"]) == "pending"
    assert rig.count(payment_events, payment_id=p["id"], outcome="amount_mismatch") == 1


def test_oversized_callback_is_refused_without_reading_it_as_a_result(rig: Rig) -> None:
    r = rig.api.post("/v1/callbacks/payment/napas", content=b'{"data": "' + b"A" * 200_000 + b'"}')
    assert napas_error(r) == (413, "INVALID_REQUEST")
    assert rig.count(payment_events) == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": -150_000}, "amount"),
        ({"amount": 150_000.5}, "amount"),
        ({"amount": "150000"}, "amount"),
        ({"amount": 200_000}, "amount"),  # not the sum of the fee items
        ({"fee_items": [{"code": "LP01", "name": "x", "amount": -1}]}, "fee_items.0.amount"),
        ({"dossier_code": "H56-1"}, "dossier_code"),
        ({"profile": "vnpay"}, "profile"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_payment_requests_are_refused_naming_the_field_and_nothing_is_opened(
    rig: Rig, change: dict[str, Any], field: str
) -> None:
    r = rig.api.post("/v1/payments", json=payment_request(**change), headers=rig.auth)
    assert r.status_code == 422, r.text
    assert any(e["field"].endswith(field) for e in r.json()["errors"]), r.json()
    assert rig.count(payments) == 0


def test_the_dossier_timeline_shows_its_payment_and_every_callback(rig: Rig) -> None:
    rig.faults(duplicate_callbacks=2)
    p = rig.open().json()
    rig.act(p["id"], "pay")
    timeline = rig.api.get(f"/v1/dossiers/{p['dossier_code']}/timeline", headers=rig.auth).json()
    (shown,) = timeline["payments"]
    assert shown["id"] == p["id"] and shown["state"] == "paid"
    assert [e["kind"] for e in shown["history"]].count("callback") == 2
