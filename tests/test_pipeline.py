"""Relay + workers + ledger end to end on the in-process transport with a fake partner:
ordering per dossier under retries and several workers, dead letters, restart."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hub.api.app import create_app
from hub.bootstrap import Hub, bootstrap
from hub.ledger import Claim
from hub.pipeline import Pipeline
from hub.ports import DeliveryItem, Outcome, OutcomeKind, TransportError
from hub.settings import Settings
from hub.transports.inprocess import InProcessTransport
from tests.factories import create_client, dossier_code, status_change
from tests.fakes import FakeConnector
from tests.support.wait import all_in, states, until

URL = "/v1/dossiers/status-changes"


@pytest.fixture
def hub(db_url: str) -> Iterator[Hub]:
    h = bootstrap(Settings(database_url=db_url), transport=InProcessTransport())
    yield h
    h.close()


def post_all(hub: Hub, bodies: list[dict[str, Any]], batch: int = 25) -> list[str]:
    key = create_client(hub.engine, "ONEGATE", "one-stop", ["dossier.status.changed"])
    ids = []
    with TestClient(create_app(hub, pipeline=False)) as api:
        for i in range(0, len(bodies), batch):
            r = api.post(URL, json=bodies[i : i + batch], headers={"X-API-Key": key})
            assert r.status_code == 202, r.text
            assert r.json()["accepted"] == len(bodies[i : i + batch]), r.text
            ids += [x["message_id"] for x in r.json()["results"]]
    return ids


def run(hub: Hub, connector: FakeConnector, workers: int = 2) -> Pipeline:
    pipe = Pipeline(hub, workers=workers, connector_names=["national_portal"], connector_factory=lambda name: connector)
    pipe.start()
    return pipe


def deliver_all(hub: Hub, bodies: list[dict[str, Any]], what: str, workers: int = 1) -> FakeConnector:
    """Run the pipeline, post the changes, and wait until every message is delivered."""
    fake = FakeConnector()
    pipe = run(hub, fake, workers=workers)
    try:
        post_all(hub, bodies)
        until(all_in(hub.engine, "delivered"), what=what)
    finally:
        pipe.stop()
    return fake


def test_per_dossier_order_survives_retries_and_several_workers(hub: Hub) -> None:
    rng = random.Random(7)
    codes = [dossier_code() for _ in range(40)]
    # Each one-stop system posts a dossier's changes in the order they happen, interleaved
    # with other dossiers; inside each request the order is reversed (later change first).
    queues = [[status_change(code=c, status=s, minutes_ago=100 - s) for s in (1, 2, 4, 9)] for c in codes]
    bodies: list[dict[str, Any]] = []
    while any(queues):
        q = rng.choice([q for q in queues if q])
        bodies.append(q.pop(0))
    bodies = [b for i in range(0, len(bodies), 25) for b in reversed(bodies[i : i + 25])]

    def flaky(item: DeliveryItem) -> Outcome:
        if rng.random() < 0.25:
            return Outcome(OutcomeKind.RETRY, "HTTP 503")
        return Outcome(OutcomeKind.DELIVERED, "ok")

    fake = FakeConnector(decide=flaky)
    pipe = run(hub, fake, workers=3)
    try:
        post_all(hub, bodies)
        until(all_in(hub.engine, "delivered"), what="everything delivered")
    finally:
        pipe.stop()
    assert sum(1 for c in fake.calls if c.attempt > 1) > 0, "the test should have exercised retries"
    delivered = [(d.key, d.payload["status"]) for d in fake.delivered]
    assert len(delivered) == len(set(delivered)) == len(bodies)  # all, none twice
    for code in codes:
        assert [s for k, s in delivered if k == code] == [1, 2, 4, 9]
    # DVCQG isUpdating: only the first delivery of each dossier is an insert
    firsts = [d for d in fake.delivered if not d.key_known_to_partner]
    assert sorted(d.key for d in firsts) == sorted(codes)


def test_a_retrying_change_holds_back_its_dossier_only(hub: Hub) -> None:
    slow, fast = dossier_code(), dossier_code()
    bodies = [status_change(code=slow, status=s, minutes_ago=50 - s) for s in (2, 4)]
    bodies += [status_change(code=fast, status=s, minutes_ago=50 - s) for s in (2, 4, 9)]
    blocked = {"on": True}

    def decide(item: DeliveryItem) -> Outcome:
        if item.key == slow and item.payload["status"] == 2 and blocked["on"]:
            return Outcome(OutcomeKind.RETRY, "timeout")
        return Outcome(OutcomeKind.DELIVERED)

    fake = FakeConnector(decide=decide)
    pipe = run(hub, fake)
    try:
        post_all(hub, bodies)
        until(lambda: len([d for d in fake.delivered if d.key == fast]) == 3, what="other dossier delivered")
        assert [d for d in fake.delivered if d.key == slow] == []
        assert states(hub.engine).get("held") == 1
        blocked["on"] = False
        until(all_in(hub.engine, "delivered"), what="held change released")
    finally:
        pipe.stop()
    assert [d.payload["status"] for d in fake.delivered if d.key == slow] == [2, 4]


def test_permanent_rejection_goes_dead_and_replay_delivers(hub: Hub) -> None:
    code = dossier_code()
    rejected = {"on": True}

    def decide(item: DeliveryItem) -> Outcome:
        if item.payload["status"] == 3 and rejected["on"]:
            return Outcome(OutcomeKind.DEAD, "error_code 1: MaTTHC không tồn tại")
        return Outcome(OutcomeKind.DELIVERED)

    fake = FakeConnector(decide=decide)
    pipe = run(hub, fake)
    try:
        ids = post_all(hub, [status_change(code=code, status=s, minutes_ago=20 - s) for s in (1, 3, 8)])
        until(lambda: states(hub.engine) == {"delivered": 2, "dead": 1}, what="one dead, the rest delivered")
        rejected["on"] = False
        hub.ledger.replay(ids[1])
        until(all_in(hub.engine, "delivered"), what="replayed message delivered")
    finally:
        pipe.stop()
    assert sorted(d.payload["status"] for d in fake.delivered) == [1, 3, 8]


def test_accepted_messages_survive_a_restart_of_the_embedded_hub(db_url: str) -> None:
    first = bootstrap(Settings(database_url=db_url), transport=InProcessTransport())
    bodies = [status_change() for _ in range(30)]
    post_all(first, bodies)
    # the process "dies" with everything queued in memory; a fresh process starts
    first.close()
    second = bootstrap(Settings(database_url=db_url), transport=InProcessTransport())
    fake = FakeConnector()
    pipe = run(second, fake)
    try:
        until(all_in(second.engine, "delivered"), what="delivered after restart")
    finally:
        pipe.stop()
        second.close()
    assert len(fake.delivered) == 30


def test_worker_survives_an_unexpected_error_in_its_handler(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    """The transport hands the batch back and ends consume; the worker consumes again."""
    real_claim = hub.ledger.claim
    failures = {"left": 1}

    def flaky_claim(deliveries: Sequence[str], connector: str, worker: str) -> tuple[list[Claim], set[str]]:
        if failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("unexpected bug")
        return real_claim(deliveries, connector, worker)

    monkeypatch.setattr(hub.ledger, "claim", flaky_claim)
    fake = deliver_all(hub, [status_change() for _ in range(5)], "delivered after the handler error")
    assert failures["left"] == 0 and len(fake.delivered) == 5


def test_a_crashed_relay_thread_is_restarted(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    from hub.relay import Relay

    real_run = Relay.run
    crashes = {"left": 1}

    def crash_once(self: Relay, stop: threading.Event) -> None:
        if crashes["left"]:
            crashes["left"] -= 1
            raise OSError("stderr closed")
        real_run(self, stop)

    monkeypatch.setattr(Relay, "run", crash_once)
    fake = deliver_all(hub, [status_change() for _ in range(3)], "delivered by the restarted relay")
    assert crashes["left"] == 0 and len(fake.delivered) == 3


class BrokerDownAtFirst(InProcessTransport):
    """Refuses the topology declaration a few times, as a broker that is still starting."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.setups = 0

    def setup(self, bindings: Mapping[str, Sequence[str]]) -> None:
        self.setups += 1
        if self.setups <= self.failures:
            raise TransportError("cannot connect to the broker: connection refused")
        super().setup(bindings)


def test_roles_wait_for_the_broker_at_start(db_url: str) -> None:
    transport = BrokerDownAtFirst(failures=3)
    # the api does not publish here: only the roles declare the topology
    hub = bootstrap(Settings(database_url=db_url, api_publishes=False), transport=transport)
    try:
        fake = FakeConnector()
        pipe = run(hub, fake, workers=1)  # returns although the broker refuses
        try:
            post_all(hub, [status_change(code=dossier_code(), status=2) for _ in range(5)])
            until(all_in(hub.engine, "delivered"), what="delivered once the broker answered")
        finally:
            pipe.stop()
        assert transport.setups == 4  # three refusals, then one declaration shared by both roles
        assert len(fake.delivered) == 5
    finally:
        hub.close()
