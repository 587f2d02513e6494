"""Holding a partner: nothing is delivered and no attempt is counted while it is held; resume
delivers every message once, each dossier's changes in order (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select

from hub.bootstrap import Hub, bootstrap
from hub.db.schema import attempts, messages, outbox
from hub.ledger import make_ledger
from hub.ledger.holds import NotHeld, PartnerHolds
from hub.ports import DeliveryItem, Outcome, OutcomeKind
from hub.settings import Settings
from hub.transports.inprocess import InProcessTransport
from tests.conftest import Clock
from tests.factories import dossier_code, model, new_message, status_change
from tests.fakes import FakeConnector
from tests.support.wait import all_in, until
from tests.test_pipeline import post_all, run


@pytest.fixture
def hub(db_url: str) -> Iterator[Hub]:
    h = bootstrap(Settings(database_url=db_url), transport=InProcessTransport())
    yield h
    h.close()


def _attempts(engine: Engine) -> int:
    with engine.connect() as c:
        return int(c.execute(select(func.count()).select_from(attempts)).scalar_one())


def _attempt_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as c:
        return {r.id: r.attempts for r in c.execute(select(messages.c.id, messages.c.attempts))}


def test_held_partner_gets_nothing_and_resume_delivers_all_once_in_order(hub: Hub) -> None:
    holds = PartnerHolds(hub.ledger)
    fake = FakeConnector()
    pipe = run(hub, fake, workers=2)
    try:
        holds.hold("national_portal", "ana", "portal outage announced")
        codes = [dossier_code() for _ in range(15)]
        bodies = [status_change(code=c, status=s, minutes_ago=60 - s) for s in (1, 2, 4, 9) for c in codes]
        post_all(hub, bodies)
        time.sleep(1.5)  # the workers had every chance to deliver
        assert fake.calls == []
        assert _attempts(hub.engine) == 0
        assert set(_attempt_counts(hub.engine).values()) == {0}
        assert all_in(hub.engine, "queued")()

        resumed = holds.resume("national_portal")
        assert resumed.queued == len(bodies)
        until(all_in(hub.engine, "delivered"), what="every message delivered after the resume")
    finally:
        pipe.stop()
    ids = [it.message_id for it in fake.delivered]
    assert len(ids) == len(set(ids)) == len(bodies)  # each once
    by_code: dict[str, list[int]] = {}
    for it in fake.delivered:
        by_code.setdefault(it.key, []).append(int(it.payload["status"]))
    assert all(seen == [1, 2, 4, 9] for seen in by_code.values()), by_code  # each dossier in order
    assert set(_attempt_counts(hub.engine).values()) == {1}  # one attempt each: none burnt while held


def test_retries_falling_due_while_held_do_not_burn_their_budget(hub: Hub) -> None:
    holds = PartnerHolds(hub.ledger)
    down = threading.Event()
    down.set()

    def partner(item: DeliveryItem) -> Outcome:
        return Outcome(OutcomeKind.RETRY, "HTTP 503") if down.is_set() else Outcome(OutcomeKind.DELIVERED, "ok")

    fake = FakeConnector(decide=partner)
    pipe = run(hub, fake, workers=1)
    try:
        post_all(hub, [status_change(code=dossier_code()) for _ in range(5)])
        until(lambda: _attempts(hub.engine) >= 5, what="a first failed attempt each")
        holds.hold("national_portal", "ana", "partner down")
        time.sleep(0.3)  # the batch in flight (if any) finishes
        before = _attempt_counts(hub.engine)
        time.sleep(1.5)  # backoff_max is 0.2 s: every retry fell due several times
        assert _attempt_counts(hub.engine) == before
        down.clear()
        holds.resume("national_portal")
        until(all_in(hub.engine, "delivered"), what="delivered after the resume")
    finally:
        pipe.stop()
    after = _attempt_counts(hub.engine)
    assert all(after[m] == before[m] + 1 for m in before), (before, after)


def test_hold_is_idempotent_and_resume_of_a_partner_not_held_is_refused(engine: Engine, clock: Clock) -> None:
    holds = PartnerHolds(make_ledger(engine, clock=clock))
    first, made = holds.hold("webhooks", "ana", "why")
    again, made_again = holds.hold("webhooks", "vy", "other")
    assert made and not made_again and again == first
    assert set(holds.holds()) == {"webhooks"}
    holds.resume("webhooks")
    with pytest.raises(NotHeld):
        holds.resume("webhooks")


def test_resume_moves_the_budget_clock_by_the_time_held_and_queues_oldest_first(engine: Engine, clock: Clock) -> None:
    ledger = make_ledger(engine, clock=clock)
    code = dossier_code()
    late = new_message(model(code=code, status=5, minutes_ago=1))
    early = new_message(model(code=code, status=2, minutes_ago=30))
    ledger.accept("ONEGATE", [late, early])
    with engine.begin() as c:
        c.execute(outbox.delete())
        since = {r.id: r.budget_since for r in c.execute(select(messages.c.id, messages.c.budget_since))}
    holds = PartnerHolds(ledger)
    holds.hold("national_portal", "ana", "outage")
    clock.advance(3600)
    resumed = holds.resume("national_portal")
    assert resumed.queued == 2 and resumed.held_seconds == 3600
    with engine.connect() as c:
        rows = c.execute(
            select(messages.c.id, messages.c.budget_since, messages.c.payload)
            .join(outbox, outbox.c.message_id == messages.c.id)
            .order_by(outbox.c.id)
        ).all()
    assert [r.payload["status"] for r in rows] == [2, 5]  # the earlier change first
    assert all((r.budget_since - since[r.id]).total_seconds() == 3600 for r in rows)
