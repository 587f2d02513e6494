"""citizen_queries: the append-only audit of queries to the national population database

One row per verify or lookup (answered, refused, or refused by the circuit breaker): client,
officer, purpose, outcome, duration, the database's request id, and a keyed hash of the ID
number - never the number, a name, a birth date or an answer. Triggers refuse UPDATE and
DELETE on both backends.

Revision ID: 0005
Revises: 0003 (re-pointed to 0004 when merged after the payments migration)
"""

from alembic import op
import sqlalchemy as sa


revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION lgsp_citizen_queries_append_only() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    RAISE EXCEPTION 'citizen_queries is append-only (% refused)', TG_OP;
END
$fn$
"""


def upgrade() -> None:
    op.create_table(
        "citizen_queries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("operation", sa.String(length=16), nullable=False),
        sa.Column("client_code", sa.String(length=64), nullable=False),
        sa.Column("officer_code", sa.String(length=20), nullable=True),
        sa.Column("purpose", sa.String(length=200), nullable=True),
        sa.Column("service_code", sa.String(length=20), nullable=True),
        sa.Column("id_hash", sa.String(length=64), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.String(length=300), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=True),
        sa.Column("request_id", sa.String(length=40), nullable=True),
        sa.Column("http_status", sa.Integer(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
    )
    op.create_index("ix_citizen_queries_at", "citizen_queries", ["at"])
    op.create_index("ix_citizen_queries_client_at", "citizen_queries", ["client_code", "at"])
    op.create_index("ix_citizen_queries_officer_at", "citizen_queries", ["officer_code", "at"])
    op.create_index("ix_citizen_queries_id_hash", "citizen_queries", ["id_hash"])
    op.create_index("ix_citizen_queries_request_id", "citizen_queries", ["request_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        op.execute(
            "CREATE TRIGGER citizen_queries_append_only BEFORE UPDATE OR DELETE ON citizen_queries "
            "FOR EACH ROW EXECUTE FUNCTION lgsp_citizen_queries_append_only()"
        )
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER citizen_queries_no_{action.lower()} BEFORE {action} ON citizen_queries "
                "BEGIN SELECT RAISE(ABORT, 'citizen_queries is append-only'); END"
            )


def downgrade() -> None:
    op.drop_table("citizen_queries")  # its triggers go with it
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS lgsp_citizen_queries_append_only()")
