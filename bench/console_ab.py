"""Two A/B comparisons in one seeded PostgreSQL database, each pair's runs interleaved so that a
loaded machine weighs on both alike:

* the console's failures queries with the failing index on the generated column ``error_head``
  (migration 0013) against the index on the expression ``substr(last_error, 1, 300)`` it replaced
  (p50 / p95 of each, and the plan's heap work under EXPLAIN (ANALYZE, BUFFERS));
* the Overview as it was before migration 0016 (``overview_before``: one query per series, per
  connector for the last success and the p95, the accepted series from the heap over 24 hours)
  against ``queries.overview`` (finished hours from ``console_hourly``, one grouped failures
  scan, one grouped p95); the first call after the rollup is emptied is printed too.

    python -m bench.console_ab [--total 1000000] [--dead 20000] [--repeat 20]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, func, literal_column, select, text

from bench.console_seed import CONNECTORS, captured, explain, seed
from hub.bootstrap import open_database
from hub.console import bulk, queries
from hub.console.queries import BACKLOG, DELIVERED, FAILING, SERIES, ConnectorHealth, Overview, hour_of, id_floor, m
from hub.envelope import utcnow
from hub.settings import Settings
from tests.support.db import temporary_pg_database

NEW = queries.ERROR
OLD: ColumnElement[str | None] = literal_column("substr(messages.last_error, 1, 300)")
GUARD = "state IN ('dead', 'retrying') AND accepted_at > '2000-01-01'"


def use(engine: Engine, variant: str) -> None:
    """Switch the failing index (and the queries' error expression) to one variant."""
    with engine.begin() as c:
        c.execute(text("DROP INDEX IF EXISTS ix_messages_console_failing"))
        column = "error_head" if variant == "column" else "(substr(last_error, 1, 300))"
        c.execute(
            text(
                f"CREATE INDEX ix_messages_console_failing ON messages (connector, state, {column}, updated_at, id) "
                f"WHERE {GUARD}"
            )
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("VACUUM ANALYZE messages"))
    queries.ERROR = NEW if variant == "column" else OLD


def timed(run: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    run()
    return 1000 * (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--total", type=int, default=1_000_000)
    ap.add_argument("--dead", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    with temporary_pg_database() as url:
        hub = open_database(Settings(database_url=url))
        engine = hub.engine
        t0 = time.perf_counter()
        seed(engine, args.total, args.dead)
        print(f"seeded {args.total} messages ({args.dead} dead) in {time.perf_counter() - t0:.0f} s")
        f = queries.FailureFilters()
        work: dict[str, Callable[[], Any]] = {
            "failures grouped (all)": lambda: queries.failure_groups(engine, f),
            "failures grouped (one connector)": lambda: queries.failure_groups(
                engine, queries.FailureFilters(connector="national_portal")
            ),
            "overview": lambda: queries.overview(engine, CONNECTORS, utcnow()),
            "bulk dry run (one connector's dead)": lambda: bulk.dry_run(engine, bulk.Selection(connector="webhooks")),
        }
        took: dict[tuple[str, str], list[float]] = {}
        for variant in ("expression", "column"):
            use(engine, variant)
            for name, run in work.items():
                run()  # warm
                with captured(engine) as seen:
                    run()
                lines = []
                for statement, params in seen:
                    plan = explain(engine, statement, params, analyze=True)
                    lines += [x.strip() for x in plan.splitlines() if "console_failing" in x or "Heap" in x]
                print(f"\n[{variant}] {name}:\n  " + "\n  ".join(lines[:8]))
        with engine.begin() as c:  # both indexes from here on: each query's expression picks its own
            c.execute(
                text(
                    "CREATE INDEX ix_ab_expression ON messages "
                    f"(connector, state, (substr(last_error, 1, 300)), updated_at, id) WHERE {GUARD}"
                )
            )
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text("VACUUM ANALYZE messages"))
        for _ in range(args.repeat):
            for variant in ("expression", "column"):
                use_quick(variant)
                for name, run in work.items():
                    if name.startswith("bulk") and _ % 4:
                        continue  # a few runs are enough for the slowest
                    took.setdefault((name, variant), []).append(timed(run))
        print(f"\n{'what':<40} {'variant':<11} {'p50 ms':>8} {'p95 ms':>8}  runs")
        for (name, variant), xs in sorted(took.items()):
            xs.sort()
            p95 = xs[min(len(xs) - 1, round(0.95 * len(xs)) - 1)]
            print(f"{name:<40} {variant:<11} {statistics.median(xs):8.1f} {p95:8.1f}  {len(xs)}")
        compare_overviews(engine, max(args.repeat, 20))
        hub.close()


def overview_before(engine: Engine, connectors: Sequence[str], now: datetime) -> Overview:
    """``queries.overview`` as it was before migration 0016 (PostgreSQL), for the comparison."""
    start = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=23)
    hours = [start + timedelta(hours=i) for i in range(24)]
    index = {h: i for i, h in enumerate(hours)}
    health = {n: ConnectorHealth(n, {s: [0] * 24 for s in SERIES}, {}) for n in connectors}
    with engine.connect() as c:

        def per_hour(series: str, col: Any, *where: Any, state: str | None = None) -> None:
            hour = hour_of(col, "postgresql").label("hour")
            q = select(m.connector, hour, func.count().label("n")).where(*where, col >= start)
            if state:
                q = q.where(m.state == state)
            for r in c.execute(q.where(m.connector.in_(list(connectors))).group_by(m.connector, hour)):
                if (i := index.get(r.hour.replace(tzinfo=UTC))) is not None:
                    health[r.connector].hourly[series][i] += r.n

        per_hour("accepted", m.accepted_at, m.id >= id_floor(start - timedelta(minutes=5)))
        per_hour("delivered", m.delivered_at, DELIVERED)
        per_hour("retrying", m.updated_at, FAILING, state="retrying")
        per_hour("dead", m.updated_at, FAILING, state="dead")
        for r in c.execute(
            select(m.connector, m.state, func.count().label("n")).where(FAILING).group_by(m.connector, m.state)
        ):
            if r.connector in health:
                setattr(health[r.connector], r.state, r.n)
        for r in c.execute(
            select(m.connector, m.state, func.count().label("n")).where(BACKLOG).group_by(m.connector, m.state)
        ):
            if r.connector in health:
                health[r.connector].backlog[r.state] = r.n
        for name, h in health.items():
            h.last_success = c.execute(select(func.max(m.delivered_at)).where(DELIVERED, m.connector == name)).scalar()
            h.delivered_24h = sum(h.hourly["delivered"])
            h.p95_seconds = _p95_before(c, name, start)
        sync = queries._sync_health(c, start)
    return Overview(now, hours, list(health.values()), sync)


def _p95_before(c: Connection, connector: str, since: datetime) -> float | None:
    took = func.extract("epoch", m.delivered_at - m.accepted_at)
    p95 = func.percentile_cont(0.95).within_group(took)
    value = c.execute(select(p95).where(DELIVERED, m.connector == connector, m.delivered_at >= since)).scalar()
    return float(value) if value is not None else None


def compare_overviews(engine: Engine, repeat: int) -> None:
    with engine.begin() as c:
        c.execute(text("DELETE FROM console_hourly"))
    first = timed(lambda: queries.overview(engine, CONNECTORS, utcnow()))
    print(f"\noverview after, first call (the 23 finished hours counted and kept): {first:.1f} ms")
    now = utcnow()
    a, b = overview_before(engine, CONNECTORS, now), queries.overview(engine, CONNECTORS, now)
    for x, y in zip(a.connectors, b.connectors, strict=True):  # the same figures
        assert x.hourly == y.hourly and (x.dead, x.retrying, x.backlog) == (y.dead, y.retrying, y.backlog), x.connector
        assert x.last_success == y.last_success and x.p95_seconds == y.p95_seconds, x.connector
    took: dict[str, list[float]] = {"before": [], "after": []}
    for _ in range(repeat):
        took["before"].append(timed(lambda: overview_before(engine, CONNECTORS, utcnow())))
        took["after"].append(timed(lambda: queries.overview(engine, CONNECTORS, utcnow())))
    print(f"{'overview (interleaved)':<40} {'variant':<11} {'p50 ms':>8} {'p95 ms':>8}  runs")
    for variant, xs in took.items():
        xs.sort()
        p95 = xs[min(len(xs) - 1, round(0.95 * len(xs)) - 1)]
        print(f"{'overview':<40} {variant:<11} {statistics.median(xs):8.1f} {p95:8.1f}  {len(xs)}")


def use_quick(variant: str) -> None:
    """Both indexes exist from here on: the variant is chosen by the query's expression alone."""
    queries.ERROR = NEW if variant == "column" else OLD


if __name__ == "__main__":
    main()
