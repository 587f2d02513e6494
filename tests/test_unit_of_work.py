"""The unit of work (``Ledger.unit_of_work``): a domain's rows and the ledger's messages (with
their outbox rows) commit together or not at all, on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.schema import Table

from hub.db.schema import idempotency_keys, job_cursors, messages, outbox
from hub.dossiers.service import Dossiers
from hub.envelope import utcnow
from hub.ledger import Accepted, IdempotencyKey, Ledger, make_ledger
from tests.factories import model, new_message


@pytest.fixture
def ledger(engine: Engine) -> Iterator[Ledger]:
    ledger = make_ledger(engine)
    yield ledger
    ledger.close()


def count(engine: Engine, table: Table) -> int:
    with engine.connect() as c:
        n: int = c.execute(select(func.count()).select_from(table)).scalar_one()
        return n


def count_from_outside(engine: Engine, table: Table) -> int:
    """The count another connection sees while a unit of work is open (on SQLite a plain
    reader: the engine's own connections begin with the write lock, and would wait)."""
    if engine.dialect.name != "sqlite":
        return count(engine, table)
    assert engine.url.database
    reader = sqlite3.connect(engine.url.database, isolation_level=None)
    try:
        n: int = reader.execute(f"SELECT count(*) FROM {table.name}").fetchone()[0]
        return n
    finally:
        reader.close()


def domain_row(name: str = "domain") -> dict[str, Any]:
    return {"name": name, "cursor": "c", "updated_at": utcnow()}


class Boom(Exception):
    pass


def test_the_domain_row_and_the_messages_commit_together(ledger: Ledger, engine: Engine) -> None:
    items = [new_message(model()), new_message(model())]
    with ledger.unit_of_work() as uow:
        uow.connection.execute(insert(job_cursors).values(**domain_row()))
        accepted = uow.add("test", items)
        # nothing is visible to anyone else before the commit: one transaction, not three
        outside = [count_from_outside(engine, t) for t in (job_cursors, messages, outbox)]
        assert outside == [0, 0, 0]
    assert [a.created for a in accepted] == [True, True]
    assert (count(engine, job_cursors), count(engine, messages), count(engine, outbox)) == (1, 2, 2)
    assert sorted(m.message_id for _, m in uow.to_publish) == sorted(a.message_id for a in accepted)


def test_an_error_in_the_unit_rolls_back_the_domain_row_and_the_messages(ledger: Ledger, engine: Engine) -> None:
    with pytest.raises(Boom), ledger.unit_of_work() as uow:
        uow.connection.execute(insert(job_cursors).values(**domain_row()))
        uow.add("test", [new_message(model())])
        raise Boom
    assert (count(engine, job_cursors), count(engine, messages), count(engine, outbox)) == (0, 0, 0)


def test_a_failing_domain_statement_after_the_messages_rolls_them_back(ledger: Ledger, engine: Engine) -> None:
    with ledger.unit_of_work() as uow:
        uow.connection.execute(insert(job_cursors).values(**domain_row("taken")))
    with pytest.raises(IntegrityError), ledger.unit_of_work() as uow:
        uow.add("test", [new_message(model())])
        uow.connection.execute(insert(job_cursors).values(**domain_row("taken")))  # primary key taken
    assert (count(engine, messages), count(engine, outbox)) == (0, 0)


def test_deferred_messages_are_handed_back_for_the_caller_to_publish(ledger: Ledger) -> None:
    with ledger.unit_of_work() as uow:
        first = uow.add("test", [new_message(model())], defer=30)
        again = uow.add("test", [new_message(model())], defer=30)
    assert [m.message_id for _, m in uow.to_publish] == [first[0].message_id, again[0].message_id]


def test_the_idempotent_answer_and_the_messages_roll_back_together(ledger: Ledger, engine: Engine) -> None:
    from hub.clients import Authenticator
    from tests.factories import create_client

    client = Authenticator(engine)(create_client(engine, "c", "c", ["dossier.status.changed"]))
    assert client is not None
    idem = IdempotencyKey(client.id, "req-1", "h1")
    dossiers = Dossiers(ledger, "national_portal", 100, 0.0)

    def answer_fails(results: list[Accepted]) -> tuple[int, dict[str, Any]]:
        raise Boom

    with pytest.raises(Boom):
        dossiers.accept("c", [new_message(model())], answer_fails, idem)
    assert (count(engine, messages), count(engine, outbox), count(engine, idempotency_keys)) == (0, 0, 0)

    stored = dossiers.accept("c", [new_message(model())], lambda r: (202, {"id": r[0].message_id}), idem)
    assert not stored.replayed
    assert (count(engine, messages), count(engine, outbox), count(engine, idempotency_keys)) == (1, 1, 1)
