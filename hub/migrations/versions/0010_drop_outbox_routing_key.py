"""Drop ``outbox.routing_key``: written with every outbox row, never read (the broker's routing
key is made from the message's connector and type, ``hub.routing.routing_key``).

PostgreSQL: ``lgsp_record`` (migration 0006) wrote the column when it released a held message;
it is replaced by the same function without it.

Revision ID: 0010
Revises: 0009
"""

import importlib.util
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa
from alembic import op


revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_WITH_ROUTING_KEY = """
            INSERT INTO outbox (message_id, routing_key, created_at, available_at)
            SELECT r.id, r.type, p_now, p_now FROM r
"""
_WITHOUT = """
            INSERT INTO outbox (message_id, created_at, available_at)
            SELECT r.id, p_now, p_now FROM r
"""


def _revision_0006() -> ModuleType:
    path = Path(__file__).with_name("0006_leases_in_doubt.py")
    spec = importlib.util.spec_from_file_location("lgsp_migration_0006", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        record: str = _revision_0006().RECORD
        assert _WITH_ROUTING_KEY in record, "lgsp_record of 0006 is not the one this revision replaces"
        op.execute(record.replace(_WITH_ROUTING_KEY, _WITHOUT))  # same signature: CREATE OR REPLACE
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("routing_key")


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("routing_key", sa.String(length=100), nullable=True))
    op.execute(
        "UPDATE outbox SET routing_key = COALESCE("
        "(SELECT messages.type FROM messages WHERE messages.id = outbox.message_id), '')"
    )
    with op.batch_alter_table("outbox") as batch:
        batch.alter_column("routing_key", existing_type=sa.String(length=100), nullable=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_revision_0006().RECORD)
