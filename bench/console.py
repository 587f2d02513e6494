"""Benchmark of the operator console on PostgreSQL: a ledger of 1,000,000 messages (20,000 dead
across 4 connectors and 30 error classes, some retrying, a backlog, an attempt row per attempt,
payments for some dossiers), seeded in SQL; then each page's query and each page over HTTP
(uvicorn on a loopback port, a logged-in operator), answered ``--repeat`` times: p50 / p95 / max.

    python -m bench.console [--total 1000000] [--dead 20000] [--repeat 40] [--plans] [--keep NAME] [--no-vacuum]

``--keep NAME`` seeds the database NAME (on the test PostgreSQL server) once and keeps it: a later
run with the same name reuses it as it is (the same figures on the same data; drop it when done).

Pages: the overview, failures grouped (no filter; one connector), a group's first page (the
largest group, and a group whose details name the dossier, so every message's text differs),
a dossier, a message; and a bulk replay's dry run of 10,000 dead messages. ``--plans`` prints
PostgreSQL's plan (EXPLAIN ANALYZE) of every query.
Not a test: it prints figures (docs/performance.md, "Operator console").
"""

from __future__ import annotations

import argparse
import http.client
import re
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlencode

import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import Engine, create_engine, text

from bench.console_seed import CONNECTORS, captured, explain, seed
from hub.bootstrap import open_database
from hub.console import bulk, queries
from hub.console.operators import OperatorError, Operators
from hub.console.settings import ConsoleSettings
from hub.console.web import create_console
from hub.envelope import utcnow
from hub.settings import Settings
from tests.support.db import PG_ADMIN_URL, temporary_pg_database
from tests.support.stack import free_port

PASSWORD = "bench console password"


def figures(name: str, run: Callable[[], Any], repeat: int) -> tuple[str, float, float, float]:
    run()  # warm: caches, prepared plans
    took = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        run()
        took.append(1000 * (time.perf_counter() - t0))
    took.sort()
    p95 = took[min(len(took) - 1, round(0.95 * len(took)) - 1)]
    return name, statistics.median(took), p95, took[-1]


def show(rows: list[tuple[str, float, float, float]], title: str) -> None:
    print(f"\n{title}\n{'':2}{'what':<46} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for name, p50, p95, top in rows:
        print(f"  {name:<46} {p50:8.1f} {p95:8.1f} {top:8.1f}")


class Browser:
    """One keep-alive HTTP/1.1 connection with the console's cookies."""

    def __init__(self, base: str) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=60)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: dict[str, str] | None = None) -> tuple[int, str]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        data = None
        if body is not None:
            data = urlencode(body)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body=data, headers=headers)
        r = self.conn.getresponse()
        for value in r.headers.get_all("set-cookie") or []:
            k, _, rest = value.partition("=")
            self.cookies[k] = rest.split(";", 1)[0]
        return r.status, r.read().decode()


def serve(engine_url: str) -> tuple[str, Any]:
    hub = open_database(Settings(database_url=engine_url), run_migrations=False)
    with suppress(OperatorError):  # a kept database (--keep): made by an earlier run, same password
        Operators(hub.engine).create("bench", "Bench", "operator", PASSWORD)
    app = FastAPI()
    settings = ConsoleSettings(secret_key=SecretStr("bench"))
    app.mount("/console", create_console(hub, CONNECTORS, settings))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server


