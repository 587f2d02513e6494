"""The postal service: orders, tracking events seen, the poller's cursors.

* postal_orders: one per (dossier, kind), with its parcel's canonical status;
* postal_events: every tracking event seen, once per (customer code, feed id);
* postal_cursors: the feed's lastId per VNPost customer code.

Revision ID: 0011
Revises: 0010
"""

from typing import Any

from alembic import op
import sqlalchemy as sa


revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _time(name: str, nullable: bool = True) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "postal_orders",
        sa.Column("id", sa.String(length=26), primary_key=True),
        sa.Column("client_id", sa.Integer(), sa.ForeignKey("clients.id"), nullable=False),
        sa.Column("dossier_code", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("agency_code", sa.String(length=40), nullable=False),
        sa.Column("customer_code", sa.String(length=50), nullable=False),
        sa.Column("item_code", sa.String(length=20)),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20)),
        _time("status_at"),
        sa.Column("status_feed_id", sa.String(length=24)),
        _time("announced_at"),
        sa.Column("order_message_id", sa.String(length=26), nullable=False),
        sa.Column("cancel_message_id", sa.String(length=26)),
        _time("created_at", False),
        _time("updated_at", False),
        sa.UniqueConstraint("dossier_code", "kind", name="uq_postal_orders_dossier_kind"),
    )
    op.create_index("ix_postal_orders_customer_dossier", "postal_orders", ["customer_code", "dossier_code"])
    op.create_index("ix_postal_orders_item", "postal_orders", ["customer_code", "item_code"])
    op.create_table(
        "postal_events",
        sa.Column("id", BIG, primary_key=True, autoincrement=True),
        sa.Column("customer_code", sa.String(length=50), nullable=False),
        sa.Column("feed_id", sa.String(length=24), nullable=False),
        sa.Column("order_id", sa.String(length=26), sa.ForeignKey("postal_orders.id")),
        sa.Column("order_number", sa.String(length=100), nullable=False),
        sa.Column("item_code", sa.String(length=20)),
        sa.Column("raw_status", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20)),
        _time("occurred_at", False),
        sa.Column("post_office", sa.String(length=50)),
        sa.Column("note", sa.Text()),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        _time("received_at", False),
        sa.UniqueConstraint("customer_code", "feed_id", name="uq_postal_events_feed_id"),
    )
    op.create_index("ix_postal_events_order", "postal_events", ["order_id", "occurred_at"])
    op.create_table(
        "postal_cursors",
        sa.Column("customer_code", sa.String(length=50), primary_key=True),
        sa.Column("cursor", sa.String(length=24), nullable=False),
        _time("updated_at", False),
    )


def downgrade() -> None:
    op.drop_table("postal_cursors")
    op.drop_index("ix_postal_events_order", table_name="postal_events")
    op.drop_table("postal_events")
    op.drop_index("ix_postal_orders_item", table_name="postal_orders")
    op.drop_index("ix_postal_orders_customer_dossier", table_name="postal_orders")
    op.drop_table("postal_orders")
