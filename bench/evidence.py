"""Benchmark of the evidence log on PostgreSQL (a fresh temporary database on this machine).

    python -m bench.evidence [--n 1000000] [--chains 4] [--batch 10000] [--record-n 20000] [--per-record 1]

Prints, from one run:
  (a) the cost of recording a fact in the caller's transaction: ``record()`` one fact per call,
      ``record_many()`` and ``record_pg()`` (psycopg, one statement) per fact in batches of 100;
  (b) staging: N facts written through ``record_pg`` in batches (facts/s);
  (c) chainer throughput: the real ``Chainer`` links the N staged facts into the chains and seals
      them (facts chained/s), one chainer, then two chainers in parallel on a further N/5;
  (d) verify: ``lgsp evidence verify`` (the command, as a subprocess, start-up included) over the
      whole untouched chain, and the records walked per second.
With ``--per-record K`` the N facts are staged as the spine stages them, K to a batch record
(``hub/evidence/model.py``): N/K records, each holding K facts.
Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from hub.bootstrap import migrate
from hub.db.engine import make_engine
from hub.db.schema import evidence
from hub.evidence.chainer import Chainer
from hub.evidence.model import Fact
from hub.evidence.signing import Signer, load_private, public_pem
from hub.evidence.signing import generate as generate_key
from hub.evidence.store import record, record_batched, record_many, record_pg
from tests.support.db import temporary_pg_database

KINDS = ("message.accepted", "delivery.attempt", "message.delivered")


def facts(start: int, n: int) -> list[Fact]:
    at = datetime.now(tz=UTC) - timedelta(hours=1)
    digest = "hmac-sha256:1:" + "5f" * 32
    return [
        Fact(
            KINDS[i % 3],
            f"message:01KBENCH{i // 3:018d}",
            "worker:bench-w1" if i % 3 else "client:ONEGATE-H56",
            {"request": digest, "answer": digest} if i % 3 == 1 else {"payload": digest},
            {"attempt": 1, "outcome": "delivered", "connector": "national_portal", "type": "dossier.status.changed"},
            at=at + timedelta(microseconds=i),
        )
        for i in range(start, start + n)
    ]


def record_costs(url: str, n: int, chains: int) -> dict[str, float]:
    engine = make_engine(url)
    sample = facts(0, n)
    out = {}
    with engine.begin() as c:
        t = time.perf_counter()
        for f in sample:
            record(c, f, chains=chains)
        out["record_us"] = (time.perf_counter() - t) / n * 1e6
        t = time.perf_counter()
        for i in range(0, n, 100):
            record_many(c, sample[i : i + 100], chains=chains)
        out["record_many_us"] = (time.perf_counter() - t) / n * 1e6
        raw = c.connection.dbapi_connection
        assert raw is not None  # a Connection in use always holds its DBAPI connection
        cur = raw.cursor()
        t = time.perf_counter()
        for i in range(0, n, 100):
            record_pg(cur, sample[i : i + 100], chains=chains)
        out["record_pg_us"] = (time.perf_counter() - t) / n * 1e6
        c.rollback()
    engine.dispose()
    return out


def batch_facts(start: int, n: int, per_record: int, chains: int) -> list[Fact]:
    """Facts as a worker's outcomes are: one actor and one time for each ``per_record * chains`` of them
    (so that ``store.batched`` makes records of about ``per_record`` facts)."""
    at = datetime.now(tz=UTC) - timedelta(hours=1)
    digest = "hmac-sha256:1:" + "5f" * 32
    return [
        Fact(
            "message.delivered",
            f"message:01KBENCH{i:018d}",
            "worker:bench-w1",
            {"request": digest, "answer": digest, "partner_ref": digest},
            {"attempt": 1, "outcome": "delivered", "in_doubt": False},
            at=at + timedelta(milliseconds=i // (per_record * chains)),
        )
        for i in range(start, start + n)
    ]


def stage(url: str, start: int, n: int, chains: int, per_record: int = 1) -> float:
    engine = make_engine(url)
    t = time.perf_counter()
    for i in range(start, start + n, 10_000):
        size = min(10_000, start + n - i)
        with engine.begin() as c:
            if per_record > 1:
                record_batched(c, batch_facts(i, size, per_record, chains), chains=chains)
                continue
            raw = c.connection.dbapi_connection
            assert raw is not None  # a Connection in use always holds its DBAPI connection
            record_pg(raw.cursor(), facts(i, size), chains=chains)
    engine.dispose()
    return n / (time.perf_counter() - t)


def chain(url: str, signer: Signer, chains: int, batch: int, parallel: int) -> tuple[int, float, float]:
    engines = [make_engine(url) for _ in range(parallel)]
    counts = [0] * parallel

    def run(k: int) -> None:
        counts[k] = Chainer(engines[k], signer, chains=chains, batch=batch).drain()

    t, cpu = time.perf_counter(), time.process_time()
    threads = [threading.Thread(target=run, args=(k,)) for k in range(parallel)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed, cpu = time.perf_counter() - t, time.process_time() - cpu
    for e in engines:
        e.dispose()
    return sum(counts), sum(counts) / elapsed, cpu / max(1, sum(counts)) * 1e6


def verify_cli(url: str, signer: Signer) -> tuple[float, str]:
    with tempfile.TemporaryDirectory() as tmp:
        key = Path(tmp) / "public.pem"
        key.write_text(public_pem(signer.public))
        env = os.environ | {"HUB_DATABASE_URL": url, "HUB_EVIDENCE_ARCHIVE_DIR": str(Path(tmp) / "archive")}
        t = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "hub.cli", "evidence", "verify", "--public-key", str(key), "--no-progress"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        elapsed = time.perf_counter() - t
    if done.returncode != 0:
        raise SystemExit(f"verify failed ({done.returncode}): {done.stdout}{done.stderr}")
    return elapsed, done.stdout.strip()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--chains", type=int, default=4)
    p.add_argument("--batch", type=int, default=10_000)
    p.add_argument("--record-n", type=int, default=20_000)
    p.add_argument("--per-record", type=int, default=1, help="facts per batch record (1: plain records)")
    p.add_argument("--json", type=Path)
    a = p.parse_args()
    signer = Signer(load_private(generate_key()))
    figures: dict[str, Any] = {"n": a.n, "chains": a.chains, "batch": a.batch, "per_record": a.per_record}
    print(f"machine load average at start: {os.getloadavg()[0]:.1f} (2 cores, shared)")
    with temporary_pg_database() as url:
        migrate(make_engine(url))
        figures |= record_costs(url, a.record_n, a.chains)
        print(
            f"record(): {figures['record_us']:.0f} us/fact; record_many (100): {figures['record_many_us']:.1f} "
            f"us/fact; record_pg (100): {figures['record_pg_us']:.1f} us/fact (in the caller's transaction)"
        )
        figures["staged_per_s"] = stage(url, 0, a.n, a.chains, a.per_record)
        print(f"staged {a.n:,} facts: {figures['staged_per_s']:,.0f} facts/s")
        n1, figures["chained_per_s"], figures["chainer_cpu_us"] = chain(url, signer, a.chains, a.batch, 1)
        unit = "records" if a.per_record > 1 else "facts"  # the chainer counts records (a batch record holds K)
        print(
            f"one chainer: {n1:,} {unit} chained and sealed, {figures['chained_per_s']:,.0f} {unit}/s, "
            f"{figures['chainer_cpu_us']:.0f} us of the chainer's CPU per {unit[:-1]} (PostgreSQL's not counted)"
        )
        extra = a.n // 5
        stage(url, a.n, extra, a.chains, a.per_record)
        n2, figures["chained_per_s_2"], _ = chain(url, signer, a.chains, a.batch, 2)
        print(f"two chainers in parallel: {n2:,} {unit}, {figures['chained_per_s_2']:,.0f} {unit}/s")
        seconds, out = verify_cli(url, signer)
        total = a.n + extra
        with make_engine(url).connect() as c:
            records = c.execute(select(func.count()).select_from(evidence)).scalar_one()
        figures |= {"verify_s": seconds, "verify_per_s": records / seconds, "records": records, "facts": total}
        print(
            f"lgsp evidence verify: {records:,} records ({total:,} facts) in {seconds:.1f} s "
            f"({records / seconds:,.0f} records/s, {total / seconds:,.0f} facts/s)"
        )
        print(out)
    if a.json:
        a.json.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
