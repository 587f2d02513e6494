"""per-agency configuration, client <-> agency binding, the PayGov opening time of a payment

* ``agencies``: one row per agency of the province (its electronic code, name, the dossier-code
  province prefixes it may carry, and one JSON section per partner: portal, paygov, postal; each
  section validated by ``hub.agencies.port``), managed with ``lgsp agencies`` and
  ``/v1/admin/agencies``.
* ``clients.agencies``: the agency codes a client system is bound to (``lgsp clients bind``); a
  client pushes dossiers and payments of those agencies only.
* ``payments.opened_at``: the transaction time the gateway was given when the payment was opened
  (PayGov ``ThoiGianGD`` of INIT); a status query sends it again.

Revision ID: 0012
Revises: 0011
"""

from alembic import op
import sqlalchemy as sa


revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agencies",
        sa.Column("code", sa.String(length=35), primary_key=True),
        sa.Column("name", sa.String(length=250), nullable=False),
        sa.Column("province_codes", sa.JSON(), nullable=False),
        sa.Column("portal", sa.JSON(), nullable=True),
        sa.Column("paygov", sa.JSON(), nullable=True),
        sa.Column("postal", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("agencies", sa.JSON(), nullable=False, server_default="[]"))
    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.drop_column("opened_at")
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("agencies")
    op.drop_table("agencies")
