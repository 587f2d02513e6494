"""Archives: old records go to signed JSON lines segments and are pruned; verify walks across archives and
database; an edit, a deletion, an insertion or a swap of lines in an archive, a forged or altered manifest, and
a missing segment are each caught. Export for the security operations centre."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from hub.db.schema import evidence
from hub.evidence.archive import ArchiveError, archive
from hub.evidence.chainer import Chainer
from hub.evidence.export import export
from hub.evidence.signing import Signer, load_private
from hub.evidence.signing import generate as generate_key

from .conftest import check, facts, stage, tamper

OLD = datetime.now(tz=UTC) - timedelta(days=30)


@pytest.fixture
def archived(engine: Engine, chainer: Chainer, signer: Signer, tmp_path: Path) -> Path:
    """Chain 0 and 1: 20 old facts archived (segments of at most 6) and pruned, then 10 recent ones in the database."""
    stage(engine, facts(40, at=OLD))
    chainer.drain(seal=True)
    segments = archive(engine, signer, tmp_path, before=OLD + timedelta(hours=1), prune=True, max_records=6)
    assert len(segments) == 8 and {s.chain for s in segments} == {0, 1}
    stage(engine, facts(20, start=40))
    chainer.drain(seal=True)
    return tmp_path


def segment(directory: Path, n: int = 1) -> Path:
    return sorted(directory.glob("evidence-c000-*.jsonl"))[n]


def test_verify_walks_archives_then_the_database(engine: Engine, signer: Signer, archived: Path) -> None:
    with engine.connect() as c:
        assert c.execute(select(func.min(evidence.c.seq)).where(evidence.c.chain == 0)).scalar() == 21  # pruned
    report = check(engine, signer, archived)
    assert report.ok, report
    assert [c.records for c in report.chains] == [30, 30] and all(c.archives == 4 for c in report.chains)
    assert not check(engine, signer, None).ok  # without the archives, records 1..20 are missing


def test_archived_but_not_pruned_records_must_match_their_archive(
    engine: Engine, chainer: Chainer, signer: Signer, tmp_path: Path
) -> None:
    stage(engine, facts(20, at=OLD))
    chainer.drain(seal=True)
    archive(engine, signer, tmp_path, before=OLD + timedelta(hours=1), prune=False)
    report = check(engine, signer, tmp_path)
    assert report.ok and sum(c.records for c in report.chains) == 20  # each record counted once
    tamper(engine, ("UPDATE evidence SET subject = 'message:other' WHERE chain = 0 AND seq = 4", {}))
    [bad] = [c.problem for c in check(engine, signer, tmp_path).chains if c.problem]
    assert bad is not None and bad.seq == 4 and bad.kind == "edited"


@pytest.mark.parametrize(
    ("change", "kind", "seq"),
    [
        ("edit", "edited", 8),
        ("delete", "missing", 8),
        ("insert", "out_of_order", 7),
        ("swap", "missing", 8),
        ("truncate", "archive_truncated", 11),
    ],
)
def test_tampering_with_an_archive_is_caught(
    engine: Engine, signer: Signer, archived: Path, change: str, kind: str, seq: int
) -> None:
    path = segment(archived)  # records 7..12 of chain 0
    lines = path.read_bytes().splitlines(keepends=True)
    assert json.loads(lines[0])["seq"] == 7
    if change == "edit":
        lines[1] = lines[1].replace(b'"outcome":"delivered"', b'"outcome":"refused"')
    elif change == "delete":
        del lines[1]
    elif change == "insert":
        lines.insert(1, lines[0])
    elif change == "swap":
        lines[1], lines[2] = lines[2], lines[1]
    else:
        del lines[-1]
    path.write_bytes(b"".join(lines))
    [bad] = [c.problem for c in check(engine, signer, archived).chains if c.problem]
    assert bad is not None and (bad.kind, bad.seq) == (kind, seq) and path.name in bad.where


def test_a_forged_or_altered_manifest_is_caught(engine: Engine, signer: Signer, archived: Path) -> None:
    sig = segment(archived).with_suffix(".jsonl.sig")
    doc = json.loads(sig.read_text())
    doc["manifest"]["count"] = 5
    sig.write_text(json.dumps(doc))
    [bad] = [c.problem for c in check(engine, signer, archived).chains if c.problem]
    assert bad is not None and bad.kind == "archive_signature"
    mallory = Signer(load_private(generate_key()))
    from hub.evidence.model import manifest_bytes

    doc["manifest"]["key"] = signer.key_id
    doc["signature"] = mallory.sign(manifest_bytes(doc["manifest"]))
    sig.write_text(json.dumps(doc))
    assert [c.problem.kind for c in check(engine, signer, archived).chains if c.problem] == ["archive_signature"]


def test_a_missing_segment_is_caught(engine: Engine, signer: Signer, archived: Path) -> None:
    path = segment(archived, 2)
    path.unlink()
    path.with_suffix(".jsonl.sig").unlink()
    report = check(engine, signer, archived)
    assert {p.kind for p in report.problems} == {"archive_missing"}
    [bad] = [c.problem for c in report.chains if c.problem]
    assert bad is not None and (bad.kind, bad.seq) == ("missing", 13)


def test_a_broken_chain_is_not_archived(engine: Engine, chainer: Chainer, signer: Signer, tmp_path: Path) -> None:
    stage(engine, facts(10, at=OLD))
    chainer.drain(seal=True)
    tamper(engine, ("UPDATE evidence SET actor = 'operator:mallory' WHERE chain = 1 AND seq = 2", {}))
    count = select(func.count()).where(evidence.c.chain == 1)
    with engine.connect() as c:
        before = c.execute(count).scalar()
    with pytest.raises(ArchiveError, match="chain 1 is broken"):
        archive(engine, signer, tmp_path, before=OLD + timedelta(hours=1), prune=True)
    with engine.connect() as c:  # nothing of chain 1 pruned
        assert c.execute(count).scalar() == before
    assert not list(tmp_path.glob("evidence-c001-*"))


def test_the_chainer_goes_on_after_everything_was_pruned(
    engine: Engine, chainer: Chainer, signer: Signer, tmp_path: Path
) -> None:
    stage(engine, facts(10, at=OLD))
    chainer.drain(seal=True)
    archive(engine, signer, tmp_path, before=OLD + timedelta(hours=1), prune=True)
    stage(engine, facts(4, start=10))
    chainer.drain(seal=True)
    report = check(engine, signer, tmp_path)
    assert report.ok and sum(c.records for c in report.chains) == 14


def test_export_for_the_security_operations_centre(engine: Engine, chainer: Chainer, signer: Signer) -> None:
    stage(engine, facts(6, at=OLD) + facts(4, start=6))
    chainer.drain(seal=True)
    out = io.StringIO()
    n = export(engine, out, OLD + timedelta(days=1))
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    records = [x for x in lines if x["kind"] != "evidence.seal"]
    assert n == len(lines) and len(records) == 4  # the old ones are outside the window
    assert [r["at"] for r in records] == sorted(r["at"] for r in records)
    assert {"chain", "seq", "hash", "prev", "actor", "subject", "digests", "details"} <= set(records[0])
    assert any(x["kind"] == "evidence.seal" and x["signature"] for x in lines)
    everything = io.StringIO()
    export(engine, everything, OLD - timedelta(days=1), OLD + timedelta(days=1), seals=False)
    assert len(everything.getvalue().splitlines()) == 6
