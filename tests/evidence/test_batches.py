"""Facts recorded together are batch records: an accepted batch and a worker's outcomes are one record per
chain (not one per message), on SQLite and PostgreSQL (where the accept and ``lgsp_record`` statements
group them). Each message's facts are still there, with their digests and in order; only the facts the
ledger applied pass their gate; and a batch record is hashed, chained and sealed like any other, so an
edit, a removal or a reordering of a fact inside it, in the database or in an archive, is caught."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, select

from hub.db.schema import evidence, evidence_staged
from hub.evidence import facts
from hub.evidence.archive import archive
from hub.evidence.chainer import Chainer
from hub.evidence.export import export
from hub.evidence.keyring import Keyring
from hub.evidence.model import BATCH, Fact, canonical, chain_of, facts_of, text
from hub.evidence.signing import Signer
from hub.evidence.store import batched
from hub.ledger import Ledger, make_ledger
from hub.ports import DeliveryPolicy, Outcome, OutcomeKind
from tests.conftest import Clock
from tests.factories import model, new_message

from .conftest import check, tamper

POLICY = DeliveryPolicy(max_attempts=3, backoff_base=10, backoff_max=100)
PORTAL = "national_portal"
RING = Keyring({"1": SecretStr("k" * 32)})
CHAINS = 4


@pytest.fixture
def ledger(engine: Engine, clock: Clock) -> Iterator[Ledger]:
    facts.attach(engine, facts.EvidenceLog(RING, chains=CHAINS))
    ledger = make_ledger(engine, lease_seconds=60, clock=clock)
    yield ledger
    ledger.close()


def staged(engine: Engine) -> list[Any]:
    t = evidence_staged
    with engine.connect() as c:
        return list(c.execute(select(t).order_by(t.c.id)))


def staged_facts(engine: Engine) -> list[Fact]:
    return [f for r in staged(engine) for f in facts_of(r.kind, r.actor, r.subject, r.digests, r.details)]


def accept_many(ledger: Ledger, n: int) -> list[str]:
    accepted, _ = ledger.accept("ONEGATE", [new_message(model()) for _ in range(n)])
    return [a.message_id for a in accepted]


def test_an_accepted_batch_is_one_record_per_chain_holding_every_message(ledger: Ledger, engine: Engine) -> None:
    items = [new_message(model()) for _ in range(12)]
    accepted, _ = ledger.accept("ONEGATE", [*items, items[0]])  # the same change twice in one batch
    ids = [a.message_id for a in accepted[:12]]
    rows = staged(engine)
    chains = {chain_of(f"message:{mid}", CHAINS) for mid in ids}
    assert len(rows) == len(chains) < 12  # one record per chain, not one per message
    for r in rows:
        assert r.actor == "client:ONEGATE"
        if r.kind == BATCH:
            assert r.subject == BATCH and r.digests == {} and len(r.details["facts"]) >= 2
        inside = facts_of(r.kind, r.actor, r.subject, r.digests, r.details)
        assert {chain_of(f.subject, CHAINS) for f in inside} == {r.chain}  # a message's facts stay in its chain
    got = {f.subject: f for f in staged_facts(engine)}
    assert sorted(got) == sorted(f"message:{mid}" for mid in ids)  # each new message once, the repeat not
    for mid, item in zip(ids, items, strict=True):
        fact = got[f"message:{mid}"]
        assert fact.kind == "message.accepted" and fact.digests == {"payload": RING.json(item.payload)}
        assert fact.details["type"] == "dossier.status.changed"
    accept_many(ledger, 0)
    ledger.accept("ONEGATE", items[:5])  # all accepted before: nothing new, nothing recorded
    assert len(staged(engine)) == len(rows)


def test_a_workers_outcomes_are_batched_and_only_what_the_ledger_applied_ends_a_message(
    ledger: Ledger, engine: Engine, clock: Clock
) -> None:
    ids = accept_many(ledger, 8)
    before = len(staged(engine))
    first, _ = ledger.claim(ids[:2], PORTAL, "w1")
    clock.advance(63)  # w1's leases ended: w2 takes those two over with the rest
    second, _ = ledger.claim(ids, PORTAL, "w2")
    ledger.record(first, [Outcome(OutcomeKind.DEAD, "refused", in_doubt=False)] * 2, POLICY, PORTAL)
    order = [ids.index(cl.item.message_id) for cl in second]  # the claims' order, not necessarily ids'
    outcomes = [
        Outcome(OutcomeKind.DELIVERED, "ok", f"R{i}", request={"n": i}, answer=b"ok")
        if i % 2
        else Outcome(OutcomeKind.RETRY, "busy", request={"n": i})
        for i in order
    ]
    ledger.record(second, outcomes, POLICY, PORTAL)
    rows = staged(engine)[before:]
    assert len(rows) < 10 and any(r.kind == BATCH for r in rows)
    got = [f for r in rows for f in facts_of(r.kind, r.actor, r.subject, r.digests, r.details)]
    of_w1 = [f for f in got if f.actor == "worker:w1"]
    assert sorted(f.subject for f in of_w1) == sorted(f"message:{mid}" for mid in ids[:2] for _ in "ab")
    assert {f.kind for f in of_w1} == {"delivery.attempt"}  # abandoned at the takeover, then superseded
    assert sorted(f.details["outcome"] for f in of_w1) == ["abandoned", "abandoned", "dead", "dead"]
    by_subject = {f.subject: f for f in got if f.actor == "worker:w2"}
    assert len(by_subject) == 8
    for i, mid in enumerate(ids):
        fact = by_subject[f"message:{mid}"]
        assert fact.kind == ("message.delivered" if i % 2 else "delivery.attempt")
        assert fact.digests["request"] == RING.json({"n": i}) and fact.details["outcome"] in ("delivered", "retry")
        if i % 2:
            assert fact.digests["answer"] == RING.bytes(b"ok") and "partner_ref" in fact.digests


def test_facts_of_one_chain_actor_and_time_share_a_record_and_a_lone_fact_stays_plain() -> None:
    at = datetime(2026, 12, 1, tzinfo=UTC)
    same = [Fact("delivery.attempt", "message:A", "worker:w1", {}, {"attempt": i}, at=at) for i in range(3)]
    other_actor = Fact("delivery.attempt", "message:A", "worker:w2", {}, {}, at=at)
    other_time = Fact("delivery.attempt", "message:A", "worker:w1", {}, {}, at=at + timedelta(seconds=1))
    rows = batched([same[0], other_actor, same[1], other_time, same[2]], chains=1)
    assert [(r["kind"], r["actor"]) for r in rows] == [
        (BATCH, "worker:w1"),
        ("delivery.attempt", "worker:w2"),
        ("delivery.attempt", "worker:w1"),
    ]
    assert [e["details"]["attempt"] for e in rows[0]["details"]["facts"]] == [0, 1, 2]  # in the order given


# ---------------------------------------------------------------- tampering inside a batch


@pytest.fixture
def batches(engine: Engine, signer: Signer) -> Engine:
    """Three chained batch records on one chain, 5 facts each, sealed."""
    at = datetime.now(tz=UTC) - timedelta(days=30)
    log = facts.EvidenceLog(RING, chains=1)
    for b in range(3):
        with engine.begin() as c:
            log.stage(
                c,
                [
                    Fact(
                        "message.accepted",
                        f"message:M{b}{i}",
                        "client:ONEGATE",
                        {"payload": RING.json({"b": b, "i": i})},
                        {"type": "dossier.status.changed", "key": f"K{i}"},
                        at=at + timedelta(minutes=b),
                    )
                    for i in range(5)
                ],
            )
    Chainer(engine, signer, chains=1).drain(seal=True)
    return engine


def batch_record(engine: Engine, seq: int) -> Any:
    with engine.connect() as c:
        return c.execute(select(evidence).where(evidence.c.chain == 0, evidence.c.seq == seq)).one()


def rewrite(engine: Engine, seq: int, entries: list[dict[str, Any]]) -> None:
    tamper(
        engine,
        (
            "UPDATE evidence SET details = :d WHERE chain = 0 AND seq = :s",
            {"d": json.dumps({"facts": entries}), "s": seq},
        ),
    )


def test_untouched_batch_records_verify_and_hold_their_facts(batches: Engine, signer: Signer) -> None:
    report = check(batches, signer)
    assert report.ok, report
    assert [c.records for c in report.chains] == [3]
    r = batch_record(batches, 2)
    assert r.kind == BATCH and [f.subject for f in facts_of(r.kind, r.actor, r.subject, r.digests, r.details)] == [
        f"message:M1{i}" for i in range(5)
    ]


@pytest.mark.parametrize("how", ["edit", "remove", "insert", "reorder"])
def test_tampering_with_a_fact_inside_a_batch_record_is_caught(batches: Engine, signer: Signer, how: str) -> None:
    entries = list(batch_record(batches, 2).details["facts"])
    if how == "edit":  # someone makes one message's payload digest say something else
        entries[3] = {**entries[3], "digests": {"payload": RING.json({"forged": True})}}
    elif how == "remove":
        del entries[1]
    elif how == "insert":
        entries.insert(2, {**entries[2], "subject": "message:INSERTED"})
    else:
        entries[0], entries[4] = entries[4], entries[0]
    rewrite(batches, 2, entries)
    report = check(batches, signer)
    [bad] = [c for c in report.chains if c.problem is not None]
    assert bad.problem is not None and bad.problem[:4] == (0, 2, "edited", "database")


def test_tampering_with_a_fact_inside_an_archived_batch_record_is_caught(
    batches: Engine, signer: Signer, tmp_path: Path
) -> None:
    archive(batches, signer, tmp_path, before=datetime.now(tz=UTC), prune=True)
    assert check(batches, signer, tmp_path).ok
    [segment] = sorted(tmp_path.glob("evidence-c000-*.jsonl"))
    lines = segment.read_bytes().splitlines(keepends=True)
    assert b'"kind":"batch"' in lines[1]
    lines[1] = lines[1].replace(b'"key":"K2"', b'"key":"K9"', 1)  # one fact's detail inside the second batch
    segment.write_bytes(b"".join(lines))
    report = check(batches, signer, tmp_path)
    [bad] = [c for c in report.chains if c.problem is not None]
    assert bad.problem is not None and bad.problem[:3] == (0, 2, "edited")


def test_the_export_gives_the_security_operations_centre_one_line_per_fact_if_asked(batches: Engine) -> None:
    since = datetime.now(tz=UTC) - timedelta(days=31)
    records, each = io.StringIO(), io.StringIO()
    assert export(batches, records, since, seals=False) == 3  # as archived: one line per record, re-checkable
    assert export(batches, each, since, seals=False, facts=True) == 15
    lines = [json.loads(x) for x in each.getvalue().splitlines()]
    assert [x["subject"] for x in lines] == [f"message:M{b}{i}" for b in range(3) for i in range(5)]
    assert {x["kind"] for x in lines} == {"message.accepted"} and lines[6]["fact"] == 2
    assert lines[6]["seq"] == 2 and lines[6]["digests"] == {"payload": RING.json({"b": 1, "i": 1})}
    assert lines[6]["hash"] == batch_record(batches, 2).hash and lines[6]["actor"] == "client:ONEGATE"


@pytest.mark.parametrize(
    "value",
    [
        {"b": 1, "a": [1, -2, {"z": None, "y": True, "x": False}], "c": 'Đã xử lý "xong"\n\t\\ \u2028 \x01'},
        {"nested": {"k" * 50: ["", [], {}], "0": 2**70}},
        "chuỗi",
        [],
        12,
    ],
)
def test_the_canonical_encoder_gives_the_documented_bytes(value: Any) -> None:
    """model.canonical (the standard library's C encoder, built once) is json.dumps as documented."""
    documented = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    assert canonical(value) == documented and text(value).encode("utf-8") == documented


def test_the_canonical_encoder_refuses_what_json_cannot_encode() -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        canonical({"a": {1, 2}})
