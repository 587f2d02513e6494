"""The migrations build exactly the schema that hub/db/schema.py declares (SQLite and
PostgreSQL), and go down and up again."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

from hub.db.engine import alembic_config
from hub.db.schema import metadata


def _diff(engine: Engine) -> list[Any]:
    with engine.connect() as c:
        return list(compare_metadata(MigrationContext.configure(c), metadata))


def test_migrations_match_the_declared_schema(engine: Engine) -> None:
    assert _diff(engine) == [], "schema.py and the migrations disagree"  # the fixture ran every migration


def test_migrations_downgrade_and_upgrade_again(engine: Engine) -> None:
    cfg = alembic_config(engine)
    command.downgrade(cfg, "0001")
    command.upgrade(cfg, "head")
    assert _diff(engine) == []
