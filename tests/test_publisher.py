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
from hub.db.schema import outbox
from hub.ledger import Accepted
from hub.ports import OutgoingMessage, TransportError
from hub.publisher import Publisher
from hub.relay import Relay
from hub.settings import Settings
from hub.transports.inprocess import InProcessTransport
from tests.conftest import Clock
from tests.factories import create_client, model, status_change
from tests.support.wait import until

URL = "/v1/dossiers/status-changes"


class BrokenTransport(InProcessTransport):
    """Refuses every publish, as a broker that is down."""

    def publish(self, messages: Sequence[OutgoingMessage], timeout: float = 10.0) -> list[bool]:
        raise TransportError("broker down")


def make_hub(db_url: str, transport: InProcessTransport, clock: Clock | None = None) -> Hub:
    hub = bootstrap(Settings(database_url=db_url, outbox_defer=30), transport=transport)
    transport.setup(hub.routing.bindings())
    if clock is not None:
        hub.ledger.now = clock
    return hub


@pytest.fixture
def transport() -> InProcessTransport:
    return InProcessTransport()  # its queues are declared by make_hub


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


def test_the_relay_leaves_rows_alone_while_the_api_may_publish_them(db_url: str, clock: Clock) -> None:
    hub = make_hub(db_url, InProcessTransport(), clock)  # no api publisher running
    try:
        ids = [a.message_id for a in accept_deferred(hub, 3)]
        working = InProcessTransport()
        working.setup(hub.routing.bindings())
        relay = Relay(hub.ledger, working)
        assert relay.run_once() == 0  # deferred: the api may still be publishing them
        clock.advance(31)  # the api died before publishing: the relay takes over
        assert relay.run_once() == 3
        assert sorted(working.queued("national_portal")) == sorted(ids)
        assert outbox_rows(hub) == 0
    finally:
        hub.close()


def test_what_the_api_cannot_publish_goes_to_the_relay_at_once(db_url: str, clock: Clock) -> None:
    hub = make_hub(db_url, BrokenTransport(), clock)
    try:
        ids = post(hub, 3)
        assert outbox_rows(hub) == 3  # accepted means stored: the broker being down loses nothing
        working = InProcessTransport()
        working.setup(hub.routing.bindings())
        relay = Relay(hub.ledger, working)
        until(lambda: relay.run_once() == 3, what="the relay to publish what the api handed over")  # no clock advance
        assert sorted(working.queued("national_portal")) == sorted(ids)
    finally:
        hub.close()


def accept_deferred(hub: Hub, n: int) -> list[Accepted]:
    from tests.test_ledger import new

    items = [new(model()) for _ in range(n)]
    got, _ = hub.ledger.accept("test", items, defer=30)
    return got


def test_a_full_queue_hands_the_rest_to_the_relay(hub: Hub) -> None:
    (first, second, third) = accept_deferred(hub, 3)
    with hub.engine.connect() as c:
        rows = {r.message_id: r.id for r in c.execute(select(outbox.c.message_id, outbox.c.id))}
    publisher = Publisher(hub.ledger, hub.transport, max_pending=1)
    message = OutgoingMessage(first.message_id, "national_portal.dossier.status.changed", b"{}")
    publisher.submit([(rows[first.message_id], message)])
    publisher.submit([(rows[second.message_id], message), (rows[third.message_id], message)])  # no room
    assert publisher.dropped == 2
    publisher.start().close()
    relay = Relay(hub.ledger, hub.transport)
    assert relay.run_once() == 2  # handed over: the relay need not wait for their deferral


class FlakyTransport(InProcessTransport):
    """Fails its first publish with an unexpected error (a bug, not a broker outage)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def publish(self, messages: Sequence[OutgoingMessage], timeout: float = 10.0) -> list[bool]:
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("unexpected")
        return super().publish(messages, timeout)


def test_an_unexpected_error_does_not_stop_the_publisher(db_url: str) -> None:
    flaky = FlakyTransport()
    hub = make_hub(db_url, flaky)
    try:
        key = create_client(hub.engine, "ONEGATE", "one-stop", ["dossier.status.changed"])
        with TestClient(create_app(hub, pipeline=False)) as api:
            ids = []
            for _ in range(2):  # the first publish fails (handed to the relay), the second goes out
                r = api.post(URL, json=status_change(), headers={"X-API-Key": key})
                ids.append(r.json()["message_id"])
                until(lambda: flaky.calls >= len(ids), what="the publisher to try")
            first, second = ids
            until(lambda: second in flaky.queued("national_portal"), what="the publisher to keep publishing")
        assert first not in flaky.queued("national_portal")
        relay = Relay(hub.ledger, flaky)
        until(lambda: relay.run_once() >= 1 or first in flaky.queued("national_portal"), what="the relay")
        assert first in flaky.queued("national_portal")
    finally:
        hub.close()
