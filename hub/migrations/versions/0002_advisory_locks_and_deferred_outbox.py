"""advisory locks for ordering keys; outbox rows with available_at; attempts written when finished

Ordering keys are serialised with PostgreSQL advisory locks, so the ordering_keys table goes.
Outbox rows carry available_at (the writer publishes its own rows first; the relay takes them
after that). The attempt in flight lives on the message (claimed_by), so attempts rows are
only written when an attempt ends.

Revision ID: 0002
Revises: 0001
"""

from alembic import op
from typing import Any

import sqlalchemy as sa


revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


# SQLite keeps foreign keys unnamed: batch mode names them by this convention to drop them
_NAMES = {"fk": "fk_%(table_name)s_%(column_0_name)s"}


def _where(predicate: str) -> dict[str, Any]:
    return {"postgresql_where": sa.text(predicate), "sqlite_where": sa.text(predicate)}


def _fk_name(table: str) -> str:
    if op.get_bind().dialect.name == "postgresql":
        return f"{table}_message_id_fkey"
    return f"fk_{table}_message_id"


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch_op:
        batch_op.add_column(
            sa.Column("available_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now())
        )
    with op.batch_alter_table("messages") as batch_op:
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=100), nullable=True))
        batch_op.drop_index("ix_messages_state_next")
        batch_op.create_index("ix_messages_retry_due", ["next_attempt_at"], **_where("state = 'retrying'"))
        batch_op.create_index("ix_messages_lease", ["lease_until"], **_where("lease_until IS NOT NULL"))
        batch_op.create_index("ix_messages_dead", ["id"], **_where("state = 'dead'"))
    # attempts still open (written at claim time by the previous version) are closed as abandoned
    op.execute("UPDATE attempts SET outcome = 'abandoned', finished_at = started_at WHERE outcome IS NULL")
    op.drop_table("ordering_keys")
    # attempts and outbox rows are written only by the ledger, next to their message, and
    # messages are never deleted: the foreign-key checks cost a lookup per row on the hot path
    # (a third of the PostgreSQL time of recording an outcome)
    for table in ("outbox", "attempts"):
        with op.batch_alter_table(table, naming_convention=_NAMES) as batch_op:
            batch_op.drop_constraint(_fk_name(table), type_="foreignkey")
    with op.batch_alter_table("attempts") as batch_op:
        batch_op.drop_index("ix_attempts_message_id")
        batch_op.create_index("uq_attempts_message_number", ["message_id", "number"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("attempts") as batch_op:
        batch_op.drop_index("uq_attempts_message_number")
        batch_op.create_index("ix_attempts_message_id", ["message_id"], unique=False)
        batch_op.create_foreign_key(_fk_name("attempts"), "messages", ["message_id"], ["id"])
    with op.batch_alter_table("outbox") as batch_op:
        batch_op.create_foreign_key(_fk_name("outbox"), "messages", ["message_id"], ["id"])
    op.create_table(
        "ordering_keys",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("messages") as batch_op:
        for name in ("ix_messages_retry_due", "ix_messages_lease", "ix_messages_dead"):
            batch_op.drop_index(name)
        batch_op.create_index("ix_messages_state_next", ["state", "next_attempt_at"], unique=False)
        batch_op.drop_column("claimed_by")
    with op.batch_alter_table("outbox") as batch_op:
        batch_op.drop_column("available_at")
