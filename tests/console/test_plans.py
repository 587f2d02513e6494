"""The console's queries are served by indexes on PostgreSQL, and the console's indexes stay
out of the ledger's plans. Planner costs depend on table sizes, so each plan is taken with
sequential scans disabled: what is asserted is that the intended index *can* serve the query
(its predicate matches the query's text), the property a generic plan needs."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine.interfaces import DBAPIConnection
from ulid import ULID

from bench.console_seed import captured, explain, seed, ulid_prefix_sql
from hub.bootstrap import migrate
from hub.console import queries
from hub.db.engine import make_engine
from hub.envelope import utcnow

pytestmark = pytest.mark.postgres
CONNECTORS = ("national_portal", "webhooks", "postal_vnpost", "payment_paygov")


@pytest.fixture(scope="module")
def big(pg_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_url)
    migrate(engine)
    with engine.begin() as c:
        names = "messages, attempts, outbox, payment_events, payments, idempotency_keys, subscriptions, clients"
        c.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    seed(engine, total=20_000, dead=400, classes=30)
    yield engine
    engine.dispose()


def plans(engine: Engine, run: Callable[[], object]) -> list[str]:
    with captured(engine) as seen:
        run()
    out = []
    for statement, params in seen:
        if statement.lstrip().upper().startswith("SELECT"):
            out.append(explain(engine, statement, params))
    return out


@pytest.fixture
def no_seqscan(big: Engine) -> Iterator[Engine]:
    from sqlalchemy import event

    def off(dbapi_conn: DBAPIConnection, _record: object) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("SET enable_seqscan = off")
        cur.close()

    big.dispose()
    event.listen(big, "connect", off)
    yield big
    event.remove(big, "connect", off)
    big.dispose()


def test_sql_and_python_mint_the_same_ulid_prefix(big: Engine) -> None:
    at = utcnow()
    with big.connect() as c:
        prefix = c.execute(text(f"SELECT {ulid_prefix_sql(':at')}"), {"at": at}).scalar_one()
    assert prefix == str(ULID.from_datetime(at))[:10] == queries.id_floor(at)[:10]


def test_failures_and_groups_use_the_failing_index(no_seqscan: Engine) -> None:
    f = queries.FailureFilters()
    for plan in plans(no_seqscan, lambda: queries.failure_groups(no_seqscan, f)):
        assert "ix_messages_console_failing" in plan and "Seq Scan" not in plan, plan
    group = queries.failure_groups(no_seqscan, f)[0]
    got = plans(no_seqscan, lambda: queries.group_messages(no_seqscan, group.connector, group.error.id, f))
    assert got and all("ix_messages_console_failing" in p for p in got), got


def test_the_overview_uses_the_primary_key_and_the_console_indexes(no_seqscan: Engine) -> None:
    got = "\n".join(plans(no_seqscan, lambda: queries.overview(no_seqscan, CONNECTORS, utcnow())))
    for index in ("messages_pkey", "ix_messages_console_delivered", "ix_messages_console_failing"):
        assert index in got
    assert "ix_messages_console_backlog" in got
    assert "Seq Scan on messages" not in got, got


def test_the_dossier_uses_the_key_index(no_seqscan: Engine) -> None:
    with no_seqscan.connect() as c:
        code = c.execute(text("SELECT dossier_code FROM payments LIMIT 1")).scalar_one()
    got = "\n".join(plans(no_seqscan, lambda: queries.dossier(no_seqscan, code)))
    assert "ix_messages_key_order" in got and "ix_payments_dossier" in got and "Seq Scan on messages" not in got


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT id FROM messages WHERE id = ANY(%(ids)s) AND state = 'delivering'",
        "SELECT id FROM messages WHERE state = 'retrying' AND next_attempt_at <= now()",
        "SELECT id FROM messages WHERE state IN ('queued', 'delivering') LIMIT 10",
        "SELECT count(*) FROM messages WHERE state = 'dead'",
        "SELECT id FROM messages WHERE connector = 'national_portal' AND state = 'held'",
    ],
)
def test_the_ledger_never_plans_with_the_console_indexes(no_seqscan: Engine, sql: str) -> None:
    plan = explain(no_seqscan, sql, {"ids": ["01AAAAAAAAAAAAAAAAAAAAAAAA"]})
    assert "console" not in plan, plan
