"""client key lifecycle: a rotated key's grace period, and the record of every change to a client

``clients.old_key_hash`` / ``old_key_until``: after a rotation the previous key keeps working
until then. ``client_changes``: one row per change (create, rotate, disable, enable, grant,
revoke_grant): when, who (``cli:<user>`` or ``client:<code>``), what; never a key.

Revision ID: 0007
Revises: 0006
"""

from alembic import op
import sqlalchemy as sa


revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("old_key_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("old_key_until", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_clients_old_key_hash", ["old_key_hash"], unique=True)
    op.create_table(
        "client_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("client_id", sa.Integer(), sa.ForeignKey("clients.id"), nullable=False),
        sa.Column("client_code", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
    )
    op.create_index("ix_client_changes_client_at", "client_changes", ["client_id", "at"])


def downgrade() -> None:
    op.drop_table("client_changes")
    with op.batch_alter_table("clients") as batch:
        batch.drop_index("ix_clients_old_key_hash")
        batch.drop_column("old_key_until")
        batch.drop_column("old_key_hash")
