"""partner holds, circuit states, edited replays' links, bulk replays, the console's error class

* partner_holds: a connector an operator holds (its workers claim nothing until it is resumed);
* partner_circuits: the last circuit-breaker change a worker saw per connector.

Revision ID: 0013
Revises: 0009 (re-chained by the coordinator at merge time)
"""

from alembic import op
import sqlalchemy as sa


revision = "0013"
down_revision = "0009"
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


def downgrade() -> None:
    op.drop_table("partner_circuits")
    op.drop_table("partner_holds")
