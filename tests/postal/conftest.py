"""The postal tests' stack: the hub on SQLite and PostgreSQL against the mock VNPost and the mock
portal on loopback ports, the mock's clock driven by the test (``env``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from connectors.national_portal import NationalPortalSettings
from connectors.national_portal.mock import create_app as portal_mock
from connectors.vnpost import VnpostSettings
from connectors.vnpost.mock import Faults, MockOptions
from connectors.vnpost.mock import create_app as vnpost_mock
from connectors.webhooks import WebhookSettings
from hub.agencies.port import StaticAgencies
from hub.api.app import create_app
from hub.bootstrap import Hub, PartnerSettings, bootstrap
from hub.clients import create_client
from hub.db.schema import messages
from hub.pipeline import Pipeline
from hub.settings import Settings
from tests.support.live import serve
from tests.support.receiver import Receiver
from tests.support.wait import until
from tests.support.whole_hub import loopback_names

AGENCY = "000.00.00.H56"
CUSTOMER = "BCCI_H56"
SECRET = "push-secret-for-tests"
STEP = 60.0  # mock seconds between two statuses of a parcel
AGENCIES = [
    {
        "code": AGENCY,
        "name": "Trung tâm Phục vụ hành chính công tỉnh",
        "province_codes": ["H56"],
        "postal": {
            "customer_code": CUSTOMER,
            "variant": "lgsp",
            "name": "Trung tâm Phục vụ hành chính công tỉnh",
            "phone": "02373850000",
            "address": "28 Đại lộ Lê Lợi",
            "province_id": 938,
            "district_id": 90380,
        },
    }
]
CITIZEN = {
    "name": "Nguyễn Thị Bích Ngọc",
    "phone": "0912345678",
    "address": "Số 12 ngõ 34 phố Ngọc Hà",
    "province_code": "01",
    "commune_code": "00004",
}


def order_body(code: str, kind: str = "delivery", **over: Any) -> dict[str, Any]:
    side = "receiver" if kind == "delivery" else "sender"
    return {"dossier_code": code, "agency_code": AGENCY, "kind": kind, side: CITIZEN, "description": "Kết quả"} | over


@dataclass
class Env:
    hub: Hub
    http: TestClient
    mock: httpx.Client
    receiver: Receiver
    portal: str

    def advance(self, steps: float) -> None:
        self.mock.post("/_mock/clock/advance", json={"seconds": STEP * steps}).raise_for_status()

    def faults(self, **values: object) -> None:
        self.mock.post("/_mock/faults", json=values).raise_for_status()

    def order(self, code: str, kind: str = "delivery", scenario: str | None = None) -> str:
        r = self.http.post("/v1/postal/orders", json=order_body(code, kind))
        assert r.status_code == 202, r.text
        oid = str(r.json()["id"])
        until(lambda: self.get(oid)["messages"][0]["state"] == "delivered", what="the order delivered to VNPost")
        if scenario:
            self.mock.post(f"/_mock/orders/{CUSTOMER}/{code}/scenario", json={"scenario": scenario}).raise_for_status()
        return oid

    def get(self, oid: str) -> dict[str, Any]:
        r = self.http.get(f"/v1/postal/orders/{oid}")
        assert r.status_code == 200, r.text
        return dict(r.json())

    def poll(self) -> None:
        self.hub.postal.poll(CUSTOMER)

    def webhook_statuses(self, oid: str) -> list[str]:
        return [e["status"] for _, e in self.receiver.events if e["order_id"] == oid]


@pytest.fixture
def env(db_url: str) -> Iterator[Env]:
    options = MockOptions(realtime=False, step_seconds=STEP)
    vnpost = VnpostSettings()  # the connector's defaults: the LGSP variant, static token
    with (
        serve(lambda _u: vnpost_mock(options, Faults(seed=7), vnpost), "mock VNPost") as url,
        serve(lambda _u: portal_mock(), "mock portal") as portal,
        Receiver() as rec,
    ):
        settings = Settings(
            database_url=db_url,
            api_publishes=False,
            postal_poll=False,  # the test polls
            postal_unit_placeholders=True,
            postal_push_secret=SECRET,  # type: ignore[arg-type]
            worker_concurrency=1,
        )
        partners = PartnerSettings(
            national_portal=NationalPortalSettings(base_url=portal, backoff_base=0.05, backoff_max=0.2),
            vnpost=VnpostSettings(base_url=url, backoff_base=0.05, backoff_max=0.2),
            webhooks=WebhookSettings(allow_loopback=True, backoff_base=0.05, backoff_max=0.2),
        )
        hub = bootstrap(settings, partners=partners, resolve=loopback_names, agencies=StaticAgencies(AGENCIES))
        pipe = Pipeline(hub, connector_names=["vnpost", "webhooks", "national_portal"])
        pipe.start()
        try:
            key = create_client(hub.engine, "ONEGATE", "one-stop", ["postal.order", "subscribe"])
            http = TestClient(create_app(hub, pipeline=False), headers={"X-API-Key": key})
            sub = http.post("/v1/subscriptions", json={"url": rec.url, "event_types": ["postal.status.changed"]})
            assert sub.status_code == 201, sub.text
            rec.secret = sub.json()["secret"]
            with httpx.Client(base_url=url, timeout=5) as mock:
                yield Env(hub, http, mock, rec, portal)
        finally:
            pipe.stop()
            hub.close()


def portal_steps(hub: Hub, code: str) -> list[dict[str, Any]]:
    with hub.engine.connect() as c:
        rows = c.execute(
            select(messages.c.payload)
            .where(messages.c.type == "dossier.postal.step", messages.c.key == code)
            .order_by(messages.c.occurred_at, messages.c.id)
        ).all()
    return [r.payload for r in rows]
