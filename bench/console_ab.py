"""The console's failures queries with the failing index on the generated column ``error_head``
(migration 0013) against the index on the expression ``substr(last_error, 1, 300)`` it replaced,
in one seeded PostgreSQL database, the two runs interleaved so that a loaded machine weighs on both
alike. Prints p50 / p95 of each and the plan's heap work (EXPLAIN (ANALYZE, BUFFERS)).

    python -m bench.console_ab [--total 1000000] [--dead 20000] [--repeat 20]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import ColumnElement, Engine, literal_column, text

from bench.console_seed import CONNECTORS, captured, explain, seed
from hub.bootstrap import open_database
from hub.console import bulk, queries
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
        hub.close()


def use_quick(variant: str) -> None:
    """Both indexes exist from here on: the variant is chosen by the query's expression alone."""
    queries.ERROR = NEW if variant == "column" else OLD


if __name__ == "__main__":
    main()
