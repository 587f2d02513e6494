"""A hub with every route usable and nothing off this machine: the mock population database on
a loopback port, a fake payment gateway, a fake name resolver for webhook URLs (loopback allowed),
and one client holding every grant."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connectors.payment_napas import PROFILES, build_gateway
from connectors.population_db import PopulationDbSettings
from connectors.population_db.mock import Faults, create_app
from connectors.webhooks import WebhookSettings
from hub.bootstrap import Hub, PartnerSettings, bootstrap
from hub.citizens.grants import LOOKUP_FIELDS, LOOKUP_PREFIX, VERIFY
from hub.clients import ADMIN
from hub.payments.port import CallbackAnswer, PaymentResult
from hub.settings import Settings
from hub.ssrf import IPAddress
from tests.factories import create_client
from tests.fakes import FakeGateway
from tests.support.live import serve

EVERY_GRANT = [
    "dossier.status.changed",
    "payment.open",
    "subscribe",
    ADMIN,
    VERIFY,
    LOOKUP_PREFIX + ",".join(LOOKUP_FIELDS),
]


def loopback_names(host: str, _port: int) -> list[IPAddress]:
    """Every name resolves to 127.0.0.1, except names under .invalid (unresolvable)."""
    if host.endswith(".invalid"):
        raise OSError("no such name")
    return [ipaddress.ip_address("127.0.0.1")]


class CallbackGateway(FakeGateway):
    """Orders opened by the fake; callbacks verified and answered by the real profile."""

    def __init__(self, profile: str) -> None:
        self.real = build_gateway(profile)
        super().__init__(profile, self.real.merchant)

    def parse_callback(self, body: bytes, now: datetime | None = None) -> PaymentResult:
        return self.real.parse_callback(body, now)

    def callback_reply(self, answer: CallbackAnswer, result: PaymentResult | None = None) -> tuple[int, dict[str, Any]]:
        return self.real.callback_reply(answer, result)


@dataclass
class WholeHub:
    hub: Hub
    key: str  # a client holding every grant


@contextmanager
def whole_hub(database_url: str, **settings: Any) -> Iterator[WholeHub]:
    with serve(lambda _url: create_app(Faults()), "mock population database") as popdb:
        s = Settings(database_url=database_url, api_publishes=False, **settings)
        partners = PartnerSettings(
            population_db=PopulationDbSettings(base_url=popdb, timeout=3.0),
            webhooks=WebhookSettings(allow_loopback=True),
        )
        gateways = {p: CallbackGateway(p) for p in PROFILES}
        hub = bootstrap(s, partners=partners, gateways=gateways, resolve=loopback_names)
        try:
            key = create_client(hub.engine, "EVERYTHING", "holds every grant", EVERY_GRANT)
            yield WholeHub(hub, key)
        finally:
            hub.close()
