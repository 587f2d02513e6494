"""Publish right after commit: the api publishes what it accepted and deletes the confirmed
outbox rows; what it cannot publish stays in the outbox for the relay, which leaves it alone
until the deferral has passed (SQLite and PostgreSQL, in-process transport)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from hub.api.app import create_app
from hub.bootstrap import Hub, bootstrap
from hub.clients import create_client
from hub.db.schema import outbox
from hub.ports import OutgoingMessage, TransportError
from hub.publisher import Publisher
from hub.relay import Relay
from hub.settings import Settings
from hub.transports.inprocess import InProcessTransport
from tests.conftest import Clock
from tests.factories import status_change
from tests.support.wait import until

URL = "/v1/dossiers/status-changes"


class BrokenTransport(InProcessTransport):
    """Refuses every publish, as a broker that is down."""

    def publish(self, messages: Sequence[OutgoingMessage], timeout: float = 10.0) -> list[bool]:
        raise TransportError("broker down")


def make_hub(db_url: str, transport: InProcessTransport, clock: Clock | None = None) -> Hub:
    hub = bootstrap(Settings(database_url=db_url, outbox_defer=30), transport=transport)
    if clock is not None:
        hub.ledger.now = clock
    return hub


@pytest.fixture
def transport() -> InProcessTransport:
    t = InProcessTransport()
    t.setup({"national_portal": ("dossier.status.changed",)})
    return t


@pytest.fixture
def hub(db_url: str, transport: InProcessTransport) -> Iterator[Hub]:
    h = make_hub(db_url, transport)
    yield h
    h.close()


def outbox_rows(hub: Hub) -> int:
    with hub.engine.connect() as c:
        return int(c.execute(select(func.count()).select_from(outbox)).scalar_one())


def post(hub: Hub, n: int) -> list[str]:
    key = create_client(hub.engine, "ONEGATE", "one-stop", ["dossier.status.changed"])
    with TestClient(create_app(hub, pipeline=False)) as api:
        r = api.post(URL, json=[status_change() for _ in range(n)], headers={"X-API-Key": key})
        assert r.status_code == 202, r.text
        return [x["message_id"] for x in r.json()["results"]]


def test_the_api_publishes_what_it_accepted_and_clears_the_outbox(hub: Hub, transport: InProcessTransport) -> None:
    ids = post(hub, 5)
    until(lambda: outbox_rows(hub) == 0, what="the api's publisher to delete the confirmed outbox rows")
    assert sorted(transport.queued("national_portal")) == sorted(ids)


def test_what_the_api_cannot_publish_waits_for_the_relay(db_url: str, clock: Clock) -> None:
    broken = BrokenTransport()
    hub = make_hub(db_url, broken, clock)
    try:
        ids = post(hub, 3)
        assert outbox_rows(hub) == 3  # accepted means stored: the broker being down loses nothing
        working = InProcessTransport()
        working.setup({"national_portal": ("dossier.status.changed",)})
        relay = Relay(hub.ledger, working)
        assert relay.run_once() == 0  # deferred: the api may still be publishing them
        clock.advance(31)
        assert relay.run_once() == 3
        assert sorted(working.queued("national_portal")) == sorted(ids)
        assert outbox_rows(hub) == 0
    finally:
        hub.close()


def test_a_full_queue_hands_the_rest_to_the_relay(hub: Hub) -> None:
    publisher = Publisher(hub.ledger, hub.transport, max_pending=1)  # not started: nothing drains it
    message = OutgoingMessage("01TESTMESSAGE0000000000000", "dossier.status.changed", b"{}")
    publisher.submit([(1, message)])
    publisher.submit([(2, message), (3, message)])
    assert publisher.dropped == 2
