"""verify finds every kind of tampering in the database: an edit, a deletion, an insertion, a swap, a rewrite of
the tail (rehashed), a forged seal, a seal over a truncated chain, and a key it does not trust."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import Engine, Row, select, text
from typer.testing import CliRunner

from hub.cli import app as lgsp
from hub.db.schema import evidence, evidence_seals
from hub.evidence.chainer import Chainer
from hub.evidence.model import record_bytes, record_hash, record_object, timestamp
from hub.evidence.signing import Signer, load_private, public_pem
from hub.evidence.signing import generate as generate_key
from hub.evidence.verify import Problem

from .conftest import check, facts, stage, tamper


def first_problem(engine: Engine, signer: Signer, chain: int = 0) -> Problem:
    report = check(engine, signer)
    assert not report.ok
    [bad] = [c for c in report.chains if c.problem is not None]
    assert bad.chain == chain and bad.problem is not None
    return bad.problem


def rows(engine: Engine, chain: int = 0) -> Sequence[Row[Any]]:
    with engine.connect() as c:
        return c.execute(select(evidence).where(evidence.c.chain == chain).order_by(evidence.c.seq)).all()


def test_an_untouched_chain_verifies(chained: Engine, signer: Signer) -> None:
    report = check(chained, signer)
    assert report.ok, report
    assert sum(c.records for c in report.chains) == 40 and len(report.chains) == 2
    assert all(c.seals >= 2 and c.unsealed == 0 for c in report.chains)
    r = rows(chained)[0]
    assert r.seq == 1 and r.prev_hash == "0" * 64  # the first record of a chain links to the genesis


def test_the_stored_bytes_follow_the_documented_encoding(chained: Engine) -> None:
    """An auditor's re-implementation (model.py's definition: JCS of the record object) finds the same hashes."""
    for r in rows(chained):
        obj = record_object(
            r.chain, r.seq, timestamp(r.at), r.kind, r.actor, r.subject, r.digests, r.details, r.prev_hash, r.v
        )
        assert record_hash(obj) == r.hash
        body = (
            b"lgsp-evidence/1\n"
            + __import__("json").dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        )
        assert hashlib.sha256(body).hexdigest() == r.hash
    assert rows(chained)[1].details["note"] == "Đã xử lý xong"


def test_an_edited_record_is_caught(chained: Engine, signer: Signer) -> None:
    tamper(chained, ("UPDATE evidence SET actor = 'operator:mallory' WHERE chain = 0 AND seq = 3", {}))
    p = first_problem(chained, signer)
    assert (p.seq, p.kind, p.where) == (3, "edited", "database")


def test_an_edit_of_the_json_details_is_caught(chained: Engine, signer: Signer) -> None:
    tamper(chained, ("UPDATE evidence SET details = :d WHERE chain = 0 AND seq = 5", {"d": '{"attempt":2}'}))
    assert first_problem(chained, signer)[:3] == (0, 5, "edited")


def test_a_reformatted_but_equal_json_text_is_not_an_edit(chained: Engine, signer: Signer) -> None:
    """The hash is over the values (canonical JSON), not over how the database prints them."""
    r = rows(chained)[4]
    spaced = __import__("json").dumps(r.details, ensure_ascii=True, indent=2)
    tamper(chained, ("UPDATE evidence SET details = :d WHERE chain = 0 AND seq = 5", {"d": spaced}))
    assert check(chained, signer).ok


def test_a_removed_record_is_caught(chained: Engine, signer: Signer) -> None:
    tamper(chained, ("DELETE FROM evidence WHERE chain = 0 AND seq = 4", {}))
    p = first_problem(chained, signer)
    assert (p.seq, p.kind) == (4, "missing")


def test_a_removed_record_with_the_rest_renumbered_is_caught(chained: Engine, signer: Signer) -> None:
    tamper(
        chained,
        ("DELETE FROM evidence WHERE chain = 0 AND seq = 4", {}),
        ("UPDATE evidence SET seq = seq + 100000 WHERE chain = 0 AND seq > 4", {}),
        ("UPDATE evidence SET seq = seq - 100001 WHERE chain = 0 AND seq > 100000", {}),
    )
    p = first_problem(chained, signer)
    assert (p.seq, p.kind) == (4, "unlinked")


def test_an_inserted_record_is_caught(chained: Engine, signer: Signer) -> None:
    """A record slipped in after record 2, correctly hashed and linked to it; the others moved up."""
    two = rows(chained)[1]
    fake = record_object(
        0, 3, timestamp(two.at), "operator.action", "operator:mallory", "message:X", {}, {"action": "replay"}, two.hash
    )
    tamper(
        chained,
        ("UPDATE evidence SET seq = seq + 100000 WHERE chain = 0 AND seq >= 3", {}),
        ("UPDATE evidence SET seq = seq - 99999 WHERE chain = 0 AND seq > 100000", {}),
        (
            "INSERT INTO evidence (chain, seq, v, at, kind, actor, subject, digests, details, prev_hash, hash) "
            "SELECT 0, 3, 1, at, 'operator.action', 'operator:mallory', 'message:X', :dg, :de, :p, :h "
            "FROM evidence WHERE chain = 0 AND seq = 2",
            {"dg": "{}", "de": '{"action":"replay"}', "p": two.hash, "h": record_hash(fake)},
        ),
    )
    p = first_problem(chained, signer)
    assert (p.seq, p.kind) == (4, "unlinked") and "follows record 2 directly" in p.message


def test_two_swapped_records_are_caught(chained: Engine, signer: Signer) -> None:
    tamper(
        chained,
        ("UPDATE evidence SET seq = -1 WHERE chain = 0 AND seq = 6", {}),
        ("UPDATE evidence SET seq = 6 WHERE chain = 0 AND seq = 7", {}),
        ("UPDATE evidence SET seq = 7 WHERE chain = 0 AND seq = -1", {}),
    )
    p = first_problem(chained, signer)
    assert (p.seq, p.kind) == (6, "unlinked")


def test_a_rewritten_and_rehashed_tail_is_caught_by_its_seal(chained: Engine, signer: Signer) -> None:
    """Whoever can write the database can recompute plain hashes: the seal (a signature) is what holds."""
    rs = rows(chained)
    prev, statements = rs[1].hash, []
    for r in rs[2:]:
        actor = "operator:mallory" if r.seq == 3 else r.actor
        digests, details = __import__("json").dumps(r.digests, sort_keys=True, separators=(",", ":")), r.details
        det = __import__("json").dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        h = hashlib.sha256(
            record_bytes(0, r.seq, timestamp(r.at), r.kind, actor, r.subject, digests, det, prev)
        ).hexdigest()
        statements.append(
            (
                "UPDATE evidence SET actor = :a, prev_hash = :p, hash = :h WHERE chain = 0 AND seq = :s",
                {"a": actor, "p": prev, "h": h, "s": r.seq},
            )
        )
        prev = h
    tamper(chained, *statements)
    with chained.connect() as c:
        first_seal = c.execute(
            select(evidence_seals.c.seq).where(evidence_seals.c.chain == 0).order_by("seq")
        ).scalars()
        sealed = next(q for q in first_seal if q >= 3)
    p = first_problem(chained, signer)
    assert (p.seq, p.kind) == (sealed, "seal_mismatch")


def test_a_forged_seal_is_caught(chained: Engine, signer: Signer) -> None:
    mallory = Signer(load_private(generate_key()))
    with chained.connect() as c:
        seal = c.execute(select(evidence_seals).where(evidence_seals.c.chain == 0).order_by("seq")).first()
    assert seal is not None
    from hub.evidence.model import seal_bytes

    forged = mallory.sign(seal_bytes(0, seal.seq, seal.head_hash, timestamp(seal.sealed_at), seal.key_id))
    tamper(
        chained, ("UPDATE evidence_seals SET signature = :s WHERE chain = 0 AND seq = :q", {"s": forged, "q": seal.seq})
    )
    p = first_problem(chained, signer)
    assert (p.seq, p.kind) == (seal.seq, "seal_forged")


def test_a_seal_over_a_truncated_chain_is_caught(chained: Engine, signer: Signer) -> None:
    last = rows(chained)[-1].seq
    tamper(chained, ("DELETE FROM evidence WHERE chain = 0 AND seq > :n", {"n": last - 3}))
    p = first_problem(chained, signer)
    assert (p.seq, p.kind) == (last, "truncated")


def test_seals_by_an_untrusted_key_do_not_count(chained: Engine) -> None:
    stranger = Signer(load_private(generate_key()))
    report = check(chained, stranger)
    assert {c.problem.kind for c in report.chains if c.problem} == {"seal_unknown_key"}


def test_the_chain_goes_on_across_runs_and_chainers(engine: Engine, signer: Signer) -> None:
    one, two = Chainer(engine, signer, chains=2, batch=5), Chainer(engine, signer, chains=2, batch=3)
    stage(engine, facts(9))
    one.chain_once(seal=False)
    stage(engine, facts(9, start=9))
    two.drain()
    one.drain(seal=True)
    report = check(engine, signer)
    assert report.ok and sum(c.records for c in report.chains) == 18


def test_lgsp_evidence_verify_exit_codes(
    chained: Engine, signer: Signer, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    monkeypatch.setenv("HUB_DATABASE_URL", str(chained.url.render_as_string(hide_password=False)))
    key = tmp_path / "public.pem"
    key.write_text(public_pem(signer.public))
    runner = CliRunner()
    args = ["evidence", "verify", "--public-key", str(key), "--archive-dir", str(tmp_path / "none")]
    ok = runner.invoke(lgsp, args)
    assert ok.exit_code == 0, ok.output
    assert "chain 0: intact" in ok.output
    tamper(chained, ("UPDATE evidence SET kind = 'message.dead' WHERE chain = 1 AND seq = 2", {}))
    bad = runner.invoke(lgsp, args)
    assert bad.exit_code == 1 and "chain 1: BROKEN at record 2" in bad.output
    assert runner.invoke(lgsp, ["evidence", "verify", "--public-key", str(tmp_path / "missing.pem")]).exit_code == 2


def test_the_log_is_append_only(chained: Engine) -> None:
    from sqlalchemy.exc import DBAPIError

    stage(chained, facts(1))  # a staged row, for the row-level triggers of SQLite to see
    for sql in (
        "UPDATE evidence SET actor = 'x'",
        "DELETE FROM evidence",
        "UPDATE evidence_seals SET seq = 0",
        "DELETE FROM evidence_seals",
        "UPDATE evidence_staged SET kind = 'x'",
    ):
        with pytest.raises(DBAPIError, match="append-only"), chained.begin() as c:
            c.execute(text(sql))
    if chained.dialect.name == "postgresql":
        for sql in ("DELETE FROM evidence_staged", "TRUNCATE evidence", "TRUNCATE evidence_staged"):
            with pytest.raises(DBAPIError, match="append-only"), chained.begin() as c:
                c.execute(text(sql))
        with pytest.raises(DBAPIError, match="not archived"), chained.begin() as c:  # even in the prune job's session
            c.execute(text("SET LOCAL lgsp.evidence_maintenance = 'prune'"))
            c.execute(text("DELETE FROM evidence"))
    assert len(rows(chained)) == 20


def test_a_fact_is_checked_before_it_is_staged() -> None:
    from hub.evidence.model import Fact, FactError

    good = facts(1)[0]
    for bad, field in (
        (Fact("message.exploded", "message:X", "worker:w"), "kind"),
        (Fact("message.dead", "", "worker:w"), "subject"),
        (Fact("message.dead", "message:X", "worker:w", details={"ratio": 0.5}), "details"),
        (Fact("message.dead", "message:X", "worker:w", details={"ý": 1}), "details"),
        (Fact("message.dead", "message:X", "worker:w", details={"a": "x" * 5000}), "details"),
        (Fact("message.dead", "message:X", "worker:w", details={"a": ["x" * 300] * 20}), "details"),
        # a digest that is not text, on purpose
        (Fact("message.dead", "message:X", "worker:w", digests={"payload": 1}), "digests"),  # type: ignore[dict-item]
    ):
        with pytest.raises(FactError, match=f"^{field}:"):
            bad.check()
    good.check()
