"""operator console: operators, operator_actions (append-only), the console's indexes on messages

``operators``: people who run the hub (roles, Argon2 hashes, lock-out bookkeeping).
``operator_actions``: every console and ``lgsp operators`` action; triggers refuse UPDATE and
DELETE on both backends. Three partial indexes on ``messages`` serve the console's pages
(failures, backlog, deliveries), each covering what its queries read (index-only scans: a
heap fetch per dead message would cost a random page read each); their predicates carry ``accepted_at > '2000-01-01'``, a term only
the console's queries state, so the ledger's own queries never plan with them.

Revision ID: 0008
Revises: 0007 (re-chained by the coordinator at merge time)
"""

from typing import Any

from alembic import op
import sqlalchemy as sa


revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

GUARD = "accepted_at > '2000-01-01'"
INDEXES: tuple[tuple[str, list[Any], str], ...] = (
    (
        "ix_messages_console_failing",
        ["connector", "state", sa.text("substr(last_error, 1, 300)"), "updated_at", "id"],
        f"state IN ('dead', 'retrying') AND {GUARD}",
    ),
    ("ix_messages_console_backlog", ["connector", "state"], f"state IN ('queued', 'delivering', 'held') AND {GUARD}"),
    ("ix_messages_console_delivered", ["connector", "delivered_at", "accepted_at"], f"delivered_at IS NOT NULL AND {GUARD}"),
)

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION lgsp_operator_actions_append_only() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    RAISE EXCEPTION 'operator_actions is append-only (% refused)', TG_OP;
END
$fn$
"""


def upgrade() -> None:
    op.create_table(
        "operators",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("session_epoch", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("username"),
    )
    op.create_table(
        "operator_actions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("operator", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("remote_addr", sa.String(length=64), nullable=True),
    )
    op.create_index("ix_operator_actions_at", "operator_actions", ["at"])
    op.create_index("ix_operator_actions_operator_at", "operator_actions", ["operator", "at"])
    op.create_index("ix_operator_actions_target", "operator_actions", ["target"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        op.execute(
            "CREATE TRIGGER operator_actions_append_only BEFORE UPDATE OR DELETE ON operator_actions "
            "FOR EACH ROW EXECUTE FUNCTION lgsp_operator_actions_append_only()"
        )
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER operator_actions_no_{action.lower()} BEFORE {action} ON operator_actions "
                "BEGIN SELECT RAISE(ABORT, 'operator_actions is append-only'); END"
            )
    for name, columns, predicate in INDEXES:
        where = sa.text(predicate)
        op.create_index(name, "messages", columns, postgresql_where=where, sqlite_where=where)


def downgrade() -> None:
    for name, _, _ in INDEXES:
        op.drop_index(name, table_name="messages")
    op.drop_table("operator_actions")  # its triggers go with it
    op.drop_table("operators")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS lgsp_operator_actions_append_only()")