@contextmanager
def kept_pg_database(name: str) -> Iterator[str]:
    """The database ``name`` on the test server, created if missing, never dropped."""
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,40}", name):
        raise SystemExit("--keep: lower-case letters, digits and '_'")
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        if not c.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first():
            c.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--total", type=int, default=1_000_000)
    ap.add_argument("--dead", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=40)
    ap.add_argument("--plans", action="store_true", help="print EXPLAIN ANALYZE of every query")
    ap.add_argument(
        "--vacuum",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="VACUUM ANALYZE after seeding, as autovacuum would (default); --no-vacuum measures the table as seeded",
    )
    ap.add_argument("--keep", metavar="NAME", help="seed database NAME once, keep it and reuse it in later runs")
    args = ap.parse_args()
    with kept_pg_database(args.keep) if args.keep else temporary_pg_database() as url:
        hub = open_database(Settings(database_url=url))
        engine: Engine = hub.engine
        t0 = time.perf_counter()
        with engine.connect() as c:
            seeded = c.execute(text("SELECT EXISTS (SELECT 1 FROM messages)")).scalar_one()
        if seeded:
            print("reusing the seeded database", args.keep)
        else:
            seed(engine, args.total, args.dead)
        if args.vacuum:  # the steady state autovacuum leaves: a visibility map, so index-only scans
            t_v = time.perf_counter()
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.execute(text("VACUUM ANALYZE messages"))
                c.execute(text("VACUUM ANALYZE attempts"))
            print(f"vacuumed in {time.perf_counter() - t_v:.0f} s (--no-vacuum: as seeded)")
        with engine.connect() as c:
            counts: dict[str, int] = dict(c.execute(text("SELECT state, count(*) FROM messages GROUP BY state")).all())
            n_attempts = c.execute(text("SELECT count(*) FROM attempts")).scalar_one()
            size = c.execute(text("SELECT pg_size_pretty(pg_total_relation_size('messages'))")).scalar_one()
        print(f"seeded in {time.perf_counter() - t0:.0f} s: messages {counts}, attempts {n_attempts}, messages {size}")
        f = queries.FailureFilters()
        groups = queries.failure_groups(engine, f)
        largest = groups[0]
        distinct = next(g for g in groups if "<dossier>" in g.error.message)
        with engine.connect() as c:
            code = c.execute(text("SELECT dossier_code FROM payments ORDER BY id LIMIT 1 OFFSET 1000")).scalar_one()
            dead_id = c.execute(text("SELECT id FROM messages WHERE state = 'dead' LIMIT 1")).scalar_one()
        print(
            f"{len(groups)} groups; largest {largest.count} ({largest.connector}: {largest.error.label}); "
            f"per-message texts: {distinct.count} ({distinct.error.label})"
        )
        page = queries.group_messages(engine, largest.connector, largest.error.id, f)
        with engine.begin() as c:  # the Overview's first call counts the finished hours and keeps them
            c.execute(text("DELETE FROM console_hourly"))
        t1 = time.perf_counter()
        queries.overview(engine, CONNECTORS, utcnow())
        print(f"overview, first call (23 finished hours counted, kept): {1000 * (time.perf_counter() - t1):.1f} ms")
        work: list[tuple[str, Callable[[], Any]]] = [
            ("overview", lambda: queries.overview(engine, CONNECTORS, utcnow())),
            ("failures grouped (all)", lambda: queries.failure_groups(engine, f)),
            (
                "failures grouped (one connector)",
                lambda: queries.failure_groups(engine, queries.FailureFilters(connector="national_portal")),
            ),
            (
                "group, first page (largest)",
                lambda: queries.group_messages(engine, largest.connector, largest.error.id, f),
            ),
            (
                "group, second page (largest)",
                lambda: queries.group_messages(engine, largest.connector, largest.error.id, f, page.next_cursor),
            ),
            (
                "group, first page (texts differ)",
                lambda: queries.group_messages(engine, distinct.connector, distinct.error.id, f),
            ),
            ("dossier", lambda: queries.dossier(engine, code)),
            ("message", lambda: queries.message(engine, dead_id)),
        ]
        show([figures(name, run, args.repeat) for name, run in work], f"queries ({args.repeat} runs each)")
        with engine.connect() as c:  # the 10,000 dead messages that failed first: a bulk replay's selection
            tenth = c.execute(
                text(
                    "SELECT updated_at FROM messages WHERE state = 'dead' AND accepted_at > '2000-01-01' "
                    "ORDER BY updated_at, id OFFSET 9999 LIMIT 1"
                )
            ).scalar()
        if tenth is not None:
            sel = bulk.Selection(until=tenth + timedelta(microseconds=1))
            dry = bulk.dry_run(engine, sel)
            print(
                f"\nbulk dry run: {dry.total} dead selected, {dry.replayable} replayable, {dry.invalid_count} invalid"
            )
            runs = max(3, args.repeat // 8)
            show([figures("bulk dry run (10,000 dead)", lambda: bulk.dry_run(engine, sel), runs)], f"({runs} runs)")
        if args.plans:
            for name, run in work:
                with captured(engine) as seen:
                    run()
                for statement, params in seen:
                    print(f"\n-- {name}\n{statement}\n{explain(engine, statement, params, analyze=True)}")
        base, server = serve(url)
        b = Browser(base)
        status, html = b.request("GET", "/console/login")
        form = re.search(r'name="csrf" value="([^"]+)"', html)
        assert form is not None, f"no csrf field on the login page (HTTP {status})"
        csrf = form.group(1)
        status, _ = b.request("POST", "/console/login", {"csrf": csrf, "username": "bench", "password": PASSWORD})
        assert status == 303, status
        pages = [
            ("GET /console/overview", "/console/overview"),
            ("GET /console/failures", "/console/failures"),
            ("GET /console/failures?connector=national_portal", "/console/failures?connector=national_portal"),
            ("GET group, first page (largest)", f"/console/failures/{largest.connector}/{largest.error.id}"),
            ("GET group, first page (texts differ)", f"/console/failures/{distinct.connector}/{distinct.error.id}"),
            ("GET /console/dossiers?code=...", "/console/dossiers?code=" + quote(code)),
            ("GET /console/messages/{id}", f"/console/messages/{dead_id}"),
        ]

        def getter(path: str) -> Callable[[], None]:
            def get() -> None:
                s, _ = b.request("GET", path)
                assert s == 200, (path, s)

            return get

        show([figures(name, getter(path), args.repeat) for name, path in pages], "pages over HTTP")
        server.should_exit = True
        hub.close()


if __name__ == "__main__":
    main()
