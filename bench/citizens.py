"""Benchmark of citizen verification through the hub (not a test: it prints figures).

    python -m bench.citizens [--n 4000] [--threads 8] [--rate 100] [--latency-n 2000]

Starts the mock population database and the api as separate processes (``lgsp mock population-db``,
``lgsp api``) on a fresh PostgreSQL database, then drives ``POST /v1/citizens/verify`` with the
standard library's keep-alive HTTP client:

  (a) verifications/s: N queries from several client threads, each sending as soon as it is answered;
  (b) latency p50/p99 as the caller sees it, at a fixed moderate rate (request i sent at i/rate,
      from several threads, so a slow answer does not lower the offered rate);
  (c) CPU per verification by process (api, mock, PostgreSQL, the benchmark client), both phases;
  (d) the connector's CPU per call to build and parse the SOAP messages (``bench.soap``).

Each query is audited (one committed row in ``citizen_queries``); the run checks every query got a 200
and an audit row. The queries mix matches, mismatches (a wrong birth date) and unknown citizens.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bench import cpu, load, soap
from bench.load import percentile
from connectors.population_db.synthetic import DEMO_CITIZENS, generated_citizens
from hub.clients import create_client
from hub.db.engine import make_engine
from hub.db.schema import citizen_queries
from tests.support.db import temporary_pg_database
from tests.support.stack import free_port, wait_http

URL = "/v1/citizens/verify"


def workload(n: int, seed: int = 7) -> list[bytes]:
    """n verify bodies over the mock's citizens (its default seed and population): about 80 % matches,
    10 % mismatches (birth date off by a day or a year), 10 % unknown ID numbers."""
    rng = random.Random(seed)
    people = [p for p in (*DEMO_CITIZENS, *generated_citizens(1, 200)) if p.id_number and p.full_name]
    bodies = []
    for i in range(n):
        p = rng.choice(people)
        born: Any = p.birth_date.isoformat() if p.birth_date else str(p.birth_year)
        id_number = p.id_number
        roll = rng.random()
        if roll < 0.1:
            born = str((p.birth_year or 1990) + 1)
        elif roll < 0.2:
            id_number = f"000999{i % 1000000:06d}"
        body = {
            "id_number": id_number,
            "full_name": p.full_name,
            "birth_date": born,
            "purpose": f"Hồ sơ 000.00.00.H56-251122-{i % 10000:04d}",
            "officer_code": f"CB.H56.{i % 50:04d}",
        }
        bodies.append(json.dumps(body).encode())
    return bodies


def drive(api: str, key: str, bodies: list[bytes], threads: int, rate: float | None) -> tuple[float, list[float]]:
    """Send every body; with ``rate``, request i is due at i/rate. Returns (seconds, latencies in ms)."""
    run = load.drive(api, URL, bodies, threads, headers={"X-API-Key": key}, rate=rate, ok=lambda s, _a, _i: s == 200)
    if run.failures:
        raise SystemExit(f"{len(run.failures)} verifications failed, e.g. {run.failures[:3]}")
    return run.seconds, run.latencies_ms


def spawn(workdir: Path, name: str, env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    log = (workdir / f"{name}.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "hub.cli", *args], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=workdir
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=4000, help="verifications in the throughput phase")
    ap.add_argument("--threads", type=int, default=8, help="client threads")
    ap.add_argument("--rate", type=float, default=100.0, help="verifications/s in the latency phase")
    ap.add_argument("--latency-n", type=int, default=2000, help="verifications in the latency phase")
    ap.add_argument("--soap-iterations", type=int, default=2000)
    ap.add_argument("--json", type=Path, help="also write the figures to this file")
    args = ap.parse_args()

    figures: dict[str, Any] = {"n": args.n, "threads": args.threads, "cpus": os.cpu_count()}
    with temporary_pg_database() as db_url, tempfile.TemporaryDirectory() as tmp:
        mock_port, api_port = free_port(), free_port()
        env = {
            **os.environ,
            "HUB_DATABASE_URL": db_url,
            "HUB_POPDB_BASE_URL": f"http://127.0.0.1:{mock_port}",
            "HUB_AUDIT_HASH_KEY": "bench-" + "k" * 40,
            "HUB_LOG_LEVEL": "WARNING",
            # the api in its production role: no relay or worker threads inside (they run only with the
            # embedded transport); it posts no dossier changes, so it never needs to reach the broker
            "HUB_BROKER_URL": os.environ.get("HUB_TEST_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/%2F"),
            "HUB_API_PUBLISHES": "false",
        }
        procs = {"mock": spawn(Path(tmp), "mock", env, "mock", "population-db", "--port", str(mock_port))}
        procs["api"] = spawn(Path(tmp), "api", env, "api", "--port", str(api_port))
        api = f"http://127.0.0.1:{api_port}"
        engine = make_engine(db_url)
        try:
            wait_http(api + "/readyz")
            wait_http(f"http://127.0.0.1:{mock_port}/_mock/stats")
            key = create_client(engine, "BENCH", "benchmark", ["citizen.verify"])
            drive(api, key, workload(200, seed=1), 4, None)  # warm-up: WSDL parsed, connections open
            pids = {name: p.pid for name, p in procs.items()}
            cpu.settle()

            before = cpu.snapshot(pids)
            seconds, lat = drive(api, key, workload(args.n, seed=2), args.threads, None)
            cpu_fast = cpu.per_message_ms(before, cpu.snapshot(pids), args.n)
            figures["verifications_per_s"] = round(args.n / seconds)
            figures["closed_loop_p50_ms"] = round(statistics.median(lat), 1)
            figures["closed_loop_p99_ms"] = round(percentile(lat, 99), 1)

            cpu.settle()
            before = cpu.snapshot(pids)
            seconds, lat = drive(api, key, workload(args.latency_n, seed=3), args.threads, args.rate)
            cpu_paced = cpu.per_message_ms(before, cpu.snapshot(pids), args.latency_n)
            figures["paced_rate_per_s"] = args.rate
            figures["paced_achieved_per_s"] = round(args.latency_n / seconds)
            figures["paced_p50_ms"] = round(statistics.median(lat), 1)
            figures["paced_p99_ms"] = round(percentile(lat, 99), 1)

            with engine.connect() as c:
                audited = c.execute(select(func.count()).select_from(citizen_queries)).scalar_one()
            figures["audit_rows"] = audited
            figures["audit_rows_missing"] = 200 + args.n + args.latency_n - audited
        finally:
            for p in procs.values():
                p.send_signal(signal.SIGTERM)
            for p in procs.values():
                p.wait(10)
            engine.dispose()

    width = max(len(k) for k in figures)
    for k, v in figures.items():
        print(f"{k:<{width}}  {v}")
    print("\nCPU per verification, ms (all processes share this machine's cores):")
    print(f"  {'role':<16} {'closed loop':>11} {'paced':>10}")
    for role, ms in cpu_fast.items():
        print(f"  {role:<16} {ms:11.3f} {cpu_paced.get(role, 0.0):10.3f}")
    soap_figures = soap.measure(args.soap_iterations)
    print(f"\nConnector CPU per call, building and parsing the SOAP messages ({args.soap_iterations} calls each):")
    for f in soap_figures:
        print(f"  {f.name:<13} {f.cpu_us:>8.1f} µs/call")
    figures["cpu_ms_per_verification"] = {"closed_loop": cpu_fast, "paced": cpu_paced}
    figures["soap_cpu_us_per_call"] = {f.name: round(f.cpu_us, 1) for f in soap_figures}
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
