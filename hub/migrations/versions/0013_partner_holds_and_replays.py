"""partner holds, circuit states, edited replays' links, bulk replays, the console's error class

* partner_holds: a connector an operator holds (its workers claim nothing until it is resumed);
* partner_circuits: the last circuit-breaker change a worker saw per connector;
* message_replays: an edited replay (a new message) and the dead message it was made from;
* bulk_replays, bulk_replay_items: a bulk replay's selection, progress and per-message outcomes;
* messages.error_head: ``substr(last_error, 1, 300)`` as a generated column (PostgreSQL: stored;
  SQLite: virtual, the only kind ALTER TABLE adds), and ``ix_messages_console_failing`` on it
  instead of on the expression, so the console's failures summary is an index-only scan (an index
  on an expression is not index-only for a query naming ``last_error``, which it does not hold).
  On PostgreSQL adding the stored column rewrites the messages table once.

Revision ID: 0013
Revises: 0012
"""

from alembic import op
import sqlalchemy as sa


revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "partner_holds",
        sa.Column("connector", sa.String(length=64), primary_key=True),
        sa.Column("held_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("held_by", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
    )
    op.create_table(
        "partner_circuits",
        sa.Column("connector", sa.String(length=64), primary_key=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("worker", sa.String(length=100), nullable=False),
    )
    op.create_table(
        "message_replays",
        sa.Column("replay_id", sa.String(length=26), primary_key=True),
        sa.Column("original_id", sa.String(length=26), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("operator", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
    )
    op.create_index("ix_message_replays_original", "message_replays", ["original_id"])
    op.create_table(
        "bulk_replays",
        sa.Column("id", sa.String(length=26), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("operator", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("selection", sa.JSON(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "bulk_replay_items",
        sa.Column("bulk_id", sa.String(length=26), primary_key=True),
        sa.Column("message_id", sa.String(length=26), primary_key=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
    )
    _error_head()


GUARD = "accepted_at > '2000-01-01'"
FAILING = f"state IN ('dead', 'retrying') AND {GUARD}"
HEAD = "substr(last_error, 1, 300)"


def _error_head() -> None:
    op.drop_index("ix_messages_console_failing", table_name="messages")
    if op.get_bind().dialect.name == "postgresql":
        op.add_column("messages", sa.Column("error_head", sa.Text(), sa.Computed(HEAD, persisted=True)))
    else:
        op.execute(f"ALTER TABLE messages ADD COLUMN error_head TEXT GENERATED ALWAYS AS ({HEAD}) VIRTUAL")
    where = sa.text(FAILING)
    op.create_index(
        "ix_messages_console_failing",
        "messages",
        ["connector", "state", "error_head", "updated_at", "id"],
        postgresql_where=where,
        sqlite_where=where,
    )


def downgrade() -> None:
    op.drop_index("ix_messages_console_failing", table_name="messages")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_column("messages", "error_head")
    else:
        op.execute("ALTER TABLE messages DROP COLUMN error_head")
    where = sa.text(FAILING)
    op.create_index(
        "ix_messages_console_failing",
        "messages",
        ["connector", "state", sa.text(HEAD), "updated_at", "id"],
        postgresql_where=where,
        sqlite_where=where,
    )
    op.drop_table("bulk_replay_items")
    op.drop_table("bulk_replays")
    op.drop_table("message_replays")
    op.drop_table("partner_circuits")
    op.drop_table("partner_holds")
