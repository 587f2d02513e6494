"""Many-row UPDATE in one statement.

On PostgreSQL the per-row values travel as one array per column and the statement joins them
with ``unnest`` (``UPDATE t SET ... FROM unnest(...) AS v(...) WHERE t.k = v.k``): one
statement and one round trip however many rows, where an ``executemany`` sends and plans
one statement per row. Other databases (SQLite) get the ``executemany``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table, and_, bindparam, text, update


def bulk_update(
    c: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    keys: Sequence[str],
    same: Mapping[str, Any] | None = None,
) -> None:
    """Update one row of ``table`` per item of ``rows``, matched on the ``keys`` columns.

    Each row maps column names to values (keys included; every row has the same columns);
    ``same`` holds values set on every row."""
    if not rows:
        return
    same = dict(same or {})
    columns = list(rows[0])
    per_row = [col for col in columns if col not in keys]
    if c.dialect.name != "postgresql":
        stmt = (
            update(table)
            .where(and_(*(table.c[k] == bindparam(f"_k_{k}") for k in keys)))
            .values(**same, **{col: bindparam(f"_v_{col}") for col in per_row})
        )
        c.execute(stmt, [{(f"_k_{k}" if k in keys else f"_v_{k}"): v for k, v in r.items()} for r in rows])
        return
    quote = c.dialect.identifier_preparer.quote
    arrays = ", ".join(
        f"CAST(:_a{i} AS {table.c[col].type.compile(dialect=c.dialect)}[])" for i, col in enumerate(columns)
    )
    assignments = [f"{quote(col)} = :_s_{col}" for col in same] + [f"{quote(col)} = v.{quote(col)}" for col in per_row]
    match = " AND ".join(f"{quote(table.name)}.{quote(k)} = v.{quote(k)}" for k in keys)
    # the first key also as ``= ANY(array)``: lets the planner probe its index for the rows
    match += f" AND {quote(table.name)}.{quote(keys[0])} = ANY(:_a{columns.index(keys[0])})"
    sql = (
        f"UPDATE {quote(table.name)} SET {', '.join(assignments)} "  # noqa: S608 -- names from our own Table
        f"FROM unnest({arrays}) AS v({', '.join(quote(col) for col in columns)}) WHERE {match}"
    )
    params: dict[str, Any] = {f"_a{i}": [r[col] for r in rows] for i, col in enumerate(columns)}
    params |= {f"_s_{col}": value for col, value in same.items()}
    c.execute(text(sql), params)
