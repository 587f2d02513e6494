"""the hub's waybill pool, and the OrderNumber each postal order was sent with

* postal_waybills: waybill numbers (ItemCode) VNPost allocated to a customer code, loaded by an
  operator; each ``free`` -> ``assigned`` (to one order) -> ``used`` (its parcel was picked up) or
  ``released`` (the order was cancelled before pickup: the number goes back to the pool);
* postal_orders.order_number: VNPost's OrderNumber of the order (the dossier code; the dossier code
  and a kind suffix for the dossier's second kind), backfilled with the dossier code.

Revision ID: 0014
Revises: 0013
"""

from typing import Any

from alembic import op
import sqlalchemy as sa


revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _time(name: str, nullable: bool = True) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "postal_waybills",
        sa.Column("id", BIG, primary_key=True, autoincrement=True),
        sa.Column("customer_code", sa.String(length=50), nullable=False),
        sa.Column("item_code", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("order_id", sa.String(length=26)),
        _time("added_at", False),
        _time("assigned_at"),
        _time("used_at"),
        _time("released_at"),
        sa.UniqueConstraint("item_code", name="uq_postal_waybills_item"),
    )
    op.create_index("ix_postal_waybills_claim", "postal_waybills", ["customer_code", "state", "item_code"])
    op.create_index("ix_postal_waybills_order", "postal_waybills", ["order_id"])
    op.add_column("postal_orders", sa.Column("order_number", sa.String(length=110)))
    op.execute("UPDATE postal_orders SET order_number = dossier_code")
    op.create_index("ix_postal_orders_customer_number", "postal_orders", ["customer_code", "order_number"])


def downgrade() -> None:
    op.drop_index("ix_postal_orders_customer_number", table_name="postal_orders")
    with op.batch_alter_table("postal_orders") as batch:
        batch.drop_column("order_number")
    op.drop_index("ix_postal_waybills_order", table_name="postal_waybills")
    op.drop_index("ix_postal_waybills_claim", table_name="postal_waybills")
    op.drop_table("postal_waybills")
