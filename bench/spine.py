"""End-to-end benchmark of the spine, on RabbitMQ and PostgreSQL, in the production shape
(api, relay, workers and the mock portal as separate processes on this machine).

    python -m bench.spine [--n 6000] [--rate 200] [--latency-n 2000] [--workers 2] [--portal-latency-ms 200]
                          [--evidence both|on|off] [--pairs N]

Prints, from one run:
  (a) accepted/s through the real HTTP ingress (batches, several client threads);
  (b) delivered/s end to end, durable: accepted, outboxed, confirmed, delivered to the mock
      portal and recorded in the ledger = N / (first accept -> last delivery recorded);
  (b') the same with the mock portal answering every call ``--portal-latency-ms`` late (a remote
      partner), and the ratio of the two;
  (c) accept -> delivered latency p50/p99 (ledger: accepted_at -> delivered_at) at a fixed
      moderate rate of single-change requests;
  (d) with ``--evidence both`` (the default): (b) once more in a stack with the evidence log off
      (``HUB_EVIDENCE_ENABLED=false``), before the main run (evidence on), and the ratio on/off
      (target >= 0.9); ``--evidence on|off`` runs the main stack so and skips (d);
  (e) with ``--pairs N``: N more pairs of (d)'s phase off and on, in alternating order, each pair's ratio
      and their median (a shared machine's load drifts: one pair is one sample);
  and the raw ceiling of this machine: pika publish (windowed confirms) -> consume -> ack of
  the same message size, with the ratios. Checks zero lost and zero duplicated deliveries
  at the mock portal (by natural key). Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from bench import cpu, load, pika_ceiling
from hub.db.engine import make_engine
from hub.db.schema import attempts, messages
from hub.settings import Settings
from tests.factories import create_client, dossier_code, status_change
from tests.support.broker import random_prefix
from tests.support.db import temporary_pg_database
from tests.support.stack import Stack

URL = "/v1/dossiers/status-changes"
STATUSES = (2, 4, 9)


def workload(n: int) -> list[dict[str, Any]]:
    """n changes: dossiers with 3 changes each (2 received, 4 processing, 9 finished), each
    dossier's in order, dossiers interleaved round-robin."""
    dossiers = [dossier_code() for _ in range((n + len(STATUSES) - 1) // len(STATUSES))]
    out: list[dict[str, Any]] = []
    for i, status in enumerate(STATUSES):
        for code in dossiers:
            if len(out) < n:
                out.append(status_change(code=code, status=status, minutes_ago=600 - i))
    return out


def post_batches(api: str, key: str, bodies: list[dict[str, Any]], batch: int, threads: int) -> float:
    chunks = [json.dumps(bodies[i : i + batch]).encode() for i in range(0, len(bodies), batch)]
    sizes = [len(bodies[i : i + batch]) for i in range(0, len(bodies), batch)]
    run = load.drive(
        api,
        URL,
        chunks,
        threads,
        headers={"X-API-Key": key},
        ok=lambda status, answer, i: status == 202 and json.loads(answer)["accepted"] == sizes[i],
    )
    if run.failures:
        raise SystemExit(f"ingress refused some changes: {run.failures[:3]}")
    return run.seconds


def post_paced(api: str, key: str, bodies: list[dict[str, Any]], rate: float, threads: int = 8) -> float:
    """Offer one change per request at ``rate``/s on a fixed schedule (request i is due at
    i/rate), from several client threads, so a slow answer does not lower the offered rate.
    Returns the achieved rate."""
    encoded = [json.dumps(body).encode() for body in bodies]
    run = load.drive(api, URL, encoded, threads, headers={"X-API-Key": key}, rate=rate)
    if run.failures:
        raise SystemExit(f"ingress refused a change: {run.failures[:3]}")
    return run.rate


def wait_delivered(engine: Any, total: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with engine.connect() as c:
            done = c.execute(
                select(func.count()).select_from(messages).where(messages.c.state == "delivered")
            ).scalar_one()
        if done >= total:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"only {done}/{total} delivered after {timeout}s")
        time.sleep(0.2)


def delivered_per_s(
    stack: Stack, engine: Any, key: str, bodies: list[dict[str, Any]], args: Any, done_before: int
) -> tuple[int, int]:
    """Post ``bodies`` in batches; (accepted/s, delivered/s from first accept to last delivery)."""
    with engine.connect() as c:
        mark = c.execute(select(func.max(messages.c.id))).scalar_one() or ""
    seconds = post_batches(stack.api, key, bodies, args.batch, args.threads)
    wait_delivered(engine, done_before + len(bodies), timeout=600)
    times = ledger_times(engine, mark)
    first_accept = min(a for a, _ in times)
    last_delivered = max(d for _, d in times)
    return round(len(bodies) / seconds), round(len(bodies) / (last_delivered - first_accept))


def set_portal_latency(stack: Stack, ms: int) -> None:
    httpx.post(stack.portal + "/_mock/faults", json={"latency_ms": ms}, timeout=5).raise_for_status()


def ledger_times(engine: Any, since_id: str = "") -> list[tuple[float, float]]:
    with engine.connect() as c:
        rows = c.execute(select(messages.c.accepted_at, messages.c.delivered_at).where(messages.c.id > since_id)).all()
    return [(a.timestamp(), d.timestamp()) for a, d in rows]


def latency_split(engine: Any, since_id: str) -> dict[str, float]:
    """Where the latency goes, p50 and p99 in ms: accepted -> claimed by a worker (commit,
    publish, broker, consume) and claimed -> delivered (partner calls, recording), from each
    message's delivering attempt."""
    q = (
        select(messages.c.accepted_at, attempts.c.started_at, messages.c.delivered_at)
        .join(attempts, (attempts.c.message_id == messages.c.id) & (attempts.c.outcome == "delivered"))
        .where(messages.c.id > since_id)
    )
    with engine.connect() as c:
        rows = c.execute(q).all()
    to_claim = [(s - a).total_seconds() * 1000 for a, s, _ in rows]
    to_done = [(d - s).total_seconds() * 1000 for _, s, d in rows]
    return {
        "accepted_to_claimed_p50_ms": round(statistics.median(to_claim), 1),
        "accepted_to_claimed_p99_ms": round(load.percentile(to_claim, 99), 1),
        "claimed_to_delivered_p50_ms": round(statistics.median(to_done), 1),
        "claimed_to_delivered_p99_ms": round(load.percentile(to_done, 99), 1),
    }


def throughput_only(args: Any, evidence: bool = False) -> tuple[int, dict[str, float]]:
    """(d): delivered/s of phase (b) in a stack of its own (the evidence log off, unless ``evidence``),
    and its CPU per message."""
    with temporary_pg_database() as db_url, tempfile.TemporaryDirectory() as tmp:
        stack = Stack(Path(tmp), db_url, args.broker_url, random_prefix(), **_env(args, evidence))
        stack.start(workers=args.workers)
        engine = make_engine(db_url)
        try:
            per_process = int(stack.env.get("HUB_WORKER_CONCURRENCY") or Settings().worker_concurrency)
            stack.wait_ready(consumers=args.workers * per_process, timeout=120)
            key = create_client(engine, "BENCH", "benchmark", ["dossier.status.changed"])
            pids = {name: proc.pid for name, proc in stack.procs.items()}
            ours = cpu.pg_pids_of(engine)
            before = cpu.snapshot(pids, ours)
            rate = delivered_per_s(stack, engine, key, workload(args.n), args, 0)[1]
            return rate, cpu.per_message_ms(before, cpu.snapshot(pids, ours), args.n)
        finally:
            stack.stop()
            engine.dispose()


def pairs(args: Any) -> list[dict[str, Any]]:
    """(e) ``--pairs N``: N more pairs of phase (b), each in fresh stacks, evidence off then on, then on
    then off, alternately (so that the load of a shared machine drifting during the run favours neither)."""
    out = []
    for i in range(args.pairs):
        got: dict[bool, tuple[int, dict[str, float]]] = {}
        for evidence in (False, True) if i % 2 == 0 else (True, False):
            cpu.settle()
            got[evidence] = throughput_only(args, evidence)
        (off, cpu_off), (on, cpu_on) = got[False], got[True]
        out.append(
            {
                "order": "off,on" if i % 2 == 0 else "on,off",
                "delivered_per_s_off": off,
                "delivered_per_s_on": on,
                "on_to_off": round(on / off, 3),
                "cpu_total_ms_off_to_on": f"{cpu_off['total']} -> {cpu_on['total']}",
                "cpu_ms_off_to_on": {
                    role: f"{cpu_off.get(role, 0.0)} -> {ms}"
                    for role, ms in cpu_on.items()
                    if role not in ("total", "machine busy %", "phase seconds")
                },
                "load_average": round(os.getloadavg()[0], 1),
            }
        )
        print(f"pair {i + 1}: {out[-1]}", flush=True)
    return out


def _env(args: Any, evidence: bool) -> dict[str, str]:
    production = {"HUB_LEASE_SECONDS": "30", "HUB_LEASE_MARGIN": "2", "HUB_LEASE_GRACE": "2"}
    return {"HUB_PORTAL_MAX_ATTEMPTS": "100", "HUB_EVIDENCE_ENABLED": "true" if evidence else "false", **production}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=6000, help="changes in the throughput phase")
    ap.add_argument("--batch", type=int, default=100, help="changes per ingress request (throughput phase)")
    ap.add_argument("--threads", type=int, default=4, help="client threads posting (throughput phase)")
    ap.add_argument("--rate", type=float, default=200.0, help="changes/s in the latency phase")
    ap.add_argument("--latency-n", type=int, default=2000, help="changes in the latency phase")
    ap.add_argument("--workers", type=int, default=2, help="worker processes")
    ap.add_argument(
        "--portal-latency-ms", type=int, default=200, help="mock portal latency per call in the remote phase (0: skip)"
    )
    ap.add_argument(
        "--broker-url", default=os.environ.get("HUB_TEST_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
    )
    ap.add_argument(
        "--evidence",
        choices=("both", "on", "off"),
        default="both",
        help="evidence log in the main run; both: also phase (b) with it off, and the ratio",
    )
    ap.add_argument(
        "--pairs", type=int, default=0, help="with --evidence both: N more off/on pairs of phase (b), alternating order"
    )
    ap.add_argument("--json", type=Path, help="also write the figures to this file")
    args = ap.parse_args()

    figures: dict[str, Any] = {"n": args.n, "workers": args.workers, "batch": args.batch, "cpus": os.cpu_count()}
    figures["evidence"] = args.evidence
    if args.evidence == "both":
        if args.pairs:
            figures["pairs"] = pairs(args)
            ratios = sorted(p["on_to_off"] for p in figures["pairs"])
            figures["pairs_on_to_off_median"] = ratios[len(ratios) // 2]
        figures["delivered_per_s_evidence_off"], cpu_off = throughput_only(args)
        cpu.settle()
    with temporary_pg_database() as db_url, tempfile.TemporaryDirectory() as tmp:
        stack = Stack(Path(tmp), db_url, args.broker_url, random_prefix(), **_env(args, args.evidence != "off"))
        stack.start(workers=args.workers)  # stops what it started if it fails
        per_process = stack.env.get("HUB_WORKER_CONCURRENCY") or Settings().worker_concurrency
        consumers = args.workers * int(per_process)
        stack.wait_ready(consumers=consumers, timeout=120)  # no start-up in the figures
        engine = make_engine(db_url)
        try:
            key = create_client(engine, "BENCH", "benchmark", ["dossier.status.changed"])
            bodies = workload(args.n)
            sample = json.dumps(bodies[0]).encode()

            # (a) + (b): throughput
            pids = {name: proc.pid for name, proc in stack.procs.items()}
            ours = cpu.pg_pids_of(engine)  # PostgreSQL: this run's database only (the machine is shared)
            cpu_before = cpu.snapshot(pids, ours)
            figures["accepted_per_s"], figures["delivered_per_s"] = delivered_per_s(stack, engine, key, bodies, args, 0)
            cpu_ms = cpu.per_message_ms(cpu_before, cpu.snapshot(pids, ours), args.n)
            done = args.n
            if args.evidence == "both":
                figures["evidence_on_to_off"] = round(
                    figures["delivered_per_s"] / figures["delivered_per_s_evidence_off"], 3
                )
                for role in ("total", "relay", "postgres", "api", "machine busy %"):  # CPU ms per message
                    figures[f"cpu_{role}_evidence_off_to_on"] = f"{cpu_off.get(role, 0.0)} -> {cpu_ms.get(role, 0.0)}"

            # (b'): the same with a remote partner
            if args.portal_latency_ms:
                cpu.settle()
                set_portal_latency(stack, args.portal_latency_ms)
                _, remote = delivered_per_s(stack, engine, key, workload(args.n), args, done)
                set_portal_latency(stack, 0)
                done += args.n
                figures["portal_latency_ms"] = args.portal_latency_ms
                figures["delivered_per_s_with_latency"] = remote
                figures["with_latency_to_without"] = round(remote / figures["delivered_per_s"], 3)

            # (c): latency at a fixed moderate rate
            with engine.connect() as c:
                mark = c.execute(select(func.max(messages.c.id))).scalar_one()
            paced = workload(args.latency_n)
            cpu.settle()  # steady state: what the burst left behind (autovacuum...) is done
            cpu_before = cpu.snapshot(pids, ours)
            figures["latency_offered_rate_achieved_per_s"] = round(post_paced(stack.api, key, paced, args.rate))
            wait_delivered(engine, done + args.latency_n, timeout=300)
            cpu_ms_paced = cpu.per_message_ms(cpu_before, cpu.snapshot(pids, ours), args.latency_n)
            lat = [(d - a) * 1000 for a, d in ledger_times(engine, mark)]
            figures["latency_rate_per_s"] = args.rate
            figures["latency_p50_ms"] = round(statistics.median(lat), 1)
            figures["latency_p99_ms"] = round(load.percentile(lat, 99), 1)
            figures |= latency_split(engine, mark)

            # zero lost, zero duplicated, at the portal
            portal = stack.portal_state()
            figures["portal_progress_entries"] = portal["stats"]["progress_entries"]
            figures["portal_duplicates"] = portal["stats"]["duplicate_progress_entries"]
            figures["lost"] = done + args.latency_n - figures["portal_progress_entries"]
        finally:
            stack.stop()
            engine.dispose()

    ceiling = pika_ceiling.measure(args.broker_url, n=20000, size=len(sample) + 400, queue_type="quorum")
    figures["message_bytes"] = ceiling["size"]
    for name, key in (("sequential", "raw_end_to_end_msgs_per_s"), ("concurrent", "raw_concurrent_msgs_per_s")):
        figures[f"pika_ceiling_{name}_msgs_per_s"] = ceiling[key]
        figures[f"delivered_to_{name}_ceiling"] = round(figures["delivered_per_s"] / ceiling[key], 3)
        figures[f"accepted_to_{name}_ceiling"] = round(figures["accepted_per_s"] / ceiling[key], 3)

    width = max(len(k) for k in figures)
    for k, v in figures.items():
        print(f"{k:<{width}}  {v}")
    print("\nCPU per message, ms (all processes share this machine's cores):")
    print(f"  {'role':<14} {'throughput':>10} {'paced':>10}")
    for role, ms in cpu_ms.items():
        print(f"  {role:<14} {ms:10.3f} {cpu_ms_paced.get(role, 0.0):10.3f}")
    figures["cpu_ms_per_message"] = {"throughput": cpu_ms, "paced": cpu_ms_paced}
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
