"""bulk replays' owner and heartbeat, their items' claims, the Overview's per-hour counts

* bulk_replays.owner, bulk_replays.heartbeat_at: the process running a bulk replay and when it last
  said it was alive; a running one whose heartbeat is older than the lease is marked
  ``interrupted`` (its progress kept) and can be resumed (hub/console/bulk.py);
* bulk_replay_items.claimed_at: every selected message is an item from the start (outcome
  ``pending``); a run takes a chunk (``replaying``, claimed_at) before replaying it, so a resume
  knows which ones may have been replayed already;
* console_hourly: messages accepted and delivered per connector and finished hour, counted once
  (hub/console/queries.py); the Overview counts only the current hour live.

Revision ID: 0016
Revises: 0015 (0015 itself is re-chained after 0014 at merge)
"""

from alembic import op
import sqlalchemy as sa


revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bulk_replays") as t:
        t.add_column(sa.Column("owner", sa.String(length=100), nullable=True))
        t.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("bulk_replay_items") as t:
        t.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "console_hourly",
        sa.Column("connector", sa.String(length=64), primary_key=True),
        sa.Column("hour", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("delivered", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("console_hourly")
    with op.batch_alter_table("bulk_replay_items") as t:
        t.drop_column("claimed_at")
    with op.batch_alter_table("bulk_replays") as t:
        t.drop_column("heartbeat_at")
        t.drop_column("owner")
