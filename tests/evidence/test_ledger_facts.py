"""The ledger's evidence facts, on SQLite and PostgreSQL (where they ride in the accept and ``lgsp_record``
statements): one ``message.accepted`` per new message, never for a change accepted before; one fact per
finished attempt, ``message.delivered`` / ``message.dead`` for the one whose outcome the ledger applied
and ``delivery.attempt`` for the others (a superseded one, a retry); the replay with its actor; nothing
at all when the log is off."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, select

from hub.canonical import DossierStatusChange
from hub.db.schema import evidence_staged
from hub.evidence import facts
from hub.evidence.keyring import Keyring
from hub.ledger import Accepted, Ledger, make_ledger
from hub.ports import DeliveryPolicy, Outcome, OutcomeKind
from tests.conftest import Clock
from tests.factories import model, new_message

POLICY = DeliveryPolicy(max_attempts=3, backoff_base=10, backoff_max=100)
PORTAL = "national_portal"
RING = Keyring({"1": SecretStr("k" * 32)})


@pytest.fixture
def ledger(engine: Engine, clock: Clock) -> Iterator[Ledger]:
    facts.attach(engine, facts.EvidenceLog(RING, chains=4))
    ledger = make_ledger(engine, lease_seconds=60, clock=clock)
    yield ledger
    ledger.close()


def accept(ledger: Ledger, *items: DossierStatusChange) -> list[Accepted]:
    accepted, _ = ledger.accept("ONEGATE", [new_message(m) for m in items])
    return accepted


def staged(engine: Engine) -> list[tuple[str, str, str]]:
    t = evidence_staged
    with engine.connect() as c:
        return [(r.kind, r.subject, r.actor) for r in c.execute(select(t).order_by(t.c.id))]


def test_accepted_once_per_new_message_with_the_payload_digest(ledger: Ledger, engine: Engine) -> None:
    m = model()
    (a,) = accept(ledger, m)
    accept(ledger, m)  # the same change again: not a new message, not a new fact
    assert staged(engine) == [("message.accepted", f"message:{a.message_id}", "client:ONEGATE")]
    with engine.connect() as c:
        digests = c.execute(select(evidence_staged.c.digests)).scalar_one()
    assert digests == {"payload": RING.json(new_message(m).payload)}  # what retention's marker will hold


def test_a_superseded_outcome_is_an_attempt_but_not_the_end_of_the_message(
    ledger: Ledger, engine: Engine, clock: Clock
) -> None:
    (a,) = accept(ledger, model())
    mid = a.message_id
    first, _ = ledger.claim([mid], PORTAL, "w1")
    clock.advance(63)  # w1's lease ended: w2 takes the message over
    second, _ = ledger.claim([mid], PORTAL, "w2")
    ledger.record(first, [Outcome(OutcomeKind.DEAD, "refused", in_doubt=False)], POLICY, PORTAL)  # superseded
    ledger.record(second, [Outcome(OutcomeKind.DEAD, "refused", in_doubt=False)], POLICY, PORTAL)
    kinds = [(k, actor) for k, _, actor in staged(engine)]
    assert kinds == [
        ("message.accepted", "client:ONEGATE"),
        ("delivery.attempt", "worker:w1"),  # abandoned when w2 took the message over (its lease had ended)
        ("delivery.attempt", "worker:w1"),  # what w1 learned later: it happened; the ledger did not apply it
        ("message.dead", "worker:w2"),  # the attempt that counted: once
    ]
    t = evidence_staged
    with engine.connect() as c:
        abandoned = c.execute(select(t.c.digests, t.c.details).order_by(t.c.id).offset(1).limit(1)).one()
    assert abandoned.details == {"attempt": 1, "outcome": "abandoned", "in_doubt": True} and abandoned.digests == {}
    ledger.replay(mid, "operator:ana")
    assert staged(engine)[-1] == ("operator.action", f"message:{mid}", "operator:ana")


def test_nothing_is_staged_when_the_evidence_log_is_off(ledger: Ledger, engine: Engine) -> None:
    facts.attach(engine, facts.EvidenceLog(RING, enabled=False))
    (a,) = accept(ledger, model())
    claims, _ = ledger.claim([a.message_id], PORTAL, "w1")
    ledger.record(claims, [Outcome(OutcomeKind.DELIVERED, "ok", "REF")], POLICY, PORTAL)
    assert staged(engine) == []


def test_a_takeover_with_the_evidence_log_off_stages_nothing(ledger: Ledger, engine: Engine, clock: Clock) -> None:
    facts.attach(engine, facts.EvidenceLog(RING, enabled=False))
    (a,) = accept(ledger, model())
    ledger.claim([a.message_id], PORTAL, "w1")
    clock.advance(63)
    second, _ = ledger.claim([a.message_id], PORTAL, "w2")  # w1's attempt is abandoned: no fact
    assert [c.item.message_id for c in second] == [a.message_id]
    assert staged(engine) == []
