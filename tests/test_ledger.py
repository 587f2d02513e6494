"""The ledger's state machine, on SQLite and PostgreSQL: accept, claim, ordering, retries,
dead, replay, leases, idempotency."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from hub.canonical import DossierStatusChange
from hub.db.schema import attempts, messages, outbox
from hub.dossiers.service import Dossiers
from hub.ledger import Accepted, Held, IdempotencyKey, Ledger, NotReplayable, make_ledger
from hub.ports import DeliveryPolicy, Outcome, OutcomeKind, OutgoingMessage
from tests.conftest import Clock
from tests.factories import dossier_code, model, new_message

POLICY = DeliveryPolicy(max_attempts=3, backoff_base=10, backoff_max=100)
PORTAL = "national_portal"


new = new_message


def accept(ledger: Ledger, *models: DossierStatusChange) -> list[Accepted]:
    accepted, _ = ledger.accept("test", [new(m) for m in models])
    return accepted


def state(engine: Engine, mid: str) -> str:
    with engine.connect() as c:
        found: str = c.execute(select(messages.c.state).where(messages.c.id == mid)).scalar_one()
        return found


def outbox_ids(engine: Engine) -> list[str]:
    with engine.connect() as c:
        return [r.message_id for r in c.execute(select(outbox.c.message_id).order_by(outbox.c.id))]


def drain(ledger: Ledger) -> list[str]:
    seen: list[str] = []

    def publish(msgs: Sequence[OutgoingMessage]) -> list[bool]:
        seen.extend(m.message_id for m in msgs)
        return [True] * len(msgs)

    ledger.drain_outbox(publish)
    return seen


@pytest.fixture
def ledger(engine: Engine, clock: Clock) -> Iterator[Ledger]:
    ledger = make_ledger(engine, lease_seconds=60, clock=clock)
    yield ledger
    ledger.close()


def test_accept_writes_message_and_outbox_and_dedupes_natural_key(ledger: Ledger, engine: Engine) -> None:
    m = model()
    first = accept(ledger, m)
    again = accept(ledger, m, m)
    assert first[0].created and not again[0].created and not again[1].created
    assert again[0].message_id == first[0].message_id
    assert outbox_ids(engine) == [first[0].message_id]
    assert state(engine, first[0].message_id) == "queued"


def test_relay_envelope_carries_the_stored_payload(ledger: Ledger) -> None:
    m = model(note='Hồ sơ cần bổ sung "giấy tờ"')  # non-ASCII and quotes survive the splice
    (a,) = accept(ledger, m)
    sent: list[OutgoingMessage] = []

    def publish(msgs: Sequence[OutgoingMessage]) -> list[bool]:
        sent.extend(msgs)
        return [True] * len(msgs)

    ledger.drain_outbox(publish)
    (msg,) = sent
    body = json.loads(msg.body)
    assert body["payload"] == m.model_dump(mode="json")
    assert body["id"] == a.message_id == msg.message_id
    assert msg.routing_key == f"{PORTAL}.{body['type']}"
    assert (body["type"], body["key"], body["idempotency_key"]) == (
        msg.headers["x-lgsp-type"],
        m.dossier_code,
        m.natural_key(),
    )
    assert msg.headers["x-lgsp-key"] == m.dossier_code


def test_publish_failure_keeps_outbox_rows(ledger: Ledger, engine: Engine) -> None:
    _, b = accept(ledger, model(), model())
    n = ledger.drain_outbox(lambda msgs: [True, False])
    assert n == 1
    assert outbox_ids(engine) == [b.message_id]
    with pytest.raises(RuntimeError):
        ledger.drain_outbox(lambda msgs: (_ for _ in ()).throw(RuntimeError("broker down")))
    assert outbox_ids(engine) == [b.message_id]
    assert drain(ledger) == [b.message_id]
    assert outbox_ids(engine) == []


def test_claim_deliver_record(ledger: Ledger, engine: Engine) -> None:
    (a,) = accept(ledger, model())
    claims, unknown = ledger.claim([a.message_id, "01NOSUCHMESSAGE00000000000"], PORTAL, "w1")
    assert unknown == {"01NOSUCHMESSAGE00000000000"}
    assert [c.item.message_id for c in claims] == [a.message_id]
    item = claims[0].item
    assert item.attempt == 1 and not item.in_doubt and not item.key_known_to_partner
    assert state(engine, a.message_id) == "delivering"
    ledger.record(claims, [Outcome(OutcomeKind.DELIVERED, "ok", partner_ref="P1")], POLICY, PORTAL)
    assert state(engine, a.message_id) == "delivered"
    # a duplicate broker copy of a delivered message claims nothing
    assert ledger.claim([a.message_id], PORTAL, "w2")[0] == []
    with engine.connect() as c:
        row = c.execute(select(attempts)).one()
    assert (row.outcome, row.partner_ref, row.worker) == ("delivered", "P1", "w1")
    with engine.connect() as c:
        msg = c.execute(select(messages).where(messages.c.id == a.message_id)).one()
    assert (msg.partner_ref, msg.lease_until, msg.delivered_at is not None) == ("P1", None, True)


def test_later_change_is_held_until_the_earlier_one_is_done(ledger: Ledger, engine: Engine, clock: Clock) -> None:
    code = dossier_code()
    m1 = model(code=code, status=2, minutes_ago=30)
    m2 = model(code=code, status=4, minutes_ago=20)
    other = model(status=2)
    a1, a2, ao = accept(ledger, m1, m2, other)
    drain(ledger)
    # the later change arrives first, with another dossier's change
    claims, _ = ledger.claim([a2.message_id, ao.message_id], PORTAL, "w")
    assert [c.item.message_id for c in claims] == [ao.message_id]  # other dossiers flow on
    assert state(engine, a2.message_id) == "held"
    ledger.record(claims, [Outcome(OutcomeKind.DELIVERED)], POLICY, PORTAL)
    claims, _ = ledger.claim([a1.message_id], PORTAL, "w")
    ledger.record(claims, [Outcome(OutcomeKind.RETRY, "timeout")], POLICY, PORTAL)
    assert state(engine, a1.message_id) == "retrying"
    assert state(engine, a2.message_id) == "held"  # still held while the earlier one retries
    assert outbox_ids(engine) == []
    claims, _ = ledger.claim([a1.message_id], PORTAL, "w")  # retry not due: stale copy
    assert claims == []
    clock.advance(1000)
    assert ledger.promote_due() == 1
    assert drain(ledger) == [a1.message_id]
    claims, _ = ledger.claim([a1.message_id], PORTAL, "w")
    assert claims[0].item.in_doubt and claims[0].item.attempt == 2
    ledger.record(claims, [Outcome(OutcomeKind.DELIVERED)], POLICY, PORTAL)
    assert state(engine, a2.message_id) == "queued"
    assert drain(ledger) == [a2.message_id]
    claims, _ = ledger.claim([a2.message_id], PORTAL, "w")
    assert claims[0].item.key_known_to_partner  # DVCQG isUpdating=True from the ledger


def test_two_changes_of_one_dossier_in_one_batch(ledger: Ledger, engine: Engine) -> None:
    code = dossier_code()
    a1, a2 = accept(ledger, model(code=code, status=2, minutes_ago=9), model(code=code, status=4, minutes_ago=8))
    claims, _ = ledger.claim([a2.message_id, a1.message_id], PORTAL, "w")
    assert [c.item.message_id for c in claims] == [a1.message_id]
    assert state(engine, a2.message_id) == "held"


def test_retry_budget_spent_goes_dead_and_releases_the_next(ledger: Ledger, engine: Engine, clock: Clock) -> None:
    code = dossier_code()
    a1, a2 = accept(ledger, model(code=code, status=2, minutes_ago=9), model(code=code, status=4, minutes_ago=8))
    drain(ledger)
    ledger.claim([a2.message_id], PORTAL, "w")
    for _ in range(POLICY.max_attempts):
        claims, _ = ledger.claim([a1.message_id], PORTAL, "w")
        assert claims, "message should be claimable"
        ledger.record(claims, [Outcome(OutcomeKind.RETRY, "HTTP 503")], POLICY, PORTAL)
        clock.advance(1000)
        ledger.promote_due()
    assert state(engine, a1.message_id) == "dead"
    with engine.connect() as c:
        err = c.execute(select(messages.c.last_error).where(messages.c.id == a1.message_id)).scalar_one()
    assert "retry budget spent after 3 attempts: HTTP 503" in err
    with engine.connect() as c:
        details = [r.detail for r in c.execute(select(attempts).where(attempts.c.message_id == a1.message_id))]
    assert details == ["HTTP 503"] * 3
    assert state(engine, a2.message_id) == "queued"


def test_permanent_rejection_is_dead_and_replay_requeues(ledger: Ledger, engine: Engine, clock: Clock) -> None:
    (a,) = accept(ledger, model())
    drain(ledger)
    with pytest.raises(NotReplayable):
        ledger.replay(a.message_id)
    claims, _ = ledger.claim([a.message_id], PORTAL, "w")
    ledger.record(claims, [Outcome(OutcomeKind.DEAD, "MaTTHC unknown")], POLICY, PORTAL)
    assert state(engine, a.message_id) == "dead"
    assert ledger.replay(a.message_id) == "queued"
    assert outbox_ids(engine) == [a.message_id]
    # the replay has a fresh budget: three more attempts before dead again
    for n in range(POLICY.max_attempts - 1):
        claims, _ = ledger.claim([a.message_id], PORTAL, "w")
        ledger.record(claims, [Outcome(OutcomeKind.RETRY, "busy")], POLICY, PORTAL)
        assert state(engine, a.message_id) == "retrying", n
        clock.advance(1000)
        ledger.promote_due()


def test_lost_worker_lease_expires_and_message_is_requeued(ledger: Ledger, engine: Engine, clock: Clock) -> None:
    (a,) = accept(ledger, model())
    drain(ledger)
    claims, _ = ledger.claim([a.message_id], PORTAL, "dead-worker")
    assert ledger.claim([a.message_id], PORTAL, "w2")[0] == []  # lease held: a duplicate copy
    clock.advance(61)
    assert ledger.promote_due() == 0  # ended, but within the grace (2 s)
    clock.advance(2)
    assert ledger.promote_due() == 1
    assert state(engine, a.message_id) == "queued"
    claims2, _ = ledger.claim([a.message_id], PORTAL, "w2")
    assert claims2[0].item.in_doubt and claims2[0].item.attempt == 2
    # the old worker wakes up and records: superseded, but "delivered" is a fact and is kept
    assert ledger.record(claims, [Outcome(OutcomeKind.DELIVERED, partner_ref="P1")], POLICY, PORTAL) == {
        a.message_id: "delivered"
    }
    assert state(engine, a.message_id) == "delivered"
    assert ledger.renew([Held(a.message_id, 2, "w2")]) == set()  # the new attempt no longer holds it
    assert ledger.record(claims2, [Outcome(OutcomeKind.DELIVERED)], POLICY, PORTAL) == {}
    with engine.connect() as c:
        rows = c.execute(select(attempts).order_by(attempts.c.number)).all()
    assert [(r.number, r.outcome) for r in rows] == [(1, "delivered"), (2, "delivered")]
    assert "recorded all the same" in rows[0].detail and "superseded" in rows[1].detail


def test_a_redelivery_alone_takes_nothing_over(ledger: Ledger, engine: Engine, clock: Clock) -> None:
    """The broker redelivers when a live worker's connection drops: the copy is skipped while
    the lease lives; only a lease ended (plus grace) lets another worker take over, in doubt."""
    (a,) = accept(ledger, model())
    ledger.claim([a.message_id], PORTAL, "w1")
    assert ledger.claim([a.message_id], PORTAL, "w2") == ([], set())  # w1's connection died; w1 lives
    assert state(engine, a.message_id) == "delivering"
    clock.advance(61)
    assert ledger.claim([a.message_id], PORTAL, "w2") == ([], set())  # ended, but within the grace
    clock.advance(2)
    claims, _ = ledger.claim([a.message_id], PORTAL, "w2")
    assert claims[0].item.in_doubt and claims[0].item.attempt == 2
    with engine.connect() as c:
        first = c.execute(select(attempts.c.outcome).where(attempts.c.number == 1)).scalar_one()
    assert first == "abandoned"


def test_renewal_only_by_the_attempt_holding_the_lease(ledger: Ledger, engine: Engine, clock: Clock) -> None:
    (a,) = accept(ledger, model())
    claims, _ = ledger.claim([a.message_id], PORTAL, "w1")
    clock.advance(50)
    assert ledger.renew([Held(a.message_id, 1, "w2"), Held(a.message_id, 2, "w1")]) == set()
    assert ledger.renew([Held(a.message_id, 1, "w1")]) == {a.message_id}
    clock.advance(50)  # 100 s after the claim: alive, since renewed at 50
    assert ledger.promote_due() == 0
    assert ledger.claim([a.message_id], PORTAL, "w2")[0] == []
    clock.advance(10.5)  # the renewed lease ended 0.5 s ago: too late to renew, too early to take over
    assert ledger.renew([Held(a.message_id, 1, "w1")]) == set()
    assert ledger.promote_due() == 0
    clock.advance(2)
    assert ledger.promote_due() == 1
    ledger.record(claims, [Outcome(OutcomeKind.RETRY, "timeout")], POLICY, PORTAL)
    assert state(engine, a.message_id) == "queued"  # a superseded retry changes nothing


def test_a_superseded_delivery_releases_the_next_change(ledger: Ledger, engine: Engine, clock: Clock) -> None:
    code = dossier_code()
    a1, a2 = accept(ledger, model(code=code, status=2, minutes_ago=9), model(code=code, status=4, minutes_ago=8))
    drain(ledger)
    claims, _ = ledger.claim([a1.message_id, a2.message_id], PORTAL, "w1")
    assert state(engine, a2.message_id) == "held"
    clock.advance(63)
    claims2, _ = ledger.claim([a1.message_id], PORTAL, "w2")  # taken over
    ledger.record(claims2, [Outcome(OutcomeKind.RETRY, "HTTP 503", in_doubt=False)], POLICY, PORTAL)
    assert state(engine, a1.message_id) == "retrying"
    ledger.record(claims, [Outcome(OutcomeKind.DELIVERED, "already at the portal")], POLICY, PORTAL)
    assert state(engine, a1.message_id) == "delivered"
    assert state(engine, a2.message_id) == "queued" and drain(ledger)[-1] == a2.message_id


def test_in_doubt_only_after_an_attempt_that_may_have_reached_the_partner(
    ledger: Ledger, engine: Engine, clock: Clock
) -> None:
    (a,) = accept(ledger, model())
    claims, _ = ledger.claim([a.message_id], PORTAL, "w")
    assert not claims[0].item.in_doubt
    for outcome, doubt in (
        (Outcome(OutcomeKind.RETRY, "ReadTimeoutError"), True),  # no answer: it may have landed
        (Outcome(OutcomeKind.RETRY, "HTTP 503", in_doubt=False), False),  # definite, after a lookup
        (Outcome(OutcomeKind.RETRY, "NewConnectionError", in_doubt=False), False),
    ):
        ledger.record(claims, [outcome], DeliveryPolicy(max_attempts=10, backoff_base=1), PORTAL)
        clock.advance(100)
        assert ledger.promote_due() == 1
        claims, _ = ledger.claim([a.message_id], PORTAL, "w")
        assert claims[0].item.in_doubt is doubt, outcome.detail
    clock.advance(63)  # the last attempt is abandoned (its worker lost): in doubt
    assert ledger.promote_due() == 1
    claims, _ = ledger.claim([a.message_id], PORTAL, "w")
    assert claims[0].item.in_doubt


def test_requeue_unfinished_for_in_process_transport(ledger: Ledger, engine: Engine) -> None:
    a, b = accept(ledger, model(), model())
    drain(ledger)
    ledger.claim([a.message_id], PORTAL, "w")
    assert ledger.requeue_unfinished() == 2
    assert sorted(outbox_ids(engine)) == sorted([a.message_id, b.message_id])


def test_idempotency_key_returns_first_answer(ledger: Ledger, engine: Engine) -> None:
    idem = IdempotencyKey(client_id=_client(engine), key="req-1", request_hash="h1")
    dossiers = Dossiers(ledger, PORTAL, 100, 0.0)
    m = model()
    first = dossiers.accept("c", [new(m)], lambda r: (202, {"id": r[0].message_id}), idem)
    second = dossiers.accept("c", [new(model())], lambda r: (202, {"id": "other"}), idem)
    assert not first.replayed and second.replayed
    assert second.body == first.body and second.request_hash == "h1"
    with engine.connect() as c:
        assert c.execute(select(func.count()).select_from(messages)).scalar_one() == 1


def _client(engine: Engine) -> int:
    from hub.clients import Authenticator
    from tests.factories import create_client

    key = create_client(engine, "c", "c", ["dossier.status.changed"])
    client = Authenticator(engine)(key)
    assert client is not None
    return client.id


def test_backoff_grows_and_is_capped() -> None:
    from hub.ledger import backoff

    p = DeliveryPolicy(backoff_base=2, backoff_max=60)
    assert 1 <= backoff(p, 1) <= 2
    assert 4 <= backoff(p, 3) <= 8
    assert 30 <= backoff(p, 20) <= 60


def test_timestamps_are_aware(ledger: Ledger, engine: Engine) -> None:
    (a,) = accept(ledger, model())
    with engine.connect() as c:
        at = c.execute(select(messages.c.occurred_at).where(messages.c.id == a.message_id)).scalar_one()
    # stored as UTC and read back aware, whatever the offset it came with (+07:00 here)
    assert at.tzinfo is not None
    assert at == datetime.fromisoformat(model_payload_time(a.message_id, engine))
    assert abs((at - datetime.now(tz=at.tzinfo)).total_seconds()) < timedelta(hours=2).total_seconds()


def model_payload_time(mid: str, engine: Engine) -> str:
    with engine.connect() as c:
        payload: dict[str, Any] = c.execute(select(messages.c.payload).where(messages.c.id == mid)).scalar_one()
    return str(payload["occurred_at"])


@pytest.mark.postgres
def test_postgres_serialises_decisions_per_dossier_only(pg_url: str) -> None:
    """A worker deciding about a dossier holds that dossier's advisory lock: another claim of
    the same dossier waits for it, a claim of another dossier does not."""
    import threading

    from sqlalchemy import text

    from hub.bootstrap import migrate
    from hub.db.engine import make_engine
    from hub.ledger.postgres import LOCK_NAMESPACE

    engine = make_engine(pg_url)
    migrate(engine)
    ledger = make_ledger(engine)
    try:
        code = dossier_code()
        (mine,) = accept(ledger, model(code=code))
        (other,) = accept(ledger, model())
        done: dict[str, threading.Event] = {mine.message_id: threading.Event(), other.message_id: threading.Event()}

        def claim(mid: str) -> None:
            ledger.claim([mid], PORTAL, "w")
            done[mid].set()

        with engine.connect() as holder:  # another worker, in the middle of a decision about `code`
            holder.execute(
                text("SELECT pg_advisory_xact_lock(:ns, hashtext(:key))"),
                {"ns": LOCK_NAMESPACE, "key": f"{PORTAL}:{code}"},
            )
            threads = [threading.Thread(target=claim, args=(mid,)) for mid in done]
            for t in threads:
                t.start()
            assert done[other.message_id].wait(5), "another dossier must not wait"
            assert not done[mine.message_id].wait(0.5), "the same dossier must wait for the lock"
            holder.commit()  # the other worker's transaction ends: its lock goes
        assert done[mine.message_id].wait(5)
        for t in threads:
            t.join()
        assert state(engine, mine.message_id) == state(engine, other.message_id) == "delivering"
    finally:
        ledger.close()
        engine.dispose()
